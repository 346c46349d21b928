"""Typed event payloads: a log written before the schemas existed reads back typed, verifies and
replays unchanged; a payload that breaks its schema is refused on append, naming the field."""

from __future__ import annotations

import shutil
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import pytest

from raytrade.core import Event, EventType, OrderStatus, payloads
from raytrade.core.errors import DomainError
from raytrade.execution import OrderBook
from raytrade.storage import SQLiteEventStore
from raytrade.storage.audit import (
    GENESIS_HASH,
    canonical_json,
    canonical_record,
    chain_hash,
    format_timestamp,
)

# Written by tests/fixtures/make_legacy_log.py with the code of commit 3b82c44 (before typing).
LEGACY = Path(__file__).parent.parent / "fixtures" / "legacy_log_3b82c44.sqlite"
T = datetime(2024, 3, 1, 15, tzinfo=UTC)
ORDER = {"symbol": "AAPL", "side": "buy", "quantity": 10.0, "order_type": "market", "limit_price": None,
         "stop_price": None, "time_in_force": "day", "client_order_id": "o1", "created_at": T.isoformat(),
         "strategy": None}


@pytest.fixture
async def legacy(tmp_path: Path):  # type: ignore[no-untyped-def]
    path = tmp_path / "events.sqlite"
    shutil.copy(LEGACY, path)
    store = SQLiteEventStore(path)
    await store.open()
    yield store
    await store.close()


async def test_a_log_written_before_the_schemas_reads_back_typed_with_the_same_hashes(legacy: SQLiteEventStore) -> None:
    records = await legacy.read()
    assert len(records) == 28 and (await legacy.verify()).ok
    assert len({r.event.type for r in records}) == 18  # most event types, each read typed below
    prev = GENESIS_HASH
    for r in records:
        e = r.event
        typed = e.data
        assert type(typed) is payloads.SCHEMAS[e.type]
        again = typed.to_payload()
        assert again == e.payload
        # the chain hash computed from the typed value's payload is the stored one
        h = chain_hash(prev, canonical_record(r.sequence, format_timestamp(e.timestamp), e.type.value, e.principal,
                                              e.reason, canonical_json(again)))
        assert h == r.hash
        prev = h


async def test_the_legacy_log_replays_into_the_book_without_anomalies(legacy: SQLiteEventStore) -> None:
    book = OrderBook()
    for r in await legacy.read():
        assert book.apply_event(r.event)
    assert book.anomaly_count == 0
    status = {cid: m.status for cid, m in book.orders.items()}
    assert status == {"a1": OrderStatus.FILLED, "m1": OrderStatus.EXPIRED, "m2": OrderStatus.CANCELLED,
                      "a2": OrderStatus.FILLED}
    assert book.get("m1").order.quantity == 7 and book.get("m1").order.limit_price == 366.0  # the replace
    assert Counter(r.code.value for r in book.rejections.values()) == Counter(
        {"INVALID_QUANTITY": 1, "UNKNOWN_SYMBOL": 1, "STRATEGY_STOPPED": 1, "MARKET_CLOSED": 1})


async def test_a_payload_that_breaks_its_schema_is_refused_on_append_and_nothing_is_written(
        legacy: SQLiteEventStore) -> None:
    head = await legacy.head()
    good = Event(EventType.CASH_CHANGED, "admin", "ok", {"amount": 5.0}, T)
    cases = [
        (Event(EventType.CASH_CHANGED, "admin", "x", {"amount": "5"}, T), r"cash_changed payload\.amount"),
        (Event(EventType.CASH_CHANGED, "admin", "x", {}, T), "cash_changed payload: the payload lacks amount"),
        (Event(EventType.ORDER_CANCELLED, "admin", "x", {"client_order_id": "o1", "oops": 1}, T),
         "unknown payload key.*oops"),
        (Event(EventType.FILL, "admin", "x", {"fill": {"client_order_id": "o1"}}, T), r"fill payload\.fill lacks"),
        (Event(EventType.ORDER_REJECTED, "admin", "x", {"client_order_id": "o", "request": {}, "code": "NOPE",
                                                       "detail": ""}, T), r"order_rejected payload\.code"),
        (Event(EventType.ORDER_ACCEPTED, "admin", "x", {"order": {**ORDER, "quantity": "10"}}, T),
         r"order_accepted payload\.order\.quantity does not read back"),
        (Event(EventType.SESSION_STARTED, "engine", "x", {"day": "2024-02-30", "marks": {}}, T), "ISO date"),
        (Event(EventType.STRATEGY_STARTED, "admin", "x", {"strategy": " s"}, T), r"strategy_started payload\.strategy"),
    ]
    for bad, match in cases:
        with pytest.raises(DomainError, match=match):
            await legacy.append([good, bad])
    assert await legacy.head() == head  # neither the good nor the bad event of a refused batch


def test_every_event_type_has_a_schema_and_a_round_trip() -> None:
    assert set(payloads.SCHEMAS) == set(EventType)
    p = {"kind": "position", "log": 0.0, "broker": 100.0, "symbol": "AAPL"}
    payloads.validate(EventType.BROKER_RECONCILED, p)
    assert payloads.parse(EventType.BROKER_RECONCILED, p).to_payload() == p
    spec = {"strategy": "ma", "spec": {"name": "ma_crossover", "params": {"fast": 10}}}
    assert payloads.parse(EventType.STRATEGY_STARTED, spec).to_payload() == spec


def test_a_key_record_carries_its_own_rate_only_when_it_has_one() -> None:
    """``rate_per_s`` is optional in key_created: a record without it (every key written before it
    existed) round-trips without the field, so its hash in the chain is unchanged; a rate must be a
    number > 0."""
    old = {"key_id": "0123456789ab", "name": "ops", "role": "admin", "secret_hash": "f" * 64}
    assert payloads.parse(EventType.KEY_CREATED, old).to_payload() == old
    new = {**old, "rate_per_s": 50.0}
    assert payloads.parse(EventType.KEY_CREATED, new).to_payload() == new
    for bad, why in ((0, "must be > 0"), (-1.0, "must be > 0"), ("50", "must be a number"), (True, "must be a number")):
        with pytest.raises(DomainError, match=why):
            payloads.validate(EventType.KEY_CREATED, {**old, "rate_per_s": bad})
