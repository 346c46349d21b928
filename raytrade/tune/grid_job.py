"""`raytrade research grid`: a strategy's whole parameter grid on many symbols, on Ray.

This is an in-sample search: the best set of a grid always looks good on the data it was chosen
on. The report says so and sets each symbol's best against buy-and-hold; the walk-forward job is
the out-of-sample test.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Self

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, model_validator

from raytrade.analytics.report import figure_html, table_html, write_report
from raytrade.backtest.config import RunSettings
from raytrade.backtest.costs import CostModel
from raytrade.backtest.kernel import KernelOutput, run_kernel
from raytrade.backtest.runfolder import library_versions, new_run_folder, write_json, write_yaml
from raytrade.backtest.runner import kernel_metrics
from raytrade.core.errors import ConfigError
from raytrade.data.loaders import frame_digest
from raytrade.strategies.base import is_portfolio
from raytrade.strategies.registry import check_shorts, get_strategy
from raytrade.strategies.space import ParamBlock
from raytrade.tune.grid import grid_search

OBJECTIVES = ("sharpe", "sortino", "calmar", "total_return", "annual_return", "max_drawdown")


class GridStrategySpec(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    grid: dict[str, Any]
    allow_short: bool = False  # long only unless the config says otherwise


class GridConfig(RunSettings):
    """A grid search: a strategy with its grid, and the objective to rank by."""

    strategy: GridStrategySpec
    objective: Literal["sharpe", "sortino", "calmar", "total_return", "annual_return", "max_drawdown"] = "sharpe"
    sets_per_task: int = Field(2048, ge=1, le=1_000_000)

    @model_validator(mode="after")
    def _grid_expands(self) -> Self:
        self.block()
        check_shorts(self.strategy.name, self.strategy.allow_short)
        return self

    def block(self) -> ParamBlock:
        return get_strategy(self.strategy.name).space.grid(self.strategy.grid, "strategy.grid")


@dataclass(frozen=True, slots=True)
class GridRun:
    folder: Path
    table: pd.DataFrame
    best: pd.DataFrame


def best_per_symbol(table: pd.DataFrame, objective: str, params: list[str]) -> pd.DataFrame:
    """Each symbol's best row by ``objective`` (higher is better; NaN ranks last)."""
    ranked = table.assign(_key=table[objective].fillna(-np.inf))
    idx = ranked.groupby("symbol", sort=False)["_key"].idxmax()
    cols = ["symbol", *params, "sharpe", "annual_return", "max_drawdown", "round_trips"]
    return table.loc[idx, cols].set_index("symbol")


def buy_and_hold(close: pd.DataFrame, open_: pd.DataFrame | None, costs: CostModel,
                 initial_capital: float, *, book: bool = False) -> pd.DataFrame:
    """Metrics of holding each symbol from the second bar on, with the same costs; with ``book``,
    of one book holding equal parts of them all (row ``PORTFOLIO``)."""
    sig = np.ones(close.shape)
    out = run_kernel(sig, close.to_numpy(), open_=None if open_ is None else open_.to_numpy(),
                     costs=costs, initial_capital=initial_capital / (close.shape[1] if book else 1),
                     record_shares=False)
    if book:
        out = KernelOutput(out.equity.sum(axis=1)[:, None], None, out.stats[:1])
    m = kernel_metrics(out)
    return pd.DataFrame({k: m[k] for k in ("sharpe", "annual_return", "max_drawdown")},
                        index=["PORTFOLIO"] if book else close.columns)


def run_grid_job(config: GridConfig, on_progress: Callable[[int, int], None] | None = None) -> GridRun:
    """Run the search on the connected Ray cluster and write the run folder.

    The folder holds ``config.yaml``, ``manifest.json``, ``results.parquet`` (every symbol x set),
    ``summary.json`` (best per symbol, buy-and-hold, grid size) and ``report.html``.
    """
    close, open_ = config.data.load()
    block = config.block()
    if config.objective not in OBJECTIVES:
        raise ConfigError(f"objective: unknown objective {config.objective!r}")
    table = grid_search(config.strategy.name, close, block, open_=open_, costs=config.costs,
                        sizing=config.sizing, initial_capital=config.initial_capital,
                        sets_per_task=config.sets_per_task, allow_short=config.strategy.allow_short,
                        on_progress=on_progress)
    params = list(block.columns)
    best = best_per_symbol(table, config.objective, params)
    hold = buy_and_hold(close, open_, config.costs, config.initial_capital,
                        book=is_portfolio(get_strategy(config.strategy.name, allow_short=config.strategy.allow_short)))
    best = best.join(hold.add_prefix("hold_"))
    folder = new_run_folder(config.output_dir, config.name)
    write_yaml(folder / "config.yaml", config.model_dump(mode="json"))
    write_json(folder / "manifest.json", {
        "kind": "grid", "data_sha256": frame_digest(close), "bars": len(close), "symbols": list(close.columns),
        "start": close.index[0].isoformat(), "end": close.index[-1].isoformat(),
        "parameter_sets": len(block), "backtests": len(table), "versions": library_versions(),
    })
    table.to_parquet(folder / "results.parquet", index=False)
    write_json(folder / "summary.json", {
        "objective": config.objective, "parameter_sets": len(block),
        "best": best.reset_index().to_dict(orient="records"),
        "median_best_sharpe": float(best["sharpe"].median()),
        "median_hold_sharpe": float(best["hold_sharpe"].median()),
    })
    _write_grid_report(folder, config, table, best, params)
    return GridRun(folder, table, best)


def _write_grid_report(folder: Path, config: GridConfig, table: pd.DataFrame, best: pd.DataFrame,
                       params: list[str]) -> None:
    note = ("<p class='note'>In-sample search: every figure below was computed on the same data the "
            "parameters were chosen on, so the best sets are biased upwards. Compare them with buy and "
            "hold, and use the walk-forward job for an out-of-sample verdict.</p>")
    sections = [("Summary", note + f"<p>{len(table) // max(1, len(best)):,} parameter sets x "
                 f"{len(best)} symbols = {len(table):,} backtests, ranked by <code>{config.objective}</code>.</p>"),
                ("Best set per symbol vs buy and hold", table_html(best))]
    if len(params) == 2:
        pivot = table.groupby(params)[config.objective].median().unstack(params[1])
        fig, ax = plt.subplots(figsize=(9, 5))
        mesh = ax.pcolormesh(pivot.columns, pivot.index, pivot.to_numpy(), shading="auto", cmap="RdYlGn")
        fig.colorbar(mesh, ax=ax, label=f"median {config.objective} across symbols")
        ax.set_xlabel(params[1])
        ax.set_ylabel(params[0])
        sections.append((f"Median {config.objective} over the grid", figure_html(fig, "grid heatmap")))
    fig, ax = plt.subplots(figsize=(9, 3.5))
    ax.hist(table[config.objective].replace([np.inf, -np.inf], np.nan).dropna(), bins=80, color="tab:blue")
    ax.set_xlabel(config.objective)
    ax.set_ylabel("backtests")
    sections.append((f"Distribution of {config.objective} over all backtests", figure_html(fig, "histogram")))
    write_report(folder / "report.html", f"Grid search: {config.name}", sections)
