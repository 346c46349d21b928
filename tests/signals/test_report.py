"""`raytrade models evaluate` on a small trained version: the report's figures come from the saved
out-of-sample predictions, and a folder without them is refused."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from raytrade.core import ConfigError
from raytrade.signals.evaluation import signal_quality
from raytrade.signals.report import evaluate_version
from raytrade.tune.train_models import ModelConfig, train_models


@pytest.fixture(scope="module")
def version(tmp_path_factory: pytest.TempPathFactory) -> Path:
    cfg = ModelConfig(name="tiny", symbols=["AAPL", "KO", "JPM", "XOM", "MSFT"], start="2004-01-01",
                      end="2013-12-31", folds=3, stacking=True, registry=tmp_path_factory.mktemp("reg"),
                      xgboost={"n_estimators": 20}, neural_net={"epochs": 2})
    steps: list[tuple[int, int]] = []
    folder, _ = train_models(cfg, use_ray=False, on_progress=lambda done, total: steps.append((done, total)))
    # the progress bar's steps: nothing yet, the dataset, each fold, the final fit
    assert steps == [(0, 5), (1, 5), (2, 5), (3, 5), (4, 5), (5, 5)]
    return folder


def test_saved_predictions_match_the_fold_table(version: Path) -> None:
    oos = pd.read_parquet(version / "oos_predictions.parquet")
    meta = json.loads((version / "model.json").read_text())
    fold1 = oos[oos["fold"] == 1]
    row = next(r for r in meta["oos_folds"] if r["fold"] == 1 and r["model"] == "ensemble")
    assert row["hit_rate"] == pytest.approx(signal_quality(fold1["ensemble"], fold1["forward_return"])["hit_rate"])
    assert np.allclose(fold1["ensemble"], 0.6 * fold1["xgboost"] + 0.4 * fold1["neural_net"])
    w = fold1[["stacked_weight.xgboost", "stacked_weight.neural_net"]].iloc[0]
    assert np.allclose(fold1["stacked"], w.iloc[0] * fold1["xgboost"] + w.iloc[1] * fold1["neural_net"])
    assert oos[oos["fold"] == 0]["stacked_weight.xgboost"].eq(0.6).all()   # fold 0: nothing earlier to learn from
    assert meta["weights_source"].startswith("stacking") and sum(meta["weights"].values()) == pytest.approx(1)
    assert set(oos["regime"]) <= {"trending_up", "trending_down", "mean_reverting", "high_volatility",
                                  "low_volatility", "crisis", "range_bound"}


def test_evaluate_writes_the_report(version: Path) -> None:
    path, ev = evaluate_version(version)
    page = path.read_text()
    for heading in ("Signal quality", "as the design claims", "Calibration", "regime", "Long-short books", "Per fold"):
        assert heading in page
    assert page.count("data:image/png;base64") == 2
    summary = json.loads((version / "evaluation.json").read_text())
    assert summary["settings"]["rebalance_every"] == 21
    assert set(summary["books"]) == {"long-short momentum", "long-short xgboost", "long-short neural_net",
                                     "long-short ensemble", "long-short stacked", "equal-weight long only"}
    hit = ev.quality["hit_rate"]
    assert ev.claim["ensemble_minus_best_single_pts"] == pytest.approx(
        100 * (hit["ensemble"] - max(hit["xgboost"], hit["neural_net"])))
    assert ev.regimes["rows"].sum() == len(pd.read_parquet(version / "oos_predictions.parquet"))
    assert all(np.isfinite(r.metrics["sharpe"]) for r in ev.books.values())


def test_evaluate_refuses_a_folder_without_predictions(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"oos_predictions\.parquet"):
        evaluate_version(tmp_path)
