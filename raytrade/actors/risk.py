"""The RiskActor: the named front door of the pre-trade risk limits, which the trading core
(:class:`~raytrade.execution.core.TradingCore`) applies to every order inside the order manager.

A halt (daily loss breach, or an admin) and a resume are committed to the log before they take
effect, and replayed at a restart; limit changes are ``parameter_changed`` events.
"""

from __future__ import annotations

from typing import Any

from raytrade.actors.base import GateFront


class RiskActor(GateFront):
    """The risk limits' named actor: :meth:`status`, :meth:`halt`, :meth:`resume`, :meth:`update_limits`."""

    role = "risk"

    async def status(self, open_quantities: dict[str, float] | None = None) -> dict[str, Any]:
        """Limits, their current use and the halt state."""
        return dict(await self.call("status", open_quantities))

    async def halt(self, principal: str, reason: str) -> dict[str, Any]:
        """Refuse risk-increasing orders until :meth:`resume` (logged first)."""
        return dict(await self.call("halt", principal, reason))

    async def resume(self, principal: str, reason: str) -> dict[str, Any]:
        return dict(await self.call("resume", principal, reason))

    async def update_limits(self, limits: dict[str, Any], principal: str, reason: str) -> dict[str, Any]:
        """Replace some limits (validated; logged as ``parameter_changed``)."""
        return dict(await self.call("update_limits", limits, principal, reason))
