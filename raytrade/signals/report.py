"""`raytrade models evaluate`: the out-of-sample report of a registry version.

Reads the version's ``oos_predictions.parquet`` (every purged walk-forward fold's predictions,
written at training) and the bundled closes of its symbols and window; nothing is refitted. Writes
``evaluation.json`` and a self-contained ``report.html`` beside the model: signal quality per model
against the baselines (IC, rank IC, hit rate, AUC, Brier, ECE), the design's ensembling
claim as measured, calibration (reliability curves), hit rate by market regime, the stacked weights
per fold, and the long-short backtest of each signal with costs through the kernel
(:mod:`raytrade.signals.long_short`) next to the equal-weight long-only book.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from raytrade.analytics.report import figure_html, table_html, write_report
from raytrade.backtest.costs import CostModel
from raytrade.backtest.kernel import run_kernel
from raytrade.backtest.runner import combine_sleeves, kernel_metrics
from raytrade.core.errors import ConfigError
from raytrade.signals.evaluation import OOS_SIGNALS, QUALITY, reliability
from raytrade.signals.long_short import LongShortResult, long_short_backtest
from raytrade.signals.models import PARTS

SINGLE = PARTS
BLENDS = ("ensemble", "stacked")
BOOK = ["annual_return", "annual_volatility", "sharpe", "max_drawdown", "turnover", "costs_paid"]
DEFAULT_COSTS = CostModel(half_spread_bps=2.0, slippage_bps=3.0, commission_bps=0.5)


@dataclass(frozen=True)
class Evaluation:
    quality: pd.DataFrame            # model x QUALITY, mean over folds
    folds: pd.DataFrame              # the per-fold table saved at training
    regimes: pd.DataFrame            # hit rate by regime (rows) and model (columns), with row counts
    books: dict[str, LongShortResult]
    hold: pd.Series                  # equal-weight long-only equity over the same span
    hold_metrics: dict[str, float]
    claim: dict[str, float]          # ensembling's hit-rate gain, in percentage points

    def book_table(self) -> pd.DataFrame:
        rows = {f"long-short {m}": {k: r.metrics[k] for k in BOOK} for m, r in self.books.items()}
        rows["equal-weight long only"] = {k: self.hold_metrics[k] for k in BOOK}
        return pd.DataFrame(rows).T


def _hold(close: pd.DataFrame, start: pd.Timestamp, costs: CostModel, capital: float) -> tuple[pd.Series, dict]:
    c = close.loc[start:]
    out = run_kernel(np.ones(c.shape), c.to_numpy(dtype=np.float64), costs=costs,
                     initial_capital=capital / c.shape[1], record_shares=False)
    book = combine_sleeves(out)
    return pd.Series(book.equity[:, 0], index=c.index), {k: float(v[0]) for k, v in kernel_metrics(book).items()}


def evaluate(oos: pd.DataFrame, folds: pd.DataFrame, close: pd.DataFrame, *, costs: CostModel = DEFAULT_COSTS,
             quantile: float = 0.2, rebalance_every: int = 21, capital: float = 1_000_000.0) -> Evaluation:
    """Everything the report shows, from out-of-sample predictions ``oos`` (index (timestamp,
    symbol)), the per-fold table and the closes (bars x symbols) they were made on."""
    quality = folds.groupby("model", sort=False)[QUALITY].mean()
    best_single = max(float(quality.loc[m, "hit_rate"]) for m in SINGLE)
    hit = quality["hit_rate"].astype(float)
    claim = {f"{b}_minus_best_single_pts": 100 * (hit[b] - best_single) for b in BLENDS}
    claim.update({f"{b}_minus_momentum_pts": 100 * (hit[b] - hit["momentum"]) for b in BLENDS})
    claim["ensemble_minus_base_rate_pts"] = 100 * (hit["ensemble"] - hit["always_long"])
    up = oos["forward_return"] > 0
    hits = {m: (np.sign(oos[m]) == np.where(up, 1, -1)) for m in ("momentum", *BLENDS)}
    hits["always_long"] = up
    regimes = pd.DataFrame(hits).groupby(oos["regime"].to_numpy()).mean()
    regimes.insert(0, "rows", oos.groupby("regime").size())
    books = {}
    for m in OOS_SIGNALS:
        wide = oos[m].unstack().reindex(index=close.index, columns=close.columns)
        books[m] = long_short_backtest(wide, close, quantile=quantile, rebalance_every=rebalance_every,
                                       costs=costs, initial_capital=capital)
    start = books["ensemble"].equity.index[0]
    hold, hold_metrics = _hold(close, start, costs, capital)
    return Evaluation(quality, folds, regimes, books, hold, hold_metrics, claim)


def _figures(ev: Evaluation, oos: pd.DataFrame) -> tuple[str, str]:
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5.5, 5))
    ax.plot([0, 1], [0, 1], color="#999", lw=1, ls="--", label="perfect")
    for m in (*SINGLE, *BLENDS):
        table = reliability((1 + oos[m].to_numpy()) / 2, (oos["forward_return"] > 0).to_numpy())
        ax.plot(table["predicted"], table["observed"], marker="o", ms=3, label=m)
    ax.set(xlabel="predicted P(up)", ylabel="observed frequency of up", title="Calibration (out of sample)")
    ax.legend(fontsize=8)
    calib = figure_html(fig, "reliability curves")
    fig, ax = plt.subplots(figsize=(10, 4))
    for m, r in ev.books.items():
        ax.plot(r.equity.index, r.equity / r.equity.iloc[0], lw=1, label=f"long-short {m}")
    ax.plot(ev.hold.index, ev.hold / ev.hold.iloc[0], lw=1, color="#777", label="equal-weight long only")
    ax.set(yscale="log", ylabel="growth of 1 (log)", title="Out-of-sample books, after costs")
    ax.legend(fontsize=8)
    return calib, figure_html(fig, "long-short equity curves")


def evaluate_version(folder: str | Path, *, costs: CostModel = DEFAULT_COSTS, quantile: float = 0.2,
                     rebalance_every: int | None = None) -> tuple[Path, Evaluation]:
    """Evaluate the registry version in ``folder``; write evaluation.json and report.html there.
    ``rebalance_every`` defaults to the model's label horizon."""
    from raytrade.data import load_prices

    folder = Path(folder)
    preds = folder / "oos_predictions.parquet"
    if not (folder / "model.json").is_file() or not preds.is_file():
        raise ConfigError(f"{folder}: not a model version with out-of-sample predictions "
                          "(model.json and oos_predictions.parquet; versions trained before they were saved "
                          "need `raytrade models train` again)")
    meta: dict[str, Any] = json.loads((folder / "model.json").read_text())
    cfg = meta["config"]
    oos = pd.read_parquet(preds)
    folds = pd.DataFrame(meta["oos_folds"])
    close = load_prices(cfg.get("symbols"), cfg.get("start"), cfg.get("end"))
    every = rebalance_every or int(cfg.get("horizon", 21))
    ev = evaluate(oos, folds, close, costs=costs, quantile=quantile, rebalance_every=every)
    summary = {"model": meta.get("name"), "version": folder.name, "quality": ev.quality.to_dict(orient="index"),
               "claim_pts": ev.claim, "books": ev.book_table().to_dict(orient="index"),
               "settings": {"quantile": quantile, "rebalance_every": every, "costs": costs.model_dump()}}
    (folder / "evaluation.json").write_text(json.dumps(summary, indent=2, sort_keys=True, default=float) + "\n")
    calib, curves = _figures(ev, oos)
    c = ev.claim
    stacked_w = oos.groupby("fold")[[f"stacked_weight.{m}" for m in SINGLE]].first()
    sections = [
        ("Model", f"<p><code>{folder}</code>: {len(meta['features'])} features, trained on {meta['train_start'][:10]}"
                  f" .. {meta['train_end'][:10]} ({meta['rows']:,} rows), weights {meta['weights']} "
                  f"({meta.get('weights_source', 'config')}), data SHA-256 <code>{meta['data_sha256'][:16]}</code>. "
                  f"Out of sample: {len(oos):,} predictions in {oos['fold'].nunique()} purged walk-forward folds "
                  f"from {oos.index[0][0]:%Y-%m-%d} to {oos.index[-1][0]:%Y-%m-%d}.</p>"),
        ("Signal quality, out of sample (mean over folds)", table_html(ev.quality)),
        ("Does ensembling add 2-5 points of win rate, as the design claims?",
         f"<p class='note'>Measured: the 60/40 ensemble's hit rate is {c['ensemble_minus_best_single_pts']:+.2f} "
         f"points against the better single model, {c['ensemble_minus_momentum_pts']:+.2f} against momentum alone "
         f"and {c['ensemble_minus_base_rate_pts']:+.2f} against always long (the base rate); the walk-forward "
         f"stacked blend is {c['stacked_minus_best_single_pts']:+.2f} against the better single model.</p>"),
        ("Calibration (Brier score and ECE are in the quality table above)", calib),
        ("Hit rate by market regime", table_html(ev.regimes)),
        ("Stacked weights per fold (learned on the earlier folds only; fold 0 keeps the configured weights)",
         table_html(stacked_w)),
        (f"Long-short books: top/bottom {quantile:.0%}, rebalanced every {every} bars, costs "
         f"{costs.price_impact_bps:g} bps + {costs.commission_bps:g} bps commission per side", curves +
         table_html(ev.book_table())),
        ("Per fold", table_html(ev.folds.drop(columns=["fit_seconds"], errors="ignore"))),
    ]
    write_report(folder / "report.html", f"Model evaluation: {meta.get('name')} {folder.name}", sections)
    return folder / "report.html", ev
