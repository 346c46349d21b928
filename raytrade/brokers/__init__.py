"""Layer 3 brokers: the Broker interface, the paper broker, the routed (multi-venue) paper broker and the factory that picks one."""

from raytrade.brokers.base import Broker, BrokerReply
from raytrade.brokers.factory import BROKERS, make_broker
from raytrade.brokers.paper import PaperBroker, PaperBrokerConfig
from raytrade.brokers.routed import RoutedBroker, RoutedBrokerConfig, VenueConfig

__all__ = ["BROKERS", "Broker", "BrokerReply", "PaperBroker", "PaperBrokerConfig", "RoutedBroker",
           "RoutedBrokerConfig", "VenueConfig", "make_broker"]
