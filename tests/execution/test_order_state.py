"""The order state machine: legal paths, refused transitions, fills, replace, replay."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from raytrade.core import Event, EventType, Fill, Order, OrderStateError, OrderStatus, RejectReason
from raytrade.execution import TERMINAL, TRANSITIONS, OrderBook

T = datetime(2024, 3, 1, 15, tzinfo=UTC)


def order(qty: float = 100, cid: str = "o1", **kw: object) -> Order:
    return Order("AAPL", "buy", qty, client_order_id=cid, created_at=T, **kw)  # type: ignore[arg-type]


def fill(qty: float, price: float, n: int = 1, cid: str = "o1") -> Fill:
    return Fill(cid, "AAPL", "buy", qty, price, 0.0, T, fill_id=f"{cid}-{n}")


def test_terminal_states_allow_nothing_and_every_illegal_transition_is_refused() -> None:
    assert {OrderStatus.FILLED, OrderStatus.CANCELLED, OrderStatus.REJECTED, OrderStatus.EXPIRED} == TERMINAL
    book = OrderBook()
    for src in OrderStatus:
        for dst in OrderStatus:
            m = book.accept(order(cid=f"{src}-{dst}"), "p", T)
            m.status = src
            if dst in TRANSITIONS[src]:
                m.transition(dst)
                assert m.status is dst
            else:
                with pytest.raises(OrderStateError, match=f"cannot go from {src.value} to {dst.value}"):
                    m.transition(dst)


def test_partial_fills_average_price_and_overfill_refused() -> None:
    m = OrderBook().accept(order(100), "p", T)
    m.apply_fill(fill(30, 10.0, 1))
    assert (m.status, m.filled_quantity, m.remaining) == (OrderStatus.PARTIALLY_FILLED, 30, 70)
    m.apply_fill(fill(30, 10.0, 1))  # the same fill again: ignored
    assert m.filled_quantity == 30
    with pytest.raises(OrderStateError, match="overfill"):
        m.apply_fill(fill(71, 11.0, 2))
    m.apply_fill(fill(70, 11.0, 3))
    assert m.status is OrderStatus.FILLED and m.remaining == 0
    assert m.avg_fill_price == pytest.approx((30 * 10 + 70 * 11) / 100)
    with pytest.raises(OrderStateError):
        m.transition(OrderStatus.CANCELLED)


def test_replace_keeps_state_and_refuses_below_filled() -> None:
    m = OrderBook().accept(order(100, order_type="limit", limit_price=10.0), "p", T)
    m.apply_fill(fill(40, 10.0))
    new = m.replace(60, 10.5)
    assert (new.quantity, new.limit_price, new.client_order_id) == (60, 10.5, "o1")
    with pytest.raises(OrderStateError, match="below the 40"):
        m.replace(30, None)


def test_book_replays_the_log_to_the_same_state() -> None:
    live = OrderBook()
    o = order(100)
    m = live.accept(o, "trader", T)
    f1 = fill(60, 10.0, 1)
    m.apply_fill(f1)
    live.reject("bad", "trader", {"symbol": "AAPL", "quantity": "NaN"}, RejectReason.INVALID_QUANTITY, "nan", T)
    o2 = order(5, cid="o2")
    live.accept(o2, "trader", T).transition(OrderStatus.CANCELLED, T)
    log = [
        Event(EventType.ORDER_ACCEPTED, "trader", "", {"order": o.to_dict()}, T),
        Event(EventType.FILL, "trader", "", {"fill": f1.to_dict()}, T),
        Event(EventType.ORDER_REJECTED, "trader", "", {"client_order_id": "bad", "request": {"symbol": "AAPL",
              "quantity": "NaN"}, "code": "INVALID_QUANTITY", "detail": "nan"}, T),
        Event(EventType.ORDER_ACCEPTED, "trader", "", {"order": o2.to_dict()}, T),
        Event(EventType.ORDER_CANCELLED, "trader", "", {"client_order_id": "o2"}, T),
    ]
    replayed = OrderBook()
    for e in log:
        replayed.apply_event(e)
    for cid in ("o1", "o2", "bad"):
        assert replayed.view(cid) == live.view(cid)
    assert replayed.open_quantity("AAPL") == 40
