"""The embedded event store: SQLite in WAL mode with ``synchronous=FULL``.

Every append is one ``BEGIN IMMEDIATE`` transaction (SQLite's write lock, so several processes
may append to one file and still get one linear chain), committed and fsynced before ``append``
returns. Triggers refuse UPDATE and DELETE on the events table. The blocking sqlite3 calls run on
one dedicated thread so the caller's event loop keeps serving while a commit waits for the disk.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

from raytrade.core.errors import StoreError, StoreUnavailableError
from raytrade.core.events import Event
from raytrade.storage.audit import GENESIS_HASH, Row, format_timestamp
from raytrade.storage.base import EventStore, chain_events

T = TypeVar("T")

SCHEMA_VERSION = 1
_MIGRATIONS: dict[int, str] = {
    1: """
    CREATE TABLE IF NOT EXISTS events (
        seq INTEGER PRIMARY KEY,
        ts TEXT NOT NULL,
        type TEXT NOT NULL,
        principal TEXT NOT NULL,
        reason TEXT NOT NULL,
        payload TEXT NOT NULL,
        prev_hash TEXT NOT NULL,
        hash TEXT NOT NULL
    );
    CREATE INDEX IF NOT EXISTS events_ts ON events (ts);
    CREATE TRIGGER IF NOT EXISTS events_no_update BEFORE UPDATE ON events
        BEGIN SELECT RAISE(ABORT, 'events are append-only: UPDATE refused'); END;
    CREATE TRIGGER IF NOT EXISTS events_no_delete BEFORE DELETE ON events
        BEGIN SELECT RAISE(ABORT, 'events are append-only: DELETE refused'); END;
    CREATE TABLE IF NOT EXISTS snapshots (
        name TEXT PRIMARY KEY,
        seq INTEGER NOT NULL,
        state TEXT NOT NULL
    );
    """,
}


class SQLiteEventStore(EventStore):
    """Event store in the SQLite file at ``path`` (created with its folder if missing)."""

    backend = "sqlite"

    def __init__(self, path: str | Path, *, timeout_s: float = 10.0) -> None:
        self.path = Path(path)
        self.timeout_s = timeout_s
        self._conn: sqlite3.Connection | None = None
        self._pool: ThreadPoolExecutor | None = None

    def __repr__(self) -> str:
        return f"SQLiteEventStore({str(self.path)!r})"

    async def _run(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        if self._conn is None or self._pool is None:
            raise StoreUnavailableError(f"{self}: store is not open")
        conn = self._conn
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(self._pool, fn, conn)
        except sqlite3.IntegrityError as exc:
            raise StoreError(f"{self}: {exc}") from None
        except sqlite3.Error as exc:
            raise StoreUnavailableError(f"{self}: {exc}") from None

    async def open(self) -> None:
        if self._conn is not None:
            return
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreUnavailableError(f"{self}: cannot create its folder: {exc}") from None
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="raytrade-sqlite")

        def connect() -> sqlite3.Connection:
            conn = sqlite3.connect(self.path, timeout=self.timeout_s, isolation_level=None,
                                   check_same_thread=False)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=FULL")
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            for v in range(version + 1, SCHEMA_VERSION + 1):
                conn.execute("BEGIN IMMEDIATE")
                for statement in _split(_MIGRATIONS[v]):
                    conn.execute(statement)
                conn.execute(f"PRAGMA user_version = {v}")
                conn.execute("COMMIT")
            return conn

        loop = asyncio.get_running_loop()
        try:
            self._conn = await loop.run_in_executor(self._pool, connect)
        except sqlite3.Error as exc:
            self._pool.shutdown(wait=False)
            self._pool = None
            raise StoreUnavailableError(f"{self}: cannot open: {exc}") from None

    async def close(self) -> None:
        if self._conn is None:
            return
        conn, pool = self._conn, self._pool
        self._conn = None
        assert pool is not None
        await asyncio.get_running_loop().run_in_executor(pool, conn.close)
        pool.shutdown(wait=True)
        self._pool = None

    async def _append_rows(self, events: Sequence[Event]) -> list[Row]:
        def txn(conn: sqlite3.Connection) -> list[Row]:
            conn.execute("BEGIN IMMEDIATE")
            try:
                last = conn.execute("SELECT seq, hash FROM events ORDER BY seq DESC LIMIT 1").fetchone()
                rows = chain_events(events, *(last or (0, GENESIS_HASH)))
                conn.executemany("INSERT INTO events VALUES (?, ?, ?, ?, ?, ?, ?, ?)", rows)
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
            return rows

        return await self._run(txn)

    async def _rows(self, start: int, end: int | None, limit: int, types: Sequence[str] | None = None) -> list[Row]:
        of = "" if types is None else f" AND type IN ({','.join('?' * len(types))})"

        def q(conn: sqlite3.Connection) -> list[Row]:
            return conn.execute(f"SELECT * FROM events WHERE seq >= ? AND seq <= ?{of} ORDER BY seq LIMIT ?",
                                (start, end if end is not None else 2**62, *(types or ()), limit)).fetchall()

        return await self._run(q)

    async def _rows_between(self, since: datetime | None, until: datetime | None, after: int,
                            limit: int) -> list[Row]:
        lo = format_timestamp(since) if since else ""
        hi = format_timestamp(until) if until else "~"

        def q(conn: sqlite3.Connection) -> list[Row]:
            return conn.execute("SELECT * FROM events WHERE ts >= ? AND ts < ? AND seq > ? ORDER BY seq LIMIT ?",
                                (lo, hi, after, limit)).fetchall()

        return await self._run(q)

    async def head(self) -> tuple[int, str]:
        def q(conn: sqlite3.Connection) -> tuple[int, str]:
            row = conn.execute("SELECT seq, hash FROM events ORDER BY seq DESC LIMIT 1").fetchone()
            return (int(row[0]), str(row[1])) if row else (0, GENESIS_HASH)

        return await self._run(q)

    async def ping(self) -> None:
        await self._run(lambda conn: conn.execute("SELECT 1").fetchone())

    async def save_snapshot(self, name: str, sequence: int, state: dict[str, Any]) -> None:
        text = json.dumps(state, sort_keys=True)
        await self._run(lambda conn: conn.execute(
            "INSERT INTO snapshots VALUES (?, ?, ?) ON CONFLICT(name) DO UPDATE SET seq = excluded.seq, "
            "state = excluded.state", (name, sequence, text)))

    async def load_snapshot(self, name: str) -> tuple[int, dict[str, Any]] | None:
        row = await self._run(lambda conn: conn.execute(
            "SELECT seq, state FROM snapshots WHERE name = ?", (name,)).fetchone())
        return (int(row[0]), json.loads(row[1])) if row else None


def _split(script: str) -> list[str]:
    """Statements of a migration script (triggers keep their inner ``;``)."""
    out: list[str] = []
    buf: list[str] = []
    for line in script.strip().splitlines():
        buf.append(line)
        text = "\n".join(buf).strip()
        if text.endswith(";") and (not text.upper().startswith("CREATE TRIGGER") or text.upper().endswith("END;")):
            out.append(text)
            buf = []
    return out
