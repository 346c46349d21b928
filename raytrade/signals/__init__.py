"""Layer 2 signals: analyzers (features and scores), market regimes, the training data, purged
cross-validation, the XGBoost + MLP ensemble and its out-of-sample evaluation."""

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
from raytrade.signals.cv import leaks, purged_splits
from raytrade.signals.dataset import Dataset, build_dataset, features
from raytrade.signals.evaluation import auc, signal_quality
from raytrade.signals.models import EnsembleModel, NeuralNetPredictor, XGBoostPredictor
from raytrade.signals.regime import MarketRegime, RegimeDetector

__all__ = ["Analysis", "Dataset", "EnsembleModel", "MarketRegime", "NeuralNetPredictor", "RegimeDetector",
           "XGBoostPredictor", "auc", "build_dataset", "factor_betas", "features", "half_life", "leaks",
           "mean_reversion", "momentum", "purged_splits", "realised_vol", "rsi", "signal_quality", "volatility"]
