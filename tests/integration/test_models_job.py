"""`raytrade models train|list|evaluate` end to end: folds as Ray tasks, a registry version that reloads to
the same predictions."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml

from raytrade.data import load_index_close, load_prices
from raytrade.signals import build_dataset
from raytrade.signals.registry import load_model

pytestmark = [pytest.mark.integration, pytest.mark.slow]
ROOT = Path(__file__).resolve().parents[2]
DASHBOARD = 8293


def test_train_on_ray_save_reload_and_list(tmp_path: Path) -> None:
    cfg = yaml.safe_load((ROOT / "configs/models/ensemble.yaml").read_text())
    cfg.update(symbols=["AAPL", "KO", "JPM"], start="2005-01-01", end="2012-12-31", folds=2,
               registry=str(tmp_path / "models"), neural_net={**cfg["neural_net"], "epochs": 3},
               xgboost={**cfg["xgboost"], "n_estimators": 30})
    path = tmp_path / "m.yaml"
    path.write_text(yaml.safe_dump(cfg))
    env = {k: v for k, v in os.environ.items() if k not in ("RAY_ADDRESS", "RAYTRADE_DASHBOARD_PORT")}
    # `raytrade --dashboard-port P ...` (README): the local instance the command starts serves its
    # dashboard there
    r = subprocess.run([sys.executable, "-m", "raytrade.cli", "--dashboard-port", str(DASHBOARD), "models", "train",
                        "--config", str(path), "--cpus", "2"],
                       capture_output=True, text=True, timeout=600, cwd=ROOT, env=env)
    assert r.returncode == 0, r.stderr[-3000:]
    assert f"dashboard http://127.0.0.1:{DASHBOARD}" in r.stdout, r.stdout[-2000:]
    folder = tmp_path / "models" / "ensemble_us20" / "v0001"
    meta = json.loads((folder / "model.json").read_text())
    assert {row["model"] for row in meta["oos_folds"]} == {"always_long", "momentum", "xgboost", "neural_net",
                                                           "ensemble", "stacked"}
    assert len({row["fold"] for row in meta["oos_folds"]}) == 2 and meta["data_sha256"]
    model, _ = load_model(folder)
    close = load_prices(["AAPL", "KO", "JPM"], "2005-01-01", "2012-12-31")
    ds = build_dataset(close, 21, load_index_close().reindex(close.index))
    a = model.predict(ds.X.iloc[-50:])
    assert a["signal"].between(-1, 1).all()
    again = subprocess.run([sys.executable, "-m", "raytrade.cli", "models", "train", "--config", str(path), "--local",
                            "--registry", str(tmp_path / "other")],
                           capture_output=True, text=True, timeout=600, cwd=ROOT, env=env)
    assert again.returncode == 0, again.stderr[-3000:]
    model2, _ = load_model(tmp_path / "other" / "ensemble_us20" / "v0001")
    pd.testing.assert_frame_equal(a, model2.predict(ds.X.iloc[-50:]))  # same data and config, same model
    assert not (tmp_path / "models" / "ensemble_us20" / "v0002").exists()   # --registry wrote elsewhere
    listing = subprocess.run([sys.executable, "-m", "raytrade.cli", "models", "list", "--registry",
                              str(tmp_path / "other")], capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert listing.returncode == 0 and "v0001" in listing.stdout and "ensemble_us20" in listing.stdout
    evaluated = subprocess.run([sys.executable, "-m", "raytrade.cli", "models", "evaluate", str(folder)],
                               capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert evaluated.returncode == 0, evaluated.stderr[-3000:]
    assert "long-short ensemble" in evaluated.stdout and (folder / "report.html").is_file()
    bad = subprocess.run([sys.executable, "-m", "raytrade.cli", "models", "train", "--config", str(ROOT / "nope.yaml")],
                         capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert bad.returncode == 2 and "not found" in bad.stderr
