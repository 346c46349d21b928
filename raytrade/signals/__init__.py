"""Layer 2 signals: analyzers (features and scores) and market regimes. The ensemble model that
trains on them is the next part of this package (issue 6)."""

from raytrade.signals.analyzers import (
    Analysis,
    factor_betas,
    half_life,
    mean_reversion,
    momentum,
    realised_vol,
    rsi,
    volatility,
)
from raytrade.signals.regime import MarketRegime, RegimeDetector

__all__ = ["Analysis", "MarketRegime", "RegimeDetector", "factor_betas", "half_life", "mean_reversion", "momentum",
           "realised_vol", "rsi", "volatility"]
