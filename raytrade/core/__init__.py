"""Layer 1: domain types, enums, errors and the clock (stdlib and numpy only)."""

from raytrade.core.clock import ensure_utc, utc_now
from raytrade.core.enums import (
    AssetClass,
    EventType,
    OptionRight,
    OrderStatus,
    OrderType,
    RejectReason,
    Severity,
    Side,
    TimeInForce,
)
from raytrade.core.errors import (
    AuditError,
    BacktestError,
    BrokerError,
    BrokerUnavailableError,
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
from raytrade.core.portfolio import Portfolio, PortfolioSnapshot, Position

__all__ = [
    "AssetClass", "AuditError", "BacktestError", "Bar", "BrokerError", "BrokerUnavailableError", "ClusterError", "ConfigError", "DataError", "DomainError",
    "Event", "EventType", "Fill", "Instrument", "OptionContract", "OptionRight", "Order",
    "OrderStateError", "OrderStatus", "OrderType", "Portfolio", "PortfolioSnapshot", "Position", "Quote", "RaytradeError", "RejectReason", "Severity", "Side",
    "StoreError", "StoreUnavailableError", "TimeInForce", "crypto", "ensure_utc", "equity", "new_client_order_id", "option", "utc_now",
]
