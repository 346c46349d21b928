"""Research workloads on Ray: grid search, walk-forward on Ray Tune, Monte Carlo, stress tests."""

from raytrade.tune.api import MonteCarloSimulator, StressTestSuite, WalkForwardOptimizer
from raytrade.tune.grid import grid_search

__all__ = ["MonteCarloSimulator", "StressTestSuite", "WalkForwardOptimizer", "grid_search"]
