"""Analytics: performance metrics, overfitting statistics, plots and reports.

The names below are imported on first use (:mod:`raytrade.core.lazy`): the metrics do not load
scipy.stats, which only the overfitting statistics need.
"""

from typing import TYPE_CHECKING

from raytrade.core.lazy import lazy_exports

_EXPORTS = {
    **dict.fromkeys(["PERIODS_PER_YEAR", "RETURN_METRICS", "TAIL_METRICS", "TRADE_METRICS", "drawdown",
                     "performance_metrics", "returns_from_equity", "tail_risk", "trade_metrics"], "metrics"),
    **dict.fromkeys(["PBOResult", "SharpeInference", "deflated_sharpe_ratio", "expected_max_sharpe", "is_overfit",
                     "overfitting_ratio", "pbo_cscv", "probabilistic_sharpe_ratio", "psr_of_returns",
                     "walk_forward_efficiency"], "overfitting"),
}
__all__ = [
    "PERIODS_PER_YEAR",
    "RETURN_METRICS",
    "TAIL_METRICS",
    "TRADE_METRICS",
    "PBOResult",
    "SharpeInference",
    "deflated_sharpe_ratio",
    "drawdown",
    "expected_max_sharpe",
    "is_overfit",
    "overfitting_ratio",
    "pbo_cscv",
    "performance_metrics",
    "probabilistic_sharpe_ratio",
    "psr_of_returns",
    "returns_from_equity",
    "tail_risk",
    "trade_metrics",
    "walk_forward_efficiency",
]
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)

if TYPE_CHECKING:
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
