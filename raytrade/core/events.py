"""Events of the append-only log (the event store and audit trail build on this record)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from raytrade.core import checks
from raytrade.core.clock import ensure_utc, utc_now
from raytrade.core.enums import EventType
from raytrade.core.errors import DomainError


@dataclass(frozen=True, slots=True)
class Event:
    """A state change: who (``principal``) did what (``type``, ``payload``) and why (``reason``).

    ``sequence`` is assigned by the store on append (None before); ``payload`` must be JSON-like
    (str, int, float, bool, None, lists and str-keyed dicts of those).
    """

    type: EventType
    principal: str
    reason: str
    payload: dict[str, Any] = field(default_factory=dict)
    timestamp: datetime = field(default_factory=utc_now)
    sequence: int | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "type", checks.member(EventType, self.type, "event type"))
        checks.identifier(self.principal, "principal")
        if not isinstance(self.reason, str):
            raise DomainError(f"reason must be a string, got {type(self.reason).__name__}")
        object.__setattr__(self, "timestamp", ensure_utc(self.timestamp))
        if self.sequence is not None and (not isinstance(self.sequence, int) or self.sequence < 1):
            raise DomainError(f"sequence must be a positive integer, got {self.sequence!r}")
        _check_json_like(self.payload, "payload")


def _check_json_like(value: Any, path: str) -> None:
    if value is None or isinstance(value, str | bool | int):
        return
    if isinstance(value, float):
        checks.finite(value, path)
        return
    if isinstance(value, list | tuple):
        for i, v in enumerate(value):
            _check_json_like(v, f"{path}[{i}]")
        return
    if isinstance(value, dict):
        for k, v in value.items():
            if not isinstance(k, str):
                raise DomainError(f"{path} keys must be strings, got {k!r}")
            _check_json_like(v, f"{path}.{k}")
        return
    raise DomainError(f"{path} holds a {type(value).__name__}, which is not JSON-like")
