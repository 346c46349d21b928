"""The ComplianceActor: the named front door of the compliance rules (market hours, restricted
list, wash-sale flags), which the trading core applies to every order inside the order manager.
Every violation is committed to the log with the decision it belongs to, and replayed at a restart."""

from __future__ import annotations

from typing import Any

from raytrade.actors.base import GateFront


class ComplianceActor(GateFront):
    """The compliance rules' named actor: :meth:`list_violations`."""

    role = "compliance"

    async def list_violations(self, limit: int = 100) -> list[dict[str, Any]]:
        """Violations newest first."""
        return list(await self.call("list_violations", limit))
