"""Compliance: the ComplianceGate (market hours, restricted list and wash-sale flags), hosted by
the order manager, and the ComplianceActor, its named front door. Every violation is committed to
the log (severity, action) before the decision is returned, and replayed at a restart."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from raytrade.actors.base import GateFront, PortfolioMirror
from raytrade.actors.config import EngineConfig
from raytrade.compliance.rules import ComplianceChecker, Violation
from raytrade.core.enums import EventType
from raytrade.core.events import Event
from raytrade.core.orders import Fill, Order


class ComplianceGate(PortfolioMirror):
    """Decides on orders against the rules (:meth:`decide`); keeps the violations."""

    def __init__(self, config: EngineConfig) -> None:
        super().__init__(config)
        self.instruments = config.instrument_map()
        self.checker = ComplianceChecker(config.compliance)
        self.violations: list[Violation] = []

    def extra_types(self) -> tuple[EventType, ...]:
        return (EventType.VIOLATION,)

    async def rebuild(self) -> None:
        self.checker = ComplianceChecker(self.config.compliance)
        self.violations = []
        await super().rebuild()

    def apply(self, type_: EventType, p: dict[str, Any]) -> None:
        if type_ is EventType.VIOLATION:
            self.violations.append(Violation.from_dict(p))
        else:
            super().apply(type_, p)

    def on_fill(self, fill: Fill, realized: float) -> None:
        self.checker.on_fill(fill, realized)

    async def decide(self, o: Order, ts: datetime) -> dict[str, Any]:
        await self.ensure_ready()
        assert self.store is not None
        d = self.checker.check(o, self.instruments[o.symbol], ts)
        if d.violations:
            records = await self.append([Event(EventType.VIOLATION, "compliance", v.detail, v.to_dict())
                                               for v in d.violations])
            self._seen.update(r.sequence for r in records)
            self.violations.extend(d.violations)
        return {"ok": d.ok, "code": d.code.value if d.code else None, "detail": d.detail,
                "violations": [v.to_dict() for v in d.violations]}

    async def list_violations(self, limit: int = 100) -> list[dict[str, Any]]:
        await self.ensure_ready()
        return [v.to_dict() for v in self.violations[-limit:]][::-1]


class ComplianceActor(GateFront):
    """The compliance gate's named actor: :meth:`list_violations`."""

    role = "compliance"

    async def list_violations(self, limit: int = 100) -> list[dict[str, Any]]:
        """Violations newest first."""
        return list(await self.call("list_violations", limit))
