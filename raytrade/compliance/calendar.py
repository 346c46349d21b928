"""Exchange sessions from exchange_calendars: regular hours, holidays and half days.

Instruments name their calendar by ``venue`` (``XNYS`` for US equities, ``OPRA`` options follow
XNYS); crypto trades 24/7. Times are UTC; a minute is open when exchange_calendars says the
exchange trades in it (the close minute itself is not open, so on a 13:00 ET half day 12:59 is the
last open minute). Times outside the calendar's range are treated as closed (fail closed).
"""

from __future__ import annotations

from datetime import date, datetime
from functools import lru_cache

import exchange_calendars as xc
import numpy as np
import pandas as pd

from raytrade.core.enums import AssetClass
from raytrade.core.errors import ConfigError
from raytrade.core.instruments import Instrument

VENUE_CALENDARS = {"XNYS": "XNYS", "XNAS": "XNAS", "ARCX": "XNYS", "BATS": "XNYS", "OPRA": "XNYS",
                   "XLON": "XLON", "XETR": "XETR", "XTKS": "XTKS"}
CALENDAR_START = "1990-01-01"


@lru_cache(maxsize=16)
def exchange_calendar(code: str) -> xc.ExchangeCalendar:
    """The exchange_calendars calendar ``code`` from 1990 on (cached per process)."""
    try:
        return xc.get_calendar(code, start=CALENDAR_START)
    except xc.errors.InvalidCalendarName:
        raise ConfigError(f"unknown exchange calendar {code!r}") from None


def calendar_for(instrument: Instrument) -> xc.ExchangeCalendar | None:
    """The instrument's calendar; None for 24/7 crypto."""
    if instrument.asset_class is AssetClass.CRYPTO:
        return None
    code = VENUE_CALENDARS.get(instrument.venue, instrument.venue)
    return exchange_calendar(code)


def is_market_open(instrument: Instrument, ts: datetime) -> bool:
    """Whether ``ts``'s minute is a trading minute of the instrument's venue (always, for crypto):
    from the table of session opens and closes (open <= minute < close) when the calendar has no
    breaks, else asked of exchange_calendars (cached per minute)."""
    cal = calendar_for(instrument)
    if cal is None:
        return True
    first, last, closes, _, opens = _session_table(cal.name)
    if opens is None:
        return _open_on_minute(cal.name, int(ts.timestamp() // 60))
    minute = int(ts.timestamp() // 60) * 60_000_000_000
    if minute < first or minute > last:
        return False
    i = int(np.searchsorted(closes, minute, side="right"))
    return i < len(opens) and bool(opens[i] <= minute)


@lru_cache(maxsize=4096)
def _open_on_minute(code: str, epoch_minute: int) -> bool:
    """Cached per (calendar, minute): a live engine asks about the same minute many times."""
    cal = exchange_calendar(code)
    minute = pd.Timestamp(epoch_minute * 60, unit="s", tz="UTC")
    if minute < cal.first_minute or minute > cal.last_minute:
        return False
    return bool(cal.is_open_on_minute(minute))


def session_date(instrument: Instrument, ts: datetime) -> date:
    """The trading day ``ts`` belongs to: the exchange session (the next one when closed), or
    the UTC date for crypto. A minute belongs to the first session whose close is after it (the
    close minute itself is the next session's, as exchange_calendars has it), found by a binary
    search over the calendar's closes (a replay asks once per bar)."""
    cal = calendar_for(instrument)
    if cal is None:
        return ts.date()
    first, last, closes, days, _ = _session_table(cal.name)
    minute = int(ts.timestamp() // 60) * 60_000_000_000
    if minute < first or minute > last:
        return ts.date()
    return days[int(np.searchsorted(closes, minute, side="right"))]


@lru_cache(maxsize=8)
def _session_table(code: str) -> tuple[int, int, np.ndarray, list[date], np.ndarray | None]:
    """(first minute, last minute, session closes) as UTC epoch nanoseconds, the session dates,
    and the session opens (None when the calendar has breaks within sessions)."""
    cal = exchange_calendar(code)

    def utc_ns(index: pd.Series) -> np.ndarray:
        i = pd.DatetimeIndex(index)
        return (i.tz_localize("UTC") if i.tz is None else i.tz_convert("UTC")).asi8.copy()

    has_breaks = bool(pd.Series(cal.break_starts).notna().any())
    return (cal.first_minute.value, cal.last_minute.value, utc_ns(cal.closes),
            [d.date() for d in pd.DatetimeIndex(cal.sessions)], None if has_breaks else utc_ns(cal.opens))


def session_close(instrument: Instrument, day: date) -> datetime | None:
    """The UTC close time of ``day``'s session (early on half days); None when it is no session."""
    cal = calendar_for(instrument)
    if cal is None:
        return None
    session = pd.Timestamp(day)
    if not cal.is_session(session):
        return None
    return cal.session_close(session).to_pydatetime()
