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


def test_an_option_position_carries_its_multiplier_by_hand() -> None:
    """2 calls (100 shares each) bought at 3.50 with 1.30 commission, marked at 4.00, one sold at
    4.20 with 0.65: cash, value, average cost, realised and unrealised P&L by hand."""
    opt = "KO    250117C00060000"
    p = Portfolio(10_000, {opt: 100.0})
    p.apply_fill(Fill("a", opt, "buy", 2, 3.50, 1.30, T))
    assert p.cash == pytest.approx(10_000 - 700 - 1.30)
    assert p.positions[opt].avg_cost == pytest.approx((2 * 3.50 + 1.30 / 100) / 2)   # 3.5065 a share
    p.mark(opt, 4.00)
    assert p.market_value(opt) == pytest.approx(800) and p.net_exposure == pytest.approx(800)
    assert p.unrealized_pnl == pytest.approx(2 * (4.00 - 3.5065) * 100)
    assert p.equity == pytest.approx(10_000 - 1.30 + 100)
    realized = p.apply_fill(Fill("b", opt, "sell", 1, 4.20, 0.65, T))
    assert realized == pytest.approx((4.20 - 3.5065) * 100 - 0.65)
    assert p.cash == pytest.approx(10_000 - 701.30 + 420 - 0.65)
    assert p.equity == pytest.approx(p.cash + 400)
    # equity change = realised + unrealised P&L, the multiplier in both
    assert p.equity - 10_000 == pytest.approx(p.realized_pnl + p.unrealized_pnl)
    again = Portfolio.from_state(p.to_state())
    assert again.equity == pytest.approx(p.equity) and again.positions[opt].multiplier == 100.0
    old = p.to_state()   # a state written before multipliers (three numbers a position) reads as 1
    old.pop("multipliers")
    old["positions"] = {s: row[:3] for s, row in old["positions"].items()}
    assert Portfolio.from_state(old).positions[opt].multiplier == 1.0


def test_strategy_books_and_the_log_rebuild_apply_the_multiplier() -> None:
    """A strategy's own book and the analytics rebuild of the log value the option as the portfolio
    does: cash flow -701.30, worth 800 at 4.00."""
    from raytrade.analytics.book import book_history
    from raytrade.core.events import Event, EventType
    from raytrade.execution.core import StrategyBook

    opt = "KO    250117C00060000"
    fill = Fill("a", opt, "buy", 2, 3.50, 1.30, T)
    b = StrategyBook()
    b.apply(fill, 100.0)
    assert b.cash_flow == pytest.approx(-701.30) and b.positions == {opt: 2}
    events = [Event(EventType.CASH_CHANGED, "t", "capital", {"amount": 10_000.0}, timestamp=T),
              Event(EventType.FILL, "t", "fill", {"fill": fill.to_dict()}, timestamp=T)]
    history = book_history(events, now={opt: 4.0}, at=T, multipliers={opt: 100.0})
    assert history.equity.iloc[-1] == pytest.approx(10_000 - 701.30 + 800)
    assert book_history(events, now={opt: 4.0}, at=T).equity.iloc[-1] == pytest.approx(10_000 - 8.30 + 8)  # as 1
