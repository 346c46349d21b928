"""Channel-breakout trend following for markets that never close (crypto), sized by volatility."""

from __future__ import annotations

from typing import ClassVar

import numba as nb
import numpy as np

from raytrade.strategies.space import ParamBlock, Parameter, ParameterSpace


@nb.njit(cache=True)
def _channel(close: np.ndarray, window: int) -> tuple[np.ndarray, np.ndarray]:
    """Highest and lowest close of the ``window`` bars before each bar (bar t itself excluded);
    NaN for the first ``window`` bars. A monotonic deque: O(T)."""
    n = len(close)
    hi = np.full(n, np.nan)
    lo = np.full(n, np.nan)
    qmax = np.empty(n, np.int64)
    qmin = np.empty(n, np.int64)
    a = b = 0          # qmax[a:b]: indices, closes decreasing
    c = d = 0          # qmin[c:d]: indices, closes increasing
    for t in range(n):
        if t >= window:
            while qmax[a] < t - window:
                a += 1
            while qmin[c] < t - window:
                c += 1
            hi[t] = close[qmax[a]]
            lo[t] = close[qmin[c]]
        while b > a and close[qmax[b - 1]] <= close[t]:
            b -= 1
        qmax[b] = t
        b += 1
        while d > c and close[qmin[d - 1]] >= close[t]:
            d -= 1
        qmin[d] = t
        d += 1
    return hi, lo


@nb.njit(cache=True)
def _breakout(close: np.ndarray, entry_hi: np.ndarray, entry_lo: np.ndarray, exit_hi: np.ndarray,
              exit_lo: np.ndarray, allow_short: bool) -> np.ndarray:
    """The position path of the rules of :class:`CryptoTrend` (exits are checked before entries)."""
    out = np.zeros(len(close))
    pos = 0.0
    for t in range(len(close)):
        x = close[t]
        if (pos > 0 and x < exit_lo[t]) or (pos < 0 and x > exit_hi[t]):
            pos = 0.0
        if pos <= 0 and x > entry_hi[t]:
            pos = 1.0
        elif pos >= 0 and x < entry_lo[t] and allow_short:
            pos = -1.0
        out[t] = pos
    return out


class CryptoTrend:
    """Donchian channel breakout: long when the close rises above the highest close of the
    ``entry`` bars before it, out when it falls below the lowest close of the ``exit`` bars
    before it; short and out the other way round when shorts are allowed. Signals are +-1: the
    size comes from the sizing, and this strategy is meant for volatility-target sizing
    (``configs/strategies/crypto_trend.yaml``: 30 % a year over the last day of 5-minute bars,
    base size x 30 % / the asset's volatility, 365-day annualisation read from the timestamps).
    Windows in bars (288 five-minute bars = a day)."""

    name: ClassVar[str] = "crypto_trend"
    space: ClassVar[ParameterSpace] = ParameterSpace(
        params=(
            Parameter("entry", int, 2, 100_000, "bars of the channel a close must break out of to enter"),
            Parameter("exit", int, 2, 100_000, "bars of the channel a close must break back into to exit"),
        ),
        constraint=lambda p: p["exit"] <= p["entry"],
        constraint_doc="exit <= entry",
        defaults={"entry": 288, "exit": 144},
    )

    def __init__(self, allow_short: bool = False) -> None:
        self.allow_short = allow_short

    def prepare(self, close: np.ndarray, block: ParamBlock) -> dict:
        c = np.ascontiguousarray(close, dtype=np.float64)
        windows = {int(w) for w in np.r_[block["entry"], block["exit"]]}
        return {"close": c, "channels": {w: _channel(c, w) for w in windows}}

    def signals(self, prepared: dict, block: ParamBlock) -> np.ndarray:
        c, ch = prepared["close"], prepared["channels"]
        out = np.zeros((len(c), len(block)))
        for k, (en, ex) in enumerate(zip(block["entry"], block["exit"], strict=True)):
            (ehi, elo), (xhi, xlo) = ch[int(en)], ch[int(ex)]
            out[:, k] = _breakout(c, ehi, elo, xhi, xlo, self.allow_short)
        return out

    def warmup(self, block: ParamBlock) -> int:
        return int(block["entry"].max())
