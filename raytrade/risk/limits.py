"""Pre-trade risk limits (``configs/risk.yaml``).

Weights and leverage are fractions of current equity (0.05 = 5%); notional in the account
currency; the daily loss is a fraction of the equity at the start of the day.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from raytrade.risk.checks import CheckSpec


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
    checks: tuple[CheckSpec, ...] = Field((), description="limits on the book's risk figures (var, delta, gamma, "
                                          "vega; raytrade.risk.checks), for orders that add risk")
    figures_max_age_s: float = Field(60.0, gt=0, le=86_400, description="with checks: risk figures older than "
                                     "this (wall seconds) refuse orders that add risk (fail closed)")


def load_risk_limits(path: str | Path) -> RiskLimits:
    from raytrade.configfile import load_yaml

    return load_yaml(path, RiskLimits)
