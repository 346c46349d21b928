"""Strategies: the protocol, parameter spaces and the reference strategies."""

from raytrade.strategies.base import Strategy, rolling_mean, rolling_std
from raytrade.strategies.ma_crossover import MovingAverageCrossover
from raytrade.strategies.mean_reversion import BollingerMeanReversion
from raytrade.strategies.momentum import TimeSeriesMomentum
from raytrade.strategies.registry import STRATEGIES, get_strategy
from raytrade.strategies.space import ParamBlock, Parameter, ParameterSpace

__all__ = [
    "STRATEGIES", "BollingerMeanReversion", "MovingAverageCrossover", "ParamBlock", "Parameter",
    "ParameterSpace", "Strategy", "TimeSeriesMomentum", "get_strategy", "rolling_mean", "rolling_std",
]
