"""The event store interface: one append-only, hash-chained log of engine events.

Every backend (SQLite, PostgreSQL) implements :class:`EventStore` and passes the same test suite
(``tests/storage``). Guarantees:

- ``append`` is atomic and durable: when it returns, every event of the call is committed with
  consecutive sequence numbers and chained hashes; when it raises, none is.
- sequence numbers start at 1 and have no gaps; the chain is linear even with several writers
  (each backend serialises appends with a lock held for the transaction).
- records are never updated or deleted by raytrade, and the backends refuse it (triggers).
- a failure to reach the backend raises :class:`~raytrade.core.errors.StoreUnavailableError`.

Snapshots (``save_snapshot``/``load_snapshot``) are a cache of state as of a sequence number so an
actor can rebuild from snapshot + tail; they are not part of the audit chain.
"""

from __future__ import annotations

import abc
import json
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from raytrade.core import payloads
from raytrade.core.enums import EventType
from raytrade.core.events import Event
from raytrade.storage.audit import (
    GENESIS_HASH,
    ChainVerifier,
    Row,
    VerifyResult,
    canonical_json,
    canonical_record,
    chain_hash,
    format_timestamp,
    parse_timestamp,
)

PAGE_ROWS = 20_000


@dataclass(frozen=True, slots=True)
class AuditRecord:
    """A stored event with its place in the chain."""

    event: Event
    prev_hash: str
    hash: str

    @property
    def sequence(self) -> int:
        assert self.event.sequence is not None
        return self.event.sequence

    def to_json(self) -> dict[str, Any]:
        """The record as one JSON Lines object (what ``raytrade audit export`` writes)."""
        e = self.event
        return {"sequence": e.sequence, "timestamp": format_timestamp(e.timestamp), "type": e.type.value,
                "principal": e.principal, "reason": e.reason, "payload": e.payload,
                "prev_hash": self.prev_hash, "hash": self.hash}

    @classmethod
    def from_row(cls, row: Row) -> AuditRecord:
        seq, ts, type_, principal, reason, payload, prev, h = row
        event = Event(EventType(type_), principal, reason, json.loads(payload), parse_timestamp(ts), seq)
        return cls(event, prev, h)


def chain_events(events: Sequence[Event], last_seq: int, last_hash: str) -> list[Row]:
    """Number and chain ``events`` after the record (``last_seq``, ``last_hash``)."""
    rows: list[Row] = []
    prev = last_hash
    for i, e in enumerate(events, start=last_seq + 1):
        ts = format_timestamp(e.timestamp)
        payload = canonical_json(e.payload)
        h = chain_hash(prev, canonical_record(i, ts, e.type.value, e.principal, e.reason, payload))
        rows.append((i, ts, e.type.value, e.principal, e.reason, payload, prev, h))
        prev = h
    return rows


class EventStore(abc.ABC):
    """Async interface of the event store (see the module docstring for its guarantees)."""

    backend: str = "abstract"

    @abc.abstractmethod
    async def open(self) -> None:
        """Connect, and create or migrate the schema."""

    @abc.abstractmethod
    async def close(self) -> None: ...

    @abc.abstractmethod
    async def _append_rows(self, events: Sequence[Event]) -> list[Row]:
        """In one transaction: chain after the stored head, insert, commit; concurrent writers
        (other actors, other processes) must never fork the chain."""

    @abc.abstractmethod
    async def _rows(self, start: int, end: int | None, limit: int, types: Sequence[str] | None = None) -> list[Row]:
        """Rows with start <= sequence (<= end), of ``types`` when given (type values), in sequence
        order, at most ``limit``."""

    @abc.abstractmethod
    async def _rows_between(self, since: datetime | None, until: datetime | None, after: int,
                            limit: int) -> list[Row]:
        """Rows with since <= timestamp < until and sequence > after, in sequence order."""

    @abc.abstractmethod
    async def head(self) -> tuple[int, str]:
        """(last sequence, its hash); (0, GENESIS_HASH) for an empty log."""

    @abc.abstractmethod
    async def ping(self) -> None:
        """Raise StoreUnavailableError unless the backend answers a trivial query."""

    @abc.abstractmethod
    async def save_snapshot(self, name: str, sequence: int, state: dict[str, Any]) -> None: ...

    @abc.abstractmethod
    async def load_snapshot(self, name: str) -> tuple[int, dict[str, Any]] | None: ...

    async def append(self, events: Sequence[Event]) -> list[AuditRecord]:
        """Append ``events`` atomically and durably; return them numbered and chained. Every
        payload must follow its type's schema (:func:`raytrade.core.payloads.validate`): one that
        does not raises DomainError naming the type and field, and nothing of the call is written."""
        if not events:
            return []
        for e in events:
            payloads.validate(e.type, e.payload)
        rows = await self._append_rows(events)
        return [AuditRecord(e.numbered(r[0]), r[6], r[7])
                for e, r in zip(events, rows, strict=True)]

    async def read(self, start: int = 1, end: int | None = None, *,
                   types: Sequence[EventType] | None = None) -> list[AuditRecord]:
        """Records ``start``..``end`` (inclusive; to the head when None), optionally of ``types``."""
        out: list[AuditRecord] = []
        async for page in self.pages(start, end, types=types):
            out.extend(AuditRecord.from_row(r) for r in page)
        return out

    async def pages(self, start: int = 1, end: int | None = None, *,
                    types: Sequence[EventType] | None = None) -> AsyncIterator[list[Row]]:
        """Raw rows in sequence order (only ``types`` when given: the database filters, so a
        rebuild does not parse the records it skips), a page at a time (bounded memory)."""
        wanted = sorted({t.value for t in types}) if types else None
        nxt = start
        while True:
            page = await self._rows(nxt, end, PAGE_ROWS, wanted)
            if not page:
                return
            yield page
            nxt = page[-1][0] + 1
            if len(page) < PAGE_ROWS:
                return

    async def export(self, since: datetime | None = None, until: datetime | None = None
                     ) -> AsyncIterator[AuditRecord]:
        """Records with ``since`` <= timestamp < ``until``, in sequence order."""
        after = 0
        while True:
            page = await self._rows_between(since, until, after, PAGE_ROWS)
            for r in page:
                yield AuditRecord.from_row(r)
            if len(page) < PAGE_ROWS:
                return
            after = page[-1][0]

    async def verify(self, watch: Sequence[int] = ()) -> VerifyResult:
        """Walk the whole chain from record 1 and report the first broken record, if any; the
        result's ``watched`` holds the verified hash of each sequence in ``watch``."""
        v = ChainVerifier(first_expected=1, start_hash=GENESIS_HASH, watch=watch)
        async for page in self.pages(1):
            if not v.feed(page):
                break
        return v.result()

    async def __aenter__(self) -> EventStore:
        await self.open()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()
