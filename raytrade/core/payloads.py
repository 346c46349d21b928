"""Typed event payloads: one frozen schema per event type.

The log stores each event's payload as canonical JSON and the audit chain hashes that text, so a
schema never rewrites a payload: :func:`validate` checks one before it is appended (the stores call
it for every event), and :func:`parse` reads one back as its typed value. ``to_payload()`` of a
parsed value gives the stored dict back exactly (``tests/core/test_payloads.py`` holds every record
of a log written before the schemas existed to it), so typing changes no hash.

Rules, the same for every type: the keys are exactly the schema's (a missing one or an unknown one
is an error naming the event type and the key); optional keys (``None`` by default) may be absent
and are then left out again by ``to_payload``; numbers are finite; text is printable where it is
an identifier. Errors are :class:`~raytrade.core.errors.DomainError` naming the type and field.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any, ClassVar

from raytrade.core import checks
from raytrade.core.enums import EventType, RejectReason, Severity
from raytrade.core.errors import DomainError
from raytrade.core.orders import Fill, Order


def _keys(p: dict[str, Any], where: str, required: tuple[str, ...], optional: tuple[str, ...] = ()) -> None:
    if not isinstance(p, dict):
        raise DomainError(f"{where}: the payload must be an object, got {type(p).__name__}")
    missing = [k for k in required if k not in p]
    if missing:
        raise DomainError(f"{where}: the payload lacks {', '.join(missing)}")
    unknown = sorted(set(p) - set(required) - set(optional))
    if unknown:
        raise DomainError(f"{where}: unknown payload key(s) {', '.join(unknown)}")


def _text(p: dict[str, Any], key: str, where: str, *, ident: bool = False) -> str:
    v = p[key]
    if ident:
        return checks.identifier(v, f"{where}.{key}")
    if not isinstance(v, str):
        raise DomainError(f"{where}.{key} must be text, got {v!r}")
    return v


def _number(p: dict[str, Any], key: str, where: str) -> float:
    """A JSON number (not text, not a boolean), finite."""
    v = p[key]
    if isinstance(v, bool) or not isinstance(v, int | float):
        raise DomainError(f"{where}.{key} must be a number, got {v!r}")
    return checks.finite(v, f"{where}.{key}")


def _opt_number(p: dict[str, Any], key: str, where: str) -> float | None:
    return None if p.get(key) is None else _number(p, key, where)


def _nested(p: dict[str, Any], key: str, where: str, from_dict: Any) -> Any:
    """The payload's only key ``key``, an object read by ``from_dict`` (a missing field named)."""
    _keys(p, where, (key,))
    try:
        return from_dict(_object(p, key, where))
    except KeyError as exc:
        raise DomainError(f"{where}.{key} lacks {exc.args[0]}") from None


def _object(p: dict[str, Any], key: str, where: str) -> dict[str, Any]:
    v = p[key]
    if not isinstance(v, dict):
        raise DomainError(f"{where}.{key} must be an object, got {type(v).__name__}")
    return v


class Payload:
    """What every schema offers: ``TYPES`` it serves, ``parse`` and ``to_payload``."""

    TYPES: ClassVar[tuple[EventType, ...]] = ()

    @classmethod
    def parse(cls, p: dict[str, Any], where: str) -> Payload:
        raise NotImplementedError

    def to_payload(self) -> dict[str, Any]:
        raise NotImplementedError


@dataclass(frozen=True, slots=True)
class OrderAccepted(Payload):
    """``order_accepted`` (and ``order_submitted``: the order as sent to an external broker).
    ``parent``: the parent order a child order belongs to; ``exec``: a parent's execution
    algorithm ({name, params, urgency, start, end, and arrival: the symbol's mark when it was
    accepted, the benchmark of its cost analysis, absent when there was none}); both absent for a
    plain order."""

    TYPES = (EventType.ORDER_ACCEPTED, EventType.ORDER_SUBMITTED)
    order: Order
    parent: str | None = None
    exec: dict[str, Any] | None = None

    @classmethod
    def parse(cls, p: dict[str, Any], where: str) -> OrderAccepted:
        _keys(p, where, ("order",), ("parent", "exec"))
        try:
            order = Order.from_dict(_object(p, "order", where))
        except KeyError as exc:
            raise DomainError(f"{where}.order lacks {exc.args[0]}") from None
        parent = None if p.get("parent") is None else _text(p, "parent", where, ident=True)
        ex = None if p.get("exec") is None else _object(p, "exec", where)
        if ex is not None:
            _keys(ex, f"{where}.exec", ("name", "params", "urgency", "start", "end"), ("arrival",))
        return cls(order, parent, ex)

    def to_payload(self) -> dict[str, Any]:
        out: dict[str, Any] = {"order": self.order.to_dict()}
        if self.parent is not None:
            out["parent"] = self.parent
        if self.exec is not None:
            out["exec"] = self.exec
        return out


@dataclass(frozen=True, slots=True)
class OrderRejected(Payload):
    """``order_rejected``: ``request`` is the client's raw fields as logged (may be malformed)."""

    TYPES = (EventType.ORDER_REJECTED,)
    client_order_id: str
    request: dict[str, Any]
    code: RejectReason
    detail: str

    @classmethod
    def parse(cls, p: dict[str, Any], where: str) -> OrderRejected:
        _keys(p, where, ("client_order_id", "request", "code", "detail"))
        return cls(_text(p, "client_order_id", where), _object(p, "request", where),
                   checks.member(RejectReason, p["code"], f"{where}.code"), _text(p, "detail", where))

    def to_payload(self) -> dict[str, Any]:
        return {"client_order_id": self.client_order_id, "request": self.request, "code": self.code.value,
                "detail": self.detail}


@dataclass(frozen=True, slots=True)
class OrderRef(Payload):
    """An order's state change that carries nothing but the order: a cancel request, a cancel, an
    expiry, a replace request, a cancel or replace the broker refused (the why is the event's
    reason; ``symbol`` is absent in logs written before it was added)."""

    TYPES = (EventType.ORDER_CANCEL_REQUESTED, EventType.ORDER_CANCELLED, EventType.ORDER_EXPIRED,
             EventType.ORDER_REPLACE_REQUESTED, EventType.ORDER_CANCEL_REJECTED)
    client_order_id: str
    symbol: str | None = None

    @classmethod
    def parse(cls, p: dict[str, Any], where: str) -> OrderRef:
        _keys(p, where, ("client_order_id",), ("symbol",))
        return cls(checks.identifier(p["client_order_id"], f"{where}.client_order_id"),
                   None if p.get("symbol") is None else _text(p, "symbol", where, ident=True))

    def to_payload(self) -> dict[str, Any]:
        out: dict[str, Any] = {"client_order_id": self.client_order_id}
        if self.symbol is not None:
            out["symbol"] = self.symbol
        return out


@dataclass(frozen=True, slots=True)
class OrderReplaced(Payload):
    """``order_replaced``: the new quantity and/or limit price (None: unchanged)."""

    TYPES = (EventType.ORDER_REPLACED,)
    client_order_id: str
    symbol: str | None
    quantity: float | None
    limit_price: float | None

    @classmethod
    def parse(cls, p: dict[str, Any], where: str) -> OrderReplaced:
        _keys(p, where, ("client_order_id",), ("symbol", "quantity", "limit_price"))
        return cls(checks.identifier(p["client_order_id"], f"{where}.client_order_id"), p.get("symbol"),
                   _opt_number(p, "quantity", where), _opt_number(p, "limit_price", where))

    def to_payload(self) -> dict[str, Any]:
        out: dict[str, Any] = {"client_order_id": self.client_order_id}
        if self.symbol is not None:
            out["symbol"] = self.symbol
        return {**out, "quantity": self.quantity, "limit_price": self.limit_price}


@dataclass(frozen=True, slots=True)
class FillPayload(Payload):
    TYPES = (EventType.FILL,)
    fill: Fill

    @classmethod
    def parse(cls, p: dict[str, Any], where: str) -> FillPayload:
        return cls(_nested(p, "fill", where, Fill.from_dict))

    def to_payload(self) -> dict[str, Any]:
        return {"fill": self.fill.to_dict()}


@dataclass(frozen=True, slots=True)
class CashChanged(Payload):
    """``cash_changed``: ``amount`` in account currency, + deposit, - withdrawal."""

    TYPES = (EventType.CASH_CHANGED,)
    amount: float

    @classmethod
    def parse(cls, p: dict[str, Any], where: str) -> CashChanged:
        _keys(p, where, ("amount",))
        return cls(_number(p, "amount", where))

    def to_payload(self) -> dict[str, Any]:
        return {"amount": self.amount}


@dataclass(frozen=True, slots=True)
class ParameterChanged(Payload):
    """``parameter_changed``: which ``component`` (``risk``, ``strategy``...) and its new values
    (the payload's other keys, as the component defines them)."""

    TYPES = (EventType.PARAMETER_CHANGED,)
    component: str
    values: dict[str, Any]

    @classmethod
    def parse(cls, p: dict[str, Any], where: str) -> ParameterChanged:
        if not isinstance(p, dict) or "component" not in p:
            raise DomainError(f"{where}: the payload lacks component")
        return cls(_text(p, "component", where, ident=True), {k: v for k, v in p.items() if k != "component"})

    def to_payload(self) -> dict[str, Any]:
        return {"component": self.component, **self.values}


@dataclass(frozen=True, slots=True)
class ViolationPayload(Payload):
    """``violation``: a compliance rule's finding (``at`` ISO 8601)."""

    TYPES = (EventType.VIOLATION,)
    rule: str
    severity: Severity
    action: str
    symbol: str | None
    client_order_id: str | None
    detail: str
    at: str

    @classmethod
    def parse(cls, p: dict[str, Any], where: str) -> ViolationPayload:
        _keys(p, where, ("rule", "severity", "action", "symbol", "client_order_id", "detail", "at"))
        return cls(_text(p, "rule", where), checks.member(Severity, p["severity"], f"{where}.severity"),
                   _text(p, "action", where), p["symbol"], p["client_order_id"], _text(p, "detail", where),
                   _text(p, "at", where))

    def to_payload(self) -> dict[str, Any]:
        return {"rule": self.rule, "severity": self.severity.value, "action": self.action, "symbol": self.symbol,
                "client_order_id": self.client_order_id, "detail": self.detail, "at": self.at}


@dataclass(frozen=True, slots=True)
class StrategyChanged(Payload):
    """``strategy_started`` / ``strategy_stopped``; ``spec`` (optional) is what a strategy runner
    runs: name, parameters, symbols, sizing (see :mod:`raytrade.execution.runner`)."""

    TYPES = (EventType.STRATEGY_STARTED, EventType.STRATEGY_STOPPED)
    strategy: str
    spec: dict[str, Any] | None = None

    @classmethod
    def parse(cls, p: dict[str, Any], where: str) -> StrategyChanged:
        _keys(p, where, ("strategy",), ("spec",))
        return cls(_text(p, "strategy", where, ident=True), None if p.get("spec") is None else _object(p, "spec", where))

    def to_payload(self) -> dict[str, Any]:
        return {"strategy": self.strategy} if self.spec is None else {"strategy": self.strategy, "spec": self.spec}


@dataclass(frozen=True, slots=True)
class TradingHalted(Payload):
    TYPES = (EventType.TRADING_HALTED,)
    code: RejectReason
    detail: str

    @classmethod
    def parse(cls, p: dict[str, Any], where: str) -> TradingHalted:
        _keys(p, where, ("code", "detail"))
        return cls(checks.member(RejectReason, p["code"], f"{where}.code"), _text(p, "detail", where))

    def to_payload(self) -> dict[str, Any]:
        return {"code": self.code.value, "detail": self.detail}


@dataclass(frozen=True, slots=True)
class Empty(Payload):
    """Events that are their own news: trading resumed, engine started or stopped."""

    TYPES = (EventType.TRADING_RESUMED, EventType.ENGINE_STARTED, EventType.ENGINE_STOPPED)

    @classmethod
    def parse(cls, p: dict[str, Any], where: str) -> Empty:
        _keys(p, where, ())
        return cls()

    def to_payload(self) -> dict[str, Any]:
        return {}


@dataclass(frozen=True, slots=True)
class SessionStarted(Payload):
    """``session_started``: the session ``day`` (ISO date) and the marks it starts from (the
    previous close: the day's starting equity is valued at them)."""

    TYPES = (EventType.SESSION_STARTED,)
    day: str
    marks: dict[str, float]

    @classmethod
    def parse(cls, p: dict[str, Any], where: str) -> SessionStarted:
        _keys(p, where, ("day", "marks"))
        try:
            date.fromisoformat(p["day"])
        except (TypeError, ValueError):
            raise DomainError(f"{where}.day must be an ISO date, got {p['day']!r}") from None
        marks = _object(p, "marks", where)
        for s in marks:
            if checks.positive(_number(marks, s, f"{where}.marks"), f"{where}.marks.{s}") <= 0:
                raise DomainError(f"{where}.marks.{s} must be > 0")
        return cls(p["day"], marks)

    def to_payload(self) -> dict[str, Any]:
        return {"day": self.day, "marks": self.marks}


@dataclass(frozen=True, slots=True)
class KeyCreated(Payload):
    TYPES = (EventType.KEY_CREATED,)
    key_id: str
    name: str
    role: str
    secret_hash: str
    rate_per_s: float | None = None   # the key's own request rate (None: the deployment's)

    @classmethod
    def parse(cls, p: dict[str, Any], where: str) -> KeyCreated:
        _keys(p, where, ("key_id", "name", "role", "secret_hash"), ("rate_per_s",))
        rate = _opt_number(p, "rate_per_s", where)
        if rate is not None and rate <= 0:
            raise DomainError(f"{where}.rate_per_s must be > 0, got {rate!r}")
        return cls(_text(p, "key_id", where), _text(p, "name", where), _text(p, "role", where),
                   _text(p, "secret_hash", where), rate)

    def to_payload(self) -> dict[str, Any]:
        out: dict[str, Any] = {"key_id": self.key_id, "name": self.name, "role": self.role,
                               "secret_hash": self.secret_hash}
        if self.rate_per_s is not None:  # absent, not null: the records written before it hash the same
            out["rate_per_s"] = self.rate_per_s
        return out


@dataclass(frozen=True, slots=True)
class KeyRevoked(Payload):
    TYPES = (EventType.KEY_REVOKED,)
    key_id: str

    @classmethod
    def parse(cls, p: dict[str, Any], where: str) -> KeyRevoked:
        _keys(p, where, ("key_id",))
        return cls(_text(p, "key_id", where))

    def to_payload(self) -> dict[str, Any]:
        return {"key_id": self.key_id}


@dataclass(frozen=True, slots=True)
class BrokerDifference(Payload):
    """``position_changed`` (and ``broker_reconciled``): what reconciliation with the broker found
    at start. ``kind``: ``position``, ``cash`` or ``open_order``; ``log`` and ``broker`` the two
    values (a quantity, an amount, or 0/1 for an order's presence); ``symbol`` and
    ``client_order_id`` where they apply."""

    TYPES = (EventType.POSITION_CHANGED, EventType.BROKER_RECONCILED)
    kind: str
    log: float
    broker: float
    symbol: str | None = None
    client_order_id: str | None = None

    @classmethod
    def parse(cls, p: dict[str, Any], where: str) -> BrokerDifference:
        _keys(p, where, ("kind", "log", "broker"), ("symbol", "client_order_id"))
        kind = _text(p, "kind", where)
        if kind not in ("position", "cash", "open_order", "none"):
            raise DomainError(f"{where}.kind must be position, cash, open_order or none, got {kind!r}")
        return cls(kind, _number(p, "log", where), _number(p, "broker", where),
                   p.get("symbol"), p.get("client_order_id"))

    def to_payload(self) -> dict[str, Any]:
        out: dict[str, Any] = {"kind": self.kind, "log": self.log, "broker": self.broker}
        if self.symbol is not None:
            out["symbol"] = self.symbol
        if self.client_order_id is not None:
            out["client_order_id"] = self.client_order_id
        return out


SCHEMAS: dict[EventType, type[Payload]] = {
    t: cls for cls in (OrderAccepted, OrderRejected, OrderRef, OrderReplaced, FillPayload, CashChanged,
                       ParameterChanged, ViolationPayload, StrategyChanged, TradingHalted, Empty, SessionStarted,
                       KeyCreated, KeyRevoked, BrokerDifference)
    for t in cls.TYPES
}
_missing = [t.value for t in EventType if t not in SCHEMAS]
assert not _missing, f"event types without a payload schema: {_missing}"


def parse(type_: EventType, payload: dict[str, Any]) -> Payload:
    """``payload`` of an event of ``type_`` as its typed value (DomainError naming the type and
    field when it does not follow the schema)."""
    where = f"{type_.value} payload"
    try:
        return SCHEMAS[type_].parse(payload, where)
    except (TypeError, AttributeError) as exc:
        raise DomainError(f"{where}: {exc}") from None


def validate(type_: EventType, payload: dict[str, Any]) -> None:
    """Raise DomainError unless ``payload`` follows ``type_``'s schema and reads back unchanged."""
    where = f"{type_.value} payload"
    diff = _diff(parse(type_, payload).to_payload(), payload, where)
    if diff is not None:
        raise DomainError(f"{diff} does not read back as written (a value of the wrong type?)")


def _diff(a: Any, b: Any, path: str) -> str | None:
    """The first place where ``a`` and ``b`` differ as the log's JSON would (1 and 1.0 alike), or None."""
    if isinstance(a, dict) and isinstance(b, dict):
        if a.keys() != b.keys():
            return path
        return next((d for k in a if (d := _diff(a[k], b[k], f"{path}.{k}")) is not None), None)
    if isinstance(a, list | tuple) and isinstance(b, list | tuple):
        if len(a) != len(b):
            return path
        return next((d for i, (x, y) in enumerate(zip(a, b, strict=True))
                     if (d := _diff(x, y, f"{path}[{i}]")) is not None), None)
    if type(a) is bool or type(b) is bool:
        return None if type(a) is type(b) and a == b else path
    return None if a == b else path
