"""Pre-trade risk limits (``configs/risk.yaml``).

Weights and leverage are fractions of current equity (0.05 = 5%); notional in the account
currency; the daily loss is a fraction of the equity at the start of the day. The seven ``max_*``
fields are the standing checks of :mod:`raytrade.risk.checks`; ``checks`` lists more entries of its
registry (an entry of a standing kind, ``{kind: symbol_weight, max: 0.1}``, sets that field).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from raytrade.risk.checks import PRETRADE_CHECKS, STANDING, check_from_config, ordered

CheckEntry = Annotated[Any, BeforeValidator(check_from_config)]


class RiskLimits(BaseModel):
    """Every limit is a finite number (an infinite one would switch a check off unseen)."""

    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)

    max_symbol_weight: float = Field(0.05, gt=0, le=10, description="|position value| / equity per symbol")
    max_sector_weight: float = Field(0.25, gt=0, le=10, description="sum of |position value| / equity per sector")
    max_gross_leverage: float = Field(3.0, gt=0, le=100, description="sum of |position value| / equity")
    max_daily_loss: float = Field(0.05, gt=0, le=1, description="loss since the day's start / its starting equity; "
                                                               "a breach halts risk-increasing orders until reset")
    max_order_notional: float = Field(1_000_000.0, gt=0, description="quantity x price x multiplier per order")
    max_orders_per_second: float = Field(50.0, gt=0, description="accepted orders in any one-second window")
    max_limit_deviation: float = Field(0.10, gt=0, le=10, description="|limit / market price - 1| of a limit order")
    checks: tuple[CheckEntry, ...] = Field((), description="more pre-trade checks by kind (raytrade.risk.checks): "
                                           "var, delta, gamma, vega or a registered one; a standing kind "
                                           "(symbol_weight, ...) sets its max_* field")
    figures_max_age_s: float = Field(60.0, gt=0, le=86_400, description="with figure checks: risk figures older "
                                     "than this (wall seconds) refuse orders that add risk (fail closed)")

    @model_validator(mode="before")
    @classmethod
    def _standing_entries(cls, data: Any) -> Any:
        """Move ``{kind: symbol_weight, max: x}`` entries of ``checks`` into ``max_symbol_weight``."""
        if not isinstance(data, Mapping) or not isinstance(data.get("checks"), list | tuple):
            return data
        data, rest = dict(data), []
        for i, item in enumerate(data["checks"]):
            entry = item.model_dump() if isinstance(item, BaseModel) else item
            kind = entry.get("kind") if isinstance(entry, Mapping) else None
            if kind in STANDING and set(entry) <= {"kind", "max"} and "max" in entry:
                field = STANDING[kind]
                if field in data and data[field] != entry["max"]:
                    raise ValueError(f"checks[{i}]: {kind} max {entry['max']} contradicts {field}: {data[field]} "
                                     "(give one of them)")
                data[field] = entry["max"]
            else:
                rest.append(item)
        data["checks"] = rest
        return data

    def pretrade_checks(self) -> tuple[Any, ...]:
        """Every check these limits apply, in the order they run: the seven standing ones, then
        ``checks``, stably sorted by phase."""
        standing = [PRETRADE_CHECKS[kind](max=getattr(self, field)) for kind, field in STANDING.items()]
        return ordered([*standing, *self.checks])

    def updated(self, values: Mapping[str, Any]) -> RiskLimits:
        """These limits with ``values`` changed (validated): a ``checks`` list replaces the extra
        checks, and its standing-kind entries replace their fields."""
        base = self.model_dump()
        if "checks" in values:
            for item in values["checks"] or ():
                kind = item.get("kind") if isinstance(item, Mapping) else None
                if kind in STANDING and STANDING[kind] not in values:
                    base.pop(STANDING[kind], None)
        return RiskLimits.model_validate({**base, **values})


def load_risk_limits(path: str | Path) -> RiskLimits:
    from raytrade.configfile import load_yaml

    return load_yaml(path, RiskLimits)
