"""Transaction-cost analysis of the parent orders."""

from typing import Any

from fastapi import APIRouter, Query

from raytrade.serve.deps import Gateway, ViewerKey
from raytrade.serve.schemas import (
    ApiError,
    TcaReport,
)

router = APIRouter()


@router.get("/api/tca", tags=["execution"], response_model=TcaReport)
async def tca(key: ViewerKey, gw: Gateway,
              start: str | None = Query(None, description="ISO 8601 time: parents accepted from"),
              end: str | None = Query(None, description="ISO 8601 time: parents accepted until")) -> dict[str, Any]:
    """Transaction-cost analysis of the parent orders (orders with an execution algorithm):
    per parent its arrival price, average price, slippage to arrival and to the interval VWAP
    (bps), implementation shortfall split into delay, trading and opportunity cost (account
    currency) and in bps of the arrival notional, fill rate, participation and post-trade
    reversion; per algorithm and per venue summaries. Market benchmarks come from the bars
    the order manager has seen since it started (null for older parents)."""
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
    return await gw.call("orders", "tca", start, end)
