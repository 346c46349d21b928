"""Analytics: performance metrics, overfitting statistics, plots and reports."""

from raytrade.analytics.metrics import (
    PERIODS_PER_YEAR,
    RETURN_METRICS,
    TAIL_METRICS,
    TRADE_METRICS,
    drawdown,
    performance_metrics,
    returns_from_equity,
    tail_risk,
    trade_metrics,
)
from raytrade.analytics.overfitting import (
    PBOResult,
    SharpeInference,
    deflated_sharpe_ratio,
    expected_max_sharpe,
    is_overfit,
    overfitting_ratio,
    pbo_cscv,
    probabilistic_sharpe_ratio,
    psr_of_returns,
    walk_forward_efficiency,
)

__all__ = [
    "PERIODS_PER_YEAR", "RETURN_METRICS", "TAIL_METRICS", "TRADE_METRICS", "PBOResult", "SharpeInference",
    "deflated_sharpe_ratio", "drawdown", "expected_max_sharpe", "is_overfit", "overfitting_ratio",
    "pbo_cscv", "performance_metrics", "probabilistic_sharpe_ratio", "psr_of_returns", "returns_from_equity",
    "tail_risk", "trade_metrics", "walk_forward_efficiency",
]
