"""A long-short portfolio of a cross-sectional signal, backtested through the foundation kernel.

Rules:

1. Positions. Every ``rebalance_every`` bars (counted from the first bar with any finite signal),
   the symbols with a finite signal are ranked (ties by column order); the top k = ceil(quantile x
   n) go long (+1) and the bottom k short (-1), n the number ranked; with n < 2 nothing is held.
   Positions are held unchanged between rebalances.
2. Sizing. Each symbol is a sleeve with capital C / N (N symbols in all); a held sleeve targets
   N / (2 k) of its equity, so at a rebalance the longs add up to half the capital and the shorts
   to the other half: gross exposure 1.0, net 0 (each then drifts with its price until it changes).
3. Execution and costs are the kernel's (:mod:`raytrade.backtest.kernel`): a position decided at
   bar t's close trades at bar t+1's close, filled half-spread + slippage bps worse, plus
   commission. No borrow fee or margin interest is charged on the shorts.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from raytrade.backtest.costs import CostModel
from raytrade.backtest.kernel import run_kernel
from raytrade.backtest.runner import combine_sleeves, kernel_metrics
from raytrade.core.errors import DataError


def long_short_positions(signal: pd.DataFrame, quantile: float = 0.2, rebalance_every: int = 5) -> pd.DataFrame:
    """+1 / -1 / 0 per bar and symbol from ``signal`` (bars x symbols, NaN where none); rule 1."""
    if not 0 < quantile <= 0.5:
        raise DataError(f"quantile must be in (0, 0.5], got {quantile}", source="long_short", column="quantile")
    if rebalance_every < 1:
        raise DataError(f"rebalance_every must be >= 1, got {rebalance_every}", source="long_short",
                        column="rebalance_every")
    values = signal.to_numpy(dtype=np.float64)
    pos = np.zeros_like(values)
    live = np.flatnonzero(np.isfinite(values).any(axis=1))
    if len(live) == 0:
        return pd.DataFrame(pos, index=signal.index, columns=signal.columns)
    current = np.zeros(values.shape[1])
    for t in range(live[0], len(values)):
        if (t - live[0]) % rebalance_every == 0:
            current = np.zeros(values.shape[1])
            ok = np.flatnonzero(np.isfinite(values[t]))
            if len(ok) >= 2:
                k = min(math.ceil(quantile * len(ok)), len(ok) // 2)
                order = ok[np.argsort(-values[t, ok], kind="stable")]
                current[order[:k]] = 1.0
                current[order[len(order) - k:]] = -1.0
        pos[t] = current
    return pd.DataFrame(pos, index=signal.index, columns=signal.columns)


@dataclass(frozen=True)
class LongShortResult:
    positions: pd.DataFrame   # +1 / -1 / 0 per bar and symbol
    equity: pd.Series         # the portfolio's equity, in the currency of the initial capital
    metrics: dict[str, float]


def long_short_backtest(signal: pd.DataFrame, close: pd.DataFrame, *, quantile: float = 0.2,
                        rebalance_every: int = 5, costs: CostModel | None = None,
                        initial_capital: float = 1_000_000.0) -> LongShortResult:
    """Backtest the long-short portfolio of ``signal`` on ``close`` (same bars and symbols) from the
    first bar with a signal to the last bar of ``close`` (rules in the module docstring)."""
    if not signal.index.equals(close.index) or list(signal.columns) != list(close.columns):
        raise DataError("signal and close must have the same bars and symbols", source="long_short")
    positions = long_short_positions(signal, quantile, rebalance_every)
    live = np.flatnonzero(np.isfinite(signal.to_numpy(dtype=np.float64)).any(axis=1))
    if len(live) == 0 or len(close) - live[0] < 2:
        raise DataError("fewer than 2 bars from the first signal on", source="long_short")
    span = slice(live[0], len(close))
    pos = positions.to_numpy()[span]
    n = close.shape[1]
    held = np.maximum((pos > 0).sum(axis=1, keepdims=True), 1)
    scale = np.broadcast_to(n / (2.0 * held), pos.shape)
    out = run_kernel(pos, close.to_numpy(dtype=np.float64)[span], costs=costs, initial_capital=initial_capital / n,
                     record_shares=False, scale=scale)
    book = combine_sleeves(out)
    metrics = kernel_metrics(book)
    return LongShortResult(positions, pd.Series(book.equity[:, 0], index=close.index[span], name="equity"),
                           {k: float(v[0]) for k, v in metrics.items()})
