"""Layer 2 execution: the order state machine and book."""

from raytrade.execution.orders import TERMINAL, TRANSITIONS, ManagedOrder, OrderBook, Rejection

__all__ = ["TERMINAL", "TRANSITIONS", "ManagedOrder", "OrderBook", "Rejection"]
