"""The API's routes by area, each an APIRouter the app includes (:mod:`raytrade.serve.api`).

Each route takes the caller's key (``ViewerKey``, ``TraderKey``, ``AdminKey``) and the replica's
gateway (``Gateway``) as dependencies (:mod:`raytrade.serve.deps`). The modules do not use
``from __future__ import annotations``: FastAPI resolves the annotations at run time.
"""

from raytrade.serve.routers import analytics, control, execution, health, orders, portfolio

ROUTERS = [r.router for r in (health, portfolio, orders, control, execution, analytics)]

__all__ = ["ROUTERS"]
