"""The API's dependencies: the replica's gateway, and the caller's key at a role.

``ViewerKey``, ``TraderKey``, ``AdminKey``: the route needs a key of at least that role; the
dependency reads ``Authorization: Bearer rtk_...`` (or ``X-API-Key``), authenticates it against
the key ring (401 missing, unknown or revoked; 403 role too low) and takes a token from the key's
rate-limit bucket (429 with Retry-After), before the route runs. ``Gateway``: the replica's
:class:`~raytrade.serve.api.ApiGateway` (one per replica process, registered when it starts).

(No ``from __future__ import annotations``: FastAPI resolves these annotations at run time.)
"""

from typing import Annotated, Any

from fastapi import Depends, Header

from raytrade.serve.keys import ApiKey, Role
from raytrade.serve.schemas import ApiError

_gateway: list[Any] = []


def register(gateway: Any) -> None:
    """Make ``gateway`` the one the routes of this process use (the replica's constructor calls it)."""
    _gateway[:] = [gateway]


def gateway() -> Any:
    if not _gateway:
        raise ApiError(503, "STARTING", "the API replica is starting", retry_after=1)
    return _gateway[0]


async def bearer(authorization: Annotated[str | None, Header()] = None,
                 x_api_key: Annotated[str | None, Header()] = None) -> str | None:
    if authorization and authorization.lower().startswith("bearer "):
        return authorization[7:].strip()
    return x_api_key


def _require(role: Role) -> Any:
    async def key(token: Annotated[str | None, Depends(bearer)],
                  gw: Annotated[Any, Depends(gateway)]) -> ApiKey:
        key: ApiKey = await gw.authenticate(token, role)
        return key

    key.__name__ = f"{role.name.lower()}_key"
    return key


def owner(key: ApiKey) -> str | None:
    """Whose orders ``key`` may see and cancel: its own (its principal), every key's for an admin."""
    return None if key.role >= Role.ADMIN else key.principal


Gateway = Annotated[Any, Depends(gateway)]
ViewerKey = Annotated[ApiKey, Depends(_require(Role.VIEWER))]
TraderKey = Annotated[ApiKey, Depends(_require(Role.TRADER))]
AdminKey = Annotated[ApiKey, Depends(_require(Role.ADMIN))]
