"""Walk-forward optimisation as pure functions: windows, the score of one (window, chunk of the
grid), and the assembly of all scores into the per-window and stitched results.

The unit of work is :func:`score_chunk`: a chunk of parameter sets scored on one window, in
sample (the training bars) and out of sample (the test bars), each set trading every symbol on
an equal-weight portfolio of sleeves (:func:`~raytrade.backtest.runner.evaluate_sleeves`). The
same function runs in a Ray Tune trial or in a plain loop, so both give identical numbers.

Conventions:

- windows are in bars; ``train_fraction`` of each window trains, the rest tests; rolling windows
  move by ``step`` bars (default: the test length, so test pieces tile the data); anchored
  windows keep their training start at bar 0. Only whole windows are used;
- the objective is maximised (``max_drawdown`` is <= 0, so the shallowest drawdown wins); ties go
  to the lowest ``param_id``; a NaN objective ranks last;
- every test window starts flat with fresh capital: the position held at a window's end is
  marked, not traded, and the next window enters afresh at its second bar. The stitched
  out-of-sample curve chains the test windows' daily returns.
"""

from __future__ import annotations

import importlib
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from raytrade.analytics.metrics import performance_metrics
from raytrade.analytics.overfitting import overfitting_ratio, walk_forward_efficiency
from raytrade.backtest.costs import CostModel, Sizing
from raytrade.backtest.kernel import STAT_FIELDS
from raytrade.backtest.runner import evaluate_sleeves
from raytrade.core.errors import ConfigError
from raytrade.strategies.base import Strategy, is_overlay, is_portfolio
from raytrade.strategies.space import ParamBlock

BUILTIN_OBJECTIVES = ("sharpe", "sortino", "calmar", "total_return", "annual_return", "max_drawdown")
SCORED_METRICS = ("sharpe", "sortino", "calmar", "total_return", "annual_return", "annual_volatility",
                  "max_drawdown")

Objective = Callable[[dict[str, np.ndarray]], np.ndarray]


@dataclass(frozen=True, slots=True)
class Window:
    """Bars [train_start, train_end) train, [train_end, test_end) test (positions in the data)."""

    index: int
    train_start: int
    train_end: int
    test_end: int

    @property
    def test_start(self) -> int:
        return self.train_end


def make_windows(
    n_bars: int, *, window: int, train_fraction: float = 0.75, step: int | None = None, anchored: bool = False,
) -> list[Window]:
    """The walk-forward windows over ``n_bars`` bars (see module doc); ConfigError names the field."""
    if not 0.0 < train_fraction < 1.0:
        raise ConfigError(f"walkforward.train_fraction: must be in (0, 1), got {train_fraction}")
    if window > n_bars:
        raise ConfigError(f"walkforward.window: {window} bars is longer than the data ({n_bars} bars)")
    train = round(window * train_fraction)
    test = window - train
    if train < 20 or test < 5:
        raise ConfigError(f"walkforward.window: {window} bars gives {train} training and {test} test bars "
                          "(need >= 20 and >= 5)")
    step = test if step is None else step
    if step < test:
        raise ConfigError(f"walkforward.step: {step} is shorter than the test length {test}: test windows "
                          "would overlap")
    windows = []
    k = 0
    while True:
        train_end = train + k * step
        test_end = train_end + test
        if test_end > n_bars:
            break
        windows.append(Window(k, 0 if anchored else train_end - train, train_end, test_end))
        k += 1
    return windows


def resolve_objective(name: str) -> Objective:
    """A built-in metric name, or ``"package.module:function"`` taking the metrics dict (arrays
    over the chunk's sets) and returning one score per set (higher is better)."""
    if name in BUILTIN_OBJECTIVES:
        return lambda m: m[name]
    if ":" not in name:
        raise ConfigError(f"objective: unknown objective {name!r} (built in: {', '.join(BUILTIN_OBJECTIVES)}, "
                          "or module:function)")
    module, _, attr = name.partition(":")
    try:
        fn = getattr(importlib.import_module(module), attr)
    except (ImportError, AttributeError) as exc:
        raise ConfigError(f"objective: cannot import {name!r}: {exc}") from None
    if not callable(fn):
        raise ConfigError(f"objective: {name!r} is not callable")
    return fn


def _score(objective: Objective, metrics: dict[str, np.ndarray], n: int) -> np.ndarray:
    score = np.asarray(objective(metrics), dtype=np.float64)
    if score.shape != (n,):
        raise ConfigError(f"objective: returned shape {score.shape}, expected ({n},)")
    return np.where(np.isnan(score), -np.inf, score)


def _returns(equity: np.ndarray) -> np.ndarray:
    """Per-bar returns with a leading 0 for the first bar (flat start)."""
    out = np.zeros_like(equity)
    out[1:] = equity[1:] / equity[:-1] - 1.0
    return out


@dataclass(frozen=True, slots=True)
class Inputs:
    """What every trial shares (put in Ray's object store once). ``warmup`` is the whole grid's."""

    close: np.ndarray
    open_: np.ndarray | None
    costs: CostModel
    sizing: Sizing
    initial_capital: float
    warmup: int
    symbols: tuple[str, ...] | None = None   # the columns' names (strategies that group by sector)
    periods_per_year: float = 252.0           # bars a year of the data's calendar (365 a day for crypto)
    days: np.ndarray | None = None             # each bar's calendar day (option expiries count them)


@dataclass
class ChunkScore:
    """Scores of one chunk of sets (``param_ids``) on one window, or on the full history
    (``window`` = -1). ``best`` is the chunk's in-sample best set (a param_id); its daily returns
    are kept for stitching. ``sample_returns`` (full history only) holds the returns of the sets
    listed in ``sample_ids`` (for PBO)."""

    window: int
    param_ids: np.ndarray
    is_metrics: dict[str, np.ndarray]
    oos_metrics: dict[str, np.ndarray]
    is_score: np.ndarray
    best: int
    best_is_returns: np.ndarray
    best_oos_returns: np.ndarray
    sample_ids: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    sample_returns: np.ndarray = field(default_factory=lambda: np.zeros((0, 0)))

    def to_arrays(self) -> dict[str, np.ndarray]:
        out = {"window": np.array(self.window), "param_ids": self.param_ids, "is_score": self.is_score,
               "best": np.array(self.best), "best_is_returns": self.best_is_returns,
               "best_oos_returns": self.best_oos_returns, "sample_ids": self.sample_ids,
               "sample_returns": self.sample_returns}
        out.update({f"is_{k}": v for k, v in self.is_metrics.items()})
        out.update({f"oos_{k}": v for k, v in self.oos_metrics.items()})
        return out

    @classmethod
    def from_arrays(cls, a: dict[str, np.ndarray]) -> ChunkScore:
        return cls(int(a["window"]), a["param_ids"],
                   {k[3:]: a[k] for k in a if k.startswith("is_") and k != "is_score"},
                   {k[4:]: a[k] for k in a if k.startswith("oos_")},
                   a["is_score"], int(a["best"]), a["best_is_returns"], a["best_oos_returns"],
                   a["sample_ids"], a["sample_returns"])


def _metrics(equity: np.ndarray, stats: np.ndarray, periods_per_year: float = 252.0) -> dict[str, np.ndarray]:
    m = performance_metrics(equity, periods_per_year=periods_per_year)
    out = {k: m[k] for k in SCORED_METRICS}
    out["round_trips"] = stats[:, STAT_FIELDS.index("round_trips")]
    years = max(equity.shape[0] - 1, 1) / periods_per_year   # annual turnover, as trade_metrics has it
    out["turnover"] = stats[:, STAT_FIELDS.index("turnover")] / years
    return out


def score_chunk(
    strategy: Strategy,
    inputs: Inputs,
    block: ParamBlock,
    offset: int,
    window: Window | None,
    objective: Objective,
    sample_ids: np.ndarray | None = None,
) -> ChunkScore:
    """Score sets ``offset .. offset + len(block) - 1`` on ``window`` (in and out of sample), or
    on the whole history when ``window`` is None (in sample only, plus returns of ``sample_ids``)."""
    kwargs = {"open_": inputs.open_, "costs": inputs.costs, "sizing": inputs.sizing,
              "initial_capital": inputs.initial_capital, "warmup": inputs.warmup, "symbols": inputs.symbols}
    if is_overlay(strategy):
        kwargs = {k: kwargs[k] for k in ("costs", "sizing", "initial_capital", "warmup")} | {"days": inputs.days}
    elif not is_portfolio(strategy):
        kwargs["periods_per_year"] = inputs.periods_per_year   # vol-target sizing's annualisation
    n_bars = inputs.close.shape[0]
    start, end = (0, n_bars) if window is None else (window.train_start, window.train_end)
    ins = evaluate_sleeves(strategy, inputs.close, block, start, end, **kwargs)
    is_metrics = _metrics(ins.equity, ins.stats, inputs.periods_per_year)
    score = _score(objective, is_metrics, len(block))
    local = int(np.argmax(score))
    ids = np.arange(offset, offset + len(block))
    if window is None:
        oos_metrics: dict[str, np.ndarray] = {}
        best_oos = np.zeros(0)
        chosen = np.zeros(0, dtype=np.int64) if sample_ids is None else np.asarray(sample_ids, dtype=np.int64)
        chosen = chosen[(chosen >= offset) & (chosen < offset + len(block))]
        sample = _returns(ins.equity[:, chosen - offset])[1:].astype(np.float32)
    else:
        oos = evaluate_sleeves(strategy, inputs.close, block, window.test_start, window.test_end, **kwargs)
        oos_metrics = _metrics(oos.equity, oos.stats, inputs.periods_per_year)
        best_oos = _returns(oos.equity[:, local])
        chosen, sample = np.zeros(0, dtype=np.int64), np.zeros((0, 0), dtype=np.float32)
    return ChunkScore(-1 if window is None else window.index, ids, is_metrics, oos_metrics, score,
                      offset + local, _returns(ins.equity[:, local]), best_oos, chosen, sample)


def plan_chunks(n_sets: int, n_units: int, bar_steps_per_set: float, cpus: int, *,
                ns_per_bar_step: float = 6.0, target_seconds: float = 3.0) -> int:
    """Sets per chunk: about ``target_seconds`` of kernel work per trial at most (Tune's per-trial
    cost with reused actors is ~0.13 s here, so it stays under 10%), at least two trials per CPU
    across the ``n_units`` windows, and chunks of equal size (no half-empty last trial)."""
    by_time = max(1, int(target_seconds * 1e9 / max(1.0, bar_steps_per_set * ns_per_bar_step)))
    chunks = max(math.ceil(n_sets / by_time), math.ceil(2 * cpus / max(1, n_units)), 1)
    return math.ceil(n_sets / min(chunks, n_sets))


@dataclass(frozen=True, slots=True)
class WindowResult:
    window: Window
    best: int
    params: dict[str, int | float]
    is_metrics: dict[str, float]
    oos_metrics: dict[str, float]
    overfitting_ratio: float
    efficiency: float


@dataclass(frozen=True, slots=True)
class WalkForwardResult:
    """Everything the report needs, built from the chunk scores by :func:`assemble`."""

    windows: list[WindowResult]
    oos_returns: np.ndarray  # stitched test-window returns, one per bar from the first test bar
    oos_start: int  # bar position of oos_returns[0]
    full_metrics: dict[str, np.ndarray]  # every set on the full history (in sample)
    full_best: int
    full_best_returns: np.ndarray
    pbo_ids: np.ndarray
    pbo_returns: np.ndarray  # (T-1, len(pbo_ids)) full-history returns of the PBO sample
    stability: dict[str, dict[str, float]]


def assemble(scores: Sequence[ChunkScore], block: ParamBlock, windows: Sequence[Window]) -> WalkForwardResult:
    """Combine all chunk scores (any order) into per-window bests, the stitched curve and the
    full-history table. Deterministic: ties go to the lowest param_id."""
    by_window: dict[int, list[ChunkScore]] = {}
    for s in scores:
        by_window.setdefault(s.window, []).append(s)
    expected = {w.index for w in windows} | {-1}
    if set(by_window) != expected:
        raise ConfigError(f"walk-forward results are incomplete: have windows {sorted(by_window)}, "
                          f"need {sorted(expected)}")
    results = []
    oos_parts = []
    for w in windows:
        chunks = sorted(by_window[w.index], key=lambda s: int(s.param_ids[0]))
        winner = _winner(chunks)
        best = winner.best
        pos = best - int(winner.param_ids[0])
        is_m = {k: float(v[pos]) for k, v in winner.is_metrics.items()}
        oos_m = {k: float(v[pos]) for k, v in winner.oos_metrics.items()}
        results.append(WindowResult(w, best, block.row(best), is_m, oos_m,
                                    overfitting_ratio(is_m["sharpe"], oos_m["sharpe"]),
                                    walk_forward_efficiency(oos_m["annual_return"], is_m["annual_return"])))
        oos_parts.append(winner.best_oos_returns)
    full = sorted(by_window[-1], key=lambda s: int(s.param_ids[0]))
    full_winner = _winner(full)
    full_metrics = {k: np.concatenate([c.is_metrics[k] for c in full]) for k in full[0].is_metrics}
    pbo_ids = np.concatenate([c.sample_ids for c in full])
    pbo_returns = np.concatenate([c.sample_returns for c in full if c.sample_returns.size], axis=1) \
        if any(c.sample_returns.size for c in full) else np.zeros((0, 0))
    return WalkForwardResult(
        results, np.concatenate(oos_parts), windows[0].test_start, full_metrics, full_winner.best,
        full_winner.best_is_returns, pbo_ids, pbo_returns, parameter_stability(results, block),
    )


def _winner(chunks: Sequence[ChunkScore]) -> ChunkScore:
    best_score = -np.inf
    winner = chunks[0]
    for c in chunks:
        s = c.is_score[c.best - int(c.param_ids[0])]
        if s > best_score:
            best_score, winner = s, c
    return winner


def parameter_stability(results: Sequence[WindowResult], block: ParamBlock) -> dict[str, dict[str, float]]:
    """Per parameter: mean, standard deviation, coefficient of variation (sd / |mean|) and number
    of distinct values of the chosen sets across windows; plus, under ``"_sets"``, how many
    distinct sets were chosen and the share of windows that chose the most frequent one."""
    out: dict[str, dict[str, float]] = {}
    for name in block.columns:
        v = np.array([r.params[name] for r in results], dtype=np.float64)
        sd = float(v.std(ddof=1)) if len(v) > 1 else 0.0
        mean = float(v.mean())
        out[name] = {"mean": mean, "std": sd, "cv": sd / abs(mean) if mean else math.nan,
                     "distinct": float(len(np.unique(v)))}
    ids = [r.best for r in results]
    counts = np.bincount(np.unique(ids, return_inverse=True)[1])
    out["_sets"] = {"distinct": float(len(counts)), "modal_share": float(counts.max() / len(ids))}
    return out


@dataclass(frozen=True, slots=True)
class Task:
    """One unit of work: sets [offset, offset + size) on window ``window`` (-1: full history)."""

    window: int
    offset: int
    size: int


def plan_tasks(n_sets: int, windows: Sequence[Window], n_bars: int, n_assets: int, cpus: int,
               chunk_size: int | None = None) -> list[Task]:
    """Every (window, chunk) task plus the full-history chunks, in a fixed order: the full
    history first, as its trials are the longest (longest first keeps both CPUs busy to the end)."""
    if chunk_size is None:
        per_set = n_assets * (windows[0].test_end - windows[0].train_start)
        chunk_size = plan_chunks(n_sets, len(windows) + 1, per_set, cpus)
    units = [-1] + [w.index for w in windows]
    return [Task(u, off, min(chunk_size, n_sets - off)) for u in units for off in range(0, n_sets, chunk_size)]


def pbo_sample(n_sets: int, max_trials: int) -> np.ndarray:
    """The param_ids whose full-history returns feed PBO: all when few, else evenly spaced."""
    if n_sets <= max_trials:
        return np.arange(n_sets)
    return np.unique(np.linspace(0, n_sets - 1, max_trials).round().astype(np.int64))


def run_task(strategy: Strategy, inputs: Inputs, block: ParamBlock, task: Task, windows: Sequence[Window],
             objective: Objective, sample_ids: np.ndarray) -> ChunkScore:
    """Score one task (what a Tune trial does)."""
    chunk = block.take(slice(task.offset, task.offset + task.size))
    window = None if task.window < 0 else windows[task.window]
    return score_chunk(strategy, inputs, chunk, task.offset, window, objective,
                       sample_ids if window is None else None)


def run_local(strategy: Strategy, inputs: Inputs, block: ParamBlock, windows: Sequence[Window],
              objective: Objective, *, max_pbo_trials: int = 500, chunk_size: int | None = None) -> WalkForwardResult:
    """The whole walk-forward in this process, task after task (the baseline Ray must match)."""
    sample = pbo_sample(len(block), max_pbo_trials)
    tasks = plan_tasks(len(block), windows, inputs.close.shape[0], inputs.close.shape[1], 1, chunk_size)
    return assemble([run_task(strategy, inputs, block, t, windows, objective, sample) for t in tasks],
                    block, windows)


def summarize(result: WalkForwardResult, block: ParamBlock, *, periods_per_year: float = 252,
              pbo_blocks: int = 16) -> dict:
    """The run's verdict as plain JSON-able numbers (no timings: the same inputs give the same
    summary, bit for bit).

    - ``oos``: metrics of the stitched out-of-sample curve;
    - ``overfitting_ratio``: mean in-sample Sharpe of the chosen sets / stitched OOS Sharpe,
      ``overfit`` when above 2.0; ``walk_forward_efficiency``: stitched OOS annual return / mean
      in-sample annual return;
    - ``pbo``: CSCV over the full-history returns of ``pbo_trials`` sets (all, or evenly spaced);
    - ``dsr``: the full-history best set's Sharpe deflated by all ``n_trials`` sets of the grid;
      ``oos_psr``: probability that the stitched OOS Sharpe is above 0.
    """
    from raytrade.analytics.overfitting import (
        deflated_sharpe_ratio,
        is_overfit,
        pbo_cscv,
        psr_of_returns,
    )

    oos_equity = np.cumprod(1.0 + result.oos_returns)
    oos = {k: float(v[0]) for k, v in performance_metrics(oos_equity, periods_per_year=periods_per_year).items()}
    is_sharpe = float(np.mean([w.is_metrics["sharpe"] for w in result.windows]))
    is_return = float(np.mean([w.is_metrics["annual_return"] for w in result.windows]))
    oos["turnover"] = float(np.mean([w.oos_metrics["turnover"] for w in result.windows]))  # a year, mean of windows
    ratio = overfitting_ratio(is_sharpe, oos["sharpe"])
    per_period = result.full_metrics["sharpe"] / math.sqrt(periods_per_year)
    dsr = deflated_sharpe_ratio(result.full_best_returns[1:], per_period)
    psr = psr_of_returns(result.oos_returns[1:])
    pbo: dict = {"pbo": None, "trials": len(result.pbo_ids), "blocks": pbo_blocks}
    if result.pbo_returns.size and result.pbo_returns.shape[1] >= 2 and result.pbo_returns.shape[0] >= 2 * pbo_blocks:
        p = pbo_cscv(result.pbo_returns.astype(np.float64), n_blocks=pbo_blocks)
        pbo.update({"pbo": p.pbo, "combinations": len(p.logits),
                    "probability_oos_loss": p.probability_oos_loss,
                    "logits": [float(x) for x in p.logits]})
    return {
        "n_trials": len(block),
        "windows": [{
            "index": w.window.index, "train_start": w.window.train_start, "train_end": w.window.train_end,
            "test_end": w.window.test_end, "param_id": w.best, "params": w.params,
            "in_sample": w.is_metrics, "out_of_sample": w.oos_metrics,
            "overfitting_ratio": w.overfitting_ratio, "overfit": is_overfit(w.overfitting_ratio),
            "walk_forward_efficiency": w.efficiency,
        } for w in result.windows],
        "oos": oos,
        "in_sample_mean": {"sharpe": is_sharpe, "annual_return": is_return},
        "overfitting_ratio": ratio,
        "overfit": is_overfit(ratio),
        "walk_forward_efficiency": walk_forward_efficiency(oos["annual_return"], is_return),
        "parameter_stability": result.stability,
        "pbo": pbo,
        "dsr": {"probability": dsr.probability, "sr_annual": dsr.sr * math.sqrt(periods_per_year),
                "sr0_annual": dsr.sr_benchmark * math.sqrt(periods_per_year), "n_trials": dsr.n_trials,
                "skew": dsr.skew, "kurtosis": dsr.kurtosis, "observations": dsr.n_obs,
                "full_sample_best_param_id": result.full_best, "full_sample_best_params": block.row(result.full_best)},
        "oos_psr": {"probability": psr.probability, "sr_annual": psr.sr * math.sqrt(periods_per_year),
                    "observations": psr.n_obs},
    }


def windows_table(summary: dict, index: pd.DatetimeIndex) -> pd.DataFrame:
    """One row per window of a :func:`summarize` summary, dated by ``index`` (the bars'
    timestamps): the training start, the test span, the chosen parameters, in- and out-of-sample
    Sharpe and CAGR (fractions), the overfitting ratio and the walk-forward efficiency."""
    rows = [{"window": w["index"], "train_from": index[w["train_start"]].date(),
             "test_from": index[w["train_end"]].date(), "test_to": index[w["test_end"] - 1].date(),
             **w["params"], "IS sharpe": w["in_sample"]["sharpe"], "OOS sharpe": w["out_of_sample"]["sharpe"],
             "IS CAGR": w["in_sample"]["annual_return"], "OOS CAGR": w["out_of_sample"]["annual_return"],
             "overfit ratio": w["overfitting_ratio"], "WFE": w["walk_forward_efficiency"]}
            for w in summary["windows"]]
    return pd.DataFrame(rows).set_index("window")


def oos_series(result: WalkForwardResult, index: pd.DatetimeIndex) -> pd.Series:
    """The stitched out-of-sample returns (a fraction a bar) dated by ``index``."""
    return pd.Series(result.oos_returns, index=index[result.oos_start: result.oos_start + len(result.oos_returns)],
                     name="oos_return")
