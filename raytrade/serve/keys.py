"""API keys: created, listed and revoked through the event log, checked in constant time.

A key is shown once, at creation: ``rtk_<key_id>.<secret>``. ``key_id`` (12 hex characters) is
public: it names the key in the audit trail and in ``raytrade keys list``. Only SHA-256 of the
secret is stored, in a ``key_created`` event; ``key_revoked`` ends it. The secret is 32 random
bytes, so an unsalted hash is enough (nothing to brute-force); comparisons use
``hmac.compare_digest``. Roles are ordered: viewer (read) < trader (orders) < admin (halt,
resume, limits). A key may carry its own request rate (``rate_per_s``: a trading tool that polls
more than a person, a dashboard held to less); without one the deployment's applies.
"""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import datetime
from enum import IntEnum
from typing import Any

from raytrade.core.enums import EventType
from raytrade.core.errors import ConfigError
from raytrade.core.events import Event

TOKEN = re.compile(r"^rtk_([0-9a-f]{12})\.([A-Za-z0-9_-]{20,100})$")


class Role(IntEnum):
    VIEWER = 1
    TRADER = 2
    ADMIN = 3

    @classmethod
    def parse(cls, name: str) -> Role:
        try:
            return cls[name.upper()]
        except KeyError:
            raise ConfigError(f"role must be one of viewer, trader, admin; got {name!r}") from None


@dataclass(frozen=True, slots=True)
class ApiKey:
    key_id: str
    name: str
    role: Role
    secret_hash: str
    created_at: datetime
    revoked_at: datetime | None = None
    rate_per_s: float | None = None

    @property
    def principal(self) -> str:
        """How the key appears in the audit trail."""
        return f"key:{self.key_id}"

    def public(self) -> dict[str, Any]:
        """What may be shown: everything but the hash."""
        return {"key_id": self.key_id, "name": self.name, "role": self.role.name.lower(),
                "created_at": self.created_at.isoformat(),
                "revoked_at": self.revoked_at.isoformat() if self.revoked_at else None,
                "rate_per_s": self.rate_per_s}


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


MAX_RATE_PER_S = 10_000.0


def new_key(name: str, role: Role, principal: str, rate_per_s: float | None = None) -> tuple[str, Event]:
    """A fresh token and the ``key_created`` event that records it (the token itself is not in it);
    ``rate_per_s``: the key's own requests per second (None: the deployment's ``rate_per_s``)."""
    if not name.strip() or len(name) > 80:
        raise ConfigError("key name must be 1 to 80 characters")
    if rate_per_s is not None and not (0 < rate_per_s <= MAX_RATE_PER_S):
        raise ConfigError(f"a key's rate must be > 0 and at most {MAX_RATE_PER_S:,.0f} requests per second, "
                          f"got {rate_per_s:g}")
    key_id, secret = secrets.token_hex(6), secrets.token_urlsafe(32)
    payload: dict[str, Any] = {"key_id": key_id, "name": name, "role": role.name.lower(), "secret_hash": _hash(secret)}
    if rate_per_s is not None:
        payload["rate_per_s"] = float(rate_per_s)
    event = Event(EventType.KEY_CREATED, principal, f"API key {name!r} created", payload)
    return f"rtk_{key_id}.{secret}", event


def revoke_event(key_id: str, principal: str) -> Event:
    return Event(EventType.KEY_REVOKED, principal, f"API key {key_id} revoked", {"key_id": key_id})


class KeyRing:
    """The keys as of the events applied so far."""

    def __init__(self) -> None:
        self.keys: dict[str, ApiKey] = {}
        self.last_sequence = 0

    def apply(self, event: Event) -> None:
        p = event.payload
        if event.type is EventType.KEY_CREATED:
            rate = p.get("rate_per_s")
            self.keys[p["key_id"]] = ApiKey(p["key_id"], p["name"], Role.parse(p["role"]), p["secret_hash"],
                                            event.timestamp, None, None if rate is None else float(rate))
        elif event.type is EventType.KEY_REVOKED and p["key_id"] in self.keys:
            k = self.keys[p["key_id"]]
            self.keys[k.key_id] = dataclasses.replace(k, revoked_at=event.timestamp)
        if event.sequence is not None:
            self.last_sequence = max(self.last_sequence, event.sequence)

    def verify(self, token: str | None) -> ApiKey | None:
        """The live key ``token`` belongs to, else None (unknown, malformed, wrong secret or revoked)."""
        m = TOKEN.match(token or "")
        if m is None:
            return None
        key = self.keys.get(m.group(1))
        candidate = _hash(m.group(2))
        expected = key.secret_hash if key else "0" * 64
        ok = hmac.compare_digest(candidate, expected)  # compared even for unknown ids: same timing
        return key if ok and key is not None and key.revoked_at is None else None

    def known(self, token: str | None) -> bool:
        """True when the token names a key id this ring has (used to decide whether to refresh)."""
        m = TOKEN.match(token or "")
        return bool(m and m.group(1) in self.keys)
