"""Market impact and liquidity: how much a trade moves the price, and how easy a name is to trade.

Conventions: impact is a fraction of the price (x 1e4 for basis points), positive = against the
trader (a buy pays more); ``sigma`` is the daily volatility of returns (a fraction, e.g. 0.015);
``adv`` the average daily volume and quantities in shares; ``participation`` a child's share of
the market volume traded over the same interval (0.1 = 10%).

Power law (Almgren, Thum, Hauptmann and Li 2005, "Direct estimation of equity market impact",
Risk 18(7)): for X shares traded evenly over T days,

- permanent impact I = gamma x sigma x (X / adv), gamma = 0.314 (their (Theta / V)^(1/4) turnover
  factor, shares outstanding over daily volume, is folded into gamma: 1 by default);
- temporary impact J = eta x sigma x |X / (adv x T)|^beta, eta = 0.142, beta = 3/5; X / (adv x T) is
  the trading rate as a fraction of the daily volume rate, i.e. the participation;
- the cost realised per share is J + I / 2 (the trade pays half of its own permanent move on
  average).

Square-root law (as a choice): the whole cost of a trade of Q shares is Y x sigma x sqrt(Q / adv),
Y = 1 by default (Toth et al. 2011, "Anomalous price impact and the critical nature of liquidity
in financial markets").

Liquidity score (:func:`liquidity_score`) in [0, 1]: 1 / (1 + c / 10), c = the cost in basis
points of trading a reference size in a day, half the spread plus the square-root law's impact:
c = spread_bps / 2 + 1e4 x sigma x sqrt(q), q = reference notional / average daily notional volume
(the depth proxy; $1M by default), or q = 1% of the daily volume when the volume is unknown. A name
that costs 10 bps to trade that way scores 0.5; 2 bps, 0.83; 50 bps, 0.17. It sets the default participation cap
(:func:`participation_cap`): 5% + 20% x score, so from 5% for an illiquid name to 25%.
The spread is the quoted one where there are quotes, else estimated from daily bars:
:func:`roll_spread` (closes only) or :func:`corwin_schultz_spread` (highs and lows).
"""

from __future__ import annotations

import math
from typing import Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field

from raytrade.core.errors import ConfigError
from raytrade.execution.formulas import POWER_LAW, SQUARE_ROOT, impact_cost


class ImpactModel(BaseModel):
    """Impact parameters (``impact:`` in configs); see the module for the formulas."""

    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)

    kind: Literal["power_law", "square_root"] = "power_law"
    eta: float = Field(0.142, ge=0, description="temporary impact coefficient (power law)")
    beta: float = Field(0.6, gt=0, le=2, description="temporary impact exponent (power law)")
    gamma: float = Field(0.314, ge=0, description="permanent impact coefficient (power law)")
    y: float = Field(1.0, ge=0, description="square-root law coefficient")
    lookback: int = Field(20, ge=2, le=2520, description="bars over which a simulation estimates the "
                          "average volume and the volatility (see impact_inputs)")

    @property
    def code(self) -> int:
        """The kind as the compiled formulas' constant."""
        return POWER_LAW if self.kind == "power_law" else SQUARE_ROOT

    def period_cost(self, quantity: float, adv: float, sigma: float) -> float:
        """The cost per share (fraction of price) of ``quantity`` traded within one period of
        average volume ``adv`` and volatility ``sigma``:
        :func:`raytrade.execution.formulas.impact_cost`, the function the backtest kernel and the
        paper broker call."""
        return float(impact_cost(float(quantity), float(adv), float(sigma), self.code, self.eta, self.beta,
                                 self.gamma, self.y))

    def temporary(self, participation: float | np.ndarray, sigma: float | np.ndarray) -> float | np.ndarray:
        """Temporary impact (fraction of price) of trading at ``participation`` of the market's
        volume: eta sigma p^beta (power law); the square-root law has no separate temporary part,
        so it is Y sigma sqrt(p) over the interval."""
        p = np.abs(np.asarray(participation, dtype=np.float64))
        out = (self.eta * sigma * p**self.beta) if self.kind == "power_law" else self.y * sigma * np.sqrt(p)
        return float(out) if np.ndim(out) == 0 else out

    def permanent(self, fraction_of_adv: float | np.ndarray, sigma: float | np.ndarray) -> float | np.ndarray:
        """Permanent impact (fraction of price) of trading ``fraction_of_adv`` of the daily volume:
        gamma sigma X / adv (power law); 0 for the square-root law (its cost is all in the trade)."""
        x = np.abs(np.asarray(fraction_of_adv, dtype=np.float64))
        out = self.gamma * sigma * x if self.kind == "power_law" else np.zeros_like(x)
        return float(out) if np.ndim(out) == 0 else out

    def cost(self, quantity: float, adv: float, sigma: float, days: float = 1.0) -> float:
        """Expected cost per share (fraction of price) of ``quantity`` shares traded evenly over
        ``days``: J + I / 2 (power law), or Y sigma sqrt(Q / adv) (square root)."""
        if adv <= 0 or days <= 0:
            raise ConfigError(f"adv and days must be > 0, got adv={adv!r}, days={days!r}")
        if days == 1.0:
            return self.period_cost(quantity, adv, sigma)
        if self.kind == "square_root":
            return float(self.y * sigma * math.sqrt(abs(quantity) / adv))
        return float(self.temporary(abs(quantity) / (adv * days), sigma)) + float(self.permanent(quantity / adv, sigma)) / 2


def impact_inputs(close: np.ndarray, volume: np.ndarray, lookback: int) -> tuple[np.ndarray, np.ndarray]:
    """(adv, sigma), each shaped like ``close`` (T, N): at bar t, the mean volume of bars
    t - lookback + 1 .. t (fewer at the start) and the standard deviation (ddof=1) of the last
    ``lookback`` simple close-to-close returns up to and including bar t (fewer at the start; 0
    until two exist). Both are per bar: per day on daily bars. What a simulation knows at bar
    t's close, for a trade decided then."""
    c = np.asarray(close, dtype=np.float64)
    v = np.asarray(volume, dtype=np.float64)
    if c.ndim == 1:
        c, v = c[:, None], v[:, None]
    if v.shape != c.shape:
        raise ConfigError(f"volume shape {v.shape} differs from close shape {c.shape}")
    if not (np.isfinite(v) & (v >= 0)).all():
        t, a = np.argwhere(~(np.isfinite(v) & (v >= 0)))[0]
        raise ConfigError(f"volume at bar {t}, asset {a} is {v[t, a]}: volumes must be finite and >= 0")
    adv = pd.DataFrame(v).rolling(lookback, min_periods=1).mean().to_numpy()
    r = np.full(c.shape, np.nan)
    r[1:] = c[1:] / c[:-1] - 1.0
    sigma = pd.DataFrame(r).rolling(lookback, min_periods=2).std(ddof=1).to_numpy()
    return np.ascontiguousarray(adv), np.ascontiguousarray(np.nan_to_num(sigma, nan=0.0))


def square_root_impact(quantity: float, adv: float, sigma: float, y: float = 1.0) -> float:
    """Y sigma sqrt(Q / adv): the square-root law's cost per share, a fraction of price."""
    return ImpactModel(kind="square_root", y=y).cost(quantity, adv, sigma)


def roll_spread(close: np.ndarray) -> float:
    """Roll's (1984) effective spread as a fraction of price from closes: 2 sqrt(-cov(r_t, r_{t-1}))
    over log returns r; 0 when the autocovariance is not negative (no bounce to read)."""
    r = np.diff(np.log(np.asarray(close, dtype=np.float64)))
    r = r[np.isfinite(r)]
    if len(r) < 3:
        raise ConfigError("roll_spread needs at least 4 closes")
    c = float(np.cov(r[1:], r[:-1])[0, 1])
    return 2.0 * math.sqrt(-c) if c < 0 else 0.0


def corwin_schultz_spread(high: np.ndarray, low: np.ndarray) -> float:
    """Corwin and Schultz's (2012) high-low spread estimate as a fraction of price, the mean over
    consecutive two-day windows (each window's negative estimate set to 0, as they do):
    beta = ln(H_t/L_t)^2 + ln(H_t+1/L_t+1)^2, gamma = ln(max H / min L)^2 over the two days,
    alpha = (sqrt(2 beta) - sqrt(beta)) / (3 - 2 sqrt 2) - sqrt(gamma / (3 - 2 sqrt 2)),
    S = 2 (e^alpha - 1) / (1 + e^alpha)."""
    h = np.asarray(high, dtype=np.float64)
    lo = np.asarray(low, dtype=np.float64)
    if h.shape != lo.shape or len(h) < 2 or (h < lo).any() or (lo <= 0).any():
        raise ConfigError("corwin_schultz_spread needs >= 2 bars of highs >= lows > 0")
    k = 3.0 - 2.0 * math.sqrt(2.0)
    beta = np.log(h[:-1] / lo[:-1]) ** 2 + np.log(h[1:] / lo[1:]) ** 2
    gamma = np.log(np.maximum(h[:-1], h[1:]) / np.minimum(lo[:-1], lo[1:])) ** 2
    alpha = (np.sqrt(2.0 * beta) - np.sqrt(beta)) / k - np.sqrt(gamma / k)
    s = 2.0 * (np.exp(alpha) - 1.0) / (1.0 + np.exp(alpha))
    return float(np.maximum(s, 0.0).mean())


def liquidity_score(spread: float, sigma: float, adv_notional: float | None = None,
                    reference_notional: float = 1e6) -> float:
    """The score in [0, 1] of a name with relative ``spread`` (fraction), daily ``sigma`` and
    average daily traded value ``adv_notional`` (currency; None: unknown) (see the module):
    1 / (1 + c / 10), c = 1e4 (spread / 2 + sigma sqrt(q))."""
    if spread < 0 or sigma < 0 or not (math.isfinite(spread) and math.isfinite(sigma)):
        raise ConfigError(f"spread and sigma must be finite and >= 0, got {spread!r}, {sigma!r}")
    if adv_notional is not None and not (math.isfinite(adv_notional) and adv_notional > 0):
        raise ConfigError(f"adv_notional must be finite and > 0, got {adv_notional!r}")
    q = 0.01 if adv_notional is None else reference_notional / adv_notional
    c = 1e4 * (spread / 2.0 + sigma * math.sqrt(q))
    return 1.0 / (1.0 + c / 10.0)


def participation_cap(score: float) -> float:
    """The default share of market volume an algorithm may take: 5% + 20% x the liquidity score."""
    return 0.05 + 0.20 * min(max(score, 0.0), 1.0)
