"""The book: cash, equity, positions and performance (viewer keys)."""

import asyncio
from typing import Any

from fastapi import APIRouter
from fastapi.responses import Response

from raytrade.serve.deps import Gateway, ViewerKey
from raytrade.serve.responses import (
    Performance,
    PortfolioView,
    PositionView,
)

router = APIRouter()


@router.get("/api/portfolio", tags=["portfolio"], response_model=PortfolioView)
async def portfolio(key: ViewerKey, gw: Gateway) -> Response:
    """Cash, equity, exposure, leverage and P&L (account currency), with the positions."""
    return Response((await gw.shared_snapshot()).body(), media_type="application/json")


@router.get("/api/positions", tags=["portfolio"], response_model=list[PositionView])
async def positions(key: ViewerKey, gw: Gateway) -> list[dict[str, Any]]:
    """Open and closed positions: signed quantity, average cost, mark, P&L."""
    return (await gw.snapshot())["positions"]


@router.get("/api/performance", tags=["portfolio"], response_model=Performance)
async def performance(key: ViewerKey, gw: Gateway) -> dict[str, Any]:
    """P&L figures and order counts so far."""
    snap, stats = await asyncio.gather(gw.snapshot(), gw.call("orders", "stats"))
    keys = ("equity", "cash", "realized_pnl", "unrealized_pnl", "daily_pnl", "gross_leverage", "net_leverage")
    return {**{k: snap[k] for k in keys}, "orders": stats["counts"], "open_orders": stats["open_orders"]}
