"""Bars per year by trading calendar: the one place annualisation (Sharpe, volatility, CAGR,
volatility-target sizing, Monte Carlo) reads.

- ``XNYS`` (US equities): 252 sessions a year; an intraday bar of m minutes: 252 x 390 / m.
- ``CRYPTO`` (24/7): 365 days a year; an intraday bar of m minutes: 365 x 1440 / m.
"""

from __future__ import annotations

from raytrade.core.errors import ConfigError

SESSIONS_PER_YEAR: dict[str, int] = {"XNYS": 252, "CRYPTO": 365}
MINUTES_PER_SESSION: dict[str, int] = {"XNYS": 390, "CRYPTO": 1440}


def periods_per_year(calendar: str = "XNYS", bar_minutes: float | None = None) -> float:
    """Bars per year of ``calendar``: sessions per year for daily bars (``bar_minutes`` None), else
    sessions x minutes per session / ``bar_minutes``."""
    key = calendar.upper() if isinstance(calendar, str) else calendar
    if key not in SESSIONS_PER_YEAR:
        raise ConfigError(f"calendar {calendar!r}: known calendars are {', '.join(SESSIONS_PER_YEAR)}")
    sessions = SESSIONS_PER_YEAR[key]
    if bar_minutes is None:
        return sessions
    if not bar_minutes > 0:
        raise ConfigError(f"bar_minutes must be > 0, got {bar_minutes!r}")
    return sessions * MINUTES_PER_SESSION[key] / bar_minutes
