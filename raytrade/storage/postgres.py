"""The PostgreSQL event store, through asyncpg (selected by ``RAYTRADE_DATABASE_URL``).

Tables live in one schema (``raytrade`` by default) that the code creates and migrates
(``<schema>.schema_version`` records the applied migrations). An append chains its records after
the head this store last wrote or read and inserts them in one transaction; the primary key on
``seq`` is what serialises concurrent writers (several actors, several processes): when another
writer got there first the insert is refused, nothing of it stays, and the batch is chained again
after the head read afresh. So every record's ``prev_hash`` is the stored hash of the record before
it, and the usual append (one writer, the order manager) is one statement, an INSERT of the whole
batch from arrays, which commits by itself: one round trip and a flush, not a lock, a read, BEGIN
and COMMIT as well. The commit returns only once PostgreSQL has flushed it (``synchronous_commit``
is forced on for the store's sessions). The sessions keep no state between uses (no LISTEN, no
session locks or settings), so a connection goes back to the pool without asyncpg's reset query. Triggers refuse UPDATE, DELETE and
TRUNCATE on the events table; only a superuser who disables them can tamper, and ``audit verify``
finds what they did.

Unknown outcomes: when the connection is lost or times out after the INSERT was sent, the rows may
have committed (the reply was lost) or not. The store never reports that as "nothing written". It
sends the *same* rows again (same sequence numbers, same hashes) on a fresh connection until the
database answers, for up to ``resolve_timeout_s``: the primary key on ``seq`` makes the pair
impossible to double, so either the resend commits (the first had not) or it is refused as a
duplicate, and then the stored hash at the first sequence tells whether the record there is ours
(committed once) or another writer's (ours is not there and can no longer land: its sequence is
taken). A statement of the first attempt still in flight in the network meets the same key. Only
when the database does not answer within the deadline does ``append`` raise
:class:`~raytrade.core.errors.StoreOutcomeUnknownError`.
"""

from __future__ import annotations

import asyncio
import functools
import json
import re
import time
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime
from typing import Any, TypeVar

import asyncpg

from raytrade.core.errors import (
    ConfigError,
    StoreError,
    StoreOutcomeUnknownError,
    StoreUnavailableError,
)
from raytrade.core.events import Event
from raytrade.storage.audit import GENESIS_HASH, Row
from raytrade.storage.base import EventStore, chain_events

T = TypeVar("T")

APPEND_ATTEMPTS = 50  # head moved by other writers this many times in a row: fail closed


class _HeadMoved(Exception):
    """Another writer appended after the head this store chained on."""

_IDENT = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
_TS_TEXT = """to_char(ts AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')"""
_COLUMNS = f"seq, {_TS_TEXT}, type, principal, reason, payload, prev_hash, hash"

_MIGRATIONS: dict[int, str] = {
    1: """
    CREATE TABLE {s}.events (
        seq BIGINT PRIMARY KEY,
        ts TIMESTAMPTZ NOT NULL,
        type TEXT NOT NULL,
        principal TEXT NOT NULL,
        reason TEXT NOT NULL,
        payload TEXT NOT NULL,
        prev_hash CHAR(64) NOT NULL,
        hash CHAR(64) NOT NULL
    );
    CREATE INDEX events_ts ON {s}.events (ts);
    CREATE FUNCTION {s}.refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        RAISE EXCEPTION 'raytrade events are append-only: % refused', TG_OP
            USING ERRCODE = 'insufficient_privilege';
    END $$;
    CREATE TRIGGER events_no_update_delete BEFORE UPDATE OR DELETE ON {s}.events
        FOR EACH ROW EXECUTE FUNCTION {s}.refuse_change();
    CREATE TRIGGER events_no_truncate BEFORE TRUNCATE ON {s}.events
        FOR EACH STATEMENT EXECUTE FUNCTION {s}.refuse_change();
    CREATE TABLE {s}.snapshots (
        name TEXT PRIMARY KEY,
        seq BIGINT NOT NULL,
        state TEXT NOT NULL
    );
    """,
}

# Errors that mean "the database cannot be reached or the session died": fail closed.
_UNREACHABLE = (OSError, asyncio.TimeoutError, asyncpg.InterfaceError,
                asyncpg.PostgresConnectionError, asyncpg.CannotConnectNowError,
                asyncpg.AdminShutdownError, asyncpg.InternalClientError)


async def _stateless(conn: asyncpg.Connection) -> None:
    """A pool connection's reset: nothing (the store leaves no session state; see the module)."""


def _columns(events: Sequence[Event], rows: list[Row]) -> list[list[Any]]:
    """The rows as the eight column arrays of the INSERT (timestamps as aware datetimes)."""
    return [[r[0] for r in rows], [e.timestamp.astimezone(UTC) for e in events],
            *([r[i] for r in rows] for i in range(2, 8))]


class PostgresEventStore(EventStore):
    """Event store in PostgreSQL at ``dsn``, tables in ``schema``."""

    backend = "postgresql"

    def __init__(self, dsn: str, *, schema: str = "raytrade", pool_size: int = 4,
                 timeout_s: float = 5.0, resolve_timeout_s: float = 30.0) -> None:
        if not _IDENT.match(schema):
            raise ConfigError(f"database schema {schema!r} must be a lower-case SQL identifier")
        self.dsn = dsn
        self.schema = schema
        self.pool_size = pool_size
        self.timeout_s = timeout_s
        self.resolve_timeout_s = resolve_timeout_s
        self.resolved_unknown = 0  # appends whose reply was lost and that were resolved by a resend
        self._pool: asyncpg.Pool | None = None
        self._head: tuple[int, str] | None = None  # (seq, hash) this store last wrote; None: read it
        s = schema
        self._sql_head = f"SELECT seq, hash FROM {s}.events ORDER BY seq DESC LIMIT 1"
        self._sql_insert = (f"INSERT INTO {s}.events (seq, ts, type, principal, reason, payload, prev_hash, hash) "
                            "SELECT * FROM unnest($1::bigint[], $2::timestamptz[], $3::text[], $4::text[], "
                            "$5::text[], $6::text[], $7::text[], $8::text[])")
        self._sql_hash_at = f"SELECT hash FROM {s}.events WHERE seq = $1"
        self._sql_rows = f"SELECT {_COLUMNS} FROM {s}.events WHERE seq >= $1 AND seq <= $2 ORDER BY seq LIMIT $3"
        self._sql_rows_of = (f"SELECT {_COLUMNS} FROM {s}.events WHERE seq >= $1 AND seq <= $2 AND type = ANY($4::text[]) "
                             "ORDER BY seq LIMIT $3")
        self._sql_between = (f"SELECT {_COLUMNS} FROM {s}.events WHERE ts >= $1 AND ts < $2 AND seq > $3 "
                             "ORDER BY seq LIMIT $4")

    def __repr__(self) -> str:
        return f"PostgresEventStore(schema={self.schema!r})"  # never the DSN: it may hold a password

    async def _with(self, fn: Callable[[asyncpg.Connection], Awaitable[T]]) -> T:
        if self._pool is None:
            raise StoreUnavailableError(f"{self}: store is not open")
        try:
            async with self._pool.acquire(timeout=self.timeout_s) as conn:
                return await fn(conn)
        except _UNREACHABLE as exc:
            raise StoreUnavailableError(f"{self}: database unreachable: {type(exc).__name__}: {exc}") from None
        except asyncpg.PostgresError as exc:
            raise StoreError(f"{self}: {exc}") from None

    async def open(self) -> None:
        if self._pool is not None:
            return
        self._head = None
        try:
            self._pool = await asyncpg.create_pool(
                self.dsn, min_size=1, max_size=self.pool_size, timeout=self.timeout_s, reset=_stateless,
                command_timeout=self.timeout_s, server_settings={"synchronous_commit": "on", "application_name": f"raytrade-{self.schema}"})
        except _UNREACHABLE as exc:
            raise StoreUnavailableError(f"{self}: cannot connect: {type(exc).__name__}: {exc}") from None
        except asyncpg.PostgresError as exc:
            raise StoreUnavailableError(f"{self}: cannot connect: {exc}") from None
        await self._with(self._migrate)

    async def _migrate(self, conn: asyncpg.Connection) -> None:
        s = self.schema
        async with conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock(hashtext($1))", f"raytrade-migrate-{s}")
            await conn.execute(f"CREATE SCHEMA IF NOT EXISTS {s}")
            await conn.execute(f"CREATE TABLE IF NOT EXISTS {s}.schema_version (version INT PRIMARY KEY, "
                               "applied_at TIMESTAMPTZ NOT NULL DEFAULT now())")
            current = await conn.fetchval(f"SELECT coalesce(max(version), 0) FROM {s}.schema_version")
            for v in range(current + 1, max(_MIGRATIONS) + 1):
                await conn.execute(_MIGRATIONS[v].format(s=s))
                await conn.execute(f"INSERT INTO {s}.schema_version (version) VALUES ($1)", v)

    async def close(self) -> None:
        if self._pool is not None:
            pool, self._pool = self._pool, None
            await pool.close()

    async def _append_rows(self, events: Sequence[Event]) -> list[Row]:
        for attempt in range(APPEND_ATTEMPTS):
            head = self._head
            sent: list[list[Row]] = []  # the rows of an INSERT that may have reached the database
            try:
                rows = await self._with(functools.partial(self._insert, events=events, head=head, sent=sent))
            except _HeadMoved:
                self._head = None
                await asyncio.sleep(0.001 * attempt)
                continue
            except StoreUnavailableError:
                self._head = None
                if not sent:
                    raise  # the statement never left: nothing written
                written = await self._resolve(events, sent[0])
                if not written:  # another writer holds those sequence numbers: chain again
                    continue
                rows = sent[0]
            except BaseException:
                self._head = None  # read the head next time
                raise
            self._head = (rows[-1][0], rows[-1][7])
            return rows
        raise StoreError(f"{self}: {APPEND_ATTEMPTS} attempts to append lost to other writers; nothing written")

    async def _resolve(self, events: Sequence[Event], rows: list[Row]) -> bool:
        """Settle an INSERT of ``rows`` whose reply was lost (see the module): True when ``rows``
        are committed (once), False when the sequence numbers are another writer's records."""
        deadline = time.monotonic() + self.resolve_timeout_s
        pause = 0.05
        while True:
            try:
                written = await self._with(lambda conn: self._resend(conn, events, rows))
            except StoreUnavailableError as exc:
                if time.monotonic() + pause > deadline:
                    raise StoreOutcomeUnknownError(
                        f"{self}: the reply to an append of records {rows[0][0]}..{rows[-1][0]} was lost and the "
                        f"database did not answer for {self.resolve_timeout_s:g} s; they may or may not be "
                        f"committed ({exc})") from None
                await asyncio.sleep(pause)
                pause = min(pause * 2, 1.0)
                continue
            self.resolved_unknown += 1
            return written

    async def _resend(self, conn: asyncpg.Connection, events: Sequence[Event], rows: list[Row]) -> bool:
        try:
            await conn.execute(self._sql_insert, *_columns(events, rows))
            return True
        except asyncpg.UniqueViolationError:
            return bool(await conn.fetchval(self._sql_hash_at, rows[0][0]) == rows[0][7])

    async def _insert(self, conn: asyncpg.Connection, *, events: Sequence[Event],
                      head: tuple[int, str] | None, sent: list[list[Row]]) -> list[Row]:
        """Chain after ``head`` and insert in one statement (atomic by itself); when ``head`` is
        None, read it and insert in one transaction. ``sent`` gets the rows just before the
        INSERT goes out (from then on a lost connection leaves the outcome unknown)."""
        try:
            if head is not None:
                rows = chain_events(events, *head)
                if conn.is_closed():  # known dead before anything was sent: nothing written
                    raise asyncpg.InterfaceError("connection is closed")
                sent.append(rows)
                await conn.execute(self._sql_insert, *_columns(events, rows))
                return rows
            async with conn.transaction():
                last = await conn.fetchrow(self._sql_head)
                rows = chain_events(events, *((int(last[0]), str(last[1])) if last else (0, GENESIS_HASH)))
                sent.append(rows)
                await conn.execute(self._sql_insert, *_columns(events, rows))
        except asyncpg.UniqueViolationError:
            raise _HeadMoved from None
        return rows

    async def _rows(self, start: int, end: int | None, limit: int, types: Sequence[str] | None = None) -> list[Row]:
        hi = end if end is not None else 2**62
        recs = await self._with(lambda c: c.fetch(self._sql_rows, start, hi, limit) if types is None
                                else c.fetch(self._sql_rows_of, start, hi, limit, list(types)))
        return [tuple(r) for r in recs]  # type: ignore[misc]

    async def _rows_between(self, since: datetime | None, until: datetime | None, after: int,
                            limit: int) -> list[Row]:
        lo = since or datetime.fromisoformat("0001-01-01T00:00:00+00:00")
        hi = until or datetime.fromisoformat("9999-12-31T00:00:00+00:00")
        recs = await self._with(lambda c: c.fetch(self._sql_between, lo, hi, after, limit))
        return [tuple(r) for r in recs]  # type: ignore[misc]

    async def head(self) -> tuple[int, str]:
        row = await self._with(lambda c: c.fetchrow(self._sql_head))
        return (int(row[0]), str(row[1])) if row else (0, GENESIS_HASH)

    async def ping(self) -> None:
        await self._with(lambda c: c.fetchval("SELECT 1"))

    async def save_snapshot(self, name: str, sequence: int, state: dict[str, Any]) -> None:
        text = json.dumps(state, sort_keys=True)
        await self._with(lambda c: c.execute(
            f"INSERT INTO {self.schema}.snapshots VALUES ($1, $2, $3) ON CONFLICT (name) DO UPDATE "
            "SET seq = excluded.seq, state = excluded.state", name, sequence, text))

    async def load_snapshot(self, name: str) -> tuple[int, dict[str, Any]] | None:
        row = await self._with(lambda c: c.fetchrow(
            f"SELECT seq, state FROM {self.schema}.snapshots WHERE name = $1", name))
        return (int(row[0]), json.loads(row[1])) if row else None

    async def drop_schema(self) -> None:
        """Remove the schema and everything in it (tests and ``raytrade`` resets only)."""
        self._head = None
        await self._with(lambda c: c.execute(f"DROP SCHEMA IF EXISTS {self.schema} CASCADE"))
