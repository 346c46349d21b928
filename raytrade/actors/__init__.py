"""Layer 4 actors: the trading engine's stateful Ray actors and the engine that wires them."""

from raytrade.actors.client import OrderClient
from raytrade.actors.compliance import ComplianceActor
from raytrade.actors.config import EngineConfig, InstrumentSpec
from raytrade.actors.engine import ROLES, TradingEngine
from raytrade.actors.order_manager import OrderManager
from raytrade.actors.portfolio import PortfolioActor
from raytrade.actors.risk import RiskActor

__all__ = ["ROLES", "ComplianceActor", "EngineConfig", "InstrumentSpec", "OrderClient", "OrderManager",
           "PortfolioActor", "RiskActor", "TradingEngine"]
