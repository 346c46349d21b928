"""Enumerations shared by the domain types. Values are lower-case strings (stable on the wire)."""

from __future__ import annotations

from enum import StrEnum


class Side(StrEnum):
    BUY = "buy"
    SELL = "sell"

    @property
    def sign(self) -> int:
        """+1 for a buy, -1 for a sell: the sign of the position change."""
        return 1 if self is Side.BUY else -1


class OrderType(StrEnum):
    MARKET = "market"
    LIMIT = "limit"
    STOP = "stop"
    STOP_LIMIT = "stop_limit"


class TimeInForce(StrEnum):
    DAY = "day"
    GTC = "gtc"
    IOC = "ioc"
    FOK = "fok"
    OPG = "opg"
    CLS = "cls"


class OrderStatus(StrEnum):
    NEW = "new"
    SUBMITTED = "submitted"  # accepted by the engine and sent to an external broker; no broker answer yet
    ACCEPTED = "accepted"
    PARTIALLY_FILLED = "partially_filled"
    PENDING_CANCEL = "pending_cancel"  # the cancel request is committed; the broker has not confirmed it yet
    PENDING_REPLACE = "pending_replace"  # the replace request is committed; the broker has not confirmed it yet
    FILLED = "filled"
    CANCELLED = "cancelled"
    REJECTED = "rejected"
    EXPIRED = "expired"


class AssetClass(StrEnum):
    EQUITY = "equity"
    OPTION = "option"
    CRYPTO = "crypto"


class OptionRight(StrEnum):
    CALL = "call"
    PUT = "put"


class EventType(StrEnum):
    ORDER_SUBMITTED = "order_submitted"
    ORDER_ACCEPTED = "order_accepted"
    ORDER_REJECTED = "order_rejected"
    ORDER_CANCEL_REQUESTED = "order_cancel_requested"
    ORDER_CANCELLED = "order_cancelled"
    ORDER_EXPIRED = "order_expired"
    ORDER_REPLACE_REQUESTED = "order_replace_requested"
    ORDER_CANCEL_REJECTED = "order_cancel_rejected"  # the broker refused a cancel or a replace
    ORDER_REPLACED = "order_replaced"
    FILL = "fill"
    POSITION_CHANGED = "position_changed"
    CASH_CHANGED = "cash_changed"
    PARAMETER_CHANGED = "parameter_changed"
    VIOLATION = "violation"
    STRATEGY_STARTED = "strategy_started"
    STRATEGY_STOPPED = "strategy_stopped"
    TRADING_HALTED = "trading_halted"
    TRADING_RESUMED = "trading_resumed"
    ENGINE_STARTED = "engine_started"
    ENGINE_STOPPED = "engine_stopped"
    SESSION_STARTED = "session_started"
    KEY_CREATED = "key_created"
    KEY_REVOKED = "key_revoked"
    BROKER_RECONCILED = "broker_reconciled"


class RejectReason(StrEnum):
    """Why an order was refused. Stable codes: clients, metrics and the audit trail use them."""

    # the order itself
    INVALID_QUANTITY = "INVALID_QUANTITY"          # <= 0, NaN or infinite
    NOT_LOT_MULTIPLE = "NOT_LOT_MULTIPLE"          # not a whole number of the instrument's lots
    INVALID_PRICE = "INVALID_PRICE"                # NaN, infinite, <= 0 or off-tick limit/stop price
    INVALID_ORDER = "INVALID_ORDER"                # any other malformed field
    UNKNOWN_SYMBOL = "UNKNOWN_SYMBOL"              # not in the engine's instrument list
    DUPLICATE_ORDER_ID = "DUPLICATE_ORDER_ID"      # same client id, different order
    # compliance
    MARKET_CLOSED = "MARKET_CLOSED"
    RESTRICTED_SYMBOL = "RESTRICTED_SYMBOL"
    WASH_SALE_LOCK = "WASH_SALE_LOCK"              # buying back what the tax-loss harvester sold at a loss
    SHORT_SALE_NOT_LOCATED = "SHORT_SALE_NOT_LOCATED"  # a short sale of a symbol not on the easy-to-borrow list
    # risk
    NO_MARKET_PRICE = "NO_MARKET_PRICE"            # no mark to value the order against
    LIMIT_FAR_FROM_MARKET = "LIMIT_FAR_FROM_MARKET"
    ORDER_NOTIONAL = "ORDER_NOTIONAL"
    ORDER_RATE = "ORDER_RATE"
    SYMBOL_LIMIT = "SYMBOL_LIMIT"
    SECTOR_LIMIT = "SECTOR_LIMIT"
    GROSS_LEVERAGE = "GROSS_LEVERAGE"
    DAILY_LOSS_HALT = "DAILY_LOSS_HALT"
    TRADING_HALTED = "TRADING_HALTED"
    RISK_FIGURE_LIMIT = "RISK_FIGURE_LIMIT"        # a configured VaR or Greeks limit (raytrade.risk.checks)
    RISK_FIGURES_STALE = "RISK_FIGURES_STALE"      # those limits' figures are missing or too old: fail closed
    # the engine
    ENGINE_STOPPED = "ENGINE_STOPPED"
    STRATEGY_STOPPED = "STRATEGY_STOPPED"
    STORE_UNAVAILABLE = "STORE_UNAVAILABLE"
    RISK_UNAVAILABLE = "RISK_UNAVAILABLE"
    COMPLIANCE_UNAVAILABLE = "COMPLIANCE_UNAVAILABLE"
    BROKER_UNAVAILABLE = "BROKER_UNAVAILABLE"
    BROKER_REJECTED = "BROKER_REJECTED"


class Severity(StrEnum):
    WARNING = "warning"
    CRITICAL = "critical"
