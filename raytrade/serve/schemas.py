"""The API's request bodies, report models, settings and error type (the routes are in
:mod:`raytrade.serve.routers`, the deployment in :mod:`raytrade.serve.api`).

(No ``from __future__ import annotations``: FastAPI resolves these annotations at run time.)
"""

from pathlib import Path
from typing import Annotated, Any, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from raytrade.actors.config import EngineConfig
from raytrade.core.enums import RejectReason
from raytrade.core.orders import MAX_PRICE, MAX_QUANTITY

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
    rate_per_s: float = Field(20.0, gt=0, description="requests per second per key (token bucket refill); a key "
                                                      "created with its own rate (keys create --rate) has that")
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
