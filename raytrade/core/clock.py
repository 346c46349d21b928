"""Time helpers: raytrade is timezone-aware UTC everywhere."""

from __future__ import annotations

from datetime import UTC, datetime

from raytrade.core.errors import DomainError


def utc_now() -> datetime:
    """The current time as an aware UTC datetime."""
    return datetime.now(UTC)


def ensure_utc(ts: datetime, *, field: str = "timestamp") -> datetime:
    """Return ``ts`` converted to UTC; a naive datetime is refused rather than guessed."""
    if not isinstance(ts, datetime):
        raise DomainError(f"{field} must be a datetime, got {type(ts).__name__}")
    if ts.tzinfo is None or ts.utcoffset() is None:
        raise DomainError(f"{field} must be timezone-aware (UTC), got naive {ts.isoformat()}")
    return ts.astimezone(UTC)
