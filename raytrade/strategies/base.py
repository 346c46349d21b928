"""The strategy protocol: a declared parameter space and a vectorised signal function.

A strategy turns one asset's closes (T,) and a block of K parameter sets into a (T, K) array of
signals in [-1, 1]: +1 fully long, -1 fully short, 0 flat, known at each bar's close (the kernel
trades them at the next bar). Signals must use only data up to and including their bar.

``prepare`` computes what the whole grid shares (e.g. every moving average once per window), so
``signals`` can be called chunk after chunk of the grid without recomputing it.
"""

from __future__ import annotations

from typing import Any, ClassVar, Protocol, runtime_checkable

import numpy as np

from raytrade.strategies.space import ParamBlock, ParameterSpace


@runtime_checkable
class Strategy(Protocol):
    name: ClassVar[str]
    space: ClassVar[ParameterSpace]

    def prepare(self, close: np.ndarray, block: ParamBlock) -> Any:
        """Precompute, from closes (T,), what every parameter set of ``block`` needs."""
        ...

    def signals(self, prepared: Any, block: ParamBlock) -> np.ndarray:
        """Signals (T, len(block)) in [-1, 1] for ``block`` (a subset of the prepared block)."""
        ...

    def warmup(self, block: ParamBlock) -> int:
        """Bars of history before a bar that any set of ``block`` reads to compute its signal: a
        backtest of bars [a, b) computes signals from bar a - warmup on."""
        ...


def rolling_mean(close: np.ndarray, window: int, cumsum: np.ndarray | None = None) -> np.ndarray:
    """Simple moving average over ``window`` bars ending at each bar; NaN for the first window-1.
    ``cumsum``: :func:`padded_cumsum` of ``close``, when many windows of one series are wanted."""
    out = np.full(close.shape, np.nan)
    if window <= len(close):
        cs = padded_cumsum(close) if cumsum is None else cumsum
        out[window - 1:] = (cs[window:] - cs[:-window]) / window
    return out


def padded_cumsum(close: np.ndarray) -> np.ndarray:
    """0 followed by the running sum of ``close`` (float64): what :func:`rolling_mean` differences."""
    return np.concatenate([[0.0], np.cumsum(close, dtype=np.float64)])


def rolling_std(close: np.ndarray, window: int) -> np.ndarray:
    """Sample standard deviation (ddof=1) over ``window`` bars ending at each bar; NaN before."""
    out = np.full(close.shape, np.nan)
    if 2 <= window <= len(close):
        view = np.lib.stride_tricks.sliding_window_view(close, window)
        out[window - 1:] = view.std(axis=-1, ddof=1)
    return out


@runtime_checkable
class PortfolioStrategy(Protocol):
    """A strategy over N assets at once, returning target weights for one book.

    ``prepare`` receives the closes (T, N) of every asset (NaN before an asset's first price);
    ``weights`` returns (T, len(block), N): set k's target weight of asset n at bar t's close, a
    fraction of the book's equity, negative for short, using only data up to bar t. The portfolio
    kernel (:mod:`raytrade.backtest.portfolio`) trades them at the next bar from one cash account.
    """

    name: ClassVar[str]
    space: ClassVar[ParameterSpace]

    def prepare(self, close: np.ndarray, block: ParamBlock) -> Any:
        """Precompute, from closes (T, N), what every parameter set of ``block`` needs."""
        ...

    def weights(self, prepared: Any, block: ParamBlock) -> np.ndarray:
        """Target weights (T, len(block), N) for ``block`` (a subset of the prepared block)."""
        ...

    def warmup(self, block: ParamBlock) -> int:
        """Bars of history a bar's weights read (as :meth:`Strategy.warmup`)."""
        ...


def is_portfolio(strategy: object) -> bool:
    """Whether ``strategy`` returns portfolio weights (a :class:`PortfolioStrategy`) rather than
    per-asset signals."""
    return callable(getattr(strategy, "weights", None)) and not callable(getattr(strategy, "signals", None))


@runtime_checkable
class OverlayStrategy(Protocol):
    """An options overlay on each asset: the rules of writing options against a stock (covered
    calls) or against cash (cash-secured puts), evaluated by
    :mod:`raytrade.backtest.overlays` per asset sleeve with synthetic option prices.

    ``overlay(params)`` returns, for one parameter set, the fields of
    :class:`~raytrade.backtest.overlays.OverlayConfig` it sets (``kind``, ``delta``,
    ``days_to_expiry``, ...); ``warmup`` the bars of history a sale reads (the volatility window).
    The engine's strategy runner holds no option positions and refuses these strategies."""

    name: ClassVar[str]
    space: ClassVar[ParameterSpace]

    def overlay(self, params: dict[str, int | float]) -> dict[str, Any]:
        """The overlay settings of one parameter set."""
        ...

    def warmup(self, block: ParamBlock) -> int:
        """Bars of history a bar's sale reads (as :meth:`Strategy.warmup`)."""
        ...


def is_overlay(strategy: object) -> bool:
    """Whether ``strategy`` is an options overlay (:class:`OverlayStrategy`)."""
    return callable(getattr(strategy, "overlay", None))


def rolling_sum(x: np.ndarray, window: int) -> np.ndarray:
    """Sum over the ``window`` rows ending at each row, along the first axis (by running sums):
    shape (T - window + 1, ...), row i the sum of rows i .. i + window - 1."""
    c = np.concatenate([np.zeros((1, *x.shape[1:])), np.cumsum(x, axis=0)])
    return c[window:] - c[:-window]
