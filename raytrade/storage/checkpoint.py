"""Signed checkpoints of the audit chain's head, kept apart from the store.

A hash chain verified from its first record proves that no record was altered, removed, inserted
or reordered, but not that the newest records were not cut off, nor that a correctly chained
record was not appended by someone who can write to the database (a forged ``key_created`` would
then authenticate). A checkpoint closes both gaps: the head (sequence and hash) signed with a key
the database does not hold, written somewhere the database's writers cannot rewrite.

Format (version 1), one JSON object a line in a checkpoint file::

    {"v": 1, "sequence": S, "hash": H, "signed_at": "2026-12-02T18:00:00.000000Z", "mac": M}

``mac`` is HMAC-SHA256, as lower-case hex, over the canonical JSON (sorted keys, no spaces) of the
object without ``mac``. The key comes from ``RAYTRADE_AUDIT_KEY`` (at least 32 characters; a
secret, only ever from the environment). Verification against the checkpoints fails when:

- a checkpoint's MAC does not match (forged, or made with another key);
- the log ends before a checkpoint's sequence (records were cut off);
- the record at a checkpoint's sequence has another hash (the log was rewritten);
- more than ``max_unattested`` records follow the newest checkpoint (records nobody with the key
  vouched for: appended after it, or forged). A live engine checkpoints every few seconds, so
  verify it with the allowance its checkpoint interval needs, or after it stopped.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from raytrade.core.clock import utc_now
from raytrade.core.errors import AuditError, ConfigError
from raytrade.storage.audit import VerifyResult, format_timestamp

KEY_ENV = "RAYTRADE_AUDIT_KEY"
MIN_KEY_CHARS = 32


def audit_key(value: str | None = None) -> bytes:
    """The checkpoint key: ``value``, else ``RAYTRADE_AUDIT_KEY`` (ConfigError when missing or short)."""
    text = value if value is not None else os.environ.get(KEY_ENV)
    if not text:
        raise ConfigError(f"{KEY_ENV} is not set: checkpoints are signed with a key that is kept out of the database")
    if len(text) < MIN_KEY_CHARS:
        raise ConfigError(f"{KEY_ENV} must have at least {MIN_KEY_CHARS} characters, got {len(text)}")
    return text.encode()


def _mac(key: bytes, body: dict[str, Any]) -> str:
    text = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hmac.new(key, text.encode("ascii"), hashlib.sha256).hexdigest()


def sign(key: bytes, sequence: int, hash_: str, at: datetime | None = None) -> dict[str, Any]:
    """A checkpoint of the record (``sequence``, ``hash_``), signed now (or at ``at``)."""
    body = {"v": 1, "sequence": int(sequence), "hash": str(hash_), "signed_at": format_timestamp(at or utc_now())}
    return {**body, "mac": _mac(key, body)}


def genuine(key: bytes, checkpoint: dict[str, Any]) -> bool:
    """Whether ``checkpoint`` carries a MAC made with ``key`` over its own fields."""
    body = {k: v for k, v in checkpoint.items() if k != "mac"}
    mac = checkpoint.get("mac")
    return isinstance(mac, str) and hmac.compare_digest(mac, _mac(key, body))


class CheckpointFile:
    """Checkpoints appended to a file, one a line, flushed to disk before :meth:`append` returns."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)

    def append(self, checkpoint: dict[str, Any]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path, "a", encoding="ascii") as fh:
            fh.write(json.dumps(checkpoint, sort_keys=True, separators=(",", ":")) + "\n")
            fh.flush()
            os.fsync(fh.fileno())

    def read(self) -> list[dict[str, Any]]:
        """Every checkpoint in the file (AuditError naming the line of one that is not JSON)."""
        if not self.path.is_file():
            raise AuditError(f"{self.path}: no checkpoint file")
        out = []
        with open(self.path, encoding="utf-8", errors="replace") as fh:
            for i, line in enumerate(fh, start=1):
                if not line.strip():
                    continue
                try:
                    cp = json.loads(line)
                except json.JSONDecodeError:
                    raise AuditError(f"{self.path}, line {i}: not a checkpoint (invalid JSON)") from None
                if not isinstance(cp, dict) or not isinstance(cp.get("sequence"), int) \
                        or not isinstance(cp.get("hash"), str):
                    raise AuditError(f"{self.path}, line {i}: not a checkpoint (sequence and hash expected)")
                out.append(cp)
        return out


@dataclass(frozen=True, slots=True)
class CheckpointReport:
    """What the log and its checkpoints say together. ``ok`` False: ``problem`` says what."""

    ok: bool
    checkpoints: int
    attested_upto: int        # the newest checkpointed sequence (0 with no checkpoint)
    unattested: int           # records after it
    problem: str | None = None

    def describe(self) -> str:
        if not self.ok:
            return f"checkpoints refute the log: {self.problem}"
        tail = f"; {self.unattested:,} newer record(s) not yet checkpointed" if self.unattested else ""
        return (f"{self.checkpoints:,} signed checkpoint(s) agree with the log up to record "
                f"{self.attested_upto:,}{tail}")


def check(chain: VerifyResult, hashes: dict[int, str], checkpoints: list[dict[str, Any]], key: bytes,
          max_unattested: int = 0) -> CheckpointReport:
    """Hold the verified ``chain`` (its result and the hashes at the checkpoints' sequences) against
    ``checkpoints`` (see the module for what fails)."""
    last = chain.last_sequence or 0
    n = len(checkpoints)
    for cp in checkpoints:
        where = f"checkpoint of record {cp['sequence']} signed at {cp.get('signed_at')}"
        if not genuine(key, cp):
            return CheckpointReport(False, n, 0, 0, f"{where}: its signature does not match this key (forged, "
                                                    "or signed with another key)")
        if cp["sequence"] > last:
            return CheckpointReport(False, n, 0, 0, f"{where}: the log ends at record {last:,}: records "
                                                    f"{last + 1:,}..{cp['sequence']:,} were cut off")
        if cp["sequence"] > 0 and hashes.get(cp["sequence"]) != cp["hash"]:
            return CheckpointReport(False, n, 0, 0, f"{where}: record {cp['sequence']:,} has another hash: the log "
                                                    "was rewritten")
    upto = max((cp["sequence"] for cp in checkpoints), default=0)
    extra = last - upto
    if extra > max_unattested:
        return CheckpointReport(False, n, upto, extra, f"records {upto + 1:,}..{last:,} follow the newest signed "
                                f"checkpoint (record {upto:,}): appended after it, or forged ({extra:,} allowed: "
                                f"{max_unattested:,})")
    return CheckpointReport(True, n, upto, extra)
