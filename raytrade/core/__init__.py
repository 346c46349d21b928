"""Layer 1: domain types, enums, errors and the clock (stdlib and numpy only)."""

from raytrade.core.clock import ensure_utc, utc_now
from raytrade.core.enums import (
    AssetClass,
    EventType,
    OptionRight,
    OrderStatus,
    OrderType,
    Side,
    TimeInForce,
)
from raytrade.core.errors import (
    BacktestError,
    ClusterError,
    ConfigError,
    DataError,
    DomainError,
    RaytradeError,
)
from raytrade.core.events import Event
from raytrade.core.instruments import Instrument, OptionContract, crypto, equity, option
from raytrade.core.market import Bar, Quote
from raytrade.core.orders import Fill, Order, new_client_order_id
from raytrade.core.portfolio import PortfolioSnapshot, Position

__all__ = [
    "AssetClass", "BacktestError", "Bar", "ClusterError", "ConfigError", "DataError", "DomainError",
    "Event", "EventType", "Fill", "Instrument", "OptionContract", "OptionRight", "Order",
    "OrderStatus", "OrderType", "PortfolioSnapshot", "Position", "Quote", "RaytradeError", "Side",
    "TimeInForce", "crypto", "ensure_utc", "equity", "new_client_order_id", "option", "utc_now",
]
