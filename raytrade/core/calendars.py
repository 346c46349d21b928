"""Bars per year by trading calendar: the one place annualisation (Sharpe, volatility, CAGR,
volatility-target sizing, Monte Carlo) reads.

- ``XNYS`` (US equities): 252 sessions a year; an intraday bar of m minutes: 252 x 390 / m.
- ``CRYPTO`` (24/7): 365 days a year; an intraday bar of m minutes: 365 x 1440 / m.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from raytrade.core.errors import ConfigError

if TYPE_CHECKING:
    import numpy as np

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


def infer_calendar(index: object) -> tuple[str, float | None]:
    """(calendar, bar minutes or None for daily bars) of a bar index: ``CRYPTO`` when any bar falls
    on a Saturday or Sunday (UTC), else ``XNYS``; the bar length is the median spacing of the
    timestamps when it is under a day. An index without timestamps is taken as daily XNYS bars."""
    import pandas as pd

    if not isinstance(index, pd.DatetimeIndex) or len(index) < 2:
        return "XNYS", None
    utc = index.tz_convert("UTC") if index.tz is not None else index
    calendar = "CRYPTO" if (utc.day_of_week >= 5).any() else "XNYS"
    step = pd.Series(utc).diff().dropna().median()
    minutes = step / pd.Timedelta(minutes=1)
    return calendar, (float(minutes) if minutes < 1440 else None)


def bars_per_year(index: object) -> float:
    """The annualisation of a bar index (:func:`infer_calendar`, then :func:`periods_per_year`):
    252 for daily US equity bars, 365 for daily crypto bars, 105,120 for 5-minute crypto bars."""
    calendar, minutes = infer_calendar(index)
    return periods_per_year(calendar, minutes)


def day_numbers(index: object) -> np.ndarray:
    """Each timestamp's calendar day as days since 1970-01-01 (int64 numpy array; in the index's
    own time zone): what option expiries, counted in calendar days, are measured in."""
    import numpy as np
    import pandas as pd

    idx = pd.DatetimeIndex(index)
    return np.asarray((idx.normalize() - pd.Timestamp(0, tz=idx.tz)).days, dtype=np.int64)
