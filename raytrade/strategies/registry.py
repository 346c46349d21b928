"""Strategies by name, as configs refer to them."""

from __future__ import annotations

from raytrade.core.errors import ConfigError
from raytrade.strategies.base import Strategy
from raytrade.strategies.ma_crossover import MovingAverageCrossover
from raytrade.strategies.mean_reversion import BollingerMeanReversion
from raytrade.strategies.momentum import TimeSeriesMomentum

STRATEGIES: dict[str, type] = {
    cls.name: cls for cls in (MovingAverageCrossover, TimeSeriesMomentum, BollingerMeanReversion)
}


def get_strategy(name: str, *, allow_short: bool = True) -> Strategy:
    """An instance of the strategy registered as ``name``."""
    try:
        cls = STRATEGIES[name]
    except KeyError:
        raise ConfigError(f"strategy.name: unknown strategy {name!r} (known: {', '.join(sorted(STRATEGIES))})") from None
    return cls(allow_short=allow_short)
