"""Backtests of strategies on price frames: one parameter set, or a whole grid in chunks.

Memory is bounded by chunking the grid: at most ``chunk_size`` parameter sets are in flight per
asset, so peak memory is about T x chunk_size x 16 bytes (signals and equity) plus the strategy's
shared precomputation, whatever the grid's size.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from raytrade.analytics.metrics import (
    PERIODS_PER_YEAR,
    performance_metrics,
    returns_from_equity,
    tail_risk,
    trade_metrics,
)
from raytrade.backtest.costs import CostModel, Sizing, SizingMode
from raytrade.backtest.kernel import STAT_FIELDS, KernelOutput, run_kernel, sizing_scale
from raytrade.core.calendars import bars_per_year
from raytrade.core.errors import BacktestError
from raytrade.execution.impact import impact_inputs
from raytrade.strategies.base import Strategy, is_overlay, is_portfolio
from raytrade.strategies.space import ParamBlock

DEFAULT_MEMORY_BUDGET = 256 * 2**20


MAX_CHUNK = 256


def chunk_size_for(n_bars: int, budget_bytes: int = DEFAULT_MEMORY_BUDGET) -> int:
    """Parameter sets per chunk: signals + equity (16 bytes a cell) within ``budget_bytes``, and at
    most ``MAX_CHUNK`` (measured fastest here: larger chunks cost more in fresh pages than they
    save in calls; see benchmarks/backtest_grid.py)."""
    return int(max(1, min(MAX_CHUNK, budget_bytes // max(1, 16 * n_bars))))


def kernel_metrics(out: KernelOutput, *, periods_per_year: float = PERIODS_PER_YEAR,
                   risk_free: float = 0.0, tail: bool = False) -> dict[str, np.ndarray]:
    """All metrics of a kernel run, one array per metric (length K)."""
    metrics = performance_metrics(out.equity, periods_per_year=periods_per_year, risk_free=risk_free)
    tallies = {f: out.stats[:, i] for i, f in enumerate(STAT_FIELDS)}
    metrics.update(trade_metrics(
        round_trips=tallies["round_trips"], wins=tallies["wins"], gross_profit=tallies["gross_profit"],
        gross_loss=tallies["gross_loss"], turnover=tallies["turnover"],
        exposure_bars=tallies["exposure_bars"], n_bars=out.equity.shape[0], periods_per_year=periods_per_year,
    ))
    metrics["costs_paid"] = tallies["costs"]
    metrics["impact_costs_paid"] = tallies["impact_costs"]
    if tail:
        metrics.update(tail_risk(returns_from_equity(out.equity)))
    return metrics


def _as_frame(x: pd.DataFrame | pd.Series, name: str) -> pd.DataFrame:
    """A Series is one symbol (its name, else ``name``); anything else must be a DataFrame."""
    if isinstance(x, pd.Series):
        return x.to_frame(str(x.name) if x.name is not None else name)
    if not isinstance(x, pd.DataFrame):
        raise BacktestError(f"{name} must be a pandas DataFrame (bars x symbols) or Series, got {type(x).__name__}")
    return x


def _unlisted(v: np.ndarray) -> np.ndarray:
    """(T, N) True where a column is NaN before its first finite value (a late listing)."""
    seen = np.maximum.accumulate(np.isfinite(v), axis=0)
    return ~seen & np.isnan(v)


def _check_prices(close: pd.DataFrame | pd.Series, open_: pd.DataFrame | pd.Series | None,
                  volume: pd.DataFrame | pd.Series | None = None,
                  ) -> tuple[pd.DataFrame, pd.DataFrame | None, pd.DataFrame | None]:
    """``close`` (and ``open_``, ``volume``) as frames, refused with the symbol and the bar named
    when a backtest of them would mean nothing: empty, time running backwards or repeating,
    a price missing (other than before a symbol's first price), not finite or <= 0."""
    close = _as_frame(close, "close")
    if close.empty:
        raise BacktestError("close must be a non-empty DataFrame (bars x symbols)")
    idx = close.index
    if isinstance(idx, pd.DatetimeIndex) and len(idx) > 1:
        if not idx.is_monotonic_increasing:
            if idx.is_monotonic_decreasing:
                raise BacktestError(f"close's dates run backwards ({idx[0]} first, {idx[-1]} last): "
                                    "sort them first (close.sort_index())")
            raise BacktestError("close's dates are out of order: sort them first (close.sort_index())")
        if not idx.is_unique:
            raise BacktestError(f"close has the date {idx[idx.duplicated()][0]} twice")
    frames = {"close": close}
    if open_ is not None:
        open_ = _as_frame(open_, "open")
        if open_.shape != close.shape or not open_.index.equals(close.index) or list(open_.columns) != list(
                close.columns):
            raise BacktestError("open must have the same dates and symbols as close")
        frames["open"] = open_
    for name, frame in frames.items():
        v = frame.to_numpy(np.float64)
        bad = ~np.isfinite(v) | (v <= 0)
        bad &= ~_unlisted(v)  # missing before a symbol's first price: listed later, held in cash till then
        if bad.any():
            i, j = np.argwhere(bad)[0]
            raise BacktestError(f"{name} of {frame.columns[j]} at {frame.index[i]} is {v[i, j]}: prices must be "
                                "finite and > 0 (drop or fill the gap first)")
    if volume is not None:
        volume = _as_frame(volume, "volume")
    return close, open_, volume


def run_grid(
    strategy: Strategy,
    close: pd.DataFrame | pd.Series,
    block: ParamBlock,
    *,
    open_: pd.DataFrame | pd.Series | None = None,
    costs: CostModel | None = None,
    sizing: Sizing | None = None,
    initial_capital: float = 100_000.0,
    chunk_size: int | None = None,
    risk_free: float = 0.0,
    tail: bool = False,
    volume: pd.DataFrame | None = None,
    periods_per_year: float | None = None,
) -> pd.DataFrame:
    """Every parameter set of ``block`` on every symbol of ``close``: one row per (symbol, set).

    Columns: ``symbol``, ``param_id`` (row of ``block``), the parameters, then the metrics of
    :mod:`raytrade.analytics.metrics`, annualised with ``periods_per_year`` (default: from the
    timestamps, :func:`raytrade.core.calendars.bars_per_year`). Each (symbol, set) is an independent single-asset backtest
    starting with ``initial_capital`` (from the symbol's first price, for one listed late).
    """
    if is_portfolio(strategy):
        from raytrade.backtest.portfolio_runner import run_portfolio_grid

        return run_portfolio_grid(strategy, close, block, open_=open_, costs=costs, sizing=sizing,  # type: ignore[arg-type]
                                  initial_capital=initial_capital, chunk_size=chunk_size, risk_free=risk_free,
                                  tail=tail, periods_per_year=periods_per_year)
    close, open_, volume = _check_prices(close, open_, volume)
    if is_overlay(strategy):
        from raytrade.backtest.overlays import run_overlay_grid

        return run_overlay_grid(strategy, close, block, costs=costs, sizing=sizing,  # type: ignore[arg-type]
                                initial_capital=initial_capital, risk_free=risk_free, tail=tail,
                                periods_per_year=periods_per_year)
    if len(block) == 0:
        raise BacktestError("the parameter grid is empty")
    ppy = bars_per_year(close.index) if periods_per_year is None else periods_per_year
    size = chunk_size or chunk_size_for(len(close))
    frames = []
    for j, symbol in enumerate(close.columns):
        c = close.iloc[:, j].to_numpy(dtype=np.float64)
        first = int(np.isfinite(c).argmax())  # a late listing is backtested from its first price
        if not np.isfinite(c).any() or len(c) - first < 2:
            raise BacktestError(f"close of {symbol} has fewer than 2 prices")
        c = c[first:]
        o = None if open_ is None else open_.iloc[first:, j].to_numpy(dtype=np.float64)
        v = None if volume is None else volume.iloc[first:, j].to_numpy(dtype=np.float64)
        kelly = sizing is not None and sizing.mode is SizingMode.KELLY
        scale = None if kelly else sizing_scale(c[:, None], sizing or Sizing(), periods_per_year=ppy)  # Kelly: per chunk
        prepared = strategy.prepare(c, block)
        parts: dict[str, list[np.ndarray]] = {}
        for _, chunk in block.chunks(size):
            out = run_kernel(strategy.signals(prepared, chunk), c, open_=o, costs=costs, sizing=sizing,
                             initial_capital=initial_capital, record_shares=False, scale=scale, volume=v,
                             periods_per_year=ppy)
            for name, values in kernel_metrics(out, risk_free=risk_free, tail=tail, periods_per_year=ppy).items():
                parts.setdefault(name, []).append(values)
        table = {"symbol": np.full(len(block), symbol, dtype=object), "param_id": np.arange(len(block))}
        table.update(block.columns)
        table.update({name: np.concatenate(v) for name, v in parts.items()})
        frames.append(pd.DataFrame(table))
    return pd.concat(frames, ignore_index=True)


@dataclass(frozen=True, slots=True)
class BacktestResult:
    """One parameter set on several symbols, each with ``initial_capital / n_symbols``.

    ``equity`` and ``shares``: (T, symbols) frames plus, in ``equity``, a ``PORTFOLIO`` column (the
    sum). ``signals``: the strategy's signals. ``fills``: one row per fill (timestamp, symbol,
    side, quantity, price, commission); :attr:`trades`: the round trips they make. ``metrics``: one
    row per symbol and one for ``PORTFOLIO``: its return metrics come from the summed equity;
    fills, round trips, wins, profits and costs are summed over symbols; turnover and exposure are
    the mean over the equally funded sleeves. ``close``: the prices it ran on (for buy and hold).
    """

    params: dict[str, int | float]
    equity: pd.DataFrame
    shares: pd.DataFrame
    signals: pd.DataFrame
    fills: pd.DataFrame
    metrics: pd.DataFrame
    close: pd.DataFrame | None = None
    risk_free: float = 0.0
    periods_per_year: float = PERIODS_PER_YEAR

    @property
    def trades(self) -> pd.DataFrame:
        """Round trips: symbol, direction, entry and exit time and price, quantity, P&L (currency,
        commissions in), return on the entry notional, duration, fills, open
        (:func:`raytrade.backtest.trades.round_trips`)."""
        from raytrade.backtest.trades import round_trips

        return round_trips(self.fills)

    def buy_and_hold(self) -> pd.Series:
        """The same capital in the same symbols, equal parts bought at the first close and held
        (no costs): the benchmark of :meth:`stats` and :meth:`plot`."""
        if self.close is None:
            raise BacktestError("this result has no prices to buy and hold")
        start = float(self.equity["PORTFOLIO"].iloc[0])
        c = self.close.to_numpy(np.float64)
        return pd.Series((c / c[0]).mean(axis=1) * start, index=self.close.index, name="buy_and_hold")

    def stats(self) -> pd.DataFrame:
        """The book's headline metrics beside buy and hold's: total and annual return, volatility,
        Sharpe, Sortino, maximum drawdown, Calmar (fractions; annualised with the bars a year of
        the data's calendar, :attr:`periods_per_year`),
        and the strategy's round trips, win rate, profit factor and exposure."""
        keys = ["total_return", "annual_return", "annual_volatility", "sharpe", "sortino", "max_drawdown", "calmar"]
        port = self.metrics.loc["PORTFOLIO"]
        out = pd.DataFrame({"strategy": [float(port[k]) for k in keys]}, index=keys)
        bh = performance_metrics(self.buy_and_hold().to_numpy()[:, None], risk_free=self.risk_free,
                                 periods_per_year=self.periods_per_year)
        out["buy_and_hold"] = [float(bh[k][0]) for k in keys]
        extra = pd.DataFrame({"strategy": [float(port[k]) for k in ("round_trips", "win_rate", "profit_factor",
                                                                     "exposure")],
                              "buy_and_hold": [np.nan] * 4}, index=["round_trips", "win_rate", "profit_factor",
                                                                    "exposure"])
        return pd.concat([out, extra])

    def plot(self, title: str | None = None):  # -> matplotlib Figure
        """Equity of the book against buy and hold (top), each round trip's entry (^) and exit (v)
        marked on it, and the drawdown (bottom); returns the matplotlib figure."""
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        eq = self.equity["PORTFOLIO"]
        fig, (ax, dd) = plt.subplots(2, 1, figsize=(10, 6), sharex=True, gridspec_kw={"height_ratios": [3, 1]})
        ax.plot(eq.index, eq.to_numpy(), label="strategy", lw=1.2)
        if self.close is not None:
            bh = self.buy_and_hold()
            ax.plot(bh.index, bh.to_numpy(), label="buy and hold", lw=1.0, color="grey")
        trips = self.trades
        if len(trips):
            at = eq.reindex(pd.DatetimeIndex(trips["entry_time"]), method="ffill")
            ax.scatter(at.index, at.to_numpy(), marker="^", color="tab:green", s=18, label="entry", zorder=3)
            done = trips[~trips["open"]]
            ex = eq.reindex(pd.DatetimeIndex(done["exit_time"]), method="ffill")
            ax.scatter(ex.index, ex.to_numpy(), marker="v", color="tab:red", s=18, label="exit", zorder=3)
        ax.set_ylabel("equity")
        ax.legend(loc="upper left")
        ax.set_title(title or f"{', '.join(map(str, self.close.columns if self.close is not None else []))} "
                              f"{self.params}")
        draw = eq / eq.cummax() - 1
        dd.fill_between(draw.index, draw.to_numpy(), 0, color="tab:red", alpha=0.4)
        dd.set_ylabel("drawdown")
        fig.tight_layout()
        return fig


def backtest(
    strategy: Strategy,
    params: dict[str, int | float],
    close: pd.DataFrame | pd.Series,
    *,
    open_: pd.DataFrame | pd.Series | None = None,
    costs: CostModel | None = None,
    sizing: Sizing | None = None,
    initial_capital: float = 100_000.0,
    risk_free: float = 0.0,
    volume: pd.DataFrame | None = None,
    periods_per_year: float | None = None,
) -> BacktestResult:
    """Run one parameter set on each symbol of ``close`` and collect curves, fills and metrics
    (``volume``, same shape as ``close``: for a size-dependent ``costs.impact``). Metrics and
    vol-target sizing are annualised with ``periods_per_year`` (default: from the timestamps,
    :func:`raytrade.core.calendars.bars_per_year`: 252 for daily equities, 365 a day for
    crypto). A portfolio
    strategy runs as one book over all symbols
    (:func:`~raytrade.backtest.portfolio_runner.backtest_portfolio`)."""
    if is_portfolio(strategy):
        from raytrade.backtest.portfolio_runner import backtest_portfolio

        return backtest_portfolio(strategy, params, _as_frame(close, "close"), open_=open_,  # type: ignore[arg-type]
                                  costs=costs, sizing=sizing, initial_capital=initial_capital, risk_free=risk_free,
                                  periods_per_year=periods_per_year)
    close, open_, volume = _check_prices(close, open_, volume)
    if is_overlay(strategy):
        from raytrade.backtest.overlays import backtest_overlay

        return backtest_overlay(strategy, params, close, costs=costs, sizing=sizing,  # type: ignore[arg-type]
                                initial_capital=initial_capital, risk_free=risk_free,
                                periods_per_year=periods_per_year)
    ppy = bars_per_year(close.index) if periods_per_year is None else periods_per_year
    unlisted = _unlisted(close.to_numpy(np.float64))
    if unlisted.all(axis=0).any():
        raise BacktestError(f"close of {close.columns[int(unlisted.all(axis=0).argmax())]} has no price at all")
    if unlisted.any():  # late listings: flat at the first price before it, never traded there
        close = close.bfill()
        open_ = None if open_ is None else open_.bfill()
        volume = None if volume is None else volume.fillna(0.0)
    block = strategy.space.block(params, "strategy.params")
    if len(close) <= strategy.warmup(block):
        raise BacktestError(f"{len(close)} bars are not more than the strategy's warm-up of {strategy.warmup(block)} "
                            "bars: no bar could trade (give more data or shorter windows)")
    costs = costs or CostModel()
    n = close.shape[1]
    capital = initial_capital / n
    listed = (~unlisted).argmax(axis=0)  # each symbol's first price; the strategy sees none of the fill before it
    cols = [strategy.signals(strategy.prepare(close.iloc[listed[j]:, j].to_numpy(np.float64), block), block)[:, 0]
            for j in range(n)]
    sig = np.zeros(close.shape, dtype=cols[0].dtype)
    for j, col in enumerate(cols):
        sig[listed[j]:, j] = col
    c = close.to_numpy(np.float64)
    o = None if open_ is None else open_.to_numpy(np.float64)
    v = None if volume is None else volume.to_numpy(np.float64)
    out = run_kernel(sig, c, open_=o, costs=costs, sizing=sizing, initial_capital=capital, volume=v,
                     periods_per_year=ppy)
    metrics = pd.DataFrame(kernel_metrics(out, risk_free=risk_free, tail=True, periods_per_year=ppy),
                           index=close.columns)
    book = combine_sleeves(out)
    total = book.equity[:, 0]
    port = kernel_metrics(book, risk_free=risk_free, tail=True, periods_per_year=ppy)
    metrics.loc["PORTFOLIO"] = {k: v[0] for k, v in port.items()}
    equity = pd.DataFrame(out.equity, index=close.index, columns=close.columns)
    equity["PORTFOLIO"] = total
    shares = pd.DataFrame(out.shares, index=close.index, columns=close.columns)
    trades = fills_from_shares(shares, close if open_ is None else open_, costs, close=close, volume=volume)
    return BacktestResult(block.row(0), equity, shares,
                          pd.DataFrame(sig, index=close.index, columns=close.columns), trades, metrics, close,
                          risk_free, ppy)


def combine_sleeves(out: KernelOutput) -> KernelOutput:
    """The K equally funded sleeves of one kernel run as one book: summed equity (T, 1) and the
    combined stats (see :func:`portfolio_stats`)."""
    return KernelOutput(out.equity.sum(axis=1)[:, None], None, portfolio_stats(out.stats))


def portfolio_stats(stats: np.ndarray) -> np.ndarray:
    """Kernel stats of equally funded sleeves combined over the first axis: (S, ..., fields) ->
    (1, ..., fields). Counts, profits and costs add up; turnover and exposure are averaged."""
    mean_fields = [STAT_FIELDS.index("turnover"), STAT_FIELDS.index("exposure_bars")]
    combined = stats.sum(axis=0, keepdims=True)
    combined[..., mean_fields] = stats[..., mean_fields].mean(axis=0, keepdims=True)
    return combined


def evaluate_sleeves(
    strategy: Strategy,
    close: np.ndarray,
    block: ParamBlock,
    start: int,
    end: int,
    *,
    open_: np.ndarray | None = None,
    costs: CostModel | None = None,
    sizing: Sizing | None = None,
    initial_capital: float = 100_000.0,
    warmup: int | None = None,
    symbols: Sequence[str] | None = None,
    periods_per_year: float = PERIODS_PER_YEAR,
    days: np.ndarray | None = None,
) -> KernelOutput:
    """Each set of ``block`` traded on every asset of ``close`` (T, N) over bars [start, end), the
    capital split equally over the N sleeves, summed: equity (end - start, K) and combined stats.

    Every sleeve starts flat at ``start``; signals and the sizing scale are computed from
    ``start - warmup`` (default ``strategy.warmup(block)``; at least the volatility lookback) on,
    so they only read the past. Pass the whole grid's warm-up when scoring a grid in chunks, so
    that a set's numbers do not depend on which chunk it is in. This is the unit a walk-forward
    trial scores. A portfolio strategy is scored as one book instead
    (:func:`~raytrade.backtest.portfolio_runner.evaluate_portfolio`), an options overlay by
    :func:`~raytrade.backtest.overlays.evaluate_overlay` (``days``: each bar's calendar day).
    """
    if is_overlay(strategy):
        from raytrade.backtest.overlays import evaluate_overlay

        return evaluate_overlay(strategy, close, block, start, end, days=days, costs=costs,  # type: ignore[arg-type]
                                sizing=sizing, initial_capital=initial_capital, warmup=warmup)
    if is_portfolio(strategy):
        from raytrade.backtest.portfolio_runner import evaluate_portfolio

        return evaluate_portfolio(strategy, close, block, start, end, open_=open_, costs=costs,  # type: ignore[arg-type]
                                  sizing=sizing, initial_capital=initial_capital, warmup=warmup, symbols=symbols)
    sizing = sizing or Sizing()
    n_assets = close.shape[1]
    history = sizing.kelly_lookback if sizing.mode is SizingMode.KELLY else sizing.vol_lookback
    lo = max(0, start - max(strategy.warmup(block) if warmup is None else warmup, history + 1))
    equity = np.zeros((end - start, len(block)))
    stats = []
    for j in range(n_assets):
        c = np.ascontiguousarray(close[lo:end, j])
        full = strategy.signals(strategy.prepare(c, block), block)
        sig = full[start - lo:]
        scale = sizing_scale(c[:, None], sizing, full, periods_per_year=periods_per_year)[start - lo:]  # Kelly: history
        o = None if open_ is None else open_[start:end, j]
        out = run_kernel(sig, c[start - lo:], open_=o, costs=costs, sizing=sizing, equity_into=equity,
                         initial_capital=initial_capital / n_assets, record_shares=False, scale=scale)
        stats.append(out.stats)
    return KernelOutput(equity, None, portfolio_stats(np.stack(stats))[0])


def fills_from_shares(shares: pd.DataFrame, exec_price: pd.DataFrame, costs: CostModel, *,
                      close: pd.DataFrame | None = None, volume: pd.DataFrame | None = None) -> pd.DataFrame:
    """The fills implied by a shares path: one row per (bar, symbol) where the count changed.

    Prices follow the kernel's rule: reference price x (1 +/- (half-spread + slippage) bps), and
    with ``costs.impact`` (``close`` and ``volume`` given) the size-dependent impact on top, from
    the same function and inputs as the kernel's.
    """
    delta = shares.diff()
    delta.iloc[0] = shares.iloc[0]
    stacked = delta.stack()
    stacked = stacked[stacked != 0]
    if stacked.empty:
        return pd.DataFrame(columns=["timestamp", "symbol", "side", "quantity", "price", "commission"])
    ts = stacked.index.get_level_values(0)
    sym = stacked.index.get_level_values(1)
    q = stacked.to_numpy()
    ref = exec_price.stack().reindex(stacked.index).to_numpy()
    impact = np.full(len(q), costs.price_impact_bps / 1e4)
    if costs.impact is not None and close is not None and volume is not None:
        adv, sigma = impact_inputs(close.to_numpy(np.float64), volume.to_numpy(np.float64), costs.impact.lookback)
        rows = shares.index.get_indexer(ts) - 1  # the bar the target was set at
        cols = shares.columns.get_indexer(sym)
        impact += np.array([costs.impact.period_cost(x, adv[r, k], sigma[r, k]) for x, r, k in zip(q, rows, cols, strict=True)])
    price = ref * (1 + np.sign(q) * impact)
    commission = np.abs(q) * price * costs.commission_bps / 1e4 + np.abs(q) * costs.commission_per_share
    return pd.DataFrame({"timestamp": ts, "symbol": sym, "side": np.where(q > 0, "buy", "sell"),
                         "quantity": np.abs(q), "price": price, "commission": commission})
