"""Kelly sizing: the fraction of capital that maximises the expected log growth.

- Continuous (Merton): f* = (mu - r) / sigma^2, mu and sigma^2 the mean and variance of the
  strategy's per-period simple returns (sample, ddof 1) and r the risk-free return per period; it
  maximises the approximate growth g(f) = r + f (mu - r) - f^2 sigma^2 / 2.
- Discrete (a bet that wins b per unit staked with probability p, else loses the stake):
  f* = p - q / b, q = 1 - p; from a history of trade returns p is the share of winners and b the
  mean win over the mean loss.

Both are scaled by ``fraction`` (half Kelly: 0.5), then capped to [-cap, cap] (``cap`` a leverage,
1 = fully invested; a negative fraction means the history favours the other side). Optionally
volatility-adjusted: scaled down by sigma / target_vol when the recent volatility exceeds the
target (never up).
"""

from __future__ import annotations

import math

import numpy as np

from raytrade.core.errors import DataError


def _clip(f: float, fraction: float, cap: float) -> float:
    if not 0 < fraction <= 1 or cap <= 0:
        raise DataError(f"fraction must be in (0, 1] and cap > 0, got {fraction!r}, {cap!r}", source="kelly")
    return float(min(max(f * fraction, -cap), cap))


def kelly_continuous(returns: np.ndarray, *, risk_free: float = 0.0, fraction: float = 1.0, cap: float = 1.0,
                     target_vol: float | None = None) -> float:
    """(mu - r) / sigma^2 of per-period ``returns`` (see the module), scaled, capped and, with
    ``target_vol`` (per period, like sigma), scaled down when sigma exceeds it."""
    r = np.asarray(returns, dtype=np.float64)
    if r.ndim != 1 or len(r) < 2 or not np.isfinite(r).all():
        raise DataError("returns must be a finite 1-D history of at least 2 periods", source="kelly")
    var = float(r.var(ddof=1))
    if var <= 0:
        raise DataError("returns have no variance: the Kelly fraction is unbounded", source="kelly")
    f = (float(r.mean()) - risk_free) / var
    if target_vol is not None and math.sqrt(var) > target_vol:
        f *= target_vol / math.sqrt(var)
    return _clip(f, fraction, cap)


def kelly_discrete(p: float, b: float, *, fraction: float = 1.0, cap: float = 1.0) -> float:
    """p - (1 - p) / b for a win probability ``p`` and a win/loss ratio ``b`` > 0."""
    if not 0 <= p <= 1 or not b > 0:
        raise DataError(f"p must be in [0, 1] and b > 0, got p={p!r}, b={b!r}", source="kelly")
    return _clip(p - (1 - p) / b, fraction, cap)


def kelly_from_trades(trade_returns: np.ndarray, *, fraction: float = 1.0, cap: float = 1.0) -> float:
    """:func:`kelly_discrete` with p the share of winning trades and b mean win / mean loss."""
    t = np.asarray(trade_returns, dtype=np.float64)
    wins, losses = t[t > 0], -t[t < 0]
    if len(wins) == 0 or len(losses) == 0:
        raise DataError("the trade history needs both winners and losers", source="kelly")
    return kelly_discrete(len(wins) / len(t), float(wins.mean() / losses.mean()), fraction=fraction, cap=cap)
