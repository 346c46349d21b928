"""Liveness and readiness (no key needed)."""

import asyncio
import time
from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from raytrade.serve.deps import Gateway
from raytrade.serve.responses import (
    Health,
    Readiness,
)

router = APIRouter()


@router.get("/api/health", tags=["health"], response_model=Health)
async def health() -> dict[str, str]:
    """Liveness: the API replica answers."""
    return {"status": "ok"}


@router.get("/api/health/ready", tags=["health"], response_model=Readiness,
            responses={503: {"model": Readiness, "description": "something trading needs is down"}})
async def ready(gw: Gateway) -> JSONResponse:
    """Readiness: the store, Redis, each actor and the broker, with each one's latency in ms.
    503 when something trading needs is down; Redis is a cache and a fan-out (the API falls
    back to the actors and the store without it), so Redis alone down answers 200 with
    ``"status": "degraded"``."""
    checks: dict[str, dict[str, Any]] = {}

    async def probe(name: str, fn: Any) -> None:
        t = time.perf_counter()
        try:
            await asyncio.wait_for(fn(), gw.config.call_timeout_s)
            checks[name] = {"ok": True, "latency_ms": (time.perf_counter() - t) * 1000}
        except Exception as exc:
            checks[name] = {"ok": False, "error": f"{type(exc).__name__}: {str(exc)[:200]}"}

    async def store_ping() -> None:
        await (await gw.store()).ping()

    probes = [probe("store", store_ping)]
    if gw.cache.url:
        probes.append(probe("redis", gw.cache.ping))
    for role in ("orders", "portfolio", "risk", "compliance"):
        probes.append(probe(role, lambda role=role: gw.call(role, "ping")))
    probes.append(probe("broker", lambda: gw.call("orders", "broker_ping")))
    await asyncio.gather(*probes)
    ok = all(c["ok"] for name, c in checks.items() if name != "redis")
    status = ("ready" if checks.get("redis", {"ok": True})["ok"] else "degraded") if ok else "not_ready"
    return JSONResponse({"status": status, "checks": checks}, status_code=200 if ok else 503)
