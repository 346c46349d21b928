"""Layer 2 risk: pre-trade limits and the checks that apply them."""

from raytrade.risk.limits import RiskLimits, load_risk_limits
from raytrade.risk.pretrade import PreTradeRisk, RiskDecision

__all__ = ["PreTradeRisk", "RiskDecision", "RiskLimits", "load_risk_limits"]
