"""Compliance rules (``configs/compliance.yaml``) and the checker that applies them.

- market hours: an order for an instrument whose market is closed (nights, weekends, holidays,
  after a half day's early close) is rejected (critical violation);
- restricted list: an order in a restricted symbol is rejected (critical);
- wash sale (IRS Publication 550), both directions, read from the account's tax-lot ledger
  (:class:`raytrade.analytics.tax.LotLedger`, fed every fill, the one record of lots): a buy
  that would wash a loss sold in the ``wash_sale_days`` days before it (the part of that loss
  not yet washed), and a sale at a loss (at the order's limit price, else the mark) while shares
  bought in the 30 days before it are held, are accepted and flagged (warning) with the loss at
  stake;
- harvest lock: after a sale at a loss by the tax-loss harvester (orders tagged with the strategy
  ``harvest_strategy``), a buy of the same security within ``harvest_lock_days`` days is rejected
  (critical, ``WASH_SALE_LOCK``): the harvested loss must not be washed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from raytrade.analytics.tax import LotLedger
from raytrade.compliance.calendar import is_market_open
from raytrade.core.enums import RejectReason, Severity, Side
from raytrade.core.instruments import Instrument
from raytrade.core.orders import Fill, Order


class ComplianceRules(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    enforce_market_hours: bool = True
    restricted: tuple[str, ...] = ()
    wash_sale_days: int = Field(30, ge=0, le=30)  # flag window; the IRS window is 30 days, 0 turns the flag off
    lot_method: Literal["fifo", "lifo", "hifo"] = "fifo"  # how sales pick the lots they close
    harvest_strategy: str = Field("tax_harvest", min_length=1, max_length=64)
    harvest_lock_days: int = Field(31, ge=0, le=366)  # 0: no lock


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
    """The rules plus the state they need: the account's lot ledger (long lots; short sales are
    left outside it) and the harvest locks (symbol -> end of the lock)."""

    def __init__(self, rules: ComplianceRules) -> None:
        self.rules = rules
        self.restricted = {s.upper() for s in rules.restricted}
        self.ledger = LotLedger(rules.lot_method, allow_short=True)
        self.locks: dict[str, datetime] = {}

    def check(self, order: Order, instrument: Instrument, now: datetime, mark: float | None = None) -> ComplianceDecision:
        """The verdict on ``order`` at ``now``; ``mark``: the symbol's last price (a sale without a
        limit price is valued at it for the wash-sale flag; without either the flag is skipped)."""
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
        lock = self.locks.get(order.symbol)
        if order.side is Side.BUY and lock is not None and now < lock:
            detail = (f"{order.symbol} was sold at a loss by the tax-loss harvester; buying it back before "
                      f"{lock.isoformat()} would wash the loss")
            return ComplianceDecision(False, RejectReason.WASH_SALE_LOCK, detail,
                                      (violation("wash_sale_lock", Severity.CRITICAL, "rejected", detail),))
        days = self.rules.wash_sale_days
        if days == 0:
            return ComplianceDecision(True)
        if order.side is Side.BUY:
            pending = [p for p in self.ledger.pending_losses(order.symbol, now) if now - p[0] <= timedelta(days=days)]
            if pending:
                at_stake = sum(min(q, order.quantity) * per for _, q, per in pending)
                detail = (f"buy of {order.symbol} within {days} days of a sale at a loss "
                          f"({pending[0][0].date().isoformat()}): wash sale, up to {at_stake:,.2f} of the loss "
                          "disallowed and added to the new shares' basis")
                return ComplianceDecision(True, violations=(violation("wash_sale", Severity.WARNING, "flagged", detail),))
            return ComplianceDecision(True)
        price = order.limit_price if order.limit_price is not None else mark
        if price is None:
            return ComplianceDecision(True)
        loss, disallowed = self.ledger.wash_preview(order.symbol, order.quantity, price, now)
        if disallowed > 0:
            detail = (f"sale of {order.symbol} at a loss of {loss:,.2f} within 30 days after a purchase: wash sale, "
                      f"{disallowed:,.2f} of the loss disallowed")
            return ComplianceDecision(True, violations=(violation("wash_sale", Severity.WARNING, "flagged", detail),))
        return ComplianceDecision(True)

    def on_fill(self, fill: Fill, strategy: str | None = None) -> None:
        """Take a fill into the ledger (in time order: a fill stamped before the last one is taken
        at the last one's time); a harvester's loss sale locks the symbol."""
        last = self.ledger.last_time
        t = fill.timestamp if last is None or fill.timestamp >= last else last
        rows = self.ledger.add(t, fill.symbol, fill.side.value, fill.quantity, fill.price, fill.commission)
        if (strategy == self.rules.harvest_strategy and self.rules.harvest_lock_days
                and any(float(r["gain"]) < 0 for r in rows)):  # type: ignore[arg-type]
            self.locks[fill.symbol] = t + timedelta(days=self.rules.harvest_lock_days)
