"""ComplianceActor: market hours, restricted list and wash-sale flags; every violation is committed
to the log (severity, action) before the decision is returned, and replayed at a restart."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from raytrade.actors.base import PortfolioMirror
from raytrade.actors.config import EngineConfig
from raytrade.compliance.rules import ComplianceChecker, Violation
from raytrade.core.clock import utc_now
from raytrade.core.enums import EventType
from raytrade.core.events import Event
from raytrade.core.orders import Fill, Order


class ComplianceActor(PortfolioMirror):
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

    async def check(self, order: dict[str, Any], now: str | None) -> dict[str, Any]:
        await self.ensure_ready()
        assert self.store is not None
        o = Order.from_dict(order)
        inst = self.instruments[o.symbol]
        d = self.checker.check(o, inst, datetime.fromisoformat(now) if now else utc_now())
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
