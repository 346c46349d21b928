"""The API's routes by area, each an APIRouter the app includes (:mod:`raytrade.serve.api`)."""

from raytrade.serve.routers import analytics, control, execution, health, orders, portfolio

ROUTERS = [r.router for r in (health, portfolio, orders, control, execution, analytics)]

__all__ = ["ROUTERS"]
