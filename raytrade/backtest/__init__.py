"""The vectorised backtest: costs and sizing, the kernel, grid and single-set runners.

The names below are imported on first use (:mod:`raytrade.core.lazy`): ``from raytrade.backtest
import CostModel`` does not load the kernel or the runners.
"""

from typing import TYPE_CHECKING

from raytrade.core.lazy import lazy_exports

_EXPORTS = {
    **dict.fromkeys(["CostModel", "Rebalance", "Sizing", "SizingMode"], "costs"),
    **dict.fromkeys(["STAT_FIELDS", "KernelOutput", "run_kernel", "sizing_scale"], "kernel"),
    **dict.fromkeys(["BacktestResult", "backtest", "chunk_size_for", "evaluate_sleeves", "fills_from_shares",
                     "kernel_metrics", "run_grid"], "runner"),
}
__all__ = [
    "STAT_FIELDS",
    "BacktestResult",
    "CostModel",
    "KernelOutput",
    "Rebalance",
    "Sizing",
    "SizingMode",
    "backtest",
    "chunk_size_for",
    "evaluate_sleeves",
    "fills_from_shares",
    "kernel_metrics",
    "run_grid",
    "run_kernel",
    "sizing_scale",
]
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)

if TYPE_CHECKING:
    from raytrade.backtest.costs import CostModel, Rebalance, Sizing, SizingMode
    from raytrade.backtest.kernel import STAT_FIELDS, KernelOutput, run_kernel, sizing_scale
    from raytrade.backtest.runner import (
        BacktestResult,
        backtest,
        chunk_size_for,
        evaluate_sleeves,
        fills_from_shares,
        kernel_metrics,
        run_grid,
    )
