"""The audit chain: canonical serialisation of event records and SHA-256 chaining.

Conventions (they fix the bytes, so they are part of the audit format, version 1):

- A record's canonical serialisation is the UTF-8 (in fact ASCII) JSON object with exactly the keys
  ``payload, principal, reason, sequence, timestamp, type`` in that (sorted) order, no whitespace,
  non-ASCII characters escaped as ``\\uXXXX``, floats in Python's shortest round-trip ``repr``,
  NaN and infinities refused. ``timestamp`` is UTC as ``YYYY-MM-DDTHH:MM:SS.ffffffZ``
  (microseconds always written). ``payload`` is itself canonical JSON (sorted keys, same rules).
- ``hash = SHA-256(prev_hash || canonical)``, where ``prev_hash`` is the previous record's hash as
  64 lower-case hex ASCII characters and ``||`` is byte concatenation; the first record's
  ``prev_hash`` is :data:`GENESIS_HASH` (64 zeros). Hashes are stored as lower-case hex.

Both store backends keep the payload as this canonical text (never as JSONB, which would reorder
keys and reformat numbers), so the bytes hashed at append are the bytes re-hashed at verification,
on either backend, in any Python process.

A chain verified from its first record proves that no record was altered, removed, inserted or
reordered, except a cut of the newest records (their absence leaves a valid shorter chain) and a
correctly chained record appended by someone who can write to the database: signed checkpoints of
the head, kept apart from the store (:mod:`raytrade.storage.checkpoint`), detect both.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from json.encoder import encode_basestring_ascii
from typing import Any

from raytrade.core.errors import AuditError

GENESIS_HASH = "0" * 64
TIMESTAMP_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"

# One stored row, in the column order both backends return: the raw material of verification.
Row = tuple[int, str, str, str, str, str, str, str]  # seq, timestamp, type, principal, reason, payload, prev, hash


_quote = encode_basestring_ascii  # a str as json.dumps writes it with ensure_ascii (the C encoder's)
_CANONICAL = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=False)


def canonical_json(value: Any) -> str:
    """``value`` as canonical JSON text (sorted keys, no spaces, ASCII, no NaN)."""
    try:
        return _CANONICAL.encode(value)
    except ValueError as exc:
        raise AuditError(f"payload cannot be serialised canonically: {exc}") from None


def format_timestamp(ts: datetime) -> str:
    """``ts`` (aware) as the canonical UTC text with microseconds."""
    utc = ts if ts.tzinfo is UTC else ts.astimezone(UTC)
    if utc.year < 1000:  # strftime does not pad such years; the canonical text keeps its output
        return utc.strftime(TIMESTAMP_FORMAT)
    return utc.replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"


def parse_timestamp(text: str) -> datetime:
    """The canonical UTC text back as an aware datetime (``fromisoformat`` reads the ``Z``, and is
    much cheaper than ``strptime``: every record read at a rebuild goes through it)."""
    return datetime.fromisoformat(text)


def canonical_record(sequence: int, timestamp: str, type_: str, principal: str, reason: str,
                     payload: str) -> bytes:
    """The canonical bytes of one record from its stored fields (``payload`` already canonical).

    Equal to ``canonical_json({...}).encode()`` of the record as a dict; built by concatenation
    because verification runs it on every record.
    """
    q = _quote
    return (f'{{"payload":{payload},"principal":{q(principal)},"reason":{q(reason)},'
            f'"sequence":{sequence},"timestamp":"{timestamp}","type":{q(type_)}}}').encode("ascii")


def chain_hash(prev_hash: str, canonical: bytes) -> str:
    """SHA-256 over the previous hash (hex ASCII) followed by the record's canonical bytes."""
    h = hashlib.sha256(prev_hash.encode("ascii"))
    h.update(canonical)
    return h.hexdigest()


def row_hash(prev_hash: str, row: Row) -> str:
    """The hash a stored row must carry, given the previous record's hash."""
    seq, ts, type_, principal, reason, payload = row[:6]
    return chain_hash(prev_hash, canonical_record(seq, ts, type_, principal, reason, payload))


@dataclass(frozen=True, slots=True)
class VerifyResult:
    """Outcome of walking a chain. ``ok`` False names the first bad record and what is wrong."""

    ok: bool
    records: int
    first_sequence: int | None
    last_sequence: int | None
    head_hash: str
    bad_sequence: int | None = None
    problem: str | None = None
    watched: dict[int, str] = field(default_factory=dict)  # hash of each watched sequence that was verified

    def describe(self) -> str:
        if self.ok:
            span = f"{self.first_sequence}..{self.last_sequence}" if self.records else "empty"
            return f"audit chain intact: {self.records:,} records ({span}), head {self.head_hash}"
        return f"audit chain broken at record {self.bad_sequence}: {self.problem}"


class ChainVerifier:
    """Walks rows in sequence order, page after page, and stops at the first break.

    ``start_hash`` is the hash of the record before the first row (GENESIS_HASH from record 1).
    """

    def __init__(self, *, first_expected: int = 1, start_hash: str = GENESIS_HASH,
                 watch: Iterable[int] = ()) -> None:
        self.watch = frozenset(watch)
        self.watched: dict[int, str] = {}
        self.expected = first_expected
        self.prev = start_hash
        self.records = 0
        self.first: int | None = None
        self.last: int | None = None
        self.bad: int | None = None
        self.problem: str | None = None

    def feed(self, rows: Iterable[Row]) -> bool:
        """Check ``rows``; False (and ``bad``/``problem`` set) at the first broken record."""
        for row in rows:
            seq, stored_prev, stored_hash = row[0], row[6], row[7]
            expected, prev = self.expected, self.prev
            if seq != expected:
                if seq > expected:
                    missing = f"record {expected}" if seq == expected + 1 else f"records {expected}..{seq - 1}"
                    return self._fail(seq, f"{missing} missing before it (removed)")
                return self._fail(seq, f"out of order: expected record {expected} (inserted or reordered)")
            if stored_prev != prev:
                return self._fail(seq, "its prev_hash is not the hash of the record before it "
                                       "(a record was inserted, removed or reordered, or the link edited)")
            try:
                ok = row_hash(prev, row) == stored_hash
            except UnicodeEncodeError:  # canonical records are ASCII: raw non-ASCII text was written in
                ok = False
            if not ok:
                return self._fail(seq, "its content does not match its hash (altered)")
            if seq in self.watch:
                self.watched[seq] = stored_hash
            self._good(seq, stored_hash)
        return True

    def _fail(self, seq: int, problem: str) -> bool:
        self.bad, self.problem = seq, problem
        return False

    def _good(self, seq: int, hash_: str) -> None:
        if self.first is None:
            self.first = seq
        self.last, self.prev, self.expected = seq, hash_, seq + 1
        self.records += 1

    def result(self) -> VerifyResult:
        return VerifyResult(self.bad is None, self.records, self.first, self.last, self.prev,
                            self.bad, self.problem, dict(self.watched))


def verify_rows(rows: Iterable[Row]) -> VerifyResult:
    """Verify a whole chain held in memory (from record 1)."""
    v = ChainVerifier()
    v.feed(rows)
    return v.result()
