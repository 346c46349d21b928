"""The book's risk figures as the engine keeps them: VaR and CVaR, leverage, correlation risk and Greeks,
computed off the order path (on a timer and after fills) from the positions, the marks and the
closes the engine has seen.

Conventions. Each underlying's exposure is its dollar delta (a stock's value, an option's delta x
multiplier x quantity x spot: :mod:`raytrade.risk.greeks`); the book's daily return on a past day
is sum over underlyings of exposure / equity x that underlying's daily close-to-close return (the
delta approximation: an option book's gamma is not in its VaR). VaR and CVaR are positive
fractions of equity (:mod:`raytrade.risk.var`): historical over the last ``lookback`` daily
returns, 1 day and 10 days (overlapping 10-day sums), and normal at 1 day. Daily closes are the
last close of each calendar day of the bars seen (intraday bars are folded into days). Options
are priced at the volatility implied by their mark, else the underlying's realised volatility
over ``vol_window`` days (annualised with sqrt 252), as the Greeks' ``vol_source`` says.
A figure that cannot be computed (fewer than 20 daily returns, an underlying with no history)
is None, and ``note`` says why; with no position every figure is 0.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pandas as pd

from raytrade.core.errors import DomainError
from raytrade.core.instruments import Instrument, OptionContract
from raytrade.core.portfolio import Portfolio
from raytrade.risk.greeks import TOTALS, book_greeks
from raytrade.risk.var import correlation_risk, value_at_risk

MIN_DAYS = 20


@dataclass(frozen=True, slots=True)
class RiskFigures:
    """One computation of the book's risk (module docstring): ``as_of`` the book's time (the
    engine's clock: market time in a replay), ``computed_at`` the wall time it was computed at;
    ``to_dict(now)`` adds its age in wall seconds."""

    computed_at: datetime
    as_of: datetime
    trigger: str
    equity: float
    gross_leverage: float | None
    net_leverage: float | None
    days: int
    level: float
    var_1d: float | None
    cvar_1d: float | None
    var_10d: float | None
    cvar_10d: float | None
    var_normal_1d: float | None
    correlation_risk: float | None
    greeks: dict[str, float] = field(default_factory=dict)
    exposures: dict[str, float] = field(default_factory=dict)
    note: str | None = None
    positions: list[dict[str, Any]] = field(default_factory=list)   # per position: symbol, underlying, delta, spot

    def to_dict(self, now: datetime | None = None) -> dict[str, Any]:
        out = {k: getattr(self, k) for k in self.__slots__}  # type: ignore[attr-defined]
        out["computed_at"] = self.computed_at.isoformat()
        out["as_of"] = self.as_of.isoformat()
        if now is not None:
            out["age_s"] = max(0.0, (now - self.computed_at).total_seconds())
        return out


def daily_closes(tape: Mapping[str, Iterable[tuple[datetime, float]]]) -> pd.DataFrame:
    """Per symbol, the last close of each calendar day (UTC) of the bars in ``tape`` (symbol ->
    (timestamp, close) in time order): a days x symbols frame, NaN where a symbol had no bar."""
    cols = {}
    for sym, rows in tape.items():
        rows = list(rows)
        if rows:
            s = pd.Series([c for _, c in rows], index=pd.DatetimeIndex([t for t, _ in rows]), dtype=float)
            cols[sym] = s.groupby(s.index.normalize()).last()
    return pd.DataFrame(cols).sort_index()


def compute_figures(book: Portfolio, instruments: Mapping[str, Instrument], closes: pd.DataFrame, *,
                    as_of: datetime, trigger: str = "timer", level: float = 0.99, lookback: int = 252,
                    vol_window: int = 63, rate: float = 0.0, computed_at: datetime | None = None) -> RiskFigures:
    """The figures of ``book`` (positions and marks) at ``as_of`` with ``closes`` (daily, days x
    symbols; see :func:`daily_closes`) as the history (module docstring); ``computed_at``
    defaults to the wall clock."""
    equity = book.equity
    gross = book.gross_exposure / equity if equity > 0 else None
    net = book.net_exposure / equity if equity > 0 else None
    held = {s: p.quantity for s, p in book.positions.items() if p.quantity}
    base: dict[str, Any] = {"computed_at": computed_at or datetime.now(UTC), "as_of": as_of, "trigger": trigger, "equity": equity, "gross_leverage": gross,
            "net_leverage": net, "level": level}
    if not held:
        return RiskFigures(**base, days=0, var_1d=0.0, cvar_1d=0.0, var_10d=0.0, cvar_10d=0.0, var_normal_1d=0.0,
                           correlation_risk=0.0, greeks=dict.fromkeys(TOTALS, 0.0))
    rets = closes.pct_change(fill_method=None).iloc[1:]
    unders = sorted({(i.underlying if isinstance(i, OptionContract) else s)
                     for s in held if (i := instruments.get(s)) is not None} | {s for s in held if s not in instruments})
    notes = []
    vols = {}
    for u in unders:
        if u in rets and rets[u].dropna().shape[0] >= 2:
            vols[u] = float(rets[u].dropna().iloc[-vol_window:].std(ddof=1) * math.sqrt(252))
    spots = {u: p for u in unders if (p := book.price(u)) is not None}
    options = {s: book.marks[s] for s in held if isinstance(instruments.get(s), OptionContract) and s in book.marks}
    try:
        g = book_greeks(held, instruments, spots, as_of=as_of.date(), volatility=vols,
                        vol_source=f"realised {vol_window}-day", option_prices=options, rate=rate)
        greeks, exposure = g.total, {str(u): float(v) for u, v in g.by_underlying["dollar_delta"].items()}
        rows = g.positions[["symbol", "underlying", "quantity", "delta", "spot"]].to_dict(orient="records")
    except DomainError as exc:
        greeks, exposure, rows = {}, {}, []
        notes.append(f"Greeks: {exc}")
    missing = [u for u in exposure if u not in rets.columns]
    window = rets[list(exposure)].iloc[-lookback:].dropna() if exposure and not missing else pd.DataFrame()
    var_fields: dict[str, Any] = dict.fromkeys(("var_1d", "cvar_1d", "var_10d", "cvar_10d",
                                                          "var_normal_1d", "correlation_risk"))
    if missing:
        notes.append(f"no price history for {', '.join(missing)}")
    elif equity <= 0:
        notes.append(f"equity is {equity:,.2f}: no VaR as a fraction of it")
    elif len(window) < MIN_DAYS:
        notes.append(f"{len(window)} daily returns of every underlying held: VaR needs {MIN_DAYS}")
    elif exposure:
        w = np.array([exposure[u] for u in window.columns]) / equity
        r = window.to_numpy(np.float64)
        one = value_at_risk(r, level, 1, "historical", weights=w)
        var_fields.update(var_1d=one.var, cvar_1d=one.cvar, var_normal_1d=value_at_risk(r, level, 1, "normal",
                                                                                        weights=w).var)
        if len(r) >= 10 + MIN_DAYS:
            ten = value_at_risk(r, level, 10, "historical", weights=w)
            var_fields.update(var_10d=ten.var, cvar_10d=ten.cvar)
        corr = np.corrcoef(r, rowvar=False) if r.shape[1] > 1 else np.ones((1, 1))
        var_fields["correlation_risk"] = correlation_risk(w, np.nan_to_num(np.atleast_2d(corr)))
    return RiskFigures(**base, days=len(window), **var_fields, greeks=greeks, exposures=exposure,
                       note="; ".join(notes) or None, positions=rows)
