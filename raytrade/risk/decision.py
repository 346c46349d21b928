"""A pre-trade risk decision: accepted, or refused with a reason code and the numbers behind it."""

from __future__ import annotations

from dataclasses import dataclass, field

from raytrade.core.enums import RejectReason


@dataclass(frozen=True, slots=True)
class RiskDecision:
    ok: bool
    code: RejectReason | None = None
    detail: str = ""
    numbers: dict[str, float] = field(default_factory=dict)

    @classmethod
    def reject(cls, code: RejectReason, detail: str, **numbers: float) -> RiskDecision:
        return cls(False, code, detail, {k: float(v) for k, v in numbers.items()})


OK = RiskDecision(True)
