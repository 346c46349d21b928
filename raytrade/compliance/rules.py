"""Compliance rules (``configs/compliance.yaml``): one class per rule, a named registry, and the
checker that applies them.

Standing rules (their settings are fields of :class:`ComplianceRules`), in the order they run:

- ``restricted_list``: an order in a restricted symbol is rejected (critical);
- ``market_hours``: an order for an instrument whose market is closed (nights, weekends,
  holidays, after a half day's early close) is rejected (critical violation);
- ``wash_sale_lock``: after a sale at a loss by the tax-loss harvester (orders tagged with the
  strategy ``harvest_strategy``), a buy of the same security within ``harvest_lock_days`` days is
  rejected (critical, ``WASH_SALE_LOCK``): the harvested loss must not be washed;
- ``wash_sale`` (IRS Publication 550), both directions, read from the account's tax-lot ledger
  (:class:`raytrade.analytics.tax.LotLedger`, fed every fill, the one record of lots): a buy
  that would wash a loss sold in the ``wash_sale_days`` days before it (the part of that loss
  not yet washed), and a sale at a loss (at the order's limit price, else the mark) while shares
  bought in the 30 days before it are held, are accepted and flagged (warning) with the loss at
  stake.

More rules go in the ``rules`` list by kind, e.g. ``short_sale`` (Regulation SHO's locate: a sale
that opens or adds to a short position in a symbol not on the ``easy_to_borrow`` list is rejected,
``SHORT_SALE_NOT_LOCATED``). A new rule is a frozen pydantic model with a ``kind`` literal and
``check(ctx) -> Violation | None``, registered with :func:`register_rule`. The first rejection ends
the check; flags from every rule are kept.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Annotated, Any, Literal, Protocol, TypeVar, runtime_checkable

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, ValidationError

from raytrade.analytics.tax import LotLedger
from raytrade.compliance.calendar import is_market_open
from raytrade.core.enums import RejectReason, Severity, Side
from raytrade.core.instruments import Instrument
from raytrade.core.orders import Fill, Order

EPS = 1e-9


@dataclass(frozen=True, slots=True)
class RuleContext:
    """What a rule sees of one order: the order, its instrument, the time, the symbol's last price
    (None when unknown), the symbol's projected position before the order (position + open
    orders, signed shares) and the checker's state (the lot ledger and the harvest locks)."""

    order: Order
    instrument: Instrument
    now: datetime
    mark: float | None
    position: float
    checker: ComplianceChecker


@runtime_checkable
class ComplianceRule(Protocol):
    """One compliance rule: ``kind`` names it; ``check`` returns the violation it finds (its
    ``code`` set when the order is rejected) or None."""

    kind: Any

    def check(self, ctx: RuleContext) -> Violation | None: ...


Symbols = Annotated[frozenset[str], AfterValidator(lambda symbols: frozenset(s.upper() for s in symbols))]
"""A set of symbols, upper-cased once when the config is read."""


class RuleBase(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


COMPLIANCE_RULES: dict[str, type[BaseModel]] = {}
R = TypeVar("R", bound=type[BaseModel])


def register_rule(cls: R) -> R:
    """Register a rule class under its ``kind`` (the default of its ``kind`` field)."""
    field_ = dict(getattr(cls, "model_fields", {})).get("kind")
    kind = field_.default if field_ is not None else None
    if not isinstance(kind, str) or not kind or not callable(getattr(cls, "check", None)):
        raise TypeError(f"{cls.__name__}: a rule needs a field kind: Literal['name'] = 'name' and check(ctx)")
    if COMPLIANCE_RULES.get(kind, cls) is not cls:
        raise ValueError(f"a rule named {kind!r} is already registered ({COMPLIANCE_RULES[kind].__name__})")
    COMPLIANCE_RULES[kind] = cls
    return cls


def _violation(ctx: RuleContext, rule: str, detail: str, code: RejectReason | None = None) -> Violation:
    if code is None:
        return Violation(rule, Severity.WARNING, "flagged", ctx.order.symbol, ctx.order.client_order_id, detail,
                         ctx.now)
    return Violation(rule, Severity.CRITICAL, "rejected", ctx.order.symbol, ctx.order.client_order_id, detail,
                     ctx.now, code)


@register_rule
class RestrictedListRule(RuleBase):
    kind: Literal["restricted_list"] = "restricted_list"
    symbols: Symbols = frozenset()

    def check(self, ctx: RuleContext) -> Violation | None:
        if ctx.order.symbol.upper() in self.symbols:
            return _violation(ctx, self.kind, f"{ctx.order.symbol} is on the restricted list",
                              RejectReason.RESTRICTED_SYMBOL)
        return None


@register_rule
class MarketHoursRule(RuleBase):
    kind: Literal["market_hours"] = "market_hours"

    def check(self, ctx: RuleContext) -> Violation | None:
        if not is_market_open(ctx.instrument, ctx.now):
            return _violation(ctx, self.kind, f"{ctx.instrument.venue} is closed at {ctx.now.isoformat()}",
                              RejectReason.MARKET_CLOSED)
        return None


@register_rule
class WashSaleLockRule(RuleBase):
    kind: Literal["wash_sale_lock"] = "wash_sale_lock"

    def check(self, ctx: RuleContext) -> Violation | None:
        lock = ctx.checker.locks.get(ctx.order.symbol)
        if ctx.order.side is Side.BUY and lock is not None and ctx.now < lock:
            return _violation(ctx, self.kind, f"{ctx.order.symbol} was sold at a loss by the tax-loss harvester; "
                              f"buying it back before {lock.isoformat()} would wash the loss",
                              RejectReason.WASH_SALE_LOCK)
        return None


@register_rule
class WashSaleRule(RuleBase):
    kind: Literal["wash_sale"] = "wash_sale"
    days: int = Field(30, ge=1, le=30)

    def check(self, ctx: RuleContext) -> Violation | None:
        order, now, ledger = ctx.order, ctx.now, ctx.checker.ledger
        if order.side is Side.BUY:
            pending = [p for p in ledger.pending_losses(order.symbol, now) if now - p[0] <= timedelta(days=self.days)]
            if not pending:
                return None
            at_stake = sum(min(q, order.quantity) * per for _, q, per in pending)
            return _violation(ctx, self.kind, f"buy of {order.symbol} within {self.days} days of a sale at a loss "
                              f"({pending[0][0].date().isoformat()}): wash sale, up to {at_stake:,.2f} of the loss "
                              "disallowed and added to the new shares' basis")
        price = order.limit_price if order.limit_price is not None else ctx.mark
        if price is None:
            return None
        # the ledger's prices are per unit of quantity: an option contract's is premium x multiplier
        loss, disallowed = ledger.wash_preview(order.symbol, order.quantity, price * ctx.instrument.multiplier, now)
        if disallowed > 0:
            return _violation(ctx, self.kind, f"sale of {order.symbol} at a loss of {loss:,.2f} within 30 days after "
                              f"a purchase: wash sale, {disallowed:,.2f} of the loss disallowed")
        return None


@register_rule
class ShortSaleRule(RuleBase):
    """Regulation SHO's locate requirement, simplified: a sale that opens or adds to a short
    position is rejected unless the symbol is on ``easy_to_borrow`` (a sale that only reduces a
    long position is not a short sale)."""

    kind: Literal["short_sale"] = "short_sale"
    easy_to_borrow: Symbols = frozenset()

    def check(self, ctx: RuleContext) -> Violation | None:
        order = ctx.order
        if order.side is Side.BUY or ctx.position - order.quantity >= -EPS:
            return None
        if order.symbol.upper() in self.easy_to_borrow:
            return None
        short = order.quantity - max(ctx.position, 0.0)
        return _violation(ctx, self.kind, f"sale of {order.quantity:g} {order.symbol} would sell {short:g} short and "
                          f"{order.symbol} is not on the easy-to-borrow list (no locate)",
                          RejectReason.SHORT_SALE_NOT_LOCATED)


STANDING_RULES = ("restricted_list", "market_hours", "wash_sale_lock", "wash_sale")


def rule_from_config(item: Any) -> BaseModel:
    """One entry of ``rules`` (a mapping with ``kind``, or a rule) as a rule, or a one-line error."""
    if isinstance(item, BaseModel) and type(item) in COMPLIANCE_RULES.values():
        kind = item.kind  # type: ignore[attr-defined]
    elif isinstance(item, Mapping):
        kind = item.get("kind")
    else:
        raise ValueError(f"a rule is a mapping like {{kind: short_sale}}, not {type(item).__name__}")
    if kind in STANDING_RULES:
        raise ValueError(f"{kind} is a standing rule: set it with the fields enforce_market_hours, restricted, "
                         "wash_sale_days, harvest_strategy and harvest_lock_days")
    cls = COMPLIANCE_RULES.get(kind) if isinstance(kind, str) else None
    if cls is None:
        raise ValueError(f"unknown rule kind {kind!r}; known: {', '.join(sorted(COMPLIANCE_RULES))}")
    if isinstance(item, BaseModel):
        return item
    try:
        return cls.model_validate(item)
    except ValidationError as exc:
        said = "; ".join(f"{'.'.join(str(x) for x in e['loc']) or kind}: {e['msg']}" for e in exc.errors())
        raise ValueError(f"{kind}: {said}") from None


class ComplianceRules(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    enforce_market_hours: bool = True
    restricted: tuple[str, ...] = ()
    wash_sale_days: int = Field(30, ge=0, le=30)  # flag window; the IRS window is 30 days, 0 turns the flag off
    lot_method: Literal["fifo", "lifo", "hifo"] = "fifo"  # how sales pick the lots they close
    harvest_strategy: str = Field("tax_harvest", min_length=1, max_length=64)
    harvest_lock_days: int = Field(31, ge=0, le=366)  # 0: no lock
    rules: tuple[Annotated[Any, BeforeValidator(rule_from_config)], ...] = Field(
        (), description="more rules by kind (raytrade.compliance.rules), e.g. [{kind: short_sale, "
                        "easy_to_borrow: [AAPL]}]")

    def active_rules(self) -> tuple[Any, ...]:
        """Every rule these settings apply, in the order they run: the standing ones, then ``rules``."""
        standing: list[Any] = [RestrictedListRule(symbols=frozenset(self.restricted))]
        if self.enforce_market_hours:
            standing.append(MarketHoursRule())
        if self.harvest_lock_days:
            standing.append(WashSaleLockRule())
        if self.wash_sale_days:
            standing.append(WashSaleRule(days=self.wash_sale_days))
        return (*standing, *self.rules)


def load_compliance_rules(path: str | Path) -> ComplianceRules:
    from raytrade.configfile import load_yaml

    return load_yaml(path, ComplianceRules)


@dataclass(frozen=True, slots=True)
class Violation:
    """A rule broken (or about to be): which, how serious, what was done about it."""

    rule: str
    severity: Severity
    action: str  # "rejected" or "flagged"
    symbol: str
    client_order_id: str
    detail: str
    at: datetime
    code: RejectReason | None = None   # the reject code of a rejection (not stored in events)

    def to_dict(self) -> dict[str, Any]:
        return {"rule": self.rule, "severity": self.severity.value, "action": self.action, "symbol": self.symbol,
                "client_order_id": self.client_order_id, "detail": self.detail, "at": self.at.isoformat()}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Violation:
        return cls(d["rule"], Severity(d["severity"]), d["action"], d["symbol"], d["client_order_id"], d["detail"],
                   datetime.fromisoformat(d["at"]))


@dataclass(frozen=True, slots=True)
class ComplianceDecision:
    ok: bool
    code: RejectReason | None = None
    detail: str = ""
    violations: tuple[Violation, ...] = field(default_factory=tuple)


class ComplianceChecker:
    """The rules plus the state they need: the account's lot ledger (long lots; short sales are
    left outside it) and the harvest locks (symbol -> end of the lock)."""

    def __init__(self, rules: ComplianceRules) -> None:
        self.rules = rules
        self.active = rules.active_rules()
        self.ledger = LotLedger(rules.lot_method, allow_short=True)
        self.locks: dict[str, datetime] = {}

    def check(self, order: Order, instrument: Instrument, now: datetime, mark: float | None = None,
              position: float = 0.0) -> ComplianceDecision:
        """The verdict on ``order`` at ``now`` by every rule in order; ``mark``: the symbol's last
        price (a sale without a limit price is valued at it for the wash-sale flag; without either
        the flag is skipped); ``position``: the symbol's position plus open orders (signed)."""
        ctx = RuleContext(order, instrument, now, mark, position, self)
        flags: list[Violation] = []
        for rule in self.active:
            v = rule.check(ctx)
            if v is None:
                continue
            if v.code is not None:
                return ComplianceDecision(False, v.code, v.detail, (*flags, v))
            flags.append(v)
        return ComplianceDecision(True, violations=tuple(flags))

    def on_fill(self, fill: Fill, strategy: str | None = None, multiplier: float = 1.0) -> None:
        """Take a fill into the ledger (in time order: a fill stamped before the last one is taken
        at the last one's time) at its price per unit of quantity (price x the instrument's
        ``multiplier``: an option contract's value); a harvester's loss sale locks the symbol."""
        last = self.ledger.last_time
        t = fill.timestamp if last is None or fill.timestamp >= last else last
        rows = self.ledger.add(t, fill.symbol, fill.side.value, fill.quantity, fill.price * multiplier,
                               fill.commission)
        if (strategy == self.rules.harvest_strategy and self.rules.harvest_lock_days
                and any(float(r["gain"]) < 0 for r in rows)):  # type: ignore[arg-type]
            self.locks[fill.symbol] = t + timedelta(days=self.rules.harvest_lock_days)
