"""The REST API: a Ray Serve deployment with a FastAPI ingress in front of the engine's actors.

Authentication: ``Authorization: Bearer rtk_<id>.<secret>`` (or ``X-API-Key``); 401 when the key
is missing, malformed, unknown or revoked, 403 when its role is too low (viewer reads, trader
sends and cancels orders, admin halts, resumes, starts, stops and changes limits). Every mutating
request reaches the log with the key's id as the acting principal (``key:<id>``). Each key has a
token bucket (``rate_per_s``, ``burst``) per replica; past it, 429 with ``Retry-After``.

Errors are JSON ``{"error": CODE, "detail": ..., ...}``: 4xx for the client's mistakes (422 names
the field; an order refused by validation, risk or compliance is 422 with its reason code and the
order), 404 for unknown ids, 409 for an order that cannot be cancelled any more, 503 when the
engine or a dependency cannot be reached (fail closed: STORE_UNAVAILABLE, ...). Never a 500 for a
client's input.

(No ``from __future__ import annotations`` here: Serve's class-based FastAPI views resolve the
route annotations at run time, and string annotations would not resolve.)
"""

import asyncio
import contextlib
import json
import math
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Annotated, Any, Literal, Self

import ray
from fastapi import Depends, FastAPI, Header, Query, Request, WebSocket
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from ray import serve
from starlette.exceptions import HTTPException as StarletteHTTPException

from raytrade.actors.base import CallBatcher
from raytrade.actors.client import OrderClient
from raytrade.actors.config import EngineConfig
from raytrade.actors.metrics import metrics
from raytrade.actors.portfolio import SNAPSHOT as PORTFOLIO_SNAPSHOT
from raytrade.cluster import NAMESPACE
from raytrade.core.enums import EventType, OrderStatus, RejectReason
from raytrade.core.errors import (
    ClusterError,
    DataError,
    DomainError,
    OrderStateError,
    RaytradeError,
    StoreError,
    StoreOutcomeUnknownError,
)
from raytrade.core.orders import MAX_PRICE, MAX_QUANTITY
from raytrade.serve.keys import ApiKey, KeyRing, Role
from raytrade.serve.responses import (
    EngineStatus,
    EngineSwitch,
    Health,
    OrderList,
    OrderView,
    Performance,
    PortfolioView,
    PositionView,
    Readiness,
    RiskStatus,
    Signals,
    StrategyState,
    ViolationView,
)
from raytrade.storage import EventBus, EventStore, RedisCache

STRATEGY_NAME = r"^[A-Za-z0-9._:-]+$"
# Refusals that are the server's, not the client's, and pass: 503 with Retry-After, never 422.
SERVER_SIDE = {RejectReason.STORE_UNAVAILABLE, RejectReason.RISK_UNAVAILABLE, RejectReason.COMPLIANCE_UNAVAILABLE,
               RejectReason.BROKER_UNAVAILABLE, RejectReason.NO_MARKET_PRICE, RejectReason.RISK_FIGURES_STALE}
RETRY_AFTER_S = 1
WS_RATE_LIMITED = 4429


class ApiConfig(BaseModel):
    """The API deployment's settings (``configs/serve/*.yaml``, ``api`` part)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    engine: EngineConfig = EngineConfig()
    start_engine: bool = Field(False, description="start (or find) the engine's actors from the API replica, "
                                                   "detached: how a RayService runs the engine")
    signals_app: str | None = Field(None, description="Serve application running the SignalModel deployment "
                                                      "(raytrade.serve.signals); None: POST /api/signals is 404")
    rate_per_s: float = Field(20.0, gt=0, description="requests per second per key (token bucket refill)")
    burst: int = Field(40, ge=1, description="token bucket size per key")
    call_timeout_s: float = Field(5.0, gt=0, le=60)
    # An imperative redeploy of the model stops its one replica before the next has loaded the
    # bundled history (seconds): requests wait for it rather than fail, so this is longer than call_timeout_s.
    signals_timeout_s: float = Field(30.0, gt=0, le=300, description="seconds a signal request may wait, model "
                                                                      "reloads included, before a 503")
    ws_heartbeat_s: float = Field(15.0, gt=0, le=300, description="seconds between WebSocket heartbeats")
    ws_queue: int = Field(1000, ge=1, le=100_000, description="events buffered per WebSocket client; a client "
                                                             "further behind is disconnected (close code 4008)")


class SignalsServe(BaseModel):
    """``signals`` part of ``configs/serve/*.yaml``: the registry version the SignalModel serves."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    model_path: Path = Field(description="a registry version folder (runs/models/NAME/vNNNN)")
    app: str = Field("signals", min_length=1, description="the Serve application's name")

    @field_validator("model_path")
    @classmethod
    def _is_version(cls, path: Path) -> Path:
        if not (path / "model.json").is_file():
            raise ValueError(f"{path} is not a model version (no model.json); train one with `raytrade models train`")
        return path.resolve()   # the replica's working directory is not the caller's


class ServeFile(BaseModel):
    """``configs/serve/*.yaml``: where to listen and the API's settings."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    host: str = "127.0.0.1"
    port: int = Field(8000, ge=1, le=65535)
    ingress: Literal["haproxy", "proxy"] = Field(
        "haproxy", description="haproxy: Serve's throughput-optimised ingress; proxy: Serve's default Python proxy "
                               "(see raytrade.serve.ingress); applies when `raytrade serve` starts Ray itself")
    api: ApiConfig = ApiConfig()
    signals: SignalsServe | None = Field(None, description="serve a trained ensemble version next to the API "
                                                          "(POST /api/signals)")

    @model_validator(mode="after")
    def _signals_app(self) -> Self:
        if self.signals is not None and self.api.signals_app not in (None, self.signals.app):
            raise ValueError(f"api.signals_app is {self.api.signals_app!r} but signals.app is {self.signals.app!r}")
        return self

    def api_config(self) -> ApiConfig:
        """The API's settings, wired to the signal app when this file serves one."""
        if self.signals is None:
            return self.api
        return self.api.model_copy(update={"signals_app": self.signals.app})


def _no_bool(value: Any) -> Any:
    """A number field refuses true/false (pydantic would take true as 1)."""
    if isinstance(value, bool):
        raise ValueError("must be a number, not a boolean")
    return value


def _plain_text(value: Any) -> Any:
    """Text fields that reach the log refuse control characters (a NUL cannot be stored at all)."""
    if isinstance(value, str) and any(ord(c) < 32 or ord(c) == 127 for c in value):
        raise ValueError("must not contain control characters")
    return value


class ExecAlgorithmBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Literal["twap", "vwap", "pov", "almgren_chriss"]
    params: dict[str, Annotated[float | int | bool | str | list[float], Field()]] = Field(default_factory=dict)


class OrderRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    symbol: str = Field(min_length=1, max_length=32, pattern=r"^[A-Za-z0-9._:/ -]+$")
    side: Literal["buy", "sell"]
    quantity: float = Field(gt=0, le=MAX_QUANTITY, allow_inf_nan=False)
    order_type: Literal["market", "limit"] = "market"
    limit_price: float | None = Field(None, gt=0, le=MAX_PRICE, allow_inf_nan=False)
    time_in_force: Literal["day", "gtc", "ioc", "fok"] = "day"
    client_order_id: str | None = Field(None, min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._:-]+$")
    strategy: str | None = Field(None, min_length=1, max_length=64, pattern=STRATEGY_NAME,
                                 description="the strategy sending the order (refused while it is stopped)")
    reason: str | None = Field(None, max_length=200)
    exec_algorithm: ExecAlgorithmBody | None = Field(
        None, description="work the order as a parent: an execution algorithm (twap, vwap, pov, almgren_chriss) "
                          "sends children over horizon_s seconds of market time")
    urgency: float = Field(0.5, ge=0, le=1, allow_inf_nan=False, description="0 patient .. 1 fast (Almgren-Chriss)")
    horizon_s: float = Field(3600.0, gt=0, le=7 * 86_400, allow_inf_nan=False,
                             description="a parent's horizon in seconds of the engine's clock")

    _numbers = field_validator("quantity", "limit_price", "urgency", "horizon_s", mode="before")(_no_bool)
    _text = field_validator("reason", mode="before")(_plain_text)


class SignalsRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    symbols: list[Annotated[str, Field(min_length=1, max_length=32)]] = Field(min_length=1, max_length=64)
    as_of: str | None = Field(None, pattern=r"^\d{4}-\d{2}-\d{2}$", description="YYYY-MM-DD; default: the last bar")


class ReasonBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field(min_length=1, max_length=200)

    _text = field_validator("reason", mode="before")(_plain_text)


class StrategyBody(ReasonBody):
    strategy: str | None = Field(None, min_length=1, max_length=64, pattern=STRATEGY_NAME,
                                 description="one strategy; omitted: the whole engine")


class StartBody(StrategyBody):
    runner: dict[str, Any] | None = Field(
        None, description="run the strategy in the engine: {strategy: a registered name or module:Class, params, "
                          "symbols, sizing, capital, allow_short} (raytrade.execution.runner.RunnerSpec); "
                          "needs ``strategy`` (the runner's name and its orders' tag)")


class ParametersBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    component: Literal["risk", "strategy"]
    strategy: str | None = Field(None, min_length=1, max_length=64, pattern=STRATEGY_NAME,
                                 description="component strategy: the running strategy whose parameters change")
    values: dict[str, Annotated[float, Field(allow_inf_nan=False)] | list[dict[str, Any]]] = Field(
        description="numbers by name; for the risk component also ``checks``, the list of limits on the book's "
                    "risk figures (raytrade.risk.checks), e.g. [{kind: var, max: 0.03}]")
    reason: str = Field("parameters updated through the API", max_length=200)

    _text = field_validator("reason", mode="before")(_plain_text)

    @field_validator("values", mode="before")
    @classmethod
    def _no_bools(cls, values: Any) -> Any:
        if isinstance(values, dict):
            for v in values.values():
                if not isinstance(v, list):
                    _no_bool(v)
        return values


class ApiError(Exception):
    def __init__(self, status: int, error: str, detail: str, **extra: Any) -> None:
        super().__init__(detail)
        self.status, self.error, self.detail, self.extra = status, error, detail, extra


class TcaParent(BaseModel):
    """One parent order's cost analysis (raytrade.analytics.tca): prices in currency per share,
    costs in account currency (positive = hurt the trader), bps of the price named; null where a
    figure needs what is missing (an arrival price, a fill, market bars)."""

    parent: str
    symbol: str
    side: Literal["buy", "sell"]
    algorithm: str
    urgency: float
    quantity: float
    status: str
    children: int
    start: str
    end: str
    arrival_price: float | None = None
    filled: float | None = None
    fill_rate: float | None = None
    avg_price: float | None = None
    slippage_vs_arrival_bps: float | None = None
    interval_vwap: float | None = None
    slippage_vs_vwap_bps: float | None = None
    participation: float | None = None
    delay_cost: float | None = None
    trading_cost: float | None = None
    opportunity_cost: float | None = None
    fees: float | None = None
    shortfall: float | None = None
    shortfall_bps: float | None = None
    reversion_bps: float | None = None


class TcaAlgorithm(BaseModel):
    algorithm: str
    parents: int
    fill_rate: float | None
    shortfall_bps_mean: float | None
    shortfall_bps_median: float | None
    shortfall_bps_p95: float | None
    shortfall_bps_std: float | None
    slippage_vs_arrival_bps: float | None
    slippage_vs_vwap_bps: float | None


class TcaVenue(BaseModel):
    venue: str
    fills: int
    quantity: float
    share: float
    slippage_vs_arrival_bps: float | None


class TcaReport(BaseModel):
    parents: list[TcaParent]
    algorithms: list[TcaAlgorithm]
    venues: list[TcaVenue]


class GroupPnl(BaseModel):
    group: str
    pnl: float
    share: float | None = Field(description="fraction of the book's total P&L (negative for a group that lost)")
    sharpe: float | None = Field(description="of the group's P&L per period between session starts, annualised x sqrt(252)")


class AttributionReport(BaseModel):
    """The live book's P&L by sector, strategy and symbol (currency), from the log."""

    points: int
    start: str | None
    end: str | None
    pnl: float
    time_weighted_return: float | None
    by_sector: list[GroupPnl]
    by_strategy: list[GroupPnl]
    by_symbol: list[GroupPnl]
    lines: list[str]


class DrawdownEvent(BaseModel):
    peak: str
    trough: str
    recovery: str | None
    depth: float = Field(description="trough / peak - 1 of the time-weighted wealth (a negative fraction)")
    days_to_trough: float
    days_to_recover: float | None
    days_total: float | None
    open: bool


class DrawdownReport(BaseModel):
    threshold: float
    points: int
    events: list[DrawdownEvent]


class TaxLot(BaseModel):
    symbol: str
    lot_id: str
    acquired: str
    quantity: float
    basis: float
    basis_per_share: float
    price: float | None
    unrealized: float | None
    term: Literal["short", "long"]


class TaxSale(BaseModel):
    symbol: str
    lot_id: str
    acquired: str
    sold: str
    quantity: float
    proceeds: float
    basis: float
    gain: float
    term: Literal["short", "long"]
    wash_disallowed: float
    recognized_gain: float


class TaxTotals(BaseModel):
    short_term_gain: float
    long_term_gain: float
    wash_disallowed: float
    unrealized: float


class TaxLotsReport(BaseModel):
    """The account's tax lots (the compliance ledger, fed every fill; long lots only)."""

    method: str
    year: int | None
    open: list[TaxLot]
    realized: list[TaxSale]
    totals: TaxTotals


class HarvestProposalBody(BaseModel):
    symbol: str
    lot_ids: list[str]
    quantity: float
    price: float
    basis: float
    loss: float
    short_term_loss: float
    long_term_loss: float
    tax_benefit: float
    substitute: str | None
    correlation: float | None
    locked_until: str


class HarvestReport(BaseModel):
    """Proposals only: submit them as orders tagged ``harvest_strategy`` (compliance then locks
    the sold security for 31 days)."""

    config: dict[str, Any]
    harvest_strategy: str
    proposals: list[HarvestProposalBody]
    lines: list[str]


class ErrorBody(BaseModel):
    """Every error response: a stable code, a sentence, and context fields (``field``, ``order``)."""

    model_config = ConfigDict(extra="allow")

    error: str
    detail: str


_ERRORS: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorBody, "description": text} for status, text in (
        (401, "no key, or an unknown, malformed or revoked one"), (403, "the key's role is too low"),
        (404, "unknown id"), (409, "the order cannot be cancelled any more"),
        (422, "a field is invalid, or the order was refused (reason code)"), (429, "rate limit of the key"),
        (503, "the engine or a dependency cannot be reached (fail closed)"))}

app = FastAPI(title="raytrade API", version="0.1.0", responses=_ERRORS,
              description="Orders, portfolio, risk and compliance of a raytrade engine. Authenticate with "
                          "`Authorization: Bearer rtk_<id>.<secret>` (`raytrade keys create`).")


class LatencyMiddleware:
    """api_latency_ms by route template (not the raw path: ids would explode the label set).

    A plain ASGI middleware: Starlette's ``@app.middleware("http")`` runs every request through a
    task group and memory streams."""

    def __init__(self, asgi: Any) -> None:
        self.app = asgi

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        t = time.perf_counter()
        status = 500  # what the client gets when the app raises before it answers

        async def send_status(message: dict[str, Any]) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            route = scope.get("route")  # set on this scope by the router once it matched
            metrics().api_latency_ms.observe((time.perf_counter() - t) * 1000, {
                "route": getattr(route, "path", "unmatched"), "method": scope["method"], "status": str(status)})


app.add_middleware(LatencyMiddleware)


class Snapshot:
    """One portfolio snapshot, as data or as its JSON text, each made from the other at most once
    (a snapshot shared by the readers of one actor call is encoded once for all of them)."""

    __slots__ = ("_body", "_data")

    def __init__(self, data: dict[str, Any] | None = None, body: bytes | None = None) -> None:
        self._data, self._body = data, body

    @property
    def data(self) -> dict[str, Any]:
        if self._data is None:
            self._data = json.loads(self._body or b"null")
        return self._data

    def body(self) -> bytes:
        if self._body is None:
            self._body = json.dumps(self._data, ensure_ascii=False, allow_nan=False, separators=(",", ":")).encode()
        return self._body


@app.exception_handler(ApiError)
async def _api_error(_: Request, exc: ApiError) -> JSONResponse:
    headers = {"Retry-After": str(exc.extra.pop("retry_after"))} if "retry_after" in exc.extra else None
    return JSONResponse({"error": exc.error, "detail": exc.detail, **exc.extra}, status_code=exc.status,
                        headers=headers)


@app.exception_handler(RequestValidationError)
async def _invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
    first = exc.errors()[0]
    if first.get("type") == "json_invalid":  # its loc is (body, character offset): the body is the field
        at = first["loc"][-1] if len(first["loc"]) > 1 else None
        where = f" at character {at}" if isinstance(at, int) else ""
        return JSONResponse({"error": "INVALID_REQUEST", "field": "body",
                             "detail": f"the body is not valid JSON{where}: {first['msg']}", "errors": 1},
                            status_code=422)
    field = ".".join(str(p) for p in first["loc"] if p != "body") or "body"
    return JSONResponse({"error": "INVALID_REQUEST", "field": field, "detail": first["msg"],
                         "errors": len(exc.errors())}, status_code=422)


@app.exception_handler(StarletteHTTPException)
async def _http_error(_: Request, exc: StarletteHTTPException) -> JSONResponse:
    """FastAPI's own refusals (a body that is not UTF-8, an unknown route) in the API's error shape."""
    if exc.status_code == 400:  # FastAPI could not read the body at all
        return JSONResponse({"error": "INVALID_REQUEST", "field": "body",
                             "detail": f"the body cannot be read as JSON text: {exc.detail}"}, status_code=422)
    code = {404: "NOT_FOUND", 405: "METHOD_NOT_ALLOWED"}.get(exc.status_code, "HTTP_ERROR")
    return JSONResponse({"error": code, "detail": str(exc.detail)}, status_code=exc.status_code,
                        headers=getattr(exc, "headers", None))


def _server_side(exc: RaytradeError) -> tuple[int, str] | None:
    """(status, code) of an error that is the server's, not the client's; None for a client's."""
    if isinstance(exc, StoreOutcomeUnknownError):
        return 503, "OUTCOME_UNKNOWN"
    if isinstance(exc, StoreError):
        return 503, "STORE_UNAVAILABLE"
    if isinstance(exc, ClusterError):
        return 503, "ENGINE_UNAVAILABLE"
    return None


@app.exception_handler(RaytradeError)
async def _raytrade_error(_: Request, exc: RaytradeError) -> JSONResponse:
    server = _server_side(exc)
    if server is not None:
        return JSONResponse({"error": server[1], "detail": str(exc)}, status_code=server[0],
                            headers={"Retry-After": str(RETRY_AFTER_S)})
    return JSONResponse({"error": "INVALID_REQUEST", "detail": str(exc)}, status_code=422)


@app.exception_handler(Exception)
async def _unexpected(_: Request, exc: Exception) -> JSONResponse:
    """A fault of raytrade's (a bug): 500 with the exception's kind, never a traceback."""
    return JSONResponse({"error": "INTERNAL", "detail": f"internal error ({type(exc).__name__}); it is ours, "
                                                          "not your request's"}, status_code=500)


class TokenBucket:
    def __init__(self, rate: float, burst: int) -> None:
        self.rate, self.burst = rate, burst
        self.tokens: dict[str, tuple[float, float]] = {}

    def take(self, key: str) -> float:
        """0 when a token was taken, else the seconds until one is free."""
        now = time.monotonic()
        tokens, at = self.tokens.get(key, (float(self.burst), now))
        tokens = min(self.burst, tokens + (now - at) * self.rate)
        if tokens >= 1:
            self.tokens[key] = (tokens - 1, now)
            return 0.0
        self.tokens[key] = (tokens, now)
        return (1 - tokens) / self.rate


# Log record types (and the portfolio's derived updates) -> WebSocket event types.
WS_EVENTS = {"order_accepted": "order_update", "order_rejected": "order_update", "order_cancelled": "order_update",
             "order_cancel_requested": "order_update",
             "order_expired": "order_update", "order_replaced": "order_update", "fill": "trade_update",
             "position_update": "position_update", "performance_update": "performance_update",
             "trading_halted": "risk_halt", "trading_resumed": "risk_halt", "violation": "compliance_violation"}
WS_TYPES = sorted(set(WS_EVENTS.values()))
WS_SLOW = 4008
LOG_RECORD_TYPES = frozenset(t.value for t in EventType)  # bus messages that are log records (not derived updates)
BUS_RETRY_S, GAP_CHECK_S, TAIL_EVERY_S = 2.0, 1.0, 0.2
WS_UNAUTHENTICATED, WS_FORBIDDEN = 4401, 4403


def _message_symbol(msg: dict[str, Any]) -> str | None:
    p = msg.get("payload") or {}
    for part in (msg, p, p.get("order") or {}, p.get("fill") or {}, p.get("request") or {}):
        if isinstance(part, dict) and isinstance(part.get("symbol"), str):
            return part["symbol"]
    return None


class WsClient:
    """One WebSocket connection: its filters, its bounded queue and its own message counter."""

    def __init__(self, events: set[str], symbols: set[str], size: int) -> None:
        self.events, self.symbols = events, symbols
        self.queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue(maxsize=size)
        self.seq = 0
        self.overflowed = False

    def wants(self, ws_type: str, symbol: str | None) -> bool:
        return ws_type in self.events and (not self.symbols or symbol is None or symbol in self.symbols)

    def offer(self, message: dict[str, Any]) -> None:
        try:
            self.queue.put_nowait(message)
        except asyncio.QueueFull:
            self.overflowed = True


def _csv(value: str | None, allowed: list[str] | None = None) -> set[str]:
    items = {v.strip() for v in (value or "").split(",") if v.strip()}
    if allowed is not None:
        bad = sorted(items - set(allowed))
        if bad:
            raise DomainError(f"unknown event type {bad[0]!r} (known: {', '.join(allowed)})")
    return items


def _owner(key: ApiKey) -> str | None:
    """Whose orders ``key`` may see and cancel: its own (its principal), every key's for an admin."""
    return None if key.role >= Role.ADMIN else key.principal


async def _bearer(authorization: Annotated[str | None, Header()] = None,
                  x_api_key: Annotated[str | None, Header()] = None) -> str | None:
    if authorization and authorization.lower().startswith("bearer "):
        return authorization[7:].strip()
    return x_api_key


@serve.deployment(ray_actor_options={"num_cpus": 0}, max_ongoing_requests=200)
@serve.ingress(app)
class ApiGateway:
    def __init__(self, config: ApiConfig) -> None:
        self.config = config
        self.engine = config.engine
        self.keys = KeyRing()
        self.bucket = TokenBucket(config.rate_per_s, config.burst)
        self.cache = RedisCache(self.engine.resolved_redis_url(), prefix=f"raytrade:{self.engine.name}:")
        self._store: EventStore | None = None
        self._keys_read_at = 0.0
        self._keys_lock = asyncio.Lock()
        self._ws_clients: set[WsClient] = set()
        self._fanout: asyncio.Task[None] | None = None
        self._handles: dict[str, Any] = {}
        self._order_client: OrderClient | None = None
        self._snapshots = CallBatcher(self._snapshot_for, max_batch=10_000)
        self._signal_model: Any = None
        if config.start_engine:
            from raytrade.actors.engine import TradingEngine

            TradingEngine(self.engine, detached=True).start(principal="serve")

    # --- plumbing ----------------------------------------------------------------------------

    def actor(self, role: str) -> Any:
        """The engine actor's handle (looked up once, again after it failed to answer)."""
        if role not in self._handles:
            try:
                self._handles[role] = ray.get_actor(self.engine.actor_name(role), namespace=NAMESPACE)
            except ValueError:
                raise ApiError(503, "ENGINE_UNAVAILABLE", f"the engine's {role} actor is not running") from None
        return self._handles[role]

    def order_client(self) -> OrderClient:
        """Concurrent POST /api/orders of this replica go to the order manager in batches."""
        if self._order_client is None:
            self._order_client = OrderClient(self.actor("orders"))
        return self._order_client

    async def snapshot(self) -> dict[str, Any]:
        """The portfolio's snapshot (:meth:`shared_snapshot`) as data."""
        return (await self.shared_snapshot()).data

    async def shared_snapshot(self) -> Snapshot:
        """The snapshot the portfolio actor last wrote to Redis (after each batch of fills and
        marks it applied, and at least every ``SNAPSHOT_REFRESH_S``), else, without Redis or when
        it holds none, the actor's own. Concurrent actor readers share calls: a reader that
        arrives while a call is in flight joins the next one, which starts after it arrived, so
        50 polling clients cost a handful of actor calls, not 50 (each call is a Ray round trip
        and CPU on both sides: ``benchmarks/api_load.py``)."""
        shared: Snapshot = await self._snapshots.submit(None)
        return shared

    async def _snapshot_for(self, readers: list[None]) -> list[Snapshot]:
        body = await self.cache.get_json(PORTFOLIO_SNAPSHOT) if self.cache.url else None
        shared = Snapshot(body=body) if body is not None else Snapshot(data=await self.call("portfolio", "snapshot"))
        return [shared] * len(readers)

    async def call(self, role: str, method: str, *args: Any, **kwargs: Any) -> Any:
        return await self.answer(role, getattr(self.actor(role), method).remote(*args, **kwargs))

    async def answer(self, role: str, pending: Any) -> Any:
        """Await an engine call; its domain errors re-raised, an actor that does not answer a 503."""
        try:
            return await asyncio.wait_for(pending, self.config.call_timeout_s)
        except ray.exceptions.RayTaskError as exc:
            # The original exception (``cause``): its message alone. as_instanceof_cause() would
            # carry the remote traceback (pid, node, paths) into the client's answer.
            cause = exc.cause
            if isinstance(cause, ClusterError):  # a front actor whose order manager did not answer
                self._handles.pop(role, None)
                raise ApiError(503, "ENGINE_UNAVAILABLE", str(cause), retry_after=RETRY_AFTER_S) from None
            if isinstance(cause, RaytradeError):
                raise cause from None
            raise ApiError(500, "INTERNAL", f"the engine's {role} actor failed ({type(cause).__name__}); it is "
                                            "ours, not your request's") from None
        except (TimeoutError, ray.exceptions.RayActorError, ray.exceptions.ActorUnavailableError) as exc:
            self._handles.pop(role, None)
            if role == "orders":
                self._order_client = None
            raise ApiError(503, "ENGINE_UNAVAILABLE", f"the engine's {role} actor did not answer: "
                                                      f"{type(exc).__name__}", retry_after=RETRY_AFTER_S) from None

    async def store(self) -> EventStore:
        if self._store is None:
            store = self.engine.open_store()
            await store.open()
            self._store = store
        return self._store

    async def refresh_keys(self, force: bool = False) -> None:
        """Read key events appended since the last read: at most once a second, or now when
        ``force`` (a token this replica does not know: a key created a moment ago must work at
        once). Either way a read that started after this call was made covers it, so concurrent
        callers share reads, and a flood of unknown tokens costs one read at a time, not one each."""
        asked = time.monotonic()
        if not force and asked - self._keys_read_at < 1.0:
            return
        async with self._keys_lock:
            if self._keys_read_at >= asked:
                return
            started = time.monotonic()
            store = await self.store()
            for r in await store.read(self.keys.last_sequence + 1, types=[EventType.KEY_CREATED,
                                                                          EventType.KEY_REVOKED]):
                self.keys.apply(r.event)
            self._keys_read_at = started

    async def authenticate(self, token: str | None, role: Role) -> ApiKey:
        if not token:
            raise ApiError(401, "UNAUTHENTICATED", "an API key is required (Authorization: Bearer rtk_...)")
        try:
            await self.refresh_keys(force=not self.keys.known(token))
        except RaytradeError as exc:
            raise ApiError(503, "STORE_UNAVAILABLE", f"cannot read the API keys: {exc}") from None
        key = self.keys.verify(token)
        if key is None:
            raise ApiError(401, "UNAUTHENTICATED", "unknown, malformed or revoked API key")
        if key.role < role:
            raise ApiError(403, "FORBIDDEN", f"key {key.key_id} has role {key.role.name.lower()}; this needs "
                                             f"{role.name.lower()}")
        wait = self.bucket.take(key.key_id)
        if wait:
            raise ApiError(429, "RATE_LIMITED", f"more than {self.config.rate_per_s:g} requests per second for "
                                                f"key {key.key_id}", retry_after=max(1, math.ceil(wait)))
        return key

    # --- health ------------------------------------------------------------------------------

    @app.get("/api/health", tags=["health"], response_model=Health)
    async def health(self) -> dict[str, str]:
        """Liveness: the API replica answers."""
        return {"status": "ok"}

    @app.get("/api/health/ready", tags=["health"], response_model=Readiness,
             responses={503: {"model": Readiness, "description": "something trading needs is down"}})
    async def ready(self) -> JSONResponse:
        """Readiness: the store, Redis, each actor and the broker, with each one's latency in ms.
        503 when something trading needs is down; Redis is a cache and a fan-out (the API falls
        back to the actors and the store without it), so Redis alone down answers 200 with
        ``"status": "degraded"``."""
        checks: dict[str, dict[str, Any]] = {}

        async def probe(name: str, fn: Any) -> None:
            t = time.perf_counter()
            try:
                await asyncio.wait_for(fn(), self.config.call_timeout_s)
                checks[name] = {"ok": True, "latency_ms": (time.perf_counter() - t) * 1000}
            except Exception as exc:
                checks[name] = {"ok": False, "error": f"{type(exc).__name__}: {str(exc)[:200]}"}

        async def store_ping() -> None:
            await (await self.store()).ping()

        probes = [probe("store", store_ping)]
        if self.cache.url:
            probes.append(probe("redis", self.cache.ping))
        for role in ("orders", "portfolio", "risk", "compliance"):
            probes.append(probe(role, lambda role=role: self.call(role, "ping")))
        probes.append(probe("broker", lambda: self.call("orders", "broker_ping")))
        await asyncio.gather(*probes)
        ok = all(c["ok"] for name, c in checks.items() if name != "redis")
        status = ("ready" if checks.get("redis", {"ok": True})["ok"] else "degraded") if ok else "not_ready"
        return JSONResponse({"status": status, "checks": checks}, status_code=200 if ok else 503)

    # --- portfolio ---------------------------------------------------------------------------

    @app.get("/api/portfolio", tags=["portfolio"], response_model=PortfolioView)
    async def portfolio(self, token: str | None = Depends(_bearer)) -> Response:
        """Cash, equity, exposure, leverage and P&L (account currency), with the positions."""
        await self.authenticate(token, Role.VIEWER)
        return Response((await self.shared_snapshot()).body(), media_type="application/json")

    @app.get("/api/positions", tags=["portfolio"], response_model=list[PositionView])
    async def positions(self, token: str | None = Depends(_bearer)) -> list[dict[str, Any]]:
        """Open and closed positions: signed quantity, average cost, mark, P&L."""
        await self.authenticate(token, Role.VIEWER)
        return (await self.snapshot())["positions"]

    @app.get("/api/performance", tags=["portfolio"], response_model=Performance)
    async def performance(self, token: str | None = Depends(_bearer)) -> dict[str, Any]:
        """P&L figures and order counts so far."""
        await self.authenticate(token, Role.VIEWER)
        snap, stats = await asyncio.gather(self.snapshot(), self.call("orders", "stats"))
        keys = ("equity", "cash", "realized_pnl", "unrealized_pnl", "daily_pnl", "gross_leverage", "net_leverage")
        return {**{k: snap[k] for k in keys}, "orders": stats["counts"], "open_orders": stats["open_orders"]}

    # --- orders ------------------------------------------------------------------------------

    @app.get("/api/orders", tags=["orders"], response_model=OrderList)
    async def list_orders(self, token: str | None = Depends(_bearer), status: OrderStatus | None = None,
                          symbol: str | None = Query(None, max_length=32),
                          since: str | None = Query(None, description="ISO 8601 time; orders updated since"),
                          limit: int = Query(100, ge=1, le=1000), offset: int = Query(0, ge=0)) -> dict[str, Any]:
        """Orders newest first, filtered and paginated (``total`` counts every match): the key's own,
        every key's for an admin key."""
        key = await self.authenticate(token, Role.VIEWER)
        if since is not None:
            from datetime import datetime

            try:
                datetime.fromisoformat(since)
            except ValueError:
                raise ApiError(422, "INVALID_REQUEST", f"since must be an ISO 8601 time, got {since!r}",
                               field="since") from None
        return await self.call("orders", "list_orders", status.value if status else None, symbol, since, limit, offset,
                               _owner(key))

    @app.post("/api/orders", tags=["orders"], status_code=201, response_model=OrderView)
    async def submit(self, body: OrderRequest, token: str | None = Depends(_bearer)) -> dict[str, Any]:
        """Submit an order. 201 with the order when accepted (filled or working); 422 with the reason
        code when refused; 503 when the engine cannot take orders now."""
        key = await self.authenticate(token, Role.TRADER)
        view = await self.answer("orders", self.order_client().submit(body.model_dump(exclude_none=True), key.principal))
        code = view.get("reject_code")
        if view["status"] == "rejected" and code:
            extra: dict[str, Any] = {"order": view}
            if RejectReason(code) in SERVER_SIDE:
                status, extra["retry_after"] = 503, RETRY_AFTER_S
            else:
                status = 409 if code == RejectReason.DUPLICATE_ORDER_ID else 422
            raise ApiError(status, code, view.get("reject_detail") or code, **extra)
        return view

    @app.get("/api/orders/{client_order_id}", tags=["orders"], response_model=OrderView)
    async def get_order(self, client_order_id: str, token: str | None = Depends(_bearer)) -> dict[str, Any]:
        """One order: the key's own (404 for another key's), any order for an admin key."""
        key = await self.authenticate(token, Role.VIEWER)
        view = await self.call("orders", "get_order", client_order_id, _owner(key))
        if view is None:
            raise ApiError(404, "NOT_FOUND", f"no order {client_order_id!r}")
        return view

    @app.delete("/api/orders/{client_order_id}", tags=["orders"], response_model=OrderView)
    async def cancel(self, client_order_id: str, token: str | None = Depends(_bearer)) -> dict[str, Any]:
        """Cancel a working order of the key's (any, for an admin): 404 unknown id or another
        key's order, 409 when it is no longer open, 503 when the cancel request cannot be
        recorded now (the order then stays working: try again)."""
        key = await self.authenticate(token, Role.TRADER)
        owner = _owner(key)
        view = await self.call("orders", "get_order", client_order_id, owner)
        if view is None:
            raise ApiError(404, "NOT_FOUND", f"no order {client_order_id!r}")
        try:
            return await self.call("orders", "cancel", client_order_id, key.principal, owner)
        except OrderStateError as exc:
            raise ApiError(409, "NOT_CANCELLABLE", str(exc), order=view) from None

    # --- risk, compliance, engine control ----------------------------------------------------

    @app.get("/api/risk", tags=["risk"], response_model=RiskStatus)
    async def risk(self, token: str | None = Depends(_bearer)) -> dict[str, Any]:
        """Limits, their current use (open orders included) and the halt state."""
        await self.authenticate(token, Role.VIEWER)
        listing = await self.call("orders", "open_quantities")
        return await self.call("risk", "status", listing)

    @app.post("/api/risk/halt", tags=["risk"], response_model=RiskStatus)
    async def halt(self, body: ReasonBody, token: str | None = Depends(_bearer)) -> dict[str, Any]:
        key = await self.authenticate(token, Role.ADMIN)
        return await self.call("risk", "halt", key.principal, body.reason)

    @app.post("/api/risk/resume", tags=["risk"], response_model=RiskStatus)
    async def resume(self, body: ReasonBody, token: str | None = Depends(_bearer)) -> dict[str, Any]:
        key = await self.authenticate(token, Role.ADMIN)
        return await self.call("risk", "resume", key.principal, body.reason)

    @app.post("/api/parameters/update", tags=["risk"], response_model=StrategyState | RiskStatus,
               response_model_exclude_unset=True)
    async def update_parameters(self, body: ParametersBody, token: str | None = Depends(_bearer)) -> dict[str, Any]:
        """Change risk limits, or a running strategy's parameters (``component: strategy`` with
        ``strategy``: validated by its parameter space); logged as ``parameter_changed`` with the
        key's id."""
        key = await self.authenticate(token, Role.ADMIN)
        if body.component == "strategy":
            if body.strategy is None:
                raise ApiError(422, "INVALID_REQUEST", "component strategy needs the strategy's name", field="strategy")
            row = await self.call("orders", "update_strategy_params", body.strategy, body.values, key.principal,
                                  body.reason)
            return {"strategy": body.strategy, **row}
        from raytrade.configfile import describe_validation_error
        from raytrade.risk.limits import RiskLimits

        unknown = sorted(set(body.values) - set(RiskLimits.model_fields))
        if unknown:
            raise ApiError(422, "INVALID_REQUEST", f"unknown risk limit {unknown[0]!r}", field=f"values.{unknown[0]}")
        try:
            self.engine.risk.updated(body.values)
        except ValidationError as exc:
            first = exc.errors()[0]
            raise ApiError(422, "INVALID_REQUEST", describe_validation_error(exc, "values"),
                           field=".".join(["values", *(str(x) for x in first["loc"])])) from None
        return await self.call("risk", "update_limits", body.values, key.principal, body.reason)

    @app.get("/api/compliance/violations", tags=["compliance"], response_model=list[ViolationView])
    async def violations(self, token: str | None = Depends(_bearer),
                         limit: int = Query(100, ge=1, le=1000)) -> list[dict[str, Any]]:
        """Violations newest first: rule, severity (warning, critical), action taken."""
        await self.authenticate(token, Role.VIEWER)
        return await self.call("compliance", "list_violations", limit)

    @app.post("/api/signals", tags=["signals"], response_model=Signals)
    async def signals(self, body: SignalsRequest, token: str | None = Depends(_bearer)) -> dict[str, Any]:
        """The ensemble's signal in [-1, 1], confidence, regime and each model's part, per symbol."""
        await self.authenticate(token, Role.VIEWER)
        if not self.config.signals_app:
            # Without a model the resource does not exist here: 404, not a server failure.
            raise ApiError(404, "NO_MODEL", "no signal model is deployed with this API (ApiConfig.signals_app)")
        if self._signal_model is None:
            # One handle for the replica's life: a handle made per request pays for a new router each time.
            self._signal_model = serve.get_deployment_handle("SignalModel", app_name=self.config.signals_app)
        try:
            result = await asyncio.wait_for(self._signal_model.signals.remote(body.symbols, body.as_of),
                                            self.config.signals_timeout_s)
        except Exception as exc:
            cause = exc.as_instanceof_cause() if hasattr(exc, "as_instanceof_cause") else exc
            if isinstance(cause, DataError):
                raise ApiError(422, "INVALID_REQUEST", str(cause), field="symbols") from None
            raise ApiError(503, "MODEL_UNAVAILABLE", f"the signal model did not answer: {type(exc).__name__}") from None
        return {"signals": result}

    async def _switch(self, body: StrategyBody, token: str | None, running: bool,
                      runner: dict[str, Any] | None = None) -> dict[str, Any]:
        key = await self.authenticate(token, Role.ADMIN)
        if body.strategy is None:
            if runner is not None:
                raise ApiError(422, "INVALID_REQUEST", "a runner needs the strategy's name (strategy)", field="strategy")
            return {"running": await self.call("orders", "set_running", running, key.principal, body.reason)}
        if runner is not None:
            from raytrade.execution.runner import parse_runner_spec

            parse_runner_spec({**runner, "name": body.strategy}, "runner")  # one line naming the field, here
        row = await self.call("orders", "set_strategy", body.strategy, running, key.principal, body.reason, runner)
        return {"strategy": body.strategy, **row}

    @app.post("/api/strategies/start", tags=["engine"], response_model=StrategyState | EngineSwitch,
               response_model_exclude_unset=True)
    async def start(self, body: StartBody, token: str | None = Depends(_bearer)) -> dict[str, Any]:
        """Accept orders again: one strategy's (``strategy``), or the whole engine's. With
        ``runner``, the strategy runs in the engine: a runner feeds it the bars, turns its target
        weights into orders (risk, compliance, audit, tagged ``strategy``) and resumes after a restart."""
        return await self._switch(body, token, True, body.runner)

    @app.post("/api/strategies/stop", tags=["engine"], response_model=StrategyState | EngineSwitch,
               response_model_exclude_unset=True)
    async def stop(self, body: StrategyBody, token: str | None = Depends(_bearer)) -> dict[str, Any]:
        """Refuse new orders until started again: one strategy's (STRATEGY_STOPPED; its open orders
        stay, unless it has a runner: the runner stops and its open orders are cancelled), or
        every order (ENGINE_STOPPED)."""
        return await self._switch(body, token, False)

    @app.get("/api/strategies/status", tags=["engine"], response_model=EngineStatus,
              response_model_exclude_unset=True)
    async def status(self, token: str | None = Depends(_bearer)) -> dict[str, Any]:
        """The engine's switch, the risk halt, and each strategy's state, order counts, positions
        and P&L (from its own fills, at the latest marks) and, with a runner, its parameters, last
        signal and target weights."""
        await self.authenticate(token, Role.VIEWER)
        stats, risk, strategies = await asyncio.gather(self.call("orders", "stats"), self.call("risk", "status"),
                                                       self.call("orders", "strategy_status"))
        return {"running": stats["running"], "halted": risk["halted"], "halt_detail": risk["halt_detail"],
                "strategies": strategies}

    # --- execution ---------------------------------------------------------------------------

    @app.get("/api/tca", tags=["execution"], response_model=TcaReport)
    async def tca(self, token: str | None = Depends(_bearer),
                  start: str | None = Query(None, description="ISO 8601 time: parents accepted from"),
                  end: str | None = Query(None, description="ISO 8601 time: parents accepted until")) -> dict[str, Any]:
        """Transaction-cost analysis of the parent orders (orders with an execution algorithm):
        per parent its arrival price, average price, slippage to arrival and to the interval VWAP
        (bps), implementation shortfall split into delay, trading and opportunity cost (account
        currency) and in bps of the arrival notional, fill rate, participation and post-trade
        reversion; per algorithm and per venue summaries. Market benchmarks come from the bars
        the order manager has seen since it started (null for older parents)."""
        await self.authenticate(token, Role.VIEWER)
        from datetime import datetime

        for name, value in (("start", start), ("end", end)):
            if value is not None:
                try:
                    t = datetime.fromisoformat(value)
                except ValueError:
                    raise ApiError(422, "INVALID_REQUEST", f"{name} must be an ISO 8601 time, got {value!r}",
                                   field=name) from None
                if t.tzinfo is None:
                    raise ApiError(422, "INVALID_REQUEST", f"{name} must carry a time zone (e.g. Z), got {value!r}",
                                   field=name)
        return await self.call("orders", "tca", start, end)

    # --- analytics and tax ---------------------------------------------------------------------

    @app.get("/api/analytics/attribution", tags=["analytics"], response_model=AttributionReport)
    async def attribution(self, token: str | None = Depends(_bearer)) -> dict[str, Any]:
        """The book's P&L by sector, strategy and symbol, each with its share of the total and
        the Sharpe of its P&L, rebuilt from the event log at every session start and the current
        marks; the time-weighted return; the same figures as sentences
        ("Information Technology: +$15,000 (40% of returns, 2.1 Sharpe)")."""
        await self.authenticate(token, Role.VIEWER)
        return await self.call("orders", "attribution")

    @app.get("/api/analytics/drawdowns", tags=["analytics"], response_model=DrawdownReport)
    async def drawdowns(self, token: str | None = Depends(_bearer),
                        threshold: float = Query(0.05, ge=0.0, lt=1.0,
                                                 description="smallest depth listed, a fraction (0.05 = 5%)")
                        ) -> dict[str, Any]:
        """Every drawdown of the book's time-weighted wealth (cash in and out taken out) deeper
        than ``threshold``: peak, trough, recovery (null while open), depth, days to trough and
        to recover, deepest first."""
        await self.authenticate(token, Role.VIEWER)
        return await self.call("orders", "drawdowns", threshold)

    @app.get("/api/tax/lots", tags=["tax"], response_model=TaxLotsReport)
    async def tax_lots(self, token: str | None = Depends(_bearer),
                       year: int | None = Query(None, ge=1900, le=2999, description="closed pieces sold in this year")
                       ) -> dict[str, Any]:
        """The account's open tax lots (adjusted basis, holding-period start, unrealised gain at
        the mark, the term a sale now would have) and closed pieces (gain, term, loss disallowed
        by a wash sale), with totals: one ledger, the one compliance reads."""
        await self.authenticate(token, Role.VIEWER)
        return await self.call("orders", "tax_lots", year)

    @app.get("/api/tax/harvest", tags=["tax"], response_model=HarvestReport)
    async def tax_harvest(self, token: str | None = Depends(_bearer),
                          min_loss: float | None = Query(None, description="currency; default 1,000"),
                          min_loss_fraction: float | None = Query(None, description="of the basis sold; default 0.05"),
                          short_rate: float | None = Query(None, description="default 0.37"),
                          long_rate: float | None = Query(None, description="default 0.20"),
                          min_correlation: float | None = Query(None, description="of the substitute; default 0.5")
                          ) -> dict[str, Any]:
        """Tax-loss harvesting proposals: lots at a loss whose sale would not be a wash sale,
        the loss, the tax benefit at the rates, and a correlated same-sector substitute. Nothing
        is traded: proposals become orders only when submitted (tagged with the harvest strategy)."""
        await self.authenticate(token, Role.VIEWER)
        from pydantic import ValidationError

        from raytrade.analytics.harvest import HarvestConfig
        from raytrade.configfile import describe_validation_error

        given = {k: v for k, v in (("min_loss", min_loss), ("min_loss_fraction", min_loss_fraction),
                                   ("short_rate", short_rate), ("long_rate", long_rate),
                                   ("min_correlation", min_correlation)) if v is not None}
        try:
            HarvestConfig(**given)
        except ValidationError as exc:
            raise ApiError(422, "INVALID_REQUEST", describe_validation_error(exc, "query"),
                           field=f"query.{exc.errors()[0]['loc'][0]}") from None
        return await self.call("orders", "tax_harvest", given)

    # --- WebSocket ---------------------------------------------------------------------------

    async def _fan_out(self) -> None:
        """This replica's one feed of engine events, copied to its clients' queues.

        Without Redis: the event store's tail. With Redis: its pub/sub, with the store as the
        truth behind it. When Redis drops, the feed follows the store's tail from the last record
        it delivered and tries Redis again every ``BUS_RETRY_S``; once subscribed again it first
        catches up from the store (subscribe, then read: nothing falls between), skipping on the
        bus what the store already gave. While the bus is silent the feed compares the store's
        head with what it delivered every ``GAP_CHECK_S`` and fills any gap from the store (an
        engine whose own Redis connection was still down published those records nowhere)."""
        if not self.cache.url:
            async for msg in self._store_tail():
                self._deliver(msg)
            return
        store = await self.store()
        last = (await store.head())[0]  # the newest log record delivered
        from_store = 0                  # records up to here came from the store: their bus copies are skipped
        tailing = False
        while True:
            pubsub = None
            try:
                pubsub = self.cache.pubsub()
                await pubsub.subscribe(EventBus(self.cache).channel)
                if tailing:
                    last = from_store = await self._deliver_from_store(store, last)
                    tailing = False
                quiet_since = time.monotonic()
                while True:
                    raw = await pubsub.get_message(ignore_subscribe_messages=True, timeout=GAP_CHECK_S)
                    if raw is None or raw.get("type") != "message":
                        if time.monotonic() - quiet_since >= GAP_CHECK_S and (await store.head())[0] > last:
                            last = from_store = await self._deliver_from_store(store, last)
                        quiet_since = time.monotonic()
                        continue
                    quiet_since = time.monotonic()
                    msg = json.loads(raw["data"])
                    seq = msg.get("sequence") if msg.get("type") in LOG_RECORD_TYPES else None
                    if isinstance(seq, int):
                        if seq <= from_store:
                            continue
                        last = max(last, seq)
                    self._deliver(msg)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # Redis (or, while catching up, the store) dropped
                if not tailing:
                    print(f"raytrade API: event bus unavailable ({type(exc).__name__}); following the event store",
                          flush=True)
                tailing = True
            finally:
                if pubsub is not None:
                    with contextlib.suppress(Exception):
                        await pubsub.aclose()
            with contextlib.suppress(Exception):
                last = min(last, (await store.head())[0])  # a bus message may carry any number
            deadline = time.monotonic() + BUS_RETRY_S
            while time.monotonic() < deadline:
                with contextlib.suppress(RaytradeError):  # the store down as well: nothing to deliver, nothing lost
                    last = from_store = await self._deliver_from_store(store, last)
                await asyncio.sleep(TAIL_EVERY_S)

    def _deliver(self, msg: dict[str, Any]) -> None:
        ws_type = WS_EVENTS.get(str(msg.get("type")))
        if ws_type is None:
            return
        symbol = _message_symbol(msg)
        for client in list(self._ws_clients):
            if client.wants(ws_type, symbol):
                client.offer({"type": ws_type, "sequence": msg.get("sequence"), "data": msg})

    async def _deliver_from_store(self, store: EventStore, last: int) -> int:
        """Deliver the log's records after ``last`` (and the updates they imply); the new last."""
        async for msg in self._records_after(store, last):
            self._deliver(msg)
            if msg.get("type") in LOG_RECORD_TYPES:
                last = max(last, int(msg["sequence"]))
        return last

    async def _records_after(self, store: EventStore, last: int) -> AsyncIterator[dict[str, Any]]:
        """The log's records after ``last`` and, after fills, the position and performance updates
        the portfolio actor would have published."""
        records = await store.read(last + 1)
        if not records:
            return
        last = records[-1].sequence
        fills = []
        for r in records:
            yield r.to_json()
            if r.event.type is EventType.FILL:
                fills.append(r.event.payload["fill"]["symbol"])
        if fills:
            snap = await self.snapshot()
            by_symbol = {p["symbol"]: p for p in snap["positions"]}
            for sym in dict.fromkeys(fills):
                yield {"type": "position_update", "sequence": last, "symbol": sym, "position": by_symbol.get(sym)}
            keys = ("equity", "cash", "realized_pnl", "unrealized_pnl", "daily_pnl", "gross_leverage")
            yield {"type": "performance_update", "sequence": last, **{k: snap[k] for k in keys}}

    async def _store_tail(self, every_s: float = TAIL_EVERY_S) -> AsyncIterator[dict[str, Any]]:
        """Without Redis (a laptop): new log records every ``every_s`` (:meth:`_records_after`)."""
        store = await self.store()
        last = (await store.head())[0]
        while True:
            await asyncio.sleep(every_s)
            async for msg in self._records_after(store, last):
                if msg.get("type") in LOG_RECORD_TYPES:
                    last = max(last, int(msg["sequence"]))
                yield msg

    @app.websocket("/ws")
    async def websocket(self, ws: WebSocket, token: str | None = None, events: str | None = None,
                        symbols: str | None = None) -> None:
        """Engine events as they happen: ``/ws?token=rtk_...&events=order_update,trade_update&symbols=KO``.

        Messages are ``{"type", "seq", "sequence", "data"}``: ``seq`` counts this connection's
        messages from 1 without gaps (a gap cannot happen silently: a client that falls
        ``ws_queue`` events behind is closed with code 4008), ``sequence`` is the log's, to
        re-read over REST. A heartbeat comes every ``ws_heartbeat_s``. Send
        ``{"action": "subscribe", "events": [...], "symbols": [...]}`` to change the filters.
        Events come from Redis pub/sub when ``RAYTRADE_REDIS_URL`` is set (every replica serves
        any client), else from the event store's tail, polled every 0.2 s.
        Close codes: 4401 bad key, 4403 role, 4429 rate limit of the key (retry later), 4400 bad
        filter, 4008 slow consumer. If Redis drops, events keep coming from the event store (see
        :meth:`_fan_out`).
        """
        await ws.accept()
        header = ws.headers.get("authorization", "")
        token = token or (header[7:].strip() if header.lower().startswith("bearer ") else None)
        try:
            await self.authenticate(token, Role.VIEWER)
        except ApiError as exc:
            code = {403: WS_FORBIDDEN, 429: WS_RATE_LIMITED}.get(exc.status, WS_UNAUTHENTICATED)
            await ws.close(code=code, reason=exc.detail[:120])
            return
        try:
            client = WsClient(_csv(events, WS_TYPES) or set(WS_TYPES), _csv(symbols), self.config.ws_queue)
        except ValueError as exc:
            await ws.close(code=4400, reason=str(exc)[:120])
            return
        if self._fanout is None or self._fanout.done():
            self._fanout = asyncio.create_task(self._fan_out())
        self._ws_clients.add(client)
        self._ws_gauge()

        async def send(message: dict[str, Any]) -> None:
            client.seq += 1
            await ws.send_json({**message, "seq": client.seq})

        async def sender() -> None:
            await send({"type": "subscribed", "events": sorted(client.events), "symbols": sorted(client.symbols)})
            while True:
                try:
                    message = await asyncio.wait_for(client.queue.get(), self.config.ws_heartbeat_s)
                except TimeoutError:
                    message = {"type": "heartbeat", "time": time.time()}
                if client.overflowed:
                    await ws.close(code=WS_SLOW, reason=f"slow consumer: more than {self.config.ws_queue} "
                                                        "events behind; re-read over REST and reconnect")
                    return
                await send(message)

        async def receiver() -> None:
            while True:
                msg = await ws.receive_json()
                if isinstance(msg, dict) and msg.get("action") == "subscribe":
                    try:
                        client.events = set(_csv(",".join(msg.get("events") or []), WS_TYPES)) or set(WS_TYPES)
                        client.symbols = set(msg.get("symbols") or [])
                    except (ValueError, TypeError) as exc:
                        await ws.close(code=4400, reason=str(exc)[:120])
                        return
                    client.offer({"type": "subscribed", "events": sorted(client.events),
                                  "symbols": sorted(client.symbols)})

        tasks = [asyncio.create_task(sender()), asyncio.create_task(receiver())]
        try:
            await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for t in tasks:
                t.cancel()
                if t.done() and not t.cancelled():
                    t.exception()  # a closed connection ends its loop with an exception: expected
            self._ws_clients.discard(client)
            self._ws_gauge()

    def _ws_gauge(self) -> None:
        replica = serve.get_replica_context().replica_id.unique_id
        metrics().ws_clients.set(len(self._ws_clients), {"replica": replica})

    def check_health(self) -> None:
        """Serve's health check: the replica is alive; dependencies are reported by /api/health/ready."""


def build(config: ApiConfig) -> Any:
    """The Serve application for ``config``."""
    return ApiGateway.bind(config)


def app_builder(args: dict[str, Any]) -> Any:
    """Serve's application builder (``import_path: raytrade.serve.api:app_builder``): ``args`` are
    the fields of :class:`ApiConfig`, as in a Serve config file or a RayService's serveConfigV2."""
    return build(ApiConfig.model_validate(args))
