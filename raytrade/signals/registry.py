"""The model registry: one folder per trained version of a signal model.

``<registry>/<name>/<version>/`` holds ``xgboost.json`` (the booster), ``neural_net.pt`` (the
MLP's state_dict and its input scaling), ``model.json`` (features in order, weights, the
training window, the data's SHA-256, the config, per-fold out-of-sample metrics). Versions are
``v0001``, ``v0002``, ...: a new training never overwrites an old one.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np

from raytrade.core.errors import ConfigError
from raytrade.signals.models import EnsembleModel, NeuralNetPredictor, XGBoostPredictor


def next_version(registry: Path, name: str) -> Path:
    folder = Path(registry) / name
    folder.mkdir(parents=True, exist_ok=True)
    taken = sorted(int(p.name[1:]) for p in folder.glob("v[0-9][0-9][0-9][0-9]"))
    path = folder / f"v{(taken[-1] + 1) if taken else 1:04d}"
    path.mkdir()
    return path


def save_model(model: EnsembleModel, folder: Path, meta: dict[str, Any]) -> Path:
    import torch

    folder = Path(folder)
    model.xgboost.model.save_model(str(folder / "xgboost.json"))
    nn = model.neural_net
    torch.save({"state_dict": nn.net.state_dict(), "mean": nn.mean, "std": nn.std, "hidden": list(nn.hidden)},
               folder / "neural_net.pt")
    xgb_params = {k: v for k, v in asdict(model.xgboost).items() if k not in ("model", "columns")}
    nn_params = {k: v for k, v in asdict(nn).items() if k not in ("net", "mean", "std", "columns")}
    (folder / "model.json").write_text(json.dumps({
        **meta, "features": model.xgboost.columns, "weights": model.weights, "xgboost": xgb_params,
        "neural_net": nn_params}, indent=2, sort_keys=True, default=str) + "\n")
    return folder


def load_model(folder: str | Path) -> tuple[EnsembleModel, dict[str, Any]]:
    """The ensemble saved in ``folder`` and its metadata."""
    import torch
    import xgboost as xgb

    folder = Path(folder)
    if not (folder / "model.json").is_file():
        raise ConfigError(f"{folder}: not a model version (no model.json)")
    meta = json.loads((folder / "model.json").read_text())
    booster = xgb.Booster()
    booster.load_model(str(folder / "xgboost.json"))
    xp = XGBoostPredictor(**meta["xgboost"], columns=meta["features"], model=booster)
    saved = torch.load(folder / "neural_net.pt", weights_only=False)
    nn = NeuralNetPredictor(**{**meta["neural_net"], "hidden": tuple(meta["neural_net"]["hidden"])},
                            columns=meta["features"], mean=np.asarray(saved["mean"]), std=np.asarray(saved["std"]))
    nn.net = nn._build(len(meta["features"]))
    nn.net.load_state_dict(saved["state_dict"])
    nn.net.eval()
    return EnsembleModel(weights=meta["weights"], xgboost=xp, neural_net=nn), meta


def list_versions(registry: str | Path) -> list[dict[str, Any]]:
    """Every saved version with its headline metadata, oldest first."""
    out = []
    for meta_path in sorted(Path(registry).glob("*/v[0-9][0-9][0-9][0-9]/model.json")):
        meta = json.loads(meta_path.read_text())
        out.append({"name": meta_path.parent.parent.name, "version": meta_path.parent.name,
                    "path": str(meta_path.parent), "trained_at": meta.get("trained_at"),
                    "rows": meta.get("rows"), "features": len(meta.get("features", [])),
                    "oos": meta.get("oos_mean", {})})
    return out
