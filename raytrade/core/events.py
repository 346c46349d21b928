"""Events of the append-only log (the event store and audit trail build on this record)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields
from datetime import datetime
from typing import TYPE_CHECKING, Any

from raytrade.core import checks
from raytrade.core.clock import ensure_utc, utc_now
from raytrade.core.enums import EventType
from raytrade.core.errors import DomainError

if TYPE_CHECKING:
    from raytrade.core.payloads import Payload


@dataclass(frozen=True, slots=True)
class Event:
    """A state change: who (``principal``) did what (``type``, ``payload``) and why (``reason``).

    ``sequence`` is assigned by the store on append (None before); ``payload`` must be JSON-like
    (str, int, float, bool, None, lists and str-keyed dicts of those). No text of an event may
    hold a NUL character (PostgreSQL's text type refuses it: such an event could never be stored).
    """

    type: EventType
    principal: str
    reason: str
    payload: dict[str, Any] = field(default_factory=dict)
    timestamp: datetime = field(default_factory=utc_now)
    sequence: int | None = None
    # The payload's typed value when whoever made the event had it (the trading core does), so
    # :attr:`data` need not parse it again; never part of equality, hashing or the stored record.
    typed: Payload | None = field(default=None, compare=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "type", checks.member(EventType, self.type, "event type"))
        checks.identifier(self.principal, "principal")
        if not isinstance(self.reason, str):
            raise DomainError(f"reason must be a string, got {type(self.reason).__name__}")
        if "\x00" in self.reason or "\x00" in self.principal:
            raise DomainError("principal and reason must not contain NUL characters")
        object.__setattr__(self, "timestamp", ensure_utc(self.timestamp))
        if self.sequence is not None and (not isinstance(self.sequence, int) or self.sequence < 1):
            raise DomainError(f"sequence must be a positive integer, got {self.sequence!r}")
        if not _json_like(self.payload):
            _check_json_like(self.payload, "payload")

    @property
    def data(self) -> Payload:
        """The payload as its type's schema (:mod:`raytrade.core.payloads`): ``typed`` when the
        event was made with it, else parsed (on each call)."""
        if self.typed is not None:
            return self.typed
        from raytrade.core.payloads import parse

        return parse(self.type, self.payload)

    def numbered(self, sequence: int) -> Event:
        """This event as the store numbered it: a copy with ``sequence`` set, without validating
        again what this event's construction already validated."""
        if not isinstance(sequence, int) or sequence < 1:
            raise DomainError(f"sequence must be a positive integer, got {sequence!r}")
        out = object.__new__(Event)
        for name in _COPIED:
            object.__setattr__(out, name, getattr(self, name))
        object.__setattr__(out, "sequence", sequence)
        return out


_COPIED = tuple(f.name for f in fields(Event) if f.name != "sequence")  # what numbered() takes over


def _json_like(value: Any) -> bool:
    """Whether ``value`` is JSON-like (the fast test; :func:`_check_json_like` says where not).
    Written as loops with the common types first: every event's payload passes here."""
    t = type(value)
    if t is dict:
        for k, v in value.items():
            if type(k) is not str or "\x00" in k:
                return False
            tv = type(v)
            if tv is float:
                if v - v != 0.0:  # NaN or an infinity
                    return False
            elif tv is str:
                if "\x00" in v:
                    return False
            elif not (tv is int or tv is bool or v is None or _json_like(v)):
                return False
        return True
    if t is str:
        return "\x00" not in value
    if t is int or t is bool or value is None:
        return True
    if t is float:
        return math.isfinite(value)
    if t is list or t is tuple:
        return all(_json_like(v) for v in value)
    return False


def _check_json_like(value: Any, path: str) -> None:
    """Raise naming the first place in ``value`` that is not JSON-like (subclasses of the JSON
    types are accepted here, which the fast test leaves to this one)."""
    if isinstance(value, str):
        if "\x00" in value:
            raise DomainError(f"{path} holds a NUL character")
        return
    if value is None or isinstance(value, bool | int):
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
            if not isinstance(k, str) or "\x00" in k:
                raise DomainError(f"{path} keys must be strings without NUL characters, got {k!r}")
            _check_json_like(v, f"{path}.{k}")
        return
    raise DomainError(f"{path} holds a {type(value).__name__}, which is not JSON-like")
