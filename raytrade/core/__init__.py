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
    AuditError,
    BacktestError,
    ClusterError,
    ConfigError,
    DataError,
    DomainError,
    OrderStateError,
    RaytradeError,
    StoreError,
    StoreUnavailableError,
)
from raytrade.core.events import Event
from raytrade.core.instruments import Instrument, OptionContract, crypto, equity, option
from raytrade.core.market import Bar, Quote
from raytrade.core.orders import Fill, Order, new_client_order_id
from raytrade.core.portfolio import PortfolioSnapshot, Position

__all__ = [
    "AssetClass", "AuditError", "BacktestError", "Bar", "ClusterError", "ConfigError", "DataError", "DomainError",
    "Event", "EventType", "Fill", "Instrument", "OptionContract", "OptionRight", "Order",
    "OrderStateError", "OrderStatus", "OrderType", "PortfolioSnapshot", "Position", "Quote", "RaytradeError", "Side",
    "StoreError", "StoreUnavailableError", "TimeInForce", "crypto", "ensure_utc", "equity", "new_client_order_id", "option", "utc_now",
]
