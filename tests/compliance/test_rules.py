"""Market hours from exchange_calendars (holidays, half days, crypto 24/7), restricted list, wash sales."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from raytrade.compliance import (
    ComplianceChecker,
    ComplianceRules,
    is_market_open,
    session_close,
    session_date,
)
from raytrade.core import Fill, Order, RejectReason, Severity, crypto, equity

AAPL = equity("AAPL")
BTC = crypto("BTC-USD")


@pytest.mark.parametrize(("ts", "open_"), [
    (datetime(2024, 3, 1, 14, 30, tzinfo=UTC), True),     # 09:30 ET, the open
    (datetime(2024, 3, 1, 14, 29, tzinfo=UTC), False),    # 09:29 ET
    (datetime(2024, 3, 1, 20, 59, tzinfo=UTC), True),     # 15:59 ET
    (datetime(2024, 3, 1, 21, 0, tzinfo=UTC), False),     # 16:00 ET, the close
    (datetime(2024, 3, 2, 16, 0, tzinfo=UTC), False),     # Saturday
    (datetime(2024, 12, 25, 16, 0, tzinfo=UTC), False),   # Christmas
    (datetime(2024, 7, 4, 16, 0, tzinfo=UTC), False),     # Independence Day
    (datetime(2024, 11, 29, 17, 59, tzinfo=UTC), True),   # day after Thanksgiving, 12:59 ET
    (datetime(2024, 11, 29, 18, 0, tzinfo=UTC), False),   # its early close, 13:00 ET
    (datetime(2024, 7, 1, 13, 30, tzinfo=UTC), True),     # summer time: 09:30 EDT
])
def test_xnys_hours(ts: datetime, open_: bool) -> None:
    assert is_market_open(AAPL, ts) is open_


def test_crypto_trades_around_the_clock() -> None:
    assert is_market_open(BTC, datetime(2024, 12, 25, 3, 0, tzinfo=UTC))


def test_sessions() -> None:
    assert session_date(AAPL, datetime(2024, 11, 29, 22, 0, tzinfo=UTC)) == date(2024, 12, 2)
    assert session_close(AAPL, date(2024, 11, 29)) == datetime(2024, 11, 29, 18, 0, tzinfo=UTC)
    assert session_close(AAPL, date(2024, 12, 25)) is None


def order(side: str = "buy", sym: str = "AAPL", cid: str = "c1") -> Order:
    return Order(sym, side, 10, client_order_id=cid)  # type: ignore[arg-type]


OPEN = datetime(2024, 3, 4, 15, 0, tzinfo=UTC)


def test_restricted_and_closed_market_are_critical_rejections() -> None:
    c = ComplianceChecker(ComplianceRules(restricted=("tsla",)))
    d = c.check(order(sym="TSLA"), equity("TSLA"), OPEN)
    assert (d.ok, d.code) == (False, RejectReason.RESTRICTED_SYMBOL)
    assert d.violations[0].severity is Severity.CRITICAL and d.violations[0].action == "rejected"
    d = c.check(order(), AAPL, datetime(2024, 3, 2, 15, 0, tzinfo=UTC))
    assert (d.ok, d.code, d.violations[0].rule) == (False, RejectReason.MARKET_CLOSED, "market_hours")
    assert ComplianceChecker(ComplianceRules(enforce_market_hours=False)).check(
        order(), AAPL, datetime(2024, 3, 2, 15, 0, tzinfo=UTC)).ok


def test_wash_sale_flags_a_buy_within_30_days_of_a_loss_sale() -> None:
    c = ComplianceChecker(ComplianceRules())
    sold = datetime(2024, 3, 4, 15, 0, tzinfo=UTC)
    c.on_fill(Fill("s", "AAPL", "sell", 10, 90.0, 0.0, sold), realized_pnl=-100.0)
    c.on_fill(Fill("s2", "MSFT", "sell", 10, 90.0, 0.0, sold), realized_pnl=+100.0)
    d = c.check(order(), AAPL, datetime(2024, 4, 3, 15, 0, tzinfo=UTC))   # 30 days later
    assert d.ok and d.violations[0].rule == "wash_sale" and d.violations[0].severity is Severity.WARNING
    assert not c.check(order(), AAPL, datetime(2024, 4, 4, 15, 0, tzinfo=UTC)).violations   # 31 days
    assert not c.check(order(sym="MSFT"), equity("MSFT"), datetime(2024, 3, 5, 15, 0, tzinfo=UTC)).violations
    assert not c.check(order("sell"), AAPL, datetime(2024, 3, 5, 15, 0, tzinfo=UTC)).violations
