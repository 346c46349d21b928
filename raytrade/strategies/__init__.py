"""Strategies: the protocol, parameter spaces and the reference strategies.

The names below are imported on first use (:mod:`raytrade.core.lazy`): ``from
raytrade.strategies.base import ...`` does not load the strategies' compiled code (numba), which
the engine's actors do not need to start.
"""

from typing import TYPE_CHECKING

from raytrade.core.lazy import lazy_exports

_EXPORTS = {
    **dict.fromkeys(["Strategy", "rolling_mean", "rolling_std"], "base"),
    "MovingAverageCrossover": "ma_crossover",
    "BollingerMeanReversion": "mean_reversion",
    "TimeSeriesMomentum": "momentum",
    **dict.fromkeys(["STRATEGIES", "get_strategy"], "registry"),
    **dict.fromkeys(["ParamBlock", "Parameter", "ParameterSpace"], "space"),
}
__all__ = [
    "STRATEGIES", "BollingerMeanReversion", "MovingAverageCrossover", "ParamBlock", "Parameter",
    "ParameterSpace", "Strategy", "TimeSeriesMomentum", "get_strategy", "rolling_mean", "rolling_std",
]
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)

if TYPE_CHECKING:
    from raytrade.strategies.base import Strategy, rolling_mean, rolling_std
    from raytrade.strategies.ma_crossover import MovingAverageCrossover
    from raytrade.strategies.mean_reversion import BollingerMeanReversion
    from raytrade.strategies.momentum import TimeSeriesMomentum
    from raytrade.strategies.registry import STRATEGIES, get_strategy
    from raytrade.strategies.space import ParamBlock, Parameter, ParameterSpace
