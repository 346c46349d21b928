"""The session of a timestamp by binary search over the calendar's closes equals exchange_calendars'
``minute_to_session(direction="next")`` on random minutes and at every open and close."""

from __future__ import annotations

import random
from datetime import timedelta

import pandas as pd

from raytrade.compliance.calendar import calendar_for, session_date
from raytrade.core import equity


def test_session_date_agrees_with_exchange_calendars_everywhere_it_is_asked() -> None:
    inst = equity("X")
    cal = calendar_for(inst)
    assert cal is not None
    rng = random.Random(7)
    lo, hi = cal.first_minute.to_pydatetime(), cal.last_minute.to_pydatetime()
    span = int((hi - lo).total_seconds() // 60)
    minutes = [lo + timedelta(minutes=rng.randrange(span), seconds=rng.randrange(60)) for _ in range(2000)]
    for s in [*cal.sessions[:30], *cal.sessions[-30:], pd.Timestamp("2018-11-23"), pd.Timestamp("2020-03-16")]:
        for t in (cal.session_open(s), cal.session_close(s), cal.session_close(s) - pd.Timedelta(minutes=1)):
            if t < cal.last_minute:
                minutes.append(t.to_pydatetime())
    for t in minutes:
        want = cal.minute_to_session(pd.Timestamp(t).floor("min"), direction="next").date()
        assert session_date(inst, t) == want, t


def test_market_open_from_the_table_agrees_with_exchange_calendars() -> None:
    from raytrade.compliance.calendar import _open_on_minute, is_market_open

    inst = equity("X")
    cal = calendar_for(inst)
    assert cal is not None
    rng = random.Random(11)
    lo, hi = cal.first_minute.to_pydatetime(), cal.last_minute.to_pydatetime()
    span = int((hi - lo).total_seconds() // 60)
    minutes = [lo + timedelta(minutes=rng.randrange(span)) for _ in range(2000)]
    for s in [*cal.sessions[:20], pd.Timestamp("2018-11-23"), pd.Timestamp("2019-12-24")]:
        o, c = cal.session_open(s), cal.session_close(s)
        minutes += [(o - pd.Timedelta(minutes=1)).to_pydatetime(), o.to_pydatetime(),
                    (c - pd.Timedelta(minutes=1)).to_pydatetime(), c.to_pydatetime()]
    for t in minutes:
        assert is_market_open(inst, t) == _open_on_minute(cal.name, int(t.timestamp() // 60)), t
