"""The live book rebuilt from a scripted event log: equity, flows, time-weighted wealth, P&L by
symbol, sector and strategy, drawdowns and tax lots, all by hand."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from raytrade.analytics.book import (
    attribution_document,
    book_history,
    drawdown_document,
    tax_lots_document,
)
from raytrade.analytics.tax import LotLedger
from raytrade.core import Event, EventType, Fill, Order

T = datetime(2024, 3, 4, 15, 0, tzinfo=UTC)


def accepted(cid: str, sym: str, side: str, qty: float, strategy: str | None, at: datetime) -> Event:
    o = Order(sym, side, qty, client_order_id=cid, created_at=at, strategy=strategy)  # type: ignore[arg-type]
    return Event(EventType.ORDER_ACCEPTED, "t", "x", {"order": o.to_dict()}, at)


def fill(cid: str, sym: str, side: str, qty: float, px: float, at: datetime, fee: float = 0.0) -> Event:
    f = Fill(cid, sym, side, qty, px, fee, at, fill_id=f"f-{cid}")  # type: ignore[arg-type]
    return Event(EventType.FILL, "broker", "fill", {"fill": f.to_dict()}, at)


def session(day: int, marks: dict[str, float]) -> Event:
    at = T + timedelta(days=day)
    return Event(EventType.SESSION_STARTED, "clock", "open", {"day": at.date().isoformat(), "marks": marks}, at)


def cash(amount: float, at: datetime) -> Event:
    return Event(EventType.CASH_CHANGED, "admin", "cash", {"amount": amount}, at)


def script() -> list[Event]:
    """10,000 in; trend buys 10 AAPL at 100 (fee 1); a manual order buys 20 XOM at 50; closes:
    day 1 AAPL 110 XOM 45; 5,000 more in; day 2 AAPL 99 XOM 50; trend sells 10 AAPL at 99."""
    return [cash(10_000, T), accepted("a1", "AAPL", "buy", 10, "trend", T), fill("a1", "AAPL", "buy", 10, 100, T, 1.0),
            accepted("x1", "XOM", "buy", 20, None, T), fill("x1", "XOM", "buy", 20, 50, T),
            session(1, {"AAPL": 110.0, "XOM": 45.0}), cash(5_000, T + timedelta(days=1, hours=1)),
            session(2, {"AAPL": 99.0, "XOM": 50.0}),
            accepted("a2", "AAPL", "sell", 10, "trend", T + timedelta(days=2, hours=1)),
            fill("a2", "AAPL", "sell", 10, 99, T + timedelta(days=2, hours=1))]


def test_the_book_rebuilt_by_hand() -> None:
    h = book_history(script(), now={"AAPL": 99.0, "XOM": 55.0}, at=T + timedelta(days=2, hours=2))
    # equity: day 1 = 10,000 - 1,001 - 1,000 + 1,100 + 900 = 9,999; day 2 = 9,999 + 5,000 - 110 + 100 = 14,989
    # now: AAPL sold at 99 (cash 14,989 - 1,000 + 990 + 1,000 ... ) = 15,000 - 1 - 10 + 1,100 = 15,089 with XOM at 55
    assert h.equity.tolist() == pytest.approx([9_999.0, 14_989.0, 15_089.0])
    assert h.flows.tolist() == [10_000.0, 5_000.0, 0.0]
    # wealth: 1, then (14,989 - 5,000) / 9,999, then x 15,089 / 14,989
    assert h.wealth.tolist() == pytest.approx([1.0, 9_989 / 9_999, 9_989 / 9_999 * 15_089 / 14_989])
    # P&L per period: AAPL +99 (1,100 - 1,001), -110, 0; XOM -100, +100, +100
    assert h.symbol_pnl["AAPL"].tolist() == pytest.approx([99.0, -110.0, 0.0])
    assert h.symbol_pnl["XOM"].tolist() == pytest.approx([-100.0, 100.0, 100.0])
    assert h.strategy_pnl["trend"].tolist() == pytest.approx([99.0, -110.0, 0.0])
    assert h.strategy_pnl["manual"].tolist() == pytest.approx([-100.0, 100.0, 100.0])
    assert h.fills["strategy"].tolist() == ["trend", "manual", "trend"]

    doc = attribution_document(h, {"AAPL": "Information Technology", "XOM": None})
    sectors = {r["group"]: r["pnl"] for r in doc["by_sector"]}  # type: ignore[union-attr]
    assert sectors == pytest.approx({"Unclassified": 100.0, "Information Technology": -11.0})
    assert doc["pnl"] == pytest.approx(89.0)
    assert doc["time_weighted_return"] == pytest.approx(9_989 / 9_999 * 15_089 / 14_989 - 1)
    assert "Unclassified: +$100 (112% of returns" in doc["lines"][0]  # type: ignore[index]

    dd = drawdown_document(h, 0.0)
    (ev,) = dd["events"]  # type: ignore[misc]
    assert ev["depth"] == pytest.approx(9_989 / 9_999 - 1) and not ev["open"] and ev["days_to_trough"] == 1
    assert drawdown_document(h, 0.01)["events"] == []


def test_tax_lots_document() -> None:
    led = LotLedger()
    led.add(T, "AAPL", "buy", 10, 100.0)
    led.add(T + timedelta(days=400), "AAPL", "buy", 5, 80.0)
    led.add(T + timedelta(days=401), "AAPL", "sell", 10, 90.0)   # FIFO: the first lot, long term, -100
    # the 5 bought the day before replace 5 of the 10 sold: 50 of the loss is disallowed and added to
    # their basis (90 a share), and their holding period starts 401 days earlier (long term)
    doc = tax_lots_document(led, {"AAPL": 85.0}, T + timedelta(days=402))
    (lot,) = doc["open"]  # type: ignore[misc]
    assert (lot["quantity"], lot["basis_per_share"], lot["unrealized"], lot["term"]) == (
        5.0, pytest.approx(90.0), pytest.approx(-25.0), "long")
    assert doc["totals"] == pytest.approx({"short_term_gain": 0.0, "long_term_gain": -50.0,
                                           "wash_disallowed": 50.0, "unrealized": -25.0})
    assert tax_lots_document(led, {}, T, year=2020)["realized"] == []
    assert tax_lots_document(led, {}, T)["open"][0]["unrealized"] is None  # type: ignore[index]
