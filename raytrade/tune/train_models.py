"""`raytrade models train`: the ensemble trained as a Ray job, folds in parallel.

The dataset goes into the object store once; each purged walk-forward fold is a Ray task that
fits the ensemble on the rows before its test block and scores it out of sample (with the
momentum score and always-long as baselines); the final model is then fitted on every row and
saved as a new registry version with the folds' metrics.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field

from raytrade.backtest.runfolder import library_versions
from raytrade.data import frame_digest, load_index_close, load_prices
from raytrade.signals import (
    EnsembleModel,
    NeuralNetPredictor,
    XGBoostPredictor,
    build_dataset,
    leaks,
    purged_splits,
)
from raytrade.signals.evaluation import signal_quality
from raytrade.signals.registry import next_version, save_model


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
    xgboost: dict[str, Any] = Field(default_factory=dict)
    neural_net: dict[str, Any] = Field(default_factory=dict)
    registry: Path = Path("runs/models")

    def new_model(self) -> EnsembleModel:
        nn = {**self.neural_net}
        if "hidden" in nn:
            nn["hidden"] = tuple(nn["hidden"])
        return EnsembleModel(weights=dict(self.weights), xgboost=XGBoostPredictor(**self.xgboost),
                             neural_net=NeuralNetPredictor(**nn))


def _fold(config: ModelConfig, X: pd.DataFrame, y: pd.Series, fwd: pd.Series, train: np.ndarray,
          test: np.ndarray, k: int) -> list[dict[str, Any]]:
    import time

    t = time.perf_counter()
    model = config.new_model().fit(X.iloc[train], y.iloc[train])
    fit_s = time.perf_counter() - t
    Xt, r = X.iloc[test], fwd.iloc[test]
    pred = model.predict(Xt)
    signals = {"always_long": np.ones(len(Xt)), "momentum": Xt["momentum.score"].to_numpy(),
               "xgboost": pred["xgboost"].to_numpy(), "neural_net": pred["neural_net"].to_numpy(),
               "ensemble": pred["signal"].to_numpy()}
    return [{"fold": k, "model": name, "fit_seconds": fit_s, "test_start": str(Xt.index[0][0]),
             "test_end": str(Xt.index[-1][0]), **signal_quality(pd.Series(s, index=Xt.index), r)}
            for name, s in signals.items()]


def train_models(config: ModelConfig, *, use_ray: bool = True) -> tuple[Path, pd.DataFrame]:
    """Train, evaluate out of sample, save a registry version; return its folder and the fold table."""
    close = load_prices(config.symbols, config.start, config.end)
    ds = build_dataset(close, config.horizon, load_index_close().reindex(close.index))
    splits = list(purged_splits(ds.times, ds.label_end, n_splits=config.folds, embargo=config.embargo))
    for train, test in splits:
        assert leaks(train, test, ds.times, ds.label_end) == 0
    if use_ray:
        import ray

        from raytrade.cluster import runtime_env

        fold = ray.remote(num_cpus=1)(_fold).options(runtime_env=runtime_env())
        refs = [ray.put(v) for v in (config, ds.X, ds.y, ds.forward_return)]
        results = ray.get([fold.remote(*refs, tr, te, k) for k, (tr, te) in enumerate(splits)])
    else:
        results = [_fold(config, ds.X, ds.y, ds.forward_return, tr, te, k) for k, (tr, te) in enumerate(splits)]
    table = pd.DataFrame([row for rows in results for row in rows])
    final = config.new_model().fit(ds.X, ds.y)
    folder = next_version(config.registry, config.name)
    means = table.groupby("model")[["ic", "rank_ic", "hit_rate", "auc"]].mean()
    save_model(final, folder, {
        "name": config.name, "config": config.model_dump(mode="json"), "trained_at": datetime.now(UTC).isoformat(),
        "rows": len(ds.X), "dropped": ds.dropped, "train_start": str(ds.times.min()), "train_end": str(ds.times.max()),
        "data_sha256": frame_digest(close), "versions": library_versions(),
        "oos_folds": table.to_dict(orient="records"), "oos_mean": {m: row.to_dict() for m, row in means.iterrows()}})
    table.to_csv(folder / "oos_folds.csv", index=False)
    return folder, table
