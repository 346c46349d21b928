"""The mutable Portfolio against hand-computed cash, P&L, exposure and daily P&L."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from raytrade.core import Fill, Portfolio

T = datetime(2024, 3, 1, 15, tzinfo=UTC)


def test_round_trip_long_and_short_by_hand() -> None:
    p = Portfolio(10_000)
    p.roll_day(date(2024, 3, 1))
    p.apply_fill(Fill("a", "X", "buy", 10, 100.0, 1.0, T))          # cash 10000 - 1000 - 1 = 8999
    assert p.cash == pytest.approx(8_999)
    assert p.positions["X"].avg_cost == pytest.approx(100.1)        # (1000 + 1) / 10
    p.mark("X", 110.0)
    assert p.equity == pytest.approx(8_999 + 1_100)
    assert p.unrealized_pnl == pytest.approx(10 * (110 - 100.1))
    realized = p.apply_fill(Fill("b", "X", "sell", 15, 110.0, 1.5, T))  # close 10, open short 5
    assert realized == pytest.approx(10 * (110 - 100.1) - 1.5)
    assert p.quantity("X") == -5 and p.positions["X"].avg_cost == 110.0
    assert p.cash == pytest.approx(8_999 + 1_650 - 1.5)
    p.mark("X", 100.0)
    assert p.net_exposure == pytest.approx(-500) and p.gross_exposure == pytest.approx(500)
    assert p.daily_pnl == pytest.approx(p.equity - 10_000)
    s = p.summary()
    assert s["gross_leverage"] == pytest.approx(500 / p.equity)
    assert Portfolio.from_state(p.to_state()).to_state() == p.to_state()


def test_deposit_is_not_pnl_and_new_day_resets_daily_pnl() -> None:
    p = Portfolio(1_000)
    p.roll_day(date(2024, 3, 1))
    p.apply_fill(Fill("a", "X", "buy", 1, 100.0, 0.0, T))
    p.mark("X", 90.0)
    p.deposit(500)
    assert p.daily_pnl == pytest.approx(-10)
    p.roll_day(date(2024, 3, 4))
    assert p.daily_pnl == 0.0
