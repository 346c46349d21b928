"""`raytrade research montecarlo|stress`: a configured backtest's returns resampled on Ray, and its
behaviour in historical crises and hypothetical shocks. The walk-forward job runs both on its own
out-of-sample returns and its latest parameters."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field

from raytrade.analytics.report import figure_html, table_html, write_report
from raytrade.backtest.config import BacktestConfig
from raytrade.backtest.costs import CostModel
from raytrade.backtest.kernel import run_kernel
from raytrade.backtest.montecarlo import Method
from raytrade.backtest.runfolder import library_versions, new_run_folder, write_json, write_yaml
from raytrade.backtest.runner import backtest
from raytrade.backtest.stress import betas, historical_replays, hypothetical_shocks
from raytrade.data.loaders import frame_digest, load_index_close
from raytrade.strategies.base import Strategy, is_portfolio
from raytrade.tune.montecarlo import simulate_on_ray


class MonteCarloSpec(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    paths: int = Field(1000, ge=10, le=1_000_000)
    method: Method = Method.STATIONARY
    seed: int = 0
    mean_block: float = Field(20.0, ge=1.0)
    horizon: int | None = Field(None, ge=2)
    drawdown_threshold: float = Field(0.20, gt=0.0, lt=1.0)
    fan_paths: int = Field(1000, ge=0, le=20_000)


class StressSpec(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    beta_lookback: int = Field(252, ge=20)


class RiskConfig(BacktestConfig):
    """A backtest (one parameter set) plus how to resample and stress it."""

    montecarlo: MonteCarloSpec = MonteCarloSpec()
    stress: StressSpec = StressSpec()


def montecarlo_summary(returns: np.ndarray, spec: MonteCarloSpec) -> dict:
    return simulate_on_ray(returns, spec.paths, method=spec.method, seed=spec.seed, horizon=spec.horizon,
                           mean_block=spec.mean_block, drawdown_threshold=spec.drawdown_threshold,
                           fan_paths=spec.fan_paths)


def stress_summary(strategy: Strategy, params: dict, close: pd.DataFrame, costs: CostModel, spec: StressSpec,
                   sizing=None) -> dict:
    """Replays and shocks for ``params`` traded on ``close`` (T x symbols), see raytrade.backtest.stress."""
    result = backtest(strategy, params, close, costs=costs, sizing=sizing, initial_capital=1.0)
    # a portfolio strategy is one book (its per-symbol columns are position values, not sleeves)
    sleeves = result.equity[["PORTFOLIO"]] if is_portfolio(strategy) else result.equity.drop(columns="PORTFOLIO")
    out = run_kernel(np.ones(close.shape), close.to_numpy(), costs=costs, initial_capital=1.0 / close.shape[1],
                     record_shares=False)
    hold = pd.Series(out.equity.sum(axis=1), index=close.index)
    total = sleeves.sum(axis=1)
    weights = (result.shares.iloc[-1] * close.iloc[-1]) / total.iloc[-1]
    index = load_index_close()
    beta = betas(close.pct_change().iloc[1:], index.pct_change().iloc[1:], spec.beta_lookback)
    log_r = np.log(total / total.shift(1)).dropna()
    return {
        "params": params,
        "historical": historical_replays(sleeves, hold),
        "hypothetical": hypothetical_shocks(weights, beta, float(log_r.mean())),
        "weights_at_end": weights.to_dict(),
        "betas": beta.to_dict(),
    }


def fan_chart_html(mc: dict, title: str) -> str:
    fan = mc["fan"]
    if not fan:
        return "<p>no paths kept for the fan chart</p>"
    x = np.arange(len(fan["p50"]))
    fig, ax = plt.subplots(figsize=(9, 3.8))
    ax.fill_between(x, fan["p5"], fan["p95"], alpha=0.2, color="tab:blue", label="5-95%")
    ax.fill_between(x, fan["p25"], fan["p75"], alpha=0.35, color="tab:blue", label="25-75%")
    ax.plot(x, fan["p50"], color="tab:blue", label="median")
    ax.axhline(1.0, color="k", lw=0.6)
    ax.set_yscale("log")
    ax.set_xlabel("bars from the start of each simulated path (trading days, for daily data)")
    ax.set_ylabel("growth of 1")
    ax.set_title(title)
    ax.legend(fontsize=8)
    return figure_html(fig, "Monte Carlo fan chart")


def montecarlo_table(mc: dict) -> pd.DataFrame:
    return pd.DataFrame({"final equity (growth of 1)": mc["final_equity"], "max drawdown": mc["max_drawdown"],
                         "Sharpe": mc["sharpe"]}).T


def stress_tables(stress: dict) -> tuple[pd.DataFrame, pd.DataFrame]:
    covered = [r for r in stress["historical"] if r.get("covered")]
    # data outside every crisis window (e.g. crypto bars of 2018) covers none of them
    hist = (pd.DataFrame(covered).set_index("scenario").drop(columns="covered") if covered
            else pd.DataFrame({"note": ["the data covers none of the historical windows"]}))
    hyp = pd.DataFrame(stress["hypothetical"]).set_index("scenario")
    return hist, hyp


def risk_sections(mc: dict | None, stress: dict | None) -> list[tuple[str, str]]:
    sections = []
    if mc is not None:
        text = (f"<p>{mc['paths']:,} paths ({mc.get('method', '')}); probability of a loss "
                f"{mc['probability_of_loss']:.1%}; probability of a drawdown beyond "
                f"{mc['drawdown_threshold']:.0%}: {mc['probability_drawdown_beyond']:.1%}. Fan from the first "
                f"{mc['fan_paths']:,} paths.</p>")
        sections.append(("Monte Carlo", text + fan_chart_html(mc, "resampled equity") + table_html(montecarlo_table(mc))))
    if stress is not None:
        hist, hyp = stress_tables(stress)
        sections.append(("Stress tests: historical replays", table_html(hist)))
        sections.append(("Stress tests: hypothetical shocks through beta to the S&P 500", table_html(hyp)))
    return sections


@dataclass(frozen=True, slots=True)
class RiskRun:
    folder: Path
    summary: dict


def _start(config: RiskConfig, kind: str) -> tuple[pd.DataFrame, Strategy, Path]:
    close, _ = config.data.load()  # risk jobs trade at the close, whatever the source
    strategy = config.strategy.build()
    folder = new_run_folder(config.output_dir, f"{config.name}-{kind}")
    write_yaml(folder / "config.yaml", config.model_dump(mode="json"))
    write_json(folder / "manifest.json", {"kind": kind, "data_sha256": frame_digest(close), "bars": len(close),
                                          "symbols": list(close.columns), "versions": library_versions()})
    return close, strategy, folder


def run_montecarlo_job(config: RiskConfig, on_progress: Callable[[int, int], None] | None = None) -> RiskRun:
    """The backtest, its returns resampled into paths on Ray, the summary and the report;
    ``on_progress(done, 4)`` after each of: data, backtest, paths, report."""
    tick = on_progress or (lambda done, total: None)
    tick(0, 4)
    close, strategy, folder = _start(config, "montecarlo")
    tick(1, 4)
    result = backtest(strategy, config.strategy.params, close, costs=config.costs, sizing=config.sizing)
    eq = result.equity["PORTFOLIO"].to_numpy()
    tick(2, 4)
    mc = montecarlo_summary(eq[1:] / eq[:-1] - 1.0, config.montecarlo)
    mc["method"] = str(config.montecarlo.method)
    tick(3, 4)
    write_json(folder / "summary.json", mc)
    write_report(folder / "report.html", f"Monte Carlo: {config.name}", risk_sections(mc, None))
    tick(4, 4)
    return RiskRun(folder, mc)


def run_stress_job(config: RiskConfig) -> RiskRun:
    close, strategy, folder = _start(config, "stress")
    stress = stress_summary(strategy, config.strategy.params, close, config.costs, config.stress, config.sizing)
    write_json(folder / "summary.json", stress)
    write_report(folder / "report.html", f"Stress tests: {config.name}", risk_sections(None, stress))
    return RiskRun(folder, stress)

