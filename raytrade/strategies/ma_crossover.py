"""Moving-average crossover."""

from __future__ import annotations

from typing import ClassVar

import numba as nb
import numpy as np

from raytrade.strategies.base import padded_cumsum, rolling_mean
from raytrade.strategies.space import ParamBlock, Parameter, ParameterSpace


@nb.njit(cache=True, nogil=True)
def _cross_signals(ma, fast_idx, slow_idx, allow_short):
    n_bars = ma.shape[0]
    n_cols = fast_idx.shape[0]
    out = np.zeros((n_bars, n_cols), dtype=np.int8)
    low = -1 if allow_short else 0
    for t in range(n_bars):
        row = ma[t]
        for k in range(n_cols):
            f = row[fast_idx[k]]
            s = row[slow_idx[k]]
            if f > s:
                out[t, k] = 1
            elif f < s:
                out[t, k] = low
    return out


class MovingAverageCrossover:
    """Long when the fast simple moving average is above the slow one, short (or flat when
    ``allow_short`` is False) when below, flat while either average is still warming up (the
    first ``slow - 1`` bars) or when they are equal. Windows in bars; fast < slow. Signals are
    int8 (-1, 0, 1): a quarter of the memory traffic of float64 over a large grid."""

    name: ClassVar[str] = "ma_crossover"
    space: ClassVar[ParameterSpace] = ParameterSpace(
        params=(
            Parameter("fast", int, 1, 5000, "fast moving-average window, bars"),
            Parameter("slow", int, 2, 5000, "slow moving-average window, bars"),
        ),
        constraint=lambda p: p["fast"] < p["slow"],
        constraint_doc="fast < slow",
    )

    def __init__(self, allow_short: bool = False) -> None:
        self.allow_short = allow_short

    def prepare(self, close: np.ndarray, block: ParamBlock) -> tuple[np.ndarray, dict[int, int]]:
        """Every distinct window's moving average once: (T, W) and window -> column."""
        windows = np.unique(np.concatenate([block["fast"], block["slow"]]))
        ma = np.empty((len(close), len(windows)))
        cs = padded_cumsum(close)
        for j, w in enumerate(windows):
            ma[:, j] = rolling_mean(close, int(w), cs)
        return ma, {int(w): j for j, w in enumerate(windows)}

    def signals(self, prepared: tuple[np.ndarray, dict[int, int]], block: ParamBlock) -> np.ndarray:
        ma, col = prepared
        fi = np.array([col[int(w)] for w in block["fast"]], dtype=np.int64)
        si = np.array([col[int(w)] for w in block["slow"]], dtype=np.int64)
        return _cross_signals(ma, fi, si, self.allow_short)

    def warmup(self, block: ParamBlock) -> int:
        return int(block["slow"].max())
