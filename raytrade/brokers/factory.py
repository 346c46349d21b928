"""Pick the broker from the engine's config, as :mod:`raytrade.storage.factory` picks the store.

``broker: {kind: paper, ...}`` in an engine config names an entry of :data:`BROKERS`; a new broker
is a module implementing :class:`~raytrade.brokers.base.Broker`, its frozen config model with a
``kind`` literal, and a line here. Interactive Brokers is not built yet (no gateway is reachable
from where raytrade is developed); its entry will be ``ib``.
"""

from __future__ import annotations

from collections.abc import Callable

from pydantic import BaseModel

from raytrade.brokers.base import Broker
from raytrade.brokers.paper import PaperBroker, PaperBrokerConfig
from raytrade.brokers.routed import RoutedBroker, RoutedBrokerConfig
from raytrade.core.errors import ConfigError

BROKERS: dict[str, tuple[type[BaseModel], Callable[[BaseModel], Broker]]] = {
    "paper": (PaperBrokerConfig, lambda c: PaperBroker(c)),  # type: ignore[arg-type]
    "routed": (RoutedBrokerConfig, lambda c: RoutedBroker(c)),  # type: ignore[arg-type]
}


def make_broker(config: BaseModel) -> Broker:
    """A fresh broker for ``config`` (a broker config model with a ``kind``)."""
    kind = getattr(config, "kind", None)
    try:
        model, build = BROKERS[str(kind)]
    except KeyError:
        raise ConfigError(f"broker.kind: unknown broker {kind!r} (known: {', '.join(sorted(BROKERS))})") from None
    if type(config) is not model:
        raise ConfigError(f"broker: a {kind} broker needs a {model.__name__}, got {type(config).__name__}")
    return build(config)
