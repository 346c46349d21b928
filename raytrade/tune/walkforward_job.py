"""`raytrade research walkforward`: the walk-forward job, its run folder and its report.

The run folder is ``output_dir/NAME-KEY``, KEY a hash of the resolved config and the data: the
same job finds its folder again. A finished run (``summary.json`` present) is not recomputed unless
asked (``rerun``); an interrupted one resumes its Tune experiment, re-running unfinished trials only.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Self

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, model_validator

from raytrade.analytics.report import figure_html, table_html, write_report
from raytrade.backtest.config import RunSettings
from raytrade.backtest.kernel import run_kernel
from raytrade.backtest.runfolder import library_versions, to_jsonable, write_json, write_yaml
from raytrade.backtest.walkforward import (
    Inputs,
    WalkForwardResult,
    make_windows,
    oos_series,
    pbo_sample,
    plan_tasks,
    resolve_objective,
    run_local,
    summarize,
    windows_table,
)
from raytrade.core.calendars import bars_per_year, day_numbers
from raytrade.core.errors import ConfigError
from raytrade.data.loaders import frame_digest
from raytrade.strategies.base import is_overlay
from raytrade.strategies.options import SYNTHETIC_NOTE
from raytrade.strategies.registry import check_shorts, get_strategy
from raytrade.strategies.space import ParamBlock
from raytrade.tune.grid_job import GridStrategySpec
from raytrade.tune.risk_jobs import (
    MonteCarloSpec,
    StressSpec,
    montecarlo_summary,
    risk_sections,
    stress_summary,
)


class SearchSpec(BaseModel):
    """``grid``: every set of the grid; ``random``: ``samples`` sets drawn from it (seeded)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    mode: Literal["grid", "random"] = "grid"
    samples: int = Field(500, ge=2)
    seed: int = 0


class WindowSpec(BaseModel):
    """Walk-forward windows in bars (see :func:`raytrade.backtest.walkforward.make_windows`)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    window: int = Field(2520, ge=25)
    train_fraction: float = Field(0.75, gt=0.0, lt=1.0)
    step: int | None = Field(None, ge=1)
    anchored: bool = False


class WalkForwardConfig(RunSettings):
    strategy: GridStrategySpec
    search: SearchSpec = SearchSpec()
    walkforward: WindowSpec = WindowSpec()
    objective: str = "sharpe"
    max_pbo_trials: int = Field(500, ge=2, le=5000)
    montecarlo: MonteCarloSpec | None = MonteCarloSpec()
    stress: StressSpec | None = StressSpec()
    pbo_blocks: int = Field(16, ge=2, le=20)
    chunk_size: int | None = Field(None, ge=1)

    @model_validator(mode="after")
    def _checks(self) -> Self:
        if self.pbo_blocks % 2:
            raise ValueError(f"pbo_blocks must be even, got {self.pbo_blocks}")
        resolve_objective(self.objective)
        self.block()
        check_shorts(self.strategy.name, self.strategy.allow_short)
        return self

    def block(self) -> ParamBlock:
        block = get_strategy(self.strategy.name).space.grid(self.strategy.grid, "strategy.grid")
        if self.search.mode == "random" and self.search.samples < len(block):
            rng = np.random.default_rng(self.search.seed)
            block = block.take(np.sort(rng.choice(len(block), self.search.samples, replace=False)))
        return block


@dataclass(frozen=True, slots=True)
class WalkForwardRun:
    folder: Path
    summary: dict
    reused: bool  # True when a finished run was found and nothing was computed


def run_key(config: WalkForwardConfig, data_sha: str) -> str:
    payload = json.dumps(to_jsonable(config.model_dump(mode="json", exclude={"output_dir"})), sort_keys=True)
    return hashlib.sha256(f"{payload}|{data_sha}".encode()).hexdigest()[:12]


def prepare(config: WalkForwardConfig, cpus: int):
    """Everything the run needs, checked before any work starts."""
    close, open_ = config.data.load()
    block = config.block()
    spec = config.walkforward
    windows = make_windows(len(close), window=spec.window, train_fraction=spec.train_fraction,
                           step=spec.step, anchored=spec.anchored)
    if not windows:
        raise ConfigError("walkforward.window: no whole window fits the data")
    strategy = get_strategy(config.strategy.name, allow_short=config.strategy.allow_short)
    inputs = Inputs(close.to_numpy(np.float64), None if open_ is None else open_.to_numpy(np.float64),
                    config.costs, config.sizing, config.initial_capital, strategy.warmup(block),
                    tuple(map(str, close.columns)), bars_per_year(close.index), day_numbers(close.index))
    tasks = plan_tasks(len(block), windows, len(close), close.shape[1], cpus, config.chunk_size)
    return close, open_, block, windows, strategy, inputs, tasks


def _run_folder(config: WalkForwardConfig, close: pd.DataFrame, open_: pd.DataFrame | None) -> tuple[Path, str]:
    """The run's folder (named by the config and the data's digest) and that digest."""
    data_sha = frame_digest(close if open_ is None else pd.concat([close, open_], axis=1))
    return Path(config.output_dir) / f"{config.name}-{run_key(config, data_sha)}", data_sha


def finished_run(config: WalkForwardConfig) -> WalkForwardRun | None:
    """The run of this config and data already complete in its folder, else None: asked before
    connecting to Ray, so a finished run is reported without starting a cluster."""
    close, open_, *_ = prepare(config, 1)
    folder, _ = _run_folder(config, close, open_)
    if not (folder / "summary.json").exists():
        return None
    return WalkForwardRun(folder, json.loads((folder / "summary.json").read_text()), reused=True)


def run_walkforward_job(config: WalkForwardConfig, *, cpus: int = 1, rerun: bool = False,
                        use_ray: bool = True, verbose: int = 1,
                        on_progress: Callable[[int, int], None] | None = None) -> WalkForwardRun:
    """Run the walk-forward (on the connected Ray cluster, or in this process with ``use_ray=False``)
    and write the run folder: config.yaml, manifest.json, summary.json, risk.json (Monte Carlo of
    the stitched out-of-sample returns, stress tests of the latest window's parameters),
    windows.csv, oos_returns.parquet, full_sample.parquet and report.html."""
    close, open_, block, windows, strategy, inputs, tasks = prepare(config, cpus)
    folder, data_sha = _run_folder(config, close, open_)
    if (folder / "summary.json").exists():
        if not rerun:
            return WalkForwardRun(folder, json.loads((folder / "summary.json").read_text()), reused=True)
        shutil.rmtree(folder)
    folder.mkdir(parents=True, exist_ok=True)
    write_yaml(folder / "config.yaml", config.model_dump(mode="json"))
    sample = pbo_sample(len(block), config.max_pbo_trials)
    started = time.perf_counter()
    if use_ray:
        from raytrade.tune.walkforward import run_on_tune

        result = run_on_tune(storage=folder.resolve() / "tune", inputs=inputs, block=block, tasks=tasks,
                             windows=windows, strategy_name=config.strategy.name,
                             allow_short=config.strategy.allow_short, objective=config.objective,
                             sample_ids=sample, max_concurrent=cpus, verbose=verbose, on_progress=on_progress)
    else:
        result = run_local(strategy, inputs, block, windows, resolve_objective(config.objective),
                           max_pbo_trials=config.max_pbo_trials, chunk_size=tasks[0].size)
    seconds = time.perf_counter() - started
    summary = summarize(result, block, pbo_blocks=config.pbo_blocks, periods_per_year=inputs.periods_per_year)
    if is_overlay(strategy):
        summary["note"] = SYNTHETIC_NOTE
    risk = {}
    if config.montecarlo is not None:
        mc_fn = montecarlo_summary if use_ray else _montecarlo_local
        risk["montecarlo"] = mc_fn(result.oos_returns[1:], config.montecarlo)
        risk["montecarlo"]["method"] = str(config.montecarlo.method)
    if config.stress is not None:
        risk["stress"] = stress_summary(strategy, summary["windows"][-1]["params"], close, config.costs,
                                        config.stress, config.sizing)
    write_json(folder / "risk.json", risk)
    _write_outputs(folder, config, close, result, summary, risk)
    write_json(folder / "manifest.json", {
        "kind": "walkforward", "data_sha256": data_sha, "bars": len(close), "symbols": list(close.columns),
        "start": close.index[0].isoformat(), "end": close.index[-1].isoformat(),
        "parameter_sets": len(block), "windows": len(windows), "trials": len(tasks),
        "sets_per_trial": tasks[0].size, "seconds": seconds, "executor": "ray tune" if use_ray else "local",
        "cpus": cpus, "versions": library_versions(),
    })
    write_json(folder / "summary.json", summary)
    return WalkForwardRun(folder, summary, reused=False)


def _montecarlo_local(returns: np.ndarray, spec: MonteCarloSpec) -> dict:
    from raytrade.backtest.montecarlo import simulate

    return simulate(returns, spec.paths, method=spec.method, seed=spec.seed, horizon=spec.horizon,
                    mean_block=spec.mean_block, drawdown_threshold=spec.drawdown_threshold, fan_paths=spec.fan_paths)


def _write_outputs(folder: Path, config: WalkForwardConfig, close: pd.DataFrame, result: WalkForwardResult,
                   summary: dict, risk: dict) -> None:
    index = close.index
    oos = oos_series(result, index)
    oos.to_frame().to_parquet(folder / "oos_returns.parquet")
    full = pd.DataFrame(result.full_metrics)
    full.to_parquet(folder / "full_sample.parquet")
    table = windows_table(summary, index)
    table.to_csv(folder / "windows.csv")
    hold = _equal_weight_hold(close, config, result.oos_start)
    sections = _report_sections(config, summary, table, oos, hold, result, index)
    sections += risk_sections(risk.get("montecarlo"), risk.get("stress"))
    if "stress" in risk:
        sections[-2] = (sections[-2][0] + f" (latest window's parameters {risk['stress']['params']})", sections[-2][1])
    write_report(folder / "report.html", f"Walk-forward: {config.name}", sections)


def _equal_weight_hold(close: pd.DataFrame, config: WalkForwardConfig, start: int) -> pd.Series:
    """Equal-weight buy and hold of the symbols over the out-of-sample span (same costs)."""
    c = close.to_numpy()[start:]
    out = run_kernel(np.ones_like(c), c, costs=config.costs, initial_capital=1.0, record_shares=False)
    eq = out.equity.sum(axis=1)
    return pd.Series(eq / eq[0], index=close.index[start:], name="equal-weight buy and hold")


def verdict(summary: dict) -> list[str]:
    """Plain-language reading of the overfitting statistics."""
    lines = [f"Note: {summary['note']}."] if summary.get("note") else []
    ratio = summary["overfitting_ratio"]
    if summary["overfit"]:
        lines.append(f"Overfitting ratio {ratio:.2f} is above 2.0: the in-sample Sharpe does not carry out of sample.")
    else:
        lines.append(f"Overfitting ratio {ratio:.2f} (flag above 2.0).")
    pbo = summary["pbo"]["pbo"]
    if pbo is not None:
        lines.append(f"PBO {pbo:.0%}: the probability that the in-sample best set ranks below the median out of "
                     f"sample ({'high' if pbo > 0.5 else 'moderate' if pbo > 0.2 else 'low'}).")
    dsr = summary["dsr"]["probability"]
    lines.append(f"DSR {dsr:.2f}: probability that the full-sample best set's Sharpe beats the best of "
                 f"{summary['n_trials']:,} unskilled trials ({'significant' if dsr > 0.95 else 'not significant'} at 95%).")
    lines.append(f"Out-of-sample PSR {summary['oos_psr']['probability']:.2f}: probability that the stitched "
                 "out-of-sample Sharpe is above 0.")
    return lines


def _report_sections(config, summary, table, oos, hold, result, index) -> list[tuple[str, str]]:
    sections = [("Verdict", "<ul>" + "".join(f"<li>{line}</li>" for line in verdict(summary)) + "</ul>")]
    headline = pd.DataFrame({
        "stitched out of sample": [summary["oos"][k] for k in ("sharpe", "annual_return", "annual_volatility", "max_drawdown")],
    }, index=["Sharpe", "CAGR", "volatility", "max drawdown"])
    headline["mean in sample (chosen sets)"] = [summary["in_sample_mean"]["sharpe"], summary["in_sample_mean"]["annual_return"],
                                                np.nan, np.nan]
    sections.append(("Headline", table_html(headline) + f"<p>Walk-forward efficiency "
                     f"{summary['walk_forward_efficiency']:.2f}; {summary['n_trials']:,} parameter sets; "
                     f"{len(summary['windows'])} windows; objective <code>{config.objective}</code>.</p>"))
    fig, ax = plt.subplots(figsize=(10, 4.5))
    oos_eq = (1 + oos).cumprod()
    ax.plot(oos_eq.index, oos_eq, label="walk-forward, stitched out of sample", lw=1.4)
    ax.plot(hold.index, hold, label=hold.name, lw=1.0, alpha=0.8)
    full = pd.Series(np.cumprod(1 + result.full_best_returns), index=index)
    full = full.loc[oos_eq.index[0]:] / full.loc[oos_eq.index[0]]
    ax.plot(full.index, full, label="full-sample optimum (in sample: hindsight)", lw=1.0, ls="--")
    for w in summary["windows"]:
        ax.axvline(index[w["train_end"]], color="grey", lw=0.4, alpha=0.5)
    ax.set_yscale("log")
    ax.legend(fontsize=8)
    ax.set_ylabel("growth of 1")
    sections.append(("Equity: out of sample against in sample and buy and hold", figure_html(fig, "equity")))
    sections.append(("Windows", table_html(table)))
    params = [c for c in table.columns if c in config.block().columns]
    if params:
        fig, ax = plt.subplots(figsize=(10, 3.2))
        for p in params:
            ax.step(table.index, table[p], where="mid", marker="o", label=p)
        ax.set_xlabel("window")
        ax.set_ylabel("chosen value")
        ax.legend(fontsize=8)
        stab = pd.DataFrame(summary["parameter_stability"]).T
        sections.append(("Parameters per window", figure_html(fig, "parameters") + table_html(stab)))
    if summary["pbo"]["pbo"] is not None:
        fig, ax = plt.subplots(figsize=(8, 3.2))
        ax.hist(summary["pbo"]["logits"], bins=40, color="tab:purple")
        ax.axvline(0, color="k", lw=1)
        ax.set_xlabel("logit of the in-sample best set's out-of-sample rank")
        ax.set_ylabel("combinations")
        sections.append((f"Probability of Backtest Overfitting: {summary['pbo']['pbo']:.1%}",
                         figure_html(fig, "pbo") + f"<p>CSCV with {summary['pbo']['blocks']} blocks over "
                         f"{summary['pbo']['trials']} sets' full-history returns.</p>"))
    return sections
