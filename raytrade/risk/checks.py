"""Pre-trade checks as entries: a protocol, a named registry and a typed config list.

Every limit the engine applies to an order before it leaves is one class here, named by ``kind``
in the risk config (``configs/risk.yaml``)::

    checks:
      - {kind: symbol_weight, max: 0.05}
      - {kind: var, max: 0.02, horizon: 10d}

The seven built-in kinds are the product's standing limits and always run (their ``max`` also has
a field of its own in :class:`~raytrade.risk.limits.RiskLimits`, e.g. ``max_symbol_weight``, which a
list entry of the same kind sets): ``daily_loss``, ``order_rate``, ``limit_deviation``,
``order_notional``, ``symbol_weight``, ``sector_weight``, ``gross_leverage``. Four more read the
book's risk figures: ``var``, ``delta``, ``gamma``, ``vega``. A new limit is a frozen pydantic model
with a ``kind`` literal, a ``phase`` and ``decide(ctx)``, registered with :func:`register_check`.

Conventions: an order is valued at the symbol's mark (last price) x quantity x the instrument's
multiplier. Exposure is projected with the open orders: for every symbol, projected quantity =
position + signed remaining quantity of its open orders, plus this order on its own symbol. An order
is *risk-increasing* when it makes its symbol's projected |quantity| larger. Weights, leverage and
the figures are fractions of current equity (0.05 = 5 %).

Phases, run in this order (config order within a phase): ``order`` checks see every order;
``priced`` ones every order with a market price (an order without one is refused
``NO_MARKET_PRICE`` first); ``adds_risk`` ones only risk-increasing orders, so a position can always
be reduced. Figure checks never compute a figure on the order path: they read the figures the engine
last computed (:mod:`raytrade.risk.live`) and refuse, failing closed, when those are missing, older
than ``figures_max_age_s`` or could not be computed. Figures: VaR (positive loss, 99 %, ``horizon``
1d or 10d), |dollar delta| / equity, |dollar gamma| / equity (the P&L of a 1.00 relative move
squared, halved), |vega| / equity (per 1.00 of volatility).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from functools import cached_property
from typing import TYPE_CHECKING, Any, ClassVar, Literal, Protocol, TypeVar, runtime_checkable

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from raytrade.core.enums import RejectReason
from raytrade.core.orders import Order
from raytrade.core.portfolio import Portfolio
from raytrade.risk.decision import OK, RiskDecision

if TYPE_CHECKING:
    from raytrade.risk.pretrade import PreTradeRisk

EPS = 1e-9
Phase = Literal["order", "priced", "adds_risk"]
PHASES: tuple[Phase, ...] = ("order", "priced", "adds_risk")


class CheckContext:
    """What a check sees of one order: the order, the book, the open orders' quantities, the time,
    the instrument's multiplier, the projection and the risk state (halt, rate window, figures)."""

    def __init__(self, risk: PreTradeRisk, order: Order, book: Portfolio, open_quantities: Mapping[str, float],
                 now: datetime, multiplier: float = 1.0) -> None:
        self.risk, self.order, self.book, self.open_quantities = risk, order, book, open_quantities
        self.now, self.multiplier = now, multiplier
        self.before = book.quantity(order.symbol) + open_quantities.get(order.symbol, 0.0)
        self.after = self.before + order.signed_quantity
        self.increasing = abs(self.after) > abs(self.before) + EPS
        self.mark = book.price(order.symbol)

    @property
    def equity(self) -> float:
        return self.book.equity

    @cached_property
    def values(self) -> dict[str, float]:
        """Projected |value| per symbol (currency): this order's symbol at its quantity after the order."""
        book, oq, sym = self.book, self.open_quantities, self.order.symbol
        out: dict[str, float] = {}
        for s in set(book.positions) | set(oq) | {sym}:
            if s == sym:
                out[s] = abs(self.after) * (self.mark or 0.0) * self.multiplier
            else:
                out[s] = abs(book.quantity(s) + oq.get(s, 0.0)) * (book.price(s) or 0.0) * book.multipliers.get(s, 1.0)
        return out

    @cached_property
    def figures_decision(self) -> RiskDecision:
        """Refusal when the book's last risk figures are missing or stale, else OK (asked once)."""
        f, max_age = self.risk.figures, self.risk.limits.figures_max_age_s
        age = (self.risk.wall() - f.computed_at).total_seconds() if f is not None else None
        if age is None or age > max_age:
            said = "not computed yet" if age is None else f"{age:,.0f} s old"
            return RiskDecision.reject(RejectReason.RISK_FIGURES_STALE, f"the book's risk figures are {said} (max "
                                       f"{max_age:g} s): orders that add risk wait for fresh ones",
                                       limit=max_age, **({"age_s": age} if age is not None else {}))
        return OK


@runtime_checkable
class PreTradeCheck(Protocol):
    """One pre-trade limit: ``kind`` names it in configs, ``phase`` says which orders it sees,
    ``decide`` accepts or refuses (it may change the risk state, as the daily-loss halt does)."""

    kind: Any
    phase: ClassVar[Phase]

    def decide(self, ctx: CheckContext) -> RiskDecision: ...


class CheckBase(BaseModel):
    """Base of the built-in checks: frozen, no unknown keys, finite numbers."""

    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)
    phase: ClassVar[Phase] = "adds_risk"


PRETRADE_CHECKS: dict[str, type[BaseModel]] = {}
C = TypeVar("C", bound=type[BaseModel])


def register_check(cls: C) -> C:
    """Register a check class under its ``kind`` (the default of its ``kind`` field)."""
    field = dict(getattr(cls, "model_fields", {})).get("kind")
    kind = field.default if field is not None else None
    if not isinstance(kind, str) or not kind:
        raise TypeError(f"{cls.__name__}: a check needs a field kind: Literal['name'] = 'name'")
    if getattr(cls, "phase", None) not in PHASES or not callable(getattr(cls, "decide", None)):
        raise TypeError(f"{cls.__name__}: a check needs phase in {PHASES} and a decide(ctx) method")
    if PRETRADE_CHECKS.get(kind, cls) is not cls:
        raise ValueError(f"a check named {kind!r} is already registered ({PRETRADE_CHECKS[kind].__name__})")
    PRETRADE_CHECKS[kind] = cls
    return cls


def check_from_config(item: Any) -> BaseModel:
    """One entry of ``checks`` (a mapping with ``kind``, or a check) as a check, or a one-line error."""
    if isinstance(item, BaseModel) and type(item) in PRETRADE_CHECKS.values():
        return item
    if not isinstance(item, Mapping):
        raise ValueError(f"a check is a mapping like {{kind: var, max: 0.02}}, not {type(item).__name__}")
    kind = item.get("kind")
    cls = PRETRADE_CHECKS.get(kind) if isinstance(kind, str) else None
    if cls is None:
        raise ValueError(f"unknown check kind {kind!r}; known: {', '.join(sorted(PRETRADE_CHECKS))}")
    try:
        return cls.model_validate(item)
    except ValidationError as exc:
        said = "; ".join(f"{'.'.join(str(x) for x in e['loc']) or kind}: {e['msg']}" for e in exc.errors())
        raise ValueError(f"{kind}: {said}") from None


# ---------------------------------------------------------------- the seven standing limits


@register_check
class DailyLossCheck(CheckBase):
    """Loss since the day's start / its starting equity. Reaching ``max`` halts the engine: orders
    that add risk are refused until an admin resumes (after a resume, a further ``max`` trips it)."""

    kind: Literal["daily_loss"] = "daily_loss"
    phase: ClassVar[Phase] = "order"
    max: float = Field(gt=0, le=1)

    def decide(self, ctx: CheckContext) -> RiskDecision:
        r = ctx.risk
        loss = r.daily_loss(ctx.book)
        accepted = r.accepted_loss(ctx.book)
        if not r.halted and loss >= accepted + self.max:
            r.halt(RejectReason.DAILY_LOSS_HALT, f"daily loss {loss:.2%} reached the limit {self.max:.2%}; "
                   "trading halted until an admin resumes")
            if ctx.increasing:
                return RiskDecision.reject(RejectReason.DAILY_LOSS_HALT, f"{r.halt_detail}; only orders that reduce "
                                           "a position are accepted", daily_loss=loss, limit=self.max)
        return OK


@register_check
class OrderRateCheck(CheckBase):
    """Accepted orders in any one-second window (the order itself included)."""

    kind: Literal["order_rate"] = "order_rate"
    phase: ClassVar[Phase] = "order"
    max: float = Field(gt=0)

    def decide(self, ctx: CheckContext) -> RiskDecision:
        n = ctx.risk.orders_in_last_second(ctx.now) + 1
        if n > self.max:
            return RiskDecision.reject(RejectReason.ORDER_RATE, f"more than {self.max:g} orders in one second",
                                       orders=n, limit=self.max)
        return OK


@register_check
class LimitDeviationCheck(CheckBase):
    """|limit price / mark - 1| of a limit order (a fat-finger collar)."""

    kind: Literal["limit_deviation"] = "limit_deviation"
    phase: ClassVar[Phase] = "priced"
    max: float = Field(gt=0, le=10)

    def decide(self, ctx: CheckContext) -> RiskDecision:
        limit, mark = ctx.order.limit_price, ctx.mark
        if limit is None or mark is None:
            return OK
        dev = abs(limit / mark - 1.0)
        if dev > self.max:
            return RiskDecision.reject(RejectReason.LIMIT_FAR_FROM_MARKET,
                                       f"limit {limit:g} is {dev:.1%} from the market {mark:g} (max {self.max:.0%})",
                                       limit_price=limit, market=mark, deviation=dev, limit=self.max)
        return OK


@register_check
class OrderNotionalCheck(CheckBase):
    """Quantity x mark x multiplier of one order, account currency."""

    kind: Literal["order_notional"] = "order_notional"
    phase: ClassVar[Phase] = "priced"
    max: float = Field(gt=0)

    def decide(self, ctx: CheckContext) -> RiskDecision:
        notional = ctx.order.quantity * (ctx.mark or 0.0) * ctx.multiplier
        if notional > self.max:
            return RiskDecision.reject(RejectReason.ORDER_NOTIONAL, f"order notional {notional:,.2f} above the "
                                       f"limit {self.max:,.2f}", notional=notional, limit=self.max)
        return OK


@register_check
class SymbolWeightCheck(CheckBase):
    """|projected position value| / equity of the order's symbol."""

    kind: Literal["symbol_weight"] = "symbol_weight"
    max: float = Field(gt=0, le=10)

    def decide(self, ctx: CheckContext) -> RiskDecision:
        sym = ctx.order.symbol
        w = ctx.values[sym] / ctx.equity
        if w > self.max + EPS:
            return RiskDecision.reject(RejectReason.SYMBOL_LIMIT, f"{sym} would be {w:.2%} of equity "
                                       f"(max {self.max:.2%})", weight=w, limit=self.max)
        return OK


@register_check
class SectorWeightCheck(CheckBase):
    """Sum of |projected position value| / equity over the order's sector (symbols without a
    sector are not checked)."""

    kind: Literal["sector_weight"] = "sector_weight"
    max: float = Field(gt=0, le=10)

    def decide(self, ctx: CheckContext) -> RiskDecision:
        sectors = ctx.risk.sectors
        sector = sectors.get(ctx.order.symbol)
        if not sector:
            return OK
        sw = sum(v for s, v in ctx.values.items() if sectors.get(s) == sector) / ctx.equity
        if sw > self.max + EPS:
            return RiskDecision.reject(RejectReason.SECTOR_LIMIT, f"sector {sector} would be {sw:.2%} of equity "
                                       f"(max {self.max:.2%})", weight=sw, limit=self.max)
        return OK


@register_check
class GrossLeverageCheck(CheckBase):
    """Sum of |projected position value| / equity over the book, shorts included."""

    kind: Literal["gross_leverage"] = "gross_leverage"
    max: float = Field(gt=0, le=100)

    def decide(self, ctx: CheckContext) -> RiskDecision:
        gross = sum(ctx.values.values()) / ctx.equity
        if gross > self.max + EPS:
            return RiskDecision.reject(RejectReason.GROSS_LEVERAGE, f"gross leverage would be {gross:.2f}x "
                                       f"(max {self.max:.2f}x)", leverage=gross, limit=self.max)
        return OK


STANDING: dict[str, str] = {"daily_loss": "max_daily_loss", "order_rate": "max_orders_per_second",
                            "limit_deviation": "max_limit_deviation", "order_notional": "max_order_notional",
                            "symbol_weight": "max_symbol_weight", "sector_weight": "max_sector_weight",
                            "gross_leverage": "max_gross_leverage"}
"""The seven standing checks, in the order they run, by the RiskLimits field that holds their max."""


# ---------------------------------------------------------------- limits on the book's risk figures


class _FigureCheck(CheckBase):
    label: ClassVar[str] = ""
    max: float

    def _label(self) -> str:
        return self.label

    def _value(self, figures: Any) -> float | None:
        raise NotImplementedError

    def decide(self, ctx: CheckContext) -> RiskDecision:
        fresh = ctx.figures_decision
        if not fresh.ok:
            return fresh
        figures = ctx.risk.figures
        value = self._value(figures)
        if value is None:
            return RiskDecision.reject(RejectReason.RISK_FIGURE_LIMIT, f"{self._label()} is not known ("
                                       f"{figures.note or 'not computed'}): orders that add risk wait for it",
                                       limit=self.max)
        if value > self.max + 1e-12:
            return RiskDecision.reject(RejectReason.RISK_FIGURE_LIMIT, f"{self._label()} is {value:.2%} of equity "
                                       f"(max {self.max:.2%}): only orders that reduce a position are accepted",
                                       value=value, limit=self.max)
        return OK


def _of_equity(figures: Any, name: str) -> float | None:
    v = figures.greeks.get(name)
    return abs(v) / figures.equity if v is not None and figures.equity > 0 else None


@register_check
class VarCheck(_FigureCheck):
    kind: Literal["var"] = "var"
    max: float = Field(gt=0, le=1, description="99 % historical VaR over the horizon, a fraction of equity")
    horizon: Literal["1d", "10d"] = "1d"

    def _label(self) -> str:
        return f"the {self.horizon} 99% VaR"

    def _value(self, figures: Any) -> float | None:
        return figures.var_1d if self.horizon == "1d" else figures.var_10d


@register_check
class DeltaCheck(_FigureCheck):
    kind: Literal["delta"] = "delta"
    max: float = Field(gt=0, le=100, description="|dollar delta| / equity")
    label: ClassVar[str] = "the book's |dollar delta|"

    def _value(self, figures: Any) -> float | None:
        return _of_equity(figures, "dollar_delta")


@register_check
class GammaCheck(_FigureCheck):
    kind: Literal["gamma"] = "gamma"
    max: float = Field(gt=0, le=1000, description="|dollar gamma| / equity")
    label: ClassVar[str] = "the book's |dollar gamma|"

    def _value(self, figures: Any) -> float | None:
        return _of_equity(figures, "dollar_gamma")


@register_check
class VegaCheck(_FigureCheck):
    kind: Literal["vega"] = "vega"
    max: float = Field(gt=0, le=100, description="|vega| / equity, per 1.00 of volatility")
    label: ClassVar[str] = "the book's |vega|"

    def _value(self, figures: Any) -> float | None:
        return _of_equity(figures, "vega")


FIGURE_CHECKS: dict[str, type[BaseModel]] = {k: PRETRADE_CHECKS[k] for k in ("var", "delta", "gamma", "vega")}


def ordered(checks: list[Any]) -> tuple[Any, ...]:
    """``checks`` stably sorted by phase (order, priced, adds_risk)."""
    return tuple(sorted(checks, key=lambda c: PHASES.index(c.phase)))

