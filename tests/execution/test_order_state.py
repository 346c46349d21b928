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


def brute_open_quantities(book: OrderBook) -> dict[str, float]:
    out: dict[str, float] = {}
    for m in book.orders.values():
        if m.is_open:
            out[m.order.symbol] = out.get(m.order.symbol, 0.0) + m.order.side.sign * m.remaining
    return out


def test_open_quantities_follow_every_change_as_a_full_sum_would() -> None:
    """Seeded random accepts, partial fills, replaces, cancels, expiries, broker rejections and
    refused overfills (fractional quantities): after each, the kept per-symbol figure equals the
    sum over the open orders, a symbol without open orders is absent, and a replay agrees."""
    import random

    rng = random.Random(11)
    book, log, n = OrderBook(), [], 0
    for step in range(3000):
        open_ids = [cid for cid, m in book.orders.items() if m.is_open]
        action = rng.random()
        event = None
        if action < 0.3 or not open_ids:
            n += 1
            o = Order(rng.choice(["AAPL", "KO", "BTC"]), rng.choice(["buy", "sell"]),  # type: ignore[arg-type]
                      round(rng.uniform(0.001, 50), 3), "limit", limit_price=10.0, client_order_id=f"c{n}",
                      created_at=T)
            event = Event(EventType.ORDER_ACCEPTED, "p", "x", {"order": o.to_dict()}, T)
        else:
            m = book.orders[rng.choice(open_ids)]
            cid, o = m.client_order_id, m.order
            if action < 0.6:
                qty = m.remaining * rng.choice([0.25, 0.5, 1.0, 1.5])  # 1.5: an overfill, refused
                event = Event(EventType.FILL, "p", "x", {"fill": Fill(cid, o.symbol, o.side, qty, 10.0, 0.0, T,
                                                                    fill_id=f"{cid}-{step}").to_dict()}, T)
            elif action < 0.75:
                event = Event(EventType.ORDER_REPLACED, "p", "x", {"client_order_id": cid, "quantity":
                              round(m.filled_quantity + rng.uniform(0.001, 20), 3), "limit_price": None}, T)
            elif action < 0.85:
                event = Event(EventType.ORDER_CANCELLED, "p", "x", {"client_order_id": cid}, T)
            elif action < 0.92:
                event = Event(EventType.ORDER_EXPIRED, "p", "x", {"client_order_id": cid}, T)
            else:  # refused by the broker: legal only before any fill
                event = Event(EventType.ORDER_REJECTED, "p", "x", {"client_order_id": cid, "request": {},
                              "code": "BROKER_REJECTED", "detail": "no"}, T)
        try:
            book.apply_event(event)
            log.append(event)
        except OrderStateError:
            pass  # refused: the book must be unchanged, which the comparison below checks
        expected = brute_open_quantities(book)
        got = book.open_quantities()
        assert got.keys() == expected.keys(), step
        for sym, q in expected.items():
            assert got[sym] == pytest.approx(q, abs=1e-9), (step, sym)
            assert book.open_quantity(sym) == got[sym]
    assert len(book.open_orders()) == sum(m.is_open for m in book.orders.values()) > 0
    replayed = OrderBook()
    for e in log:
        replayed.apply_event(e)
    assert replayed.open_quantities() == pytest.approx(book.open_quantities())


def test_an_order_is_accepted_once() -> None:
    book = OrderBook()
    book.accept(order(10), "p", T)
    with pytest.raises(OrderStateError, match="already in the book"):
        book.accept(order(10), "p", T)
    assert book.open_quantities() == {"AAPL": 10}


def naive_listing(book: OrderBook, status: str | None, symbol: str | None, since: datetime | None,
                  limit: int, offset: int) -> dict[str, object]:
    """Every view built, filtered and stably sorted: what the listing must equal."""
    views = [m.view() for m in book.orders.values()] + [r.view() for r in book.rejections.values()]
    views = [v for v in views if (status is None or v["status"] == status) and (symbol is None or v.get("symbol")
             == symbol) and (since is None or datetime.fromisoformat(v["updated_at"]) >= since)]
    views.sort(key=lambda v: datetime.fromisoformat(v["updated_at"]), reverse=True)
    return {"total": len(views), "offset": offset, "limit": limit, "orders": views[offset:offset + limit]}


def test_listing_pages_filters_and_orders_like_a_full_sort() -> None:
    import random
    from datetime import timedelta, timezone

    rng = random.Random(5)
    book = OrderBook()
    for i in range(400):
        at = T + timedelta(seconds=rng.randrange(60))  # many equal times: ties must keep book order
        sym = rng.choice(["AAPL", "KO"])
        if rng.random() < 0.15:
            book.reject(f"r{i}", "p", {"symbol": sym}, RejectReason.INVALID_QUANTITY, "bad", at)
            continue
        m = book.accept(Order(sym, "buy", 10, client_order_id=f"o{i}", created_at=T), "p", at)
        if rng.random() < 0.5:
            book.apply_event(Event(EventType.FILL, "p", "x", {"fill": Fill(f"o{i}", sym, "buy", 10, 1.0, 0.0,
                                                                           at + timedelta(seconds=1),
                                                                           fill_id=f"f{i}").to_dict()},
                                   at + timedelta(seconds=1)))
        elif rng.random() < 0.3:
            book.apply_event(Event(EventType.ORDER_CANCELLED, "p", "x", {"client_order_id": m.client_order_id}, at))
    east = timezone(timedelta(hours=-5))
    cases = [(None, None, None, 100, 0), ("filled", None, None, 20, 5), ("rejected", "KO", None, 10, 0),
             (None, "AAPL", T + timedelta(seconds=30), 50, 10), ("accepted", None, None, 1000, 0),
             (None, None, (T + timedelta(seconds=45)).astimezone(east), 7, 3), (None, None, None, 10, 10_000)]
    for status, symbol, since, limit, offset in cases:
        got = book.listing(OrderStatus(status) if status else None, symbol, since, limit, offset)
        assert got == naive_listing(book, status, symbol, since, limit, offset), (status, symbol, since)
    assert book.listing(limit=1000)["total"] == 400
    with pytest.raises(OrderStateError, match="limit and offset"):
        book.listing(offset=-1)


def ev(type_: EventType, payload: dict, seq: int) -> Event:
    return Event(type_, "p", "r", payload, T, seq)


def test_a_fill_after_a_cancel_request_is_booked_and_the_order_stays_pending_cancel() -> None:
    book = OrderBook()
    book.apply_event(ev(EventType.ORDER_ACCEPTED, {"order": order(100).to_dict()}, 1))
    book.apply_event(ev(EventType.ORDER_CANCEL_REQUESTED, {"client_order_id": "o1"}, 2))
    m = book.get("o1")
    assert m.status is OrderStatus.PENDING_CANCEL and m.is_open and book.open_quantity("AAPL") == 100
    assert book.apply_event(ev(EventType.FILL, {"fill": fill(30, 10.0).to_dict()}, 3))
    assert (m.status, m.filled_quantity, book.open_quantity("AAPL")) == (OrderStatus.PENDING_CANCEL, 30, 70)
    with pytest.raises(OrderStateError, match="nothing to replace"):
        m.replace(50, None)
    book.apply_event(ev(EventType.ORDER_CANCELLED, {"client_order_id": "o1"}, 4))
    assert m.status is OrderStatus.CANCELLED and book.open_quantities() == {}
    # a request that raced a complete fill: the fill is booked, the order is filled
    book.apply_event(ev(EventType.ORDER_ACCEPTED, {"order": order(10, cid="o2").to_dict()}, 5))
    book.apply_event(ev(EventType.ORDER_CANCEL_REQUESTED, {"client_order_id": "o2"}, 6))
    book.apply_event(ev(EventType.FILL, {"fill": fill(10, 10.0, cid="o2").to_dict()}, 7))
    assert book.get("o2").status is OrderStatus.FILLED and book.anomaly_count == 0


def test_replay_reports_what_the_state_machine_refuses_instead_of_stopping() -> None:
    """A log written by an engine that doubled an order (the ambiguous-commit defect) must still
    replay: the book keeps the first acceptance and fill, and names every skipped record."""
    book = OrderBook()
    accepted = {"order": order(100).to_dict()}
    log = [ev(EventType.ORDER_ACCEPTED, accepted, 1), ev(EventType.FILL, {"fill": fill(100, 10.0).to_dict()}, 2),
           ev(EventType.ORDER_ACCEPTED, accepted, 3),                                 # accepted twice
           ev(EventType.FILL, {"fill": fill(100, 10.0).to_dict()}, 4),                # same fill id: ignored
           ev(EventType.FILL, {"fill": fill(5, 10.0, 9, cid="ghost").to_dict()}, 5),  # unknown order
           ev(EventType.ORDER_CANCELLED, {"client_order_id": "o1"}, 6),               # out of a terminal state
           ev(EventType.ORDER_CANCELLED, {}, 7)]                                      # malformed
    results = [book.apply_event(e) for e in log]
    assert results == [True, True, False, True, False, False, False]
    assert book.anomaly_count == 4
    assert [a["sequence"] for a in book.anomalies] == [3, 5, 6, 7]
    assert "already in the book" in book.anomalies[0]["detail"] and book.anomalies[0]["client_order_id"] == "o1"
    m = book.get("o1")
    assert (m.status, m.filled_quantity) == (OrderStatus.FILLED, 100) and book.open_quantities() == {}


def test_orders_are_shown_to_their_owner_only() -> None:
    book = OrderBook()
    book.accept(order(cid="a1"), "key:a", T)
    book.reject("b1", "key:b", {"symbol": "KO"}, RejectReason.UNKNOWN_SYMBOL, "no", T)
    assert book.view("a1", "key:a") is not None and book.view("a1", "key:b") is None
    assert book.view("a1") is not None and book.owner("b1") == "key:b" and book.owner("zz") is None
    assert [o["client_order_id"] for o in book.listing(owner="key:b")["orders"]] == ["b1"]
    assert book.listing(owner="key:c")["total"] == 0 and book.listing()["total"] == 2


def test_submitted_then_acknowledged_and_a_fill_before_the_acknowledgement_is_booked() -> None:
    """An order sent to an external broker is ``submitted`` until the broker acknowledges it; a
    fill may overtake the acknowledgement (brokers do not order their messages)."""
    book = OrderBook()
    book.apply_event(ev(EventType.ORDER_SUBMITTED, {"order": order(100).to_dict()}, 1))
    m = book.get("o1")
    assert m.status is OrderStatus.SUBMITTED and m.is_open and book.open_quantity("AAPL") == 100
    assert book.apply_event(ev(EventType.ORDER_ACCEPTED, {"order": order(100).to_dict()}, 2))
    assert m.status is OrderStatus.ACCEPTED
    book.apply_event(ev(EventType.ORDER_SUBMITTED, {"order": order(10, cid="o2").to_dict()}, 3))
    assert book.apply_event(ev(EventType.FILL, {"fill": fill(4, 10.0, cid="o2").to_dict()}, 4))
    assert book.get("o2").status is OrderStatus.PARTIALLY_FILLED and book.open_quantity("AAPL") == 106
    assert book.anomaly_count == 0


def test_pending_replace_books_fills_and_returns_to_working_when_confirmed_or_refused() -> None:
    book = OrderBook()
    book.apply_event(ev(EventType.ORDER_ACCEPTED, {"order": order(100, order_type="limit", limit_price=10.0).to_dict()}, 1))
    m = book.get("o1")
    book.apply_event(ev(EventType.ORDER_REPLACE_REQUESTED, {"client_order_id": "o1", "symbol": "AAPL"}, 2))
    assert m.status is OrderStatus.PENDING_REPLACE and m.is_open
    book.apply_event(ev(EventType.FILL, {"fill": fill(30, 10.0).to_dict()}, 3))  # a late fill of the old order
    assert (m.status, m.filled_quantity, book.open_quantity("AAPL")) == (OrderStatus.PENDING_REPLACE, 30, 70)
    book.apply_event(ev(EventType.ORDER_REPLACED, {"client_order_id": "o1", "symbol": "AAPL", "quantity": 50.0,
                                                   "limit_price": 10.5}, 4))
    assert (m.status, m.order.quantity, m.order.limit_price) == (OrderStatus.PARTIALLY_FILLED, 50, 10.5)
    assert book.open_quantity("AAPL") == 20
    # a replace the broker refuses: back to working, unchanged
    book.apply_event(ev(EventType.ORDER_REPLACE_REQUESTED, {"client_order_id": "o1"}, 5))
    book.apply_event(ev(EventType.ORDER_CANCEL_REJECTED, {"client_order_id": "o1"}, 6))
    assert (m.status, m.order.quantity) == (OrderStatus.PARTIALLY_FILLED, 50)
    # a cancel the broker refuses (it had just filled... not yet): working again; then cancelled
    book.apply_event(ev(EventType.ORDER_CANCEL_REQUESTED, {"client_order_id": "o1"}, 7))
    book.apply_event(ev(EventType.ORDER_CANCEL_REJECTED, {"client_order_id": "o1"}, 8))
    assert m.status is OrderStatus.PARTIALLY_FILLED
    book.apply_event(ev(EventType.ORDER_CANCELLED, {"client_order_id": "o1"}, 9))
    assert m.status is OrderStatus.CANCELLED and book.open_quantities() == {} and book.anomaly_count == 0
