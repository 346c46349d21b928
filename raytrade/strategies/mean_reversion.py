"""Bollinger-band / z-score mean reversion."""

from __future__ import annotations

from typing import ClassVar

import numba as nb
import numpy as np

from raytrade.strategies.base import rolling_mean, rolling_std
from raytrade.strategies.space import ParamBlock, Parameter, ParameterSpace


@nb.njit(cache=True, nogil=True)
def _band_signals(z, zcol, entry, exit_, allow_short):
    n_bars = z.shape[0]
    n_cols = zcol.shape[0]
    out = np.zeros((n_bars, n_cols))
    for k in range(n_cols):
        state = 0.0
        c = zcol[k]
        for t in range(n_bars):
            x = z[t, c]
            if x != x:
                state = 0.0
            elif state == 0.0:
                if x <= -entry[k]:
                    state = 1.0
                elif x >= entry[k] and allow_short:
                    state = -1.0
            elif (state > 0.0 and x >= -exit_[k]) or (state < 0.0 and x <= exit_[k]):
                state = 0.0
            out[t, k] = state
    return out


class BollingerMeanReversion:
    """Fade stretches away from the moving mean.

    z_t = (close_t - SMA_window) / SD_window (sample SD, ddof=1, over the same ``window`` bars).
    From flat: long when z <= -``entry_z``, short when z >= ``entry_z`` (flat instead when
    ``allow_short`` is False). A long exits to flat once z >= -``exit_z``, a short once
    z <= ``exit_z``. Flat while the window warms up or when SD is 0. exit_z < entry_z.
    """

    name: ClassVar[str] = "bollinger_reversion"
    space: ClassVar[ParameterSpace] = ParameterSpace(
        params=(
            Parameter("window", int, 2, 5000, "moving mean and SD window, bars"),
            Parameter("entry_z", float, 0.0, 10.0, "|z| at which a position opens"),
            Parameter("exit_z", float, -10.0, 10.0, "|z| inside which a position closes"),
        ),
        constraint=lambda p: p["exit_z"] < p["entry_z"],
        constraint_doc="exit_z < entry_z",
        defaults={"exit_z": 0.0},
    )

    def __init__(self, allow_short: bool = False) -> None:
        self.allow_short = allow_short

    def prepare(self, close: np.ndarray, block: ParamBlock) -> tuple[np.ndarray, dict[int, int]]:
        windows = np.unique(block["window"])
        z = np.empty((len(close), len(windows)))
        for j, w in enumerate(windows):
            sd = rolling_std(close, int(w))
            with np.errstate(divide="ignore", invalid="ignore"):
                z[:, j] = np.where(sd > 0, (close - rolling_mean(close, int(w))) / sd, np.nan)
        return z, {int(w): j for j, w in enumerate(windows)}

    def signals(self, prepared: tuple[np.ndarray, dict[int, int]], block: ParamBlock) -> np.ndarray:
        z, col = prepared
        zc = np.array([col[int(w)] for w in block["window"]], dtype=np.int64)
        return _band_signals(z, zc, block["entry_z"].astype(np.float64), block["exit_z"].astype(np.float64),
                             self.allow_short)

    def warmup(self, block: ParamBlock) -> int:
        return int(block["window"].max())
