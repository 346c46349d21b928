"""Pre-trade risk: the RiskGate (limits over its own replayed view of the portfolio, plus the halt
state), hosted by the order manager, and the RiskActor, its named front door.

A halt (daily loss breach, or an admin) and a resume are committed to the log before they take
effect, and replayed at a restart; limit changes are ``parameter_changed`` events.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from raytrade.actors.base import GateFront, PortfolioMirror
from raytrade.actors.config import EngineConfig
from raytrade.actors.metrics import metrics, tags
from raytrade.core.enums import EventType, RejectReason
from raytrade.core.events import Event
from raytrade.core.orders import Order
from raytrade.risk.limits import RiskLimits
from raytrade.risk.pretrade import PreTradeRisk


class RiskGate(PortfolioMirror):
    """Decides on orders against the limits (:meth:`decide`); halts, resumes and limit changes."""

    def __init__(self, config: EngineConfig) -> None:
        super().__init__(config)
        self.instruments = config.instrument_map()
        self.risk = self._new_risk(config.risk)

    def _new_risk(self, limits: RiskLimits) -> PreTradeRisk:
        return PreTradeRisk(limits, {s: i.sector for s, i in self.instruments.items()})

    def extra_types(self) -> tuple[EventType, ...]:
        return (EventType.TRADING_HALTED, EventType.TRADING_RESUMED, EventType.PARAMETER_CHANGED)

    async def rebuild(self) -> None:
        self.risk = self._new_risk(self.config.risk)
        await super().rebuild()

    def apply(self, type_: EventType, p: dict[str, Any]) -> None:
        if type_ is EventType.TRADING_HALTED:
            self.risk.halt(RejectReason(p["code"]), p["detail"])
        elif type_ is EventType.TRADING_RESUMED:
            self.risk.resume(self.book)
        elif type_ is EventType.PARAMETER_CHANGED and p.get("component") == "risk":
            halted = (self.risk.halted, self.risk.halt_code, self.risk.halt_detail)
            self.risk = self._new_risk(RiskLimits.model_validate(p["limits"]))
            self.risk.halted, self.risk.halt_code, self.risk.halt_detail = halted
        else:
            super().apply(type_, p)

    async def decide(self, o: Order, open_quantities: dict[str, float], ts: datetime) -> dict[str, Any]:
        """Decide on an order given the signed open quantities per symbol (orders in flight
        included); a daily-loss halt it triggers is committed before the answer."""
        await self.ensure_ready()
        inst = self.instruments.get(o.symbol)
        was = self.risk.halted
        d = self.risk.check(o, self.book, open_quantities, ts, inst.multiplier if inst else 1.0)
        if self.risk.halted != was:
            metrics().risk_halt.set(float(self.risk.halted), tags(self.config.name))
        if self.risk.halted and not was:
            await self._record_halt(self.risk.halt_code or RejectReason.DAILY_LOSS_HALT, self.risk.halt_detail,
                                    "risk", "daily loss limit breached")
        return {"ok": d.ok, "code": d.code.value if d.code else None, "detail": d.detail, "numbers": d.numbers}

    async def _record_halt(self, code: RejectReason, detail: str, principal: str, reason: str) -> None:
        assert self.store is not None
        (rec,) = await self.append([Event(EventType.TRADING_HALTED, principal, reason,
                                                {"code": code.value, "detail": detail})])
        self._seen.add(rec.sequence)

    async def halt(self, principal: str, reason: str) -> dict[str, Any]:
        """Admin halt: refuse risk-increasing orders until :meth:`resume`."""
        await self.ensure_ready()
        detail = f"trading halted by {principal}: {reason}"
        await self._record_halt(RejectReason.TRADING_HALTED, detail, principal, reason)
        self.risk.halt(RejectReason.TRADING_HALTED, detail)
        return await self.status()  # status() also sets the risk_halt gauge

    async def resume(self, principal: str, reason: str) -> dict[str, Any]:
        await self.ensure_ready()
        assert self.store is not None
        (rec,) = await self.append([Event(EventType.TRADING_RESUMED, principal, reason, {})])
        self._seen.add(rec.sequence)
        self.risk.resume(self.book)
        return await self.status()

    async def update_limits(self, limits: dict[str, Any], principal: str, reason: str) -> dict[str, Any]:
        """Replace the limits (validated first; logged as ``parameter_changed``)."""
        await self.ensure_ready()
        assert self.store is not None
        new = RiskLimits.model_validate({**self.risk.limits.model_dump(), **limits})
        event = Event(EventType.PARAMETER_CHANGED, principal, reason,
                      {"component": "risk", "limits": new.model_dump()})
        (rec,) = await self.append([event])
        self._seen.add(rec.sequence)
        self.apply_event(rec.event)
        return await self.status()

    async def status(self, open_quantities: dict[str, float] | None = None) -> dict[str, Any]:
        """Limits, their current use and the halt state."""
        await self.ensure_ready()
        metrics().risk_halt.set(float(self.risk.halted), tags(self.config.name))
        return self.risk.usage(self.book, open_quantities or {})


class RiskActor(GateFront):
    """The risk gate's named actor: :meth:`status`, :meth:`halt`, :meth:`resume`, :meth:`update_limits`."""

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
