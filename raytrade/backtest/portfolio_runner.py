"""Backtests of portfolio strategies (:class:`~raytrade.strategies.base.PortfolioStrategy`): one
parameter set with curves and fills, a whole grid in chunks, and the window score walk-forward
uses. The single-asset entry points (:func:`~raytrade.backtest.runner.backtest`,
:func:`~raytrade.backtest.runner.run_grid`, :func:`~raytrade.backtest.runner.evaluate_sleeves`)
hand portfolio strategies to these, so configs, the CLI and walk-forward on Tune take both kinds.

Prices missing before an asset's first close (a late listing) are shown to the strategy as NaN;
its weights there are set to 0 and the kernel sees the first price carried back (never traded).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from raytrade.backtest.costs import CostModel, Sizing, SizingMode
from raytrade.backtest.kernel import KernelOutput
from raytrade.backtest.portfolio import PortfolioSizing, run_portfolio_kernel
from raytrade.core.calendars import bars_per_year
from raytrade.core.errors import BacktestError, ConfigError
from raytrade.strategies.base import PortfolioStrategy
from raytrade.strategies.space import ParamBlock


def portfolio_sizing(sizing: Sizing | PortfolioSizing | None) -> PortfolioSizing:
    """A portfolio strategy's sizing: as given, or read from a single-asset :class:`Sizing` (as
    configs and walk-forward carry it): ``max_leverage`` caps the gross exposure; ``rebalance``,
    ``calendar``, ``threshold``, ``whole_shares`` and ``lot_size`` carry over. Volatility-target and
    Kelly sizing scale one asset's signal; a portfolio strategy's weights are its sizing, so they
    are refused."""
    if sizing is None:
        return PortfolioSizing()
    if isinstance(sizing, PortfolioSizing):
        return sizing
    if sizing.mode is not SizingMode.FIXED_FRACTION or sizing.fraction != 1.0:
        raise ConfigError("sizing: a portfolio strategy's weights are its sizing: use mode fixed_fraction with "
                          "fraction 1 (sizing.max_leverage caps the gross exposure)")
    return PortfolioSizing(rebalance=sizing.rebalance, calendar=sizing.calendar, threshold=sizing.threshold,
                           max_gross=sizing.max_leverage, whole_shares=sizing.whole_shares, lot_size=sizing.lot_size)


def portfolio_weights(strategy: PortfolioStrategy, close: np.ndarray, block: ParamBlock,
                      symbols: Sequence[str] | None = None) -> np.ndarray:
    """The strategy's weights (T, K, N) on ``close`` (T, N, NaN before a listing), checked: the
    right shape, finite, 0 where an asset has no price yet, and long only unless the strategy
    allows shorts. A strategy with a ``symbols`` attribute (one that groups by sector) is given
    the columns' ``symbols`` first."""
    if symbols is not None and hasattr(strategy, "symbols"):
        strategy.symbols = list(symbols)
    w = np.asarray(strategy.weights(strategy.prepare(close, block), block), dtype=np.float64)
    expected = (close.shape[0], len(block), close.shape[1])
    if w.shape != expected:
        raise BacktestError(f"strategy {strategy.name} returned weights of shape {w.shape}, expected {expected} "
                            "(bars, parameter sets, assets)")
    if not np.isfinite(w).all():
        t, k, n = np.argwhere(~np.isfinite(w))[0]
        raise BacktestError(f"strategy {strategy.name} returned a non-finite weight at bar {t}, set {k}, asset {n}")
    if not getattr(strategy, "allow_short", True) and (w < 0).any():
        t, k, n = np.argwhere(w < 0)[0]
        raise BacktestError(f"strategy {strategy.name} returned a short weight at bar {t}, set {k}, asset {n} "
                            "while shorts are not allowed")
    unpriced = ~np.isfinite(close)
    if unpriced.any():
        w = np.where(unpriced[:, None, :], 0.0, w)
    return w


def _kernel_prices(close: np.ndarray) -> np.ndarray:
    """Close with each asset's first price carried back over the bars before it."""
    return pd.DataFrame(close).bfill().to_numpy(np.float64)


def evaluate_portfolio(
    strategy: PortfolioStrategy,
    close: np.ndarray,
    block: ParamBlock,
    start: int,
    end: int,
    *,
    open_: np.ndarray | None = None,
    costs: CostModel | None = None,
    sizing: Sizing | PortfolioSizing | None = None,
    initial_capital: float = 100_000.0,
    warmup: int | None = None,
    symbols: Sequence[str] | None = None,
) -> KernelOutput:
    """Each set of ``block`` as one book over every asset of ``close`` (T, N), bars [start, end):
    equity (end - start, K) and stats (K, fields). Weights are computed from ``start - warmup``
    (default the strategy's) so they only read the past; every book starts flat at ``start``.
    The counterpart of :func:`~raytrade.backtest.runner.evaluate_sleeves` for walk-forward."""
    psizing = portfolio_sizing(sizing)
    lo = max(0, start - (strategy.warmup(block) if warmup is None else warmup))
    c = np.ascontiguousarray(close[lo:end], dtype=np.float64)
    w = portfolio_weights(strategy, c, block, symbols)[start - lo:]
    o = None if open_ is None else _kernel_prices(open_[start:end])
    out = run_portfolio_kernel(w, _kernel_prices(c)[start - lo:], open_=o, costs=costs, sizing=psizing,
                               initial_capital=initial_capital, record_shares=False)
    return out


def run_portfolio_grid(
    strategy: PortfolioStrategy,
    close: pd.DataFrame,
    block: ParamBlock,
    *,
    open_: pd.DataFrame | None = None,
    costs: CostModel | None = None,
    sizing: Sizing | PortfolioSizing | None = None,
    initial_capital: float = 100_000.0,
    chunk_size: int | None = None,
    risk_free: float = 0.0,
    tail: bool = False,
    periods_per_year: float | None = None,
) -> pd.DataFrame:
    """Every set of ``block`` as one book over all symbols of ``close``: one row per set, with
    ``symbol`` = ``PORTFOLIO``, ``param_id``, the parameters and the metrics."""
    from raytrade.backtest.runner import _check_prices, chunk_size_for, kernel_metrics

    close, open_, _ = _check_prices(close, open_)
    if len(block) == 0:
        raise BacktestError("the parameter grid is empty")
    psizing = portfolio_sizing(sizing)
    ppy = bars_per_year(close.index) if periods_per_year is None else periods_per_year
    c = close.to_numpy(np.float64)
    prices = _kernel_prices(c)
    o = None if open_ is None else _kernel_prices(open_.to_numpy(np.float64))
    size = chunk_size or max(1, chunk_size_for(len(close)) // max(1, close.shape[1] // 4))
    parts: dict[str, list[np.ndarray]] = {}
    for _, chunk in block.chunks(size):
        w = portfolio_weights(strategy, c, chunk, list(close.columns))
        out = run_portfolio_kernel(w, prices, open_=o, costs=costs, sizing=psizing, index=close.index,
                                   initial_capital=initial_capital, record_shares=False)
        for name, values in kernel_metrics(out, risk_free=risk_free, tail=tail,
                                           periods_per_year=ppy).items():
            parts.setdefault(name, []).append(values)
    table = {"symbol": np.full(len(block), "PORTFOLIO", dtype=object), "param_id": np.arange(len(block))}
    table.update(block.columns)
    table.update({name: np.concatenate(v) for name, v in parts.items()})
    return pd.DataFrame(table)


def backtest_portfolio(
    strategy: PortfolioStrategy,
    params: dict[str, int | float],
    close: pd.DataFrame,
    *,
    open_: pd.DataFrame | None = None,
    costs: CostModel | None = None,
    sizing: Sizing | PortfolioSizing | None = None,
    initial_capital: float = 100_000.0,
    risk_free: float = 0.0,
    periods_per_year: float | None = None,
):  # -> BacktestResult
    """One parameter set as one book over every symbol of ``close``.

    The result is a :class:`~raytrade.backtest.runner.BacktestResult`: ``equity`` has one column
    per symbol (the market value of its position, shares x close) and ``PORTFOLIO`` (the book's
    equity, cash included); ``signals`` holds the target weights; ``fills`` and ``trades`` are
    per leg; ``metrics`` has the one row ``PORTFOLIO``.
    """
    from raytrade.backtest.runner import (
        BacktestResult,
        _check_prices,
        fills_from_shares,
        kernel_metrics,
    )

    close, open_, _ = _check_prices(close, open_)
    if close.isna().all().any():
        raise BacktestError(f"close of {close.columns[int(close.isna().all().to_numpy().argmax())]} has no price at all")
    block = strategy.space.block(params, "strategy.params")
    if len(close) <= strategy.warmup(block):
        raise BacktestError(f"{len(close)} bars are not more than the strategy's warm-up of {strategy.warmup(block)} "
                            "bars: no bar could trade (give more data or shorter windows)")
    costs = costs or CostModel()
    psizing = portfolio_sizing(sizing)
    ppy = bars_per_year(close.index) if periods_per_year is None else periods_per_year
    c = close.to_numpy(np.float64)
    w = portfolio_weights(strategy, c, block, list(close.columns))
    prices = pd.DataFrame(_kernel_prices(c), index=close.index, columns=close.columns)
    exec_frame = prices if open_ is None else open_.bfill()
    out = run_portfolio_kernel(w, prices.to_numpy(), open_=None if open_ is None else exec_frame.to_numpy(np.float64),
                               costs=costs, sizing=psizing, index=close.index, initial_capital=initial_capital)
    assert out.shares is not None
    shares = pd.DataFrame(out.shares[:, 0, :], index=close.index, columns=close.columns)
    equity = shares * prices
    equity["PORTFOLIO"] = out.equity[:, 0]
    metrics = pd.DataFrame(kernel_metrics(out, risk_free=risk_free, tail=True, periods_per_year=ppy),
                           index=["PORTFOLIO"])
    fills = fills_from_shares(shares, exec_frame, costs)
    return BacktestResult(block.row(0), equity, shares, pd.DataFrame(w[:, 0, :], index=close.index,
                                                                    columns=close.columns),
                          fills, metrics, close, risk_free, ppy)
