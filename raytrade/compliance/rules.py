"""Compliance rules (``configs/compliance.yaml``) and the checker that applies them.

- market hours: an order for an instrument whose market is closed (nights, weekends, holidays,
  after a half day's early close) is rejected (critical violation);
- restricted list: an order in a restricted symbol is rejected (critical);
- wash sale: a buy within ``wash_sale_days`` calendar days after a sale of the same security at a
  loss is accepted and flagged (warning), as the loss may be disallowed for tax.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from raytrade.compliance.calendar import is_market_open
from raytrade.core.enums import RejectReason, Severity, Side
from raytrade.core.instruments import Instrument
from raytrade.core.orders import Fill, Order


class ComplianceRules(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    enforce_market_hours: bool = True
    restricted: tuple[str, ...] = ()
    wash_sale_days: int = Field(30, ge=0, le=366)


def load_compliance_rules(path: str | Path) -> ComplianceRules:
    from raytrade.configfile import load_yaml

    return load_yaml(path, ComplianceRules)


@dataclass(frozen=True, slots=True)
class Violation:
    """A rule broken (or about to be): which, how serious, what was done about it."""

    rule: str
    severity: Severity
    action: str  # "rejected" or "flagged"
    symbol: str
    client_order_id: str
    detail: str
    at: datetime

    def to_dict(self) -> dict[str, Any]:
        return {"rule": self.rule, "severity": self.severity.value, "action": self.action, "symbol": self.symbol,
                "client_order_id": self.client_order_id, "detail": self.detail, "at": self.at.isoformat()}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Violation:
        return cls(d["rule"], Severity(d["severity"]), d["action"], d["symbol"], d["client_order_id"], d["detail"],
                   datetime.fromisoformat(d["at"]))


@dataclass(frozen=True, slots=True)
class ComplianceDecision:
    ok: bool
    code: RejectReason | None = None
    detail: str = ""
    violations: tuple[Violation, ...] = field(default_factory=tuple)


class ComplianceChecker:
    """The rules plus the state they need (the last loss sale of each symbol)."""

    def __init__(self, rules: ComplianceRules) -> None:
        self.rules = rules
        self.restricted = {s.upper() for s in rules.restricted}
        self.loss_sales: dict[str, datetime] = {}

    def check(self, order: Order, instrument: Instrument, now: datetime) -> ComplianceDecision:
        def violation(rule: str, severity: Severity, action: str, detail: str) -> Violation:
            return Violation(rule, severity, action, order.symbol, order.client_order_id, detail, now)

        if order.symbol.upper() in self.restricted:
            detail = f"{order.symbol} is on the restricted list"
            return ComplianceDecision(False, RejectReason.RESTRICTED_SYMBOL, detail,
                                      (violation("restricted_list", Severity.CRITICAL, "rejected", detail),))
        if self.rules.enforce_market_hours and not is_market_open(instrument, now):
            detail = f"{instrument.venue} is closed at {now.isoformat()}"
            return ComplianceDecision(False, RejectReason.MARKET_CLOSED, detail,
                                      (violation("market_hours", Severity.CRITICAL, "rejected", detail),))
        last_loss = self.loss_sales.get(order.symbol)
        if (order.side is Side.BUY and last_loss is not None
                and now - last_loss <= timedelta(days=self.rules.wash_sale_days)):
            detail = (f"buy of {order.symbol} within {self.rules.wash_sale_days} days of a sale at a loss "
                      f"({last_loss.date().isoformat()}): possible wash sale")
            return ComplianceDecision(True, violations=(violation("wash_sale", Severity.WARNING, "flagged", detail),))
        return ComplianceDecision(True)

    def on_fill(self, fill: Fill, realized_pnl: float) -> None:
        """Remember sales that realised a loss (``realized_pnl`` < 0, commission included)."""
        if fill.side is Side.SELL and realized_pnl < 0:
            self.loss_sales[fill.symbol] = fill.timestamp
