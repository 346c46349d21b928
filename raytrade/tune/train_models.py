"""`raytrade models train`: the ensemble trained as a Ray job, folds in parallel.

The dataset goes into the object store once; each purged walk-forward fold is a Ray task that
fits the ensemble on the rows before its test block and predicts the block. The out-of-sample
predictions are scored against the momentum score and always-long as baselines, blended at the
configured weights and at walk-forward stacked weights, and saved with the final model (fitted on
every row) as a new registry version; `raytrade models evaluate` reads them back for its report.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field

from raytrade.backtest.runfolder import library_versions
from raytrade.core.errors import ConfigError, DataError
from raytrade.data import frame_digest, load_index_close, load_prices
from raytrade.signals import (
    Dataset,
    EnsembleModel,
    NeuralNetPredictor,
    XGBoostPredictor,
    build_dataset,
    leaks,
    purged_splits,
)
from raytrade.signals.dataset import regime_names
from raytrade.signals.evaluation import OOS_SIGNALS, QUALITY, signal_quality
from raytrade.signals.models import PARTS, blend
from raytrade.signals.registry import next_version, save_model
from raytrade.signals.stacking import stack_weights, walk_forward_weights


class ModelConfig(BaseModel):
    """``configs/models/*.yaml``."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(pattern=r"^[a-z][a-z0-9_-]{0,40}$")
    symbols: list[str] | None = None
    start: date | None = None
    end: date | None = None
    horizon: int = Field(21, ge=1, le=252)
    folds: int = Field(4, ge=2, le=20)
    embargo: int = Field(21, ge=0, le=252)
    weights: dict[str, float] = Field(default_factory=lambda: {"xgboost": 0.6, "neural_net": 0.4})
    stacking: bool = False  # the saved model's weights stacked on the out-of-fold predictions
    news: Path | None = None      # CSV of timestamp, symbol, text: adds the sentiment features
    insiders: Path | None = None  # CSV of date, symbol, side, shares (filed, insider): the insider features
    xgboost: dict[str, Any] = Field(default_factory=dict)
    neural_net: dict[str, Any] = Field(default_factory=dict)
    registry: Path = Path("runs/models")

    def new_model(self, weights: dict[str, float] | None = None) -> EnsembleModel:
        nn = {**self.neural_net}
        if "hidden" in nn:
            nn["hidden"] = tuple(nn["hidden"])
        return EnsembleModel(weights=dict(weights or self.weights), xgboost=XGBoostPredictor(**self.xgboost),
                             neural_net=NeuralNetPredictor(**nn))




def _fold(config: ModelConfig, X: pd.DataFrame, y: pd.Series, fwd: pd.Series, train: np.ndarray,
          test: np.ndarray, k: int) -> tuple[pd.DataFrame, float]:
    """Fit on ``train``, predict ``test``: one row per test row with each model's signal; fit seconds."""
    t = time.perf_counter()
    model = config.new_model().fit(X.iloc[train], y.iloc[train])
    fit_s = time.perf_counter() - t
    Xt = X.iloc[test]
    parts = model.parts(Xt)
    regime = Xt[[c for c in Xt.columns if c.startswith("regime.")]]
    frame = pd.DataFrame({"fold": k, **{m: parts[m] for m in PARTS}, "momentum": Xt["momentum.score"].to_numpy(),
                          "forward_return": fwd.iloc[test].to_numpy(), "y": y.iloc[test].to_numpy(),
                          "regime": regime_names(regime)},
                         index=Xt.index)
    return frame, fit_s


def out_of_sample(config: ModelConfig, ds: Dataset, *, use_ray: bool = True,
                  on_progress: Callable[[int], None] | None = None) -> tuple[pd.DataFrame, list[float]]:
    """Every purged walk-forward fold's out-of-sample predictions (index (timestamp, symbol); the
    models' signals, the momentum score, the forward return, the label, the regime) with the
    ``ensemble`` at the configured weights and ``stacked`` at walk-forward stacked weights (see
    :mod:`raytrade.signals.stacking`), and each fold's fit seconds."""
    splits = list(purged_splits(ds.times, ds.label_end, n_splits=config.folds, embargo=config.embargo))
    for train, test in splits:
        if leaks(train, test, ds.times, ds.label_end):
            raise DataError("a training label overlaps its test fold", source="purged_splits")
    if use_ray:
        import ray

        from raytrade.cluster import runtime_env

        fold = ray.remote(num_cpus=1)(_fold).options(runtime_env=runtime_env())
        refs = [ray.put(v) for v in (config, ds.X, ds.y, ds.forward_return)]
        pending = [fold.remote(*refs, tr, te, k) for k, (tr, te) in enumerate(splits)]
        order = list(pending)
        done: dict[Any, Any] = {}
        while pending:  # folds as they finish, for the progress bar; kept in fold order
            ready, pending = ray.wait(pending, num_returns=1)
            done[ready[0]] = ray.get(ready[0])
            if on_progress is not None:
                on_progress(len(done))
        results = [done[r] for r in order]
    else:
        results = []
        for k, (tr, te) in enumerate(splits):
            results.append(_fold(config, ds.X, ds.y, ds.forward_return, tr, te, k))
            if on_progress is not None:
                on_progress(k + 1)
    frames, fits = [r[0] for r in results], [r[1] for r in results]
    stacked = walk_forward_weights([({m: f[m].to_numpy() for m in PARTS}, f["y"].to_numpy()) for f in frames],
                                   config.weights)
    for f, w in zip(frames, stacked, strict=True):
        f["ensemble"] = blend(config.weights, f)
        f["stacked"] = blend(w, f)
        for m in PARTS:
            f[f"stacked_weight.{m}"] = w[m]
    return pd.concat(frames), fits


def train_models(config: ModelConfig, *, use_ray: bool = True,
                 on_progress: Callable[[int, int], None] | None = None) -> tuple[Path, pd.DataFrame]:
    """Train, evaluate out of sample, save a registry version (with ``oos_predictions.parquet``);
    return its folder and the per-fold table. ``on_progress(done, total)`` counts the steps: the
    dataset, each fold, the final fit."""
    total = config.folds + 2
    tick = on_progress or (lambda done, total: None)
    tick(0, total)
    close = load_prices(config.symbols, config.start, config.end)
    ds = build_dataset(close, config.horizon, load_index_close().reindex(close.index),
                       news=_read_csv(config.news, "news"), insiders=_read_csv(config.insiders, "insiders"))
    tick(1, total)
    oos, fits = out_of_sample(config, ds, use_ray=use_ray, on_progress=lambda k: tick(1 + k, total))
    table = fold_table(oos, fits)
    weights = dict(config.weights)
    if config.stacking:
        weights = stack_weights({m: oos[m].to_numpy() for m in PARTS}, oos["y"].to_numpy())
    final = config.new_model(weights).fit(ds.X, ds.y)
    tick(total, total)
    folder = next_version(config.registry, config.name)
    means = table.groupby("model", sort=False)[QUALITY].mean()
    save_model(final, folder, {
        "name": config.name, "config": config.model_dump(mode="json"), "trained_at": datetime.now(UTC).isoformat(),
        "rows": len(ds.X), "dropped": ds.dropped, "train_start": str(ds.times.min()), "train_end": str(ds.times.max()),
        "weights_source": "stacking on every out-of-fold prediction" if config.stacking else "config",
        "data_sha256": frame_digest(close), "versions": library_versions(),
        "oos_folds": table.to_dict(orient="records"), "oos_mean": {m: row.to_dict() for m, row in means.iterrows()}})
    table.to_csv(folder / "oos_folds.csv", index=False)
    oos.to_parquet(folder / "oos_predictions.parquet")
    return folder, table


def _read_csv(path: Path | None, field: str) -> pd.DataFrame | None:
    if path is None:
        return None
    if not Path(path).is_file():
        raise ConfigError(f"{field}: {path} not found")
    return pd.read_csv(path)


def fold_table(oos: pd.DataFrame, fits: list[float] | None = None) -> pd.DataFrame:
    """Per fold and model (the baselines first): IC, rank IC, hit rate, AUC, Brier, ECE, rows."""
    rows = []
    for k, f in oos.groupby("fold", sort=True):
        signals = {"always_long": pd.Series(1.0, index=f.index), **{m: f[m] for m in OOS_SIGNALS}}
        for name, s in signals.items():
            rows.append({"fold": k, "model": name, "fit_seconds": fits[k] if fits else float("nan"),
                         "test_start": str(f.index[0][0]), "test_end": str(f.index[-1][0]),
                         **signal_quality(s, f["forward_return"])})
    return pd.DataFrame(rows)
