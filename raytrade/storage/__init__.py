"""Layer 3 storage: the append-only, hash-chained event store (SQLite or PostgreSQL)."""

from raytrade.storage.audit import (
    GENESIS_HASH,
    ChainVerifier,
    VerifyResult,
    canonical_json,
    canonical_record,
    chain_hash,
    verify_rows,
)
from raytrade.storage.base import AuditRecord, EventStore
from raytrade.storage.cache import EventBus, RedisCache
from raytrade.storage.factory import data_dir, store_from_url
from raytrade.storage.group_commit import GroupCommitter
from raytrade.storage.sqlite import SQLiteEventStore

__all__ = [
    "GENESIS_HASH", "AuditRecord", "ChainVerifier", "EventBus", "EventStore", "GroupCommitter", "RedisCache", "SQLiteEventStore",
    "VerifyResult", "canonical_json", "canonical_record", "chain_hash", "data_dir", "store_from_url",
    "verify_rows",
]
