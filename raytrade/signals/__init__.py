"""Layer 2 signals: analyzers (features and scores), market regimes, the training data, purged
cross-validation, the XGBoost + MLP ensemble (fixed or stacked weights), its out-of-sample
evaluation (quality, calibration, long-short books)."""

from raytrade.signals.adaptor import AdaptorConfig, StrategyAdaptor
from raytrade.signals.analyzers import (
    Analysis,
    factor_betas,
    half_life,
    mean_reversion,
    momentum,
    realised_vol,
    roll_spread,
    rsi,
    volatility,
)
from raytrade.signals.cv import leaks, purged_splits
from raytrade.signals.dataset import Dataset, build_dataset, features
from raytrade.signals.evaluation import QUALITY, auc, calibration, reliability, signal_quality
from raytrade.signals.long_short import LongShortResult, long_short_backtest, long_short_positions
from raytrade.signals.models import EnsembleModel, NeuralNetPredictor, XGBoostPredictor
from raytrade.signals.regime import MarketRegime, RegimeDetector
from raytrade.signals.sentiment import SentimentAnalyzer, loughran_mcdonald, score_text
from raytrade.signals.stacking import stack_weights, walk_forward_weights

__all__ = [
    "QUALITY",
    "AdaptorConfig",
    "Analysis",
    "Dataset",
    "EnsembleModel",
    "LongShortResult",
    "MarketRegime",
    "NeuralNetPredictor",
    "RegimeDetector",
    "SentimentAnalyzer",
    "StrategyAdaptor",
    "XGBoostPredictor",
    "auc",
    "build_dataset",
    "calibration",
    "factor_betas",
    "features",
    "half_life",
    "leaks",
    "long_short_backtest",
    "long_short_positions",
    "loughran_mcdonald",
    "mean_reversion",
    "momentum",
    "purged_splits",
    "realised_vol",
    "reliability",
    "roll_spread",
    "rsi",
    "score_text",
    "signal_quality",
    "stack_weights",
    "volatility",
    "walk_forward_weights",
]
