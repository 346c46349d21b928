"""Layer 2 compliance: market hours and holidays, restricted list, wash-sale flags."""

from raytrade.compliance.calendar import (
    calendar_for,
    exchange_calendar,
    is_market_open,
    session_close,
    session_date,
)
from raytrade.compliance.rules import (
    ComplianceChecker,
    ComplianceDecision,
    ComplianceRules,
    Violation,
    load_compliance_rules,
)

__all__ = [
    "ComplianceChecker", "ComplianceDecision", "ComplianceRules", "Violation", "calendar_for",
    "exchange_calendar", "is_market_open", "load_compliance_rules", "session_close", "session_date",
]
