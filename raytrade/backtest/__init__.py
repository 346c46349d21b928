"""The vectorised backtest: costs and sizing, the kernel, grid and single-set runners."""

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

__all__ = [
    "STAT_FIELDS", "BacktestResult", "CostModel", "KernelOutput", "Rebalance", "Sizing", "SizingMode",
    "backtest", "chunk_size_for", "evaluate_sleeves", "fills_from_shares", "kernel_metrics", "run_grid", "run_kernel",
    "sizing_scale",
]
