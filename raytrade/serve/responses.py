"""Typed response bodies of the REST API: every route declares one, so ``/openapi.json``
documents what comes back and schemathesis checks it.

Units as in the engine: money in the account currency, quantities signed (positive long),
weights and leverage as fractions or multiples of equity, times ISO 8601 UTC. Models whose
payload comes from an extensible part of the engine (a strategy runner's status, an order that
echoes its request) allow extra keys; the documented ones are always present unless marked
optional.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from raytrade.risk.limits import RiskLimits


class _Open(BaseModel):
    model_config = ConfigDict(extra="allow")


class Health(BaseModel):
    status: Literal["ok"]


class Probe(BaseModel):
    ok: bool
    latency_ms: float | None = Field(None, description="round trip, milliseconds (when ok)")
    error: str | None = Field(None, description="what failed (when not ok)")


class Readiness(BaseModel):
    status: Literal["ready", "degraded", "not_ready"]
    checks: dict[str, Probe] = Field(description="store, redis (when configured), orders, portfolio, risk, "
                                                 "compliance, broker")


class BookSummary(BaseModel):
    cash: float
    equity: float
    gross_exposure: float
    net_exposure: float
    gross_leverage: float | None = Field(description="gross exposure / equity; null when equity <= 0")
    net_leverage: float | None
    realized_pnl: float
    unrealized_pnl: float
    daily_pnl: float


class PositionView(BaseModel):
    symbol: str
    quantity: float = Field(description="signed: positive long, negative short")
    avg_cost: float
    mark: float | None
    market_value: float = Field(description="quantity x mark x the contract multiplier")
    realized_pnl: float
    unrealized_pnl: float


class PortfolioView(BookSummary):
    positions: list[PositionView]
    marks: dict[str, float]
    day: str | None = Field(description="the trading day (ISO date) the daily P&L counts from")
    as_of: str


class Performance(BaseModel):
    equity: float
    cash: float
    realized_pnl: float
    unrealized_pnl: float
    daily_pnl: float
    gross_leverage: float | None
    net_leverage: float | None
    orders: dict[str, int] = Field(description="order outcomes counted since the engine started, by kind")
    open_orders: int


class OrderView(_Open):
    """An order (or a refused request, which echoes what was sent: its fields may be malformed)."""

    client_order_id: str
    symbol: Any = None
    side: Any = None
    quantity: Any = None
    order_type: Any = None
    limit_price: Any = None
    strategy: Any = None
    status: str = Field(description="new, submitted, accepted, partially_filled, pending_cancel, "
                                    "pending_replace, filled, cancelled, rejected, expired")
    principal: str
    filled_quantity: float
    remaining_quantity: float
    avg_fill_price: float | None
    reject_code: str | None
    reject_detail: str | None
    updated_at: str


class OrderList(BaseModel):
    total: int = Field(description="every order matching the filters")
    offset: int
    limit: int
    orders: list[OrderView]


class RiskFiguresView(_Open):
    """The book's last risk figures (raytrade.risk.live): VaR and CVaR positive losses as fractions
    of equity at ``level``, Greeks in currency (vega per 1.00 of volatility), ``age_s`` wall seconds."""

    computed_at: str
    as_of: str
    trigger: str
    equity: float
    gross_leverage: float | None
    net_leverage: float | None
    days: int
    level: float
    var_1d: float | None
    cvar_1d: float | None
    var_10d: float | None
    cvar_10d: float | None
    var_normal_1d: float | None
    correlation_risk: float | None
    greeks: dict[str, float]
    exposures: dict[str, float]
    note: str | None
    positions: list[dict[str, Any]]
    age_s: float | None = None


class RiskStatus(BaseModel):
    equity: float
    halted: bool
    halt_code: str | None
    halt_detail: str
    daily_loss: float = Field(description="loss since the day's start / its starting equity")
    gross_leverage: float | None
    symbol_weights: dict[str, float]
    sector_weights: dict[str, float]
    limits: RiskLimits
    figures: RiskFiguresView | None = Field(None, description="null before the first computation")


class ViolationView(BaseModel):
    rule: str
    severity: Literal["warning", "critical"]
    action: Literal["rejected", "flagged"]
    symbol: str
    client_order_id: str
    detail: str
    at: str


class SignalView(_Open):
    symbol: str
    as_of: str
    signal: float = Field(ge=-1, le=1)
    confidence: float
    regime: Any
    parts: dict[str, float]


class Signals(BaseModel):
    signals: list[SignalView]


class StrategyRow(_Open):
    running: bool
    orders: int
    open_orders: int
    rejected: int
    positions: dict[str, float] = Field(description="signed quantity per symbol from the strategy's own fills")
    pnl: float = Field(description="cash flow + positions at the latest marks, account currency")
    spec: dict[str, Any] | None = Field(None, description="the runner's specification (a strategy run in the engine)")
    runner: dict[str, Any] | None = Field(None, description="the runner's own status: parameters, last signal, "
                                                            "targets (or the error it gave)")


class StrategyState(StrategyRow):
    strategy: str


class EngineSwitch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    running: bool


class EngineStatus(BaseModel):
    running: bool
    halted: bool
    halt_detail: str
    strategies: dict[str, StrategyRow]
