"""Options overlays on a stock: covered calls and cash-secured puts, sold monthly and held to expiry.

SYNTHETIC OPTION PRICES: raytrade has no option chain data, so every option is priced with the
Black-Scholes functions of :mod:`raytrade.risk.options` at volatility = the stock's realised
volatility (annualised sample standard deviation of the last ``vol_lookback`` daily log returns,
sqrt 252) plus ``vol_premium`` (or a fixed ``volatility``), rate ``risk_free``, no dividend yield.
Real premiums differ (skew, the variance risk premium, events); every result says so.

Rules (bars are daily closes; T is calendar time, days / 365):

1. Rolls. At the first bar and at each expiry, ``contracts`` options of ``multiplier`` shares
   are sold at the close for expiry on the first bar at least ``days_to_expiry`` calendar days
   later. Strike: by delta (the strike whose Black-Scholes delta is ``delta`` for a call, -``delta``
   for a put, at the pricing volatility) or ``otm_pct`` out of the money (call K = S (1 + p), put
   K = S (1 - p)), rounded to ``strike_step`` when it is > 0 (up for calls, down for puts).
   Premium in = price x (1 - ``option_half_spread``) x multiplier x contracts, less
   ``commission_per_contract`` x contracts.
2. Covered call. The stock (multiplier x contracts shares) is bought at the first close with
   ``initial_capital`` (default: exactly its cost). At
   expiry a call with S > K is assigned: the shares are delivered at K (cash += K x shares) and
   bought back at that close S to keep covering (cash -= S x shares), so the book keeps its
   stance and the assignment costs S - K a share; otherwise the call expires worthless.
3. Cash-secured put. The book holds cash (``initial_capital``, default the first close x
   shares; at least K x shares at every
   sale, else fewer contracts are sold, or none). At expiry a put with S < K is assigned: the
   shares are bought at K and sold at that close S (the book stays in cash), a loss of K - S a
   share; otherwise it expires worthless.
4. Marking. equity = cash + shares x S - contracts x multiplier x the open option's price at the
   bar (same pricing, remaining time), cash earning no interest. Stock trades pay
   ``commission_bps``.

Reported: premium income, assignments, the annualised premium yield (premium income per year /
capital at risk: the stock's value at each sale for calls, the strike's cash for puts, averaged
over the sales) and the equity curve against holding the stock (calls) or cash (puts).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import StrEnum

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field
from scipy.special import ndtri

from raytrade.core.errors import BacktestError
from raytrade.risk.options import bs_price

SYNTHETIC_NOTE = ("synthetic option prices: Black-Scholes at realised volatility plus a premium, not market quotes "
                  "(no option chain data)")
TRADING_DAYS = 252


class OverlayKind(StrEnum):
    COVERED_CALL = "covered_call"
    CASH_SECURED_PUT = "cash_secured_put"


class OverlayConfig(BaseModel):
    """The overlay (rules in the module docstring). Strike by ``delta`` unless ``otm_pct`` is set."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: OverlayKind = OverlayKind.COVERED_CALL
    contracts: int = Field(5, ge=1)
    multiplier: int = Field(100, ge=1)
    days_to_expiry: int = Field(30, ge=1, le=730)
    delta: float = Field(0.30, gt=0, lt=1)
    otm_pct: float | None = Field(None, ge=0, lt=1)
    strike_step: float = Field(0.0, ge=0)
    vol_lookback: int = Field(21, ge=2, le=2520)
    vol_premium: float = Field(0.0, ge=-0.5, le=2)
    volatility: float | None = Field(None, gt=0, le=5)
    risk_free: float = Field(0.0, ge=-0.05, le=0.5)
    option_half_spread: float = Field(0.0, ge=0, lt=1)
    commission_per_contract: float = Field(0.0, ge=0)
    commission_bps: float = Field(0.0, ge=0, le=1000)
    initial_capital: float | None = Field(None, gt=0)


@dataclass(frozen=True, slots=True)
class OverlayResult:
    """``equity`` and ``benchmark`` (holding the stock, or cash) per bar; ``events`` one row per
    sale, expiry and assignment; ``summary`` the headline figures; ``note`` says the option prices
    are synthetic."""

    equity: pd.Series
    benchmark: pd.Series
    events: pd.DataFrame
    summary: dict
    note: str = SYNTHETIC_NOTE


def realised_vol(close: np.ndarray, lookback: int) -> np.ndarray:
    """(T,) annualised (sqrt 252) sample standard deviation (ddof 1) of the ``lookback`` daily log
    returns ending at each bar; NaN before ``lookback`` returns exist."""
    r = np.diff(np.log(close))
    out = np.full(len(close), np.nan)
    if len(r) >= lookback:
        win = np.lib.stride_tricks.sliding_window_view(r, lookback)
        out[lookback:] = win.std(axis=1, ddof=1) * math.sqrt(TRADING_DAYS)
    return out


def strike_for_delta(S: float, T: float, r: float, sigma: float, delta: float, call: bool) -> float:
    """The Black-Scholes strike (no dividends) whose delta is ``delta`` (call) or -``delta`` (put):
    d1 = N^-1(delta) for a call, -N^-1(delta) for a put, K = S exp(-(d1 sigma sqrt T - (r +
    sigma^2 / 2) T))."""
    d1 = float(ndtri(delta)) if call else -float(ndtri(delta))
    return S * math.exp(-(d1 * sigma * math.sqrt(T) - (r + 0.5 * sigma * sigma) * T))


def run_overlay(close: pd.Series, config: OverlayConfig | None = None) -> OverlayResult:
    """The overlay of ``config`` on one stock's daily closes (a Series with a DatetimeIndex)."""
    cfg = config or OverlayConfig()
    if not isinstance(close, pd.Series) or not isinstance(close.index, pd.DatetimeIndex):
        raise BacktestError("close must be a pandas Series of daily closes with a DatetimeIndex")
    c = close.to_numpy(np.float64)
    if len(c) < 2 or not (np.isfinite(c) & (c > 0)).all():
        bad = int(np.argmax(~(np.isfinite(c) & (c > 0)))) if len(c) else 0
        raise BacktestError(f"close must hold at least 2 finite prices > 0 (bad at {close.index[bad] if len(c) else '-'})")
    sig = np.full(len(c), cfg.volatility) if cfg.volatility is not None else realised_vol(c, cfg.vol_lookback) + \
        cfg.vol_premium
    first = 0 if cfg.volatility is not None else cfg.vol_lookback
    if first >= len(c) - 1:
        raise BacktestError(f"{len(c)} bars leave no bar after the {cfg.vol_lookback}-bar volatility warm-up")
    kind = OverlayKind(cfg.kind)   # model_copy(update=...) leaves a plain string
    call = kind is OverlayKind.COVERED_CALL
    right = "call" if call else "put"
    size = cfg.contracts * cfg.multiplier
    days = (close.index - close.index[first]).days.to_numpy()
    n = len(c)

    cost = c[first] * size * (1 + cfg.commission_bps / 1e4)   # the covered call's shares
    start_cash = cfg.initial_capital if cfg.initial_capital is not None else (cost if call else c[first] * size)
    if call and start_cash < cost - 1e-9:
        raise BacktestError(f"initial_capital {start_cash:,.2f} does not buy the {size} shares the calls cover "
                            f"({cost:,.2f} at {close.index[first]:%Y-%m-%d})")
    cash, shares = start_cash, 0.0
    if call:
        cash -= cost
        shares = float(size)
    equity = np.full(n, np.nan)
    events: list[dict] = []
    open_k = 0.0
    open_n = 0
    expiry_bar = -1
    premiums = 0.0
    at_risk: list[float] = []

    def sell(t: int) -> None:
        nonlocal cash, open_k, open_n, expiry_bar, premiums
        target_day = days[t] + cfg.days_to_expiry
        later = np.flatnonzero(days >= target_day)
        if not len(later) or not np.isfinite(sig[t]) or sig[t] <= 0:
            open_n, expiry_bar = 0, -1
            return
        e = int(later[0])
        T = (days[e] - days[t]) / 365.0
        S = c[t]
        if cfg.otm_pct is not None:
            K = S * (1 + cfg.otm_pct) if call else S * (1 - cfg.otm_pct)
        else:
            K = strike_for_delta(S, T, cfg.risk_free, float(sig[t]), cfg.delta, call)
        if cfg.strike_step > 0:
            K = (math.ceil(K / cfg.strike_step) if call else math.floor(K / cfg.strike_step)) * cfg.strike_step
        contracts = cfg.contracts if call else min(cfg.contracts, int(cash // (K * cfg.multiplier)))
        if contracts <= 0 or K <= 0:
            open_n, expiry_bar = 0, -1
            return
        price = float(bs_price(S, K, T, cfg.risk_free, 0.0, sig[t], right))
        premium = price * (1 - cfg.option_half_spread) * cfg.multiplier * contracts
        fee = cfg.commission_per_contract * contracts
        cash += premium - fee
        premiums += premium - fee
        at_risk.append((S if call else K) * cfg.multiplier * contracts)
        open_k, open_n, expiry_bar = K, contracts, e
        events.append({"timestamp": close.index[t], "action": "sell", "right": right, "strike": K,
                       "expiry": close.index[e], "contracts": contracts, "price": price, "premium": premium - fee,
                       "volatility": float(sig[t])})

    for t in range(first, n):
        S = c[t]
        if t == first:
            sell(t)
        elif t == expiry_bar:
            itm = open_k < S if call else open_k > S
            qty = open_n * cfg.multiplier
            if itm:
                fee = S * qty * cfg.commission_bps / 1e4
                if call:   # delivered at K, bought back at S
                    cash += open_k * qty - S * qty - fee
                else:      # bought at K, sold at S
                    cash += S * qty - open_k * qty - fee
                events.append({"timestamp": close.index[t], "action": "assigned", "right": right, "strike": open_k,
                               "contracts": open_n, "price": S, "premium": 0.0})
            else:
                events.append({"timestamp": close.index[t], "action": "expired", "right": right, "strike": open_k,
                               "contracts": open_n, "price": S, "premium": 0.0})
            open_n, expiry_bar = 0, -1
            sell(t)
        value = 0.0
        if open_n:
            T = max((days[expiry_bar] - days[t]) / 365.0, 0.0)
            value = float(bs_price(S, open_k, T, cfg.risk_free, 0.0, sig[t] if np.isfinite(sig[t]) else 0.0, right))
        equity[t] = cash + shares * S - open_n * cfg.multiplier * value
    eq = pd.Series(equity[first:], index=close.index[first:], name=kind.value)
    base = start_cash
    bench = (pd.Series(c[first:] / c[first] * base, index=eq.index, name="hold stock") if call
             else pd.Series(np.full(len(eq), start_cash), index=eq.index, name="cash"))
    years = max((eq.index[-1] - eq.index[0]).days / 365.0, 1e-9)
    kinds = pd.DataFrame(events)
    sales = int((kinds["action"] == "sell").sum()) if len(kinds) else 0
    summary = {
        "kind": kind.value, "sales": sales,
        "assignments": int((kinds["action"] == "assigned").sum()) if len(kinds) else 0,
        "premium_income": premiums,
        "annualised_premium_yield": (premiums / years) / float(np.mean(at_risk)) if at_risk else float("nan"),
        "total_return": float(eq.iloc[-1] / base - 1), "benchmark_total_return": float(bench.iloc[-1] / base - 1),
        "years": years, "note": SYNTHETIC_NOTE,
    }
    return OverlayResult(eq, bench, kinds, summary)
