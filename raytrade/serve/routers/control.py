"""Risk limits and the halt, compliance violations, signals, and the engine's and strategies' switches."""

import asyncio
from typing import Any

from fastapi import APIRouter, Query
from pydantic import ValidationError

from raytrade.core.errors import DataError
from raytrade.serve.deps import AdminKey, Gateway, ViewerKey
from raytrade.serve.keys import ApiKey
from raytrade.serve.responses import (
    EngineStatus,
    EngineSwitch,
    RiskStatus,
    Signals,
    StrategyState,
    ViolationView,
)
from raytrade.serve.schemas import (
    ApiError,
    ParametersBody,
    ReasonBody,
    SignalsRequest,
    StartBody,
    StrategyBody,
)

router = APIRouter()


@router.get("/api/risk", tags=["risk"], response_model=RiskStatus)
async def risk(key: ViewerKey, gw: Gateway) -> dict[str, Any]:
    """Limits, their current use (open orders included) and the halt state."""
    listing = await gw.call("orders", "open_quantities")
    return await gw.call("risk", "status", listing)


@router.post("/api/risk/halt", tags=["risk"], response_model=RiskStatus)
async def halt(body: ReasonBody, key: AdminKey, gw: Gateway) -> dict[str, Any]:
    return await gw.call("risk", "halt", key.principal, body.reason)


@router.post("/api/risk/resume", tags=["risk"], response_model=RiskStatus)
async def resume(body: ReasonBody, key: AdminKey, gw: Gateway) -> dict[str, Any]:
    return await gw.call("risk", "resume", key.principal, body.reason)


@router.post("/api/parameters/update", tags=["risk"], response_model=StrategyState | RiskStatus,
              response_model_exclude_unset=True)
async def update_parameters(body: ParametersBody, key: AdminKey, gw: Gateway) -> dict[str, Any]:
    """Change risk limits, or a running strategy's parameters (``component: strategy`` with
    ``strategy``: validated by its parameter space); logged as ``parameter_changed`` with the
    key's id."""
    if body.component == "strategy":
        if body.strategy is None:
            raise ApiError(422, "INVALID_REQUEST", "component strategy needs the strategy's name", field="strategy")
        row = await gw.call("orders", "update_strategy_params", body.strategy, body.values, key.principal,
                              body.reason)
        return {"strategy": body.strategy, **row}
    from raytrade.configfile import describe_validation_error
    from raytrade.risk.limits import RiskLimits

    unknown = sorted(set(body.values) - set(RiskLimits.model_fields))
    if unknown:
        raise ApiError(422, "INVALID_REQUEST", f"unknown risk limit {unknown[0]!r}", field=f"values.{unknown[0]}")
    try:
        gw.engine.risk.updated(body.values)
    except ValidationError as exc:
        first = exc.errors()[0]
        raise ApiError(422, "INVALID_REQUEST", describe_validation_error(exc, "values"),
                       field=".".join(["values", *(str(x) for x in first["loc"])])) from None
    return await gw.call("risk", "update_limits", body.values, key.principal, body.reason)


@router.get("/api/compliance/violations", tags=["compliance"], response_model=list[ViolationView])
async def violations(key: ViewerKey, gw: Gateway,
                     limit: int = Query(100, ge=1, le=1000)) -> list[dict[str, Any]]:
    """Violations newest first: rule, severity (warning, critical), action taken."""
    return await gw.call("compliance", "list_violations", limit)


@router.post("/api/signals", tags=["signals"], response_model=Signals)
async def signals(body: SignalsRequest, key: ViewerKey, gw: Gateway) -> dict[str, Any]:
    """The ensemble's signal in [-1, 1], confidence, regime and each model's part, per symbol."""
    if not gw.config.signals_app:
        # Without a model the resource does not exist here: 404, not a server failure.
        raise ApiError(404, "NO_MODEL", "no signal model is deployed with this API (ApiConfig.signals_app)")
    if gw._signal_model is None:
        # One handle for the replica's life: a handle made per request pays for a new router each time.
        from ray import serve

        gw._signal_model = serve.get_deployment_handle("SignalModel", app_name=gw.config.signals_app)
    try:
        result = await asyncio.wait_for(gw._signal_model.signals.remote(body.symbols, body.as_of),
                                        gw.config.signals_timeout_s)
    except Exception as exc:
        cause = exc.as_instanceof_cause() if hasattr(exc, "as_instanceof_cause") else exc
        if isinstance(cause, DataError):
            raise ApiError(422, "INVALID_REQUEST", str(cause), field="symbols") from None
        raise ApiError(503, "MODEL_UNAVAILABLE", f"the signal model did not answer: {type(exc).__name__}") from None
    return {"signals": result}


async def _switch(gw: Any, key: ApiKey, body: StrategyBody, running: bool,
                  runner: dict[str, Any] | None = None) -> dict[str, Any]:
    if body.strategy is None:
        if runner is not None:
            raise ApiError(422, "INVALID_REQUEST", "a runner needs the strategy's name (strategy)", field="strategy")
        return {"running": await gw.call("orders", "set_running", running, key.principal, body.reason)}
    if runner is not None:
        from raytrade.execution.runner import parse_runner_spec

        parse_runner_spec({**runner, "name": body.strategy}, "runner")  # one line naming the field, here
    row = await gw.call("orders", "set_strategy", body.strategy, running, key.principal, body.reason, runner)
    return {"strategy": body.strategy, **row}


@router.post("/api/strategies/start", tags=["engine"], response_model=StrategyState | EngineSwitch,
              response_model_exclude_unset=True)
async def start(body: StartBody, key: AdminKey, gw: Gateway) -> dict[str, Any]:
    """Accept orders again: one strategy's (``strategy``), or the whole engine's. With
    ``runner``, the strategy runs in the engine: a runner feeds it the bars, turns its target
    weights into orders (risk, compliance, audit, tagged ``strategy``) and resumes after a restart."""
    return await _switch(gw, key, body, True, body.runner)


@router.post("/api/strategies/stop", tags=["engine"], response_model=StrategyState | EngineSwitch,
              response_model_exclude_unset=True)
async def stop(body: StrategyBody, key: AdminKey, gw: Gateway) -> dict[str, Any]:
    """Refuse new orders until started again: one strategy's (STRATEGY_STOPPED; its open orders
    stay, unless it has a runner: the runner stops and its open orders are cancelled), or
    every order (ENGINE_STOPPED)."""
    return await _switch(gw, key, body, False)


@router.get("/api/strategies/status", tags=["engine"], response_model=EngineStatus,
             response_model_exclude_unset=True)
async def status(key: ViewerKey, gw: Gateway) -> dict[str, Any]:
    """The engine's switch, the risk halt, and each strategy's state, order counts, positions
    and P&L (from its own fills, at the latest marks) and, with a runner, its parameters, last
    signal and target weights."""
    stats, risk, strategies = await asyncio.gather(gw.call("orders", "stats"), gw.call("risk", "status"),
                                                   gw.call("orders", "strategy_status"))
    return {"running": stats["running"], "halted": risk["halted"], "halt_detail": risk["halt_detail"],
            "strategies": strategies}
