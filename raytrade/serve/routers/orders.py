"""Orders: list, submit (trader), look up, cancel (trader); a key sees its own orders, an admin every key's."""

from typing import Any

from fastapi import APIRouter, Query

from raytrade.core.enums import OrderStatus, RejectReason
from raytrade.core.errors import OrderStateError
from raytrade.serve.deps import Gateway, TraderKey, ViewerKey, owner
from raytrade.serve.responses import (
    OrderList,
    OrderView,
)
from raytrade.serve.schemas import (
    RETRY_AFTER_S,
    SERVER_SIDE,
    ApiError,
    OrderRequest,
)

router = APIRouter()


@router.get("/api/orders", tags=["orders"], response_model=OrderList)
async def list_orders(key: ViewerKey, gw: Gateway, status: OrderStatus | None = None,
                      symbol: str | None = Query(None, max_length=32),
                      since: str | None = Query(None, description="ISO 8601 time; orders updated since"),
                      limit: int = Query(100, ge=1, le=1000), offset: int = Query(0, ge=0)) -> dict[str, Any]:
    """Orders newest first, filtered and paginated (``total`` counts every match): the key's own,
    every key's for an admin key."""
    if since is not None:
        from datetime import datetime

        try:
            datetime.fromisoformat(since)
        except ValueError:
            raise ApiError(422, "INVALID_REQUEST", f"since must be an ISO 8601 time, got {since!r}",
                           field="since") from None
    return await gw.call("orders", "list_orders", status.value if status else None, symbol, since, limit, offset,
                           owner(key))


@router.post("/api/orders", tags=["orders"], status_code=201, response_model=OrderView)
async def submit(body: OrderRequest, key: TraderKey, gw: Gateway) -> dict[str, Any]:
    """Submit an order. 201 with the order when accepted (filled or working); 422 with the reason
    code when refused; 503 when the engine cannot take orders now."""
    view = await gw.answer("orders", gw.order_client().submit(body.model_dump(exclude_none=True), key.principal))
    code = view.get("reject_code")
    if view["status"] == "rejected" and code:
        extra: dict[str, Any] = {"order": view}
        if RejectReason(code) in SERVER_SIDE:
            status, extra["retry_after"] = 503, RETRY_AFTER_S
        else:
            status = 409 if code == RejectReason.DUPLICATE_ORDER_ID else 422
        raise ApiError(status, code, view.get("reject_detail") or code, **extra)
    return view


@router.get("/api/orders/{client_order_id}", tags=["orders"], response_model=OrderView)
async def get_order(client_order_id: str, key: ViewerKey, gw: Gateway) -> dict[str, Any]:
    """One order: the key's own (404 for another key's), any order for an admin key."""
    view = await gw.call("orders", "get_order", client_order_id, owner(key))
    if view is None:
        raise ApiError(404, "NOT_FOUND", f"no order {client_order_id!r}")
    return view


@router.delete("/api/orders/{client_order_id}", tags=["orders"], response_model=OrderView)
async def cancel(client_order_id: str, key: TraderKey, gw: Gateway) -> dict[str, Any]:
    """Cancel a working order of the key's (any, for an admin): 404 unknown id or another
    key's order, 409 when it is no longer open, 503 when the cancel request cannot be
    recorded now (the order then stays working: try again)."""
    who = owner(key)
    view = await gw.call("orders", "get_order", client_order_id, who)
    if view is None:
        raise ApiError(404, "NOT_FOUND", f"no order {client_order_id!r}")
    try:
        return await gw.call("orders", "cancel", client_order_id, key.principal, who)
    except OrderStateError as exc:
        raise ApiError(409, "NOT_CANCELLABLE", str(exc), order=view) from None
