"""One suite for every event-store backend: append, read, chain, refusals, verification."""

from __future__ import annotations

import asyncio
import itertools
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
import pytest

from raytrade.core import Event, EventType, StoreUnavailableError
from raytrade.core.errors import StoreError
from raytrade.storage import EventStore, GroupCommitter, SQLiteEventStore
from raytrade.storage.postgres import PostgresEventStore
from tests.storage.conftest import PG_URL, pg_schema

T0 = datetime(2024, 1, 2, 15, 0, tzinfo=UTC)


def events(n: int, start: int = 0) -> list[Event]:
    return [Event(EventType.ORDER_REJECTED, "trader-1", f"order {i}",
                  {"client_order_id": f"c{i}", "code": "INVALID_ORDER", "detail": f"test {i}",
                   "request": {"quantity": 10 + i, "price": 100.25 + i / 3, "tags": ["a", "ü"]}},
                  T0 + timedelta(seconds=i)) for i in range(start, start + n)]


async def test_append_numbers_chains_and_reads_back(store: EventStore) -> None:
    assert await store.head() == (0, "0" * 64)
    first = await store.append(events(3))
    second = await store.append(events(2, start=3))
    recs = first + second
    assert [r.sequence for r in recs] == [1, 2, 3, 4, 5]
    assert all(b.prev_hash == a.hash for a, b in itertools.pairwise(recs))
    back = await store.read()
    assert back == recs
    assert await store.head() == (5, recs[-1].hash)
    assert [r.sequence for r in await store.read(2, 3)] == [2, 3]
    assert (await store.verify()).ok


async def test_read_of_some_types_filters_in_the_database_across_pages(store: EventStore,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    import raytrade.storage.base as base

    monkeypatch.setattr(base, "PAGE_ROWS", 4)  # several pages, each filtered
    kinds = ((EventType.ORDER_EXPIRED, "client_order_id"), (EventType.CASH_CHANGED, "amount"),
             (EventType.KEY_REVOKED, "key_id"))
    await store.append([Event(kinds[i % 3][0], "p", f"r{i}",
                              {kinds[i % 3][1]: float(i) if i % 3 == 1 else f"k{i}"}, T0 + timedelta(seconds=i))
                        for i in range(23)])
    cash = await store.read(types=[EventType.CASH_CHANGED])
    assert [r.event.payload["amount"] for r in cash] == list(range(1, 23, 3))
    assert [r.sequence for r in cash] == list(range(2, 24, 3))
    both = await store.read(3, 20, types=[EventType.CASH_CHANGED, EventType.KEY_REVOKED])
    assert [r.sequence for r in both] == [s for s in range(3, 21) if (s - 1) % 3 != 0]
    assert await store.read(types=[EventType.TRADING_HALTED]) == []
    assert len(await store.read(types=[])) == 23  # no filter


async def test_hashes_are_byte_identical_across_backends(tmp_path: Path) -> None:
    lite = SQLiteEventStore(tmp_path / "a.sqlite")
    pg = PostgresEventStore(PG_URL, schema=pg_schema())
    async with lite, pg:
        try:
            a = await lite.append(events(20))
            b = await pg.append(events(20))
            assert [r.hash for r in a] == [r.hash for r in b]
            assert [r.hash for r in await lite.read()] == [r.hash for r in await pg.read()]
        finally:
            await pg.drop_schema()


async def test_updates_and_deletes_are_refused(store: EventStore) -> None:
    await store.append(events(2))
    if isinstance(store, SQLiteEventStore):
        conn = sqlite3.connect(store.path)
        with pytest.raises(sqlite3.DatabaseError, match="append-only"):
            conn.execute("UPDATE events SET reason = 'x' WHERE seq = 1")
        with pytest.raises(sqlite3.DatabaseError, match="append-only"):
            conn.execute("DELETE FROM events WHERE seq = 2")
        conn.close()
    else:
        assert isinstance(store, PostgresEventStore)
        conn = await asyncpg.connect(PG_URL)
        try:
            for sql in (f"UPDATE {store.schema}.events SET reason = 'x' WHERE seq = 1",
                        f"DELETE FROM {store.schema}.events WHERE seq = 2",
                        f"TRUNCATE {store.schema}.events"):
                with pytest.raises(asyncpg.InsufficientPrivilegeError, match="append-only"):
                    await conn.execute(sql)
        finally:
            await conn.close()
    assert len(await store.read()) == 2 and (await store.verify()).ok


async def tamper(store: EventStore, sql: str) -> None:
    """Change the log by hand the way an attacker with database rights would (triggers bypassed)."""
    if isinstance(store, SQLiteEventStore):
        conn = sqlite3.connect(store.path, isolation_level=None)
        conn.execute("DROP TRIGGER events_no_update")
        conn.execute("DROP TRIGGER events_no_delete")
        conn.execute(sql.format(t="events"))
        conn.close()
    else:
        assert isinstance(store, PostgresEventStore)
        conn = await asyncpg.connect(PG_URL)
        try:
            await conn.execute("SET session_replication_role = replica")
            await conn.execute(sql.format(t=f"{store.schema}.events"))
        finally:
            await conn.close()


@pytest.mark.parametrize(("sql", "bad", "word"), [
    ("UPDATE {t} SET payload = replace(payload, '\"quantity\":14', '\"quantity\":15') WHERE seq = 5", 5, "altered"),
    ("UPDATE {t} SET reason = 'nothing to see' WHERE seq = 3", 3, "altered"),
    ("DELETE FROM {t} WHERE seq = 4", 5, "missing"),
    ("UPDATE {t} SET seq = seq + 100 WHERE seq = 2", 3, "missing"),
    ("INSERT INTO {t} SELECT seq + 1, ts, type, principal, 'forged', payload, prev_hash, hash FROM {t} WHERE seq = 8",
     9, "prev_hash"),
    ("UPDATE {t} SET prev_hash = hash WHERE seq = 6", 6, "prev_hash"),
])
async def test_verify_names_the_tampered_record(store: EventStore, sql: str, bad: int, word: str) -> None:
    await store.append(events(8))
    await tamper(store, sql)
    result = await store.verify()
    assert not result.ok
    assert result.bad_sequence == bad
    assert word in (result.problem or "")
    good = await store.read(1, bad - 1)
    assert result.head_hash == (good[-1].hash if good else "0" * 64)


async def test_concurrent_writers_build_one_chain(store: EventStore, tmp_path: Path) -> None:
    # A second connection/process-like writer on the same log, plus concurrent tasks on each.
    other: EventStore = (SQLiteEventStore(store.path) if isinstance(store, SQLiteEventStore)
                         else PostgresEventStore(PG_URL, schema=store.schema))  # type: ignore[attr-defined]
    await other.open()
    try:
        await asyncio.gather(*[s.append(events(3, start=10 * i)) for i in range(10) for s in (store, other)])
    finally:
        await other.close()
    recs = await store.read()
    assert [r.sequence for r in recs] == list(range(1, 61))
    assert (await store.verify()).ok


async def test_a_writer_behind_the_head_chains_after_the_other_writers_records(store: EventStore) -> None:
    other: EventStore = (SQLiteEventStore(store.path) if isinstance(store, SQLiteEventStore)
                         else PostgresEventStore(PG_URL, schema=store.schema))  # type: ignore[attr-defined]
    await other.open()
    try:
        await store.append(events(2))
        await other.append(events(3, start=2))  # store's idea of the head is now two records behind
        (late,) = await store.append(events(1, start=5))
    finally:
        await other.close()
    recs = await store.read()
    assert [r.sequence for r in recs] == [1, 2, 3, 4, 5, 6] and late.sequence == 6
    assert late.prev_hash == recs[4].hash and (await store.verify()).ok


async def test_group_commit_returns_each_caller_its_records(store: EventStore) -> None:
    gc = GroupCommitter(store)
    results = await asyncio.gather(*[gc.append(events(2, start=2 * i)) for i in range(50)])
    await gc.close()
    assert gc.commits < 50  # batched
    for i, recs in enumerate(results):
        assert [r.event.payload["client_order_id"] for r in recs] == [f"c{2 * i}", f"c{2 * i + 1}"]
    assert [r.sequence for r in await store.read()] == list(range(1, 101))


def smuggled_nul(i: int) -> Event:
    """An event with a NUL character in its reason, made past Event's validation (which refuses it):
    what the database alone would refuse, to prove one refused record fails nobody else."""
    good = events(1, start=i)[0]
    bad = object.__new__(Event)
    for name in ("type", "principal", "payload", "timestamp", "sequence"):
        object.__setattr__(bad, name, getattr(good, name))
    object.__setattr__(bad, "reason", "poison\x00")
    return bad


async def test_group_commit_fails_only_the_caller_whose_record_the_database_refuses() -> None:
    store = PostgresEventStore(PG_URL, schema=pg_schema())
    await store.open()
    try:
        gc = GroupCommitter(store)
        calls = [gc.append([smuggled_nul(i)] if i == 7 else events(2, start=2 * i)) for i in range(20)]
        results = await asyncio.gather(*calls, return_exceptions=True)
        await gc.close()
        assert isinstance(results[7], StoreError) and not isinstance(results[7], StoreUnavailableError)
        good = [r for i, r in enumerate(results) if i != 7]
        assert all(isinstance(r, list) and len(r) == 2 for r in good)
        log = await store.read()
        assert len(log) == 38 and (await store.verify()).ok
        assert [r.event.payload["client_order_id"] for r in log] == [
            f"c{k}" for i in range(20) if i != 7 for k in (2 * i, 2 * i + 1)]   # call order kept
    finally:
        await store.drop_schema()
        await store.close()


def test_events_refuse_nul_characters_naming_the_place() -> None:
    from raytrade.core.errors import DomainError

    with pytest.raises(DomainError, match=r"payload.request.symbol holds a NUL"):
        Event(EventType.ORDER_REJECTED, "p", "r", {"request": {"symbol": "A\x00"}})
    with pytest.raises(DomainError, match="NUL"):
        Event(EventType.ORDER_REJECTED, "p", "bad \x00 reason", {})
    with pytest.raises(DomainError, match="NUL"):
        Event(EventType.ORDER_REJECTED, "p", "r", {"k\x00": 1})


async def test_export_by_time_range(store: EventStore) -> None:
    await store.append(events(10))
    got = [r.sequence async for r in store.export(T0 + timedelta(seconds=3), T0 + timedelta(seconds=6))]
    assert got == [4, 5, 6]
    assert len([r async for r in store.export()]) == 10


async def test_snapshots_round_trip(store: EventStore) -> None:
    assert await store.load_snapshot("portfolio") is None
    await store.save_snapshot("portfolio", 3, {"cash": 1.5, "positions": {"AAPL": 2}})
    await store.save_snapshot("portfolio", 7, {"cash": 2.5, "positions": {}})
    assert await store.load_snapshot("portfolio") == (7, {"cash": 2.5, "positions": {}})


async def test_unreachable_postgres_is_store_unavailable() -> None:
    s = PostgresEventStore("postgresql://postgres@127.0.0.1:1/test", timeout_s=2)
    with pytest.raises(StoreUnavailableError, match="cannot connect"):
        await s.open()
    assert "127.0.0.1" not in repr(s)


async def test_unwritable_sqlite_is_store_unavailable(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(StoreUnavailableError):
        await SQLiteEventStore(blocker / "sub" / "events.sqlite").open()


async def test_closed_store_refuses_appends(tmp_path: Path) -> None:
    s = SQLiteEventStore(tmp_path / "e.sqlite")
    with pytest.raises(StoreUnavailableError, match="not open"):
        await s.append(events(1))


async def test_postgres_going_away_mid_run_fails_closed(tmp_path: Path) -> None:
    s = PostgresEventStore(PG_URL, schema=pg_schema())
    await s.open()
    try:
        await s.append(events(2))
        admin = await asyncpg.connect(PG_URL)
        try:
            # Kill the store's server sessions, as a database restart would.
            killed = await admin.fetchval("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                                          "WHERE application_name = $1", f"raytrade-{s.schema}")
        finally:
            await admin.close()
        assert killed >= 1
        try:
            await s.append(events(1, start=2))
            written = [1, 2, 3]
        except StoreUnavailableError:
            written = [1, 2]
        assert [r.sequence for r in await s.read()] == written
        assert (await s.verify()).ok
    finally:
        await s.drop_schema()
        await s.close()
