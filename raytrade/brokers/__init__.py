"""Layer 3 brokers: the Broker interface and the paper broker."""

from raytrade.brokers.base import Broker, BrokerReply
from raytrade.brokers.paper import PaperBroker, PaperBrokerConfig

__all__ = ["Broker", "BrokerReply", "PaperBroker", "PaperBrokerConfig"]
