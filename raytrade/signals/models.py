"""The signal models: XGBoost and a PyTorch MLP on the analyzers' features, and their ensemble.

Each predictor gives p = P(forward return > 0). A signal is 2p - 1 in [-1, 1]; the ensemble's
signal is w_xgb x s_xgb + w_nn x s_nn (60/40 by default), its confidence |signal|, and it reports
each model's part. Seeds are fixed and the MLP trains single-threaded with deterministic
algorithms: the same data and config give the same model. Missing or NaN features are refused
with the column and row, never replaced by zero.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from raytrade.core.errors import DataError


def _matrix(X: pd.DataFrame, columns: list[str] | None) -> np.ndarray:
    if columns is not None:
        missing = [c for c in columns if c not in X.columns]
        if missing:
            raise DataError(f"missing feature {missing[0]!r} ({len(missing)} missing)", source="features",
                            column=missing[0])
        X = X[columns]
    values = X.to_numpy(dtype=np.float64)
    bad = ~np.isfinite(values)
    if bad.any():
        i, j = np.argwhere(bad)[0]
        raise DataError(f"feature is {values[i, j]}", source="features", column=str(X.columns[j]), row=int(i),
                        timestamp=X.index[i])
    return values


@dataclass
class XGBoostPredictor:
    n_estimators: int = 200
    max_depth: int = 3
    learning_rate: float = 0.05
    subsample: float = 0.8
    seed: int = 7
    columns: list[str] | None = None
    model: Any = None

    def fit(self, X: pd.DataFrame, y: pd.Series) -> XGBoostPredictor:
        import xgboost as xgb

        self.columns = list(X.columns)
        params = {"objective": "binary:logistic", "max_depth": self.max_depth, "eta": self.learning_rate,
                  "subsample": self.subsample, "seed": self.seed, "nthread": 1, "tree_method": "hist",
                  "eval_metric": "logloss"}
        self.model = xgb.train(params, xgb.DMatrix(_matrix(X, None), label=y.to_numpy()),
                               num_boost_round=self.n_estimators)
        return self

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        return self.predict_values(_matrix(X, self.columns))

    def predict_values(self, values: np.ndarray) -> np.ndarray:
        """P(up) for rows already checked: finite, columns in ``self.columns`` order."""
        import xgboost as xgb

        return self.model.predict(xgb.DMatrix(values)).astype(np.float64)


@dataclass
class NeuralNetPredictor:
    hidden: tuple[int, ...] = (32, 16)
    epochs: int = 15
    batch_size: int = 512
    learning_rate: float = 1e-3
    weight_decay: float = 1e-4
    seed: int = 7
    columns: list[str] | None = None
    mean: np.ndarray | None = None
    std: np.ndarray | None = None
    net: Any = None

    def _build(self, n_in: int) -> Any:
        import torch

        layers: list[Any] = []
        width = n_in
        for h in self.hidden:
            layers += [torch.nn.Linear(width, h), torch.nn.ReLU()]
            width = h
        layers.append(torch.nn.Linear(width, 1))
        return torch.nn.Sequential(*layers)

    def fit(self, X: pd.DataFrame, y: pd.Series) -> NeuralNetPredictor:
        import torch

        torch.manual_seed(self.seed)
        torch.set_num_threads(1)
        torch.use_deterministic_algorithms(True)
        self.columns = list(X.columns)
        x = _matrix(X, None)
        self.mean, self.std = x.mean(axis=0), x.std(axis=0) + 1e-12
        xt = torch.tensor((x - self.mean) / self.std, dtype=torch.float32)
        yt = torch.tensor(y.to_numpy(), dtype=torch.float32)[:, None]
        self.net = self._build(x.shape[1])
        opt = torch.optim.Adam(self.net.parameters(), lr=self.learning_rate, weight_decay=self.weight_decay)
        loss_fn = torch.nn.BCEWithLogitsLoss()
        gen = torch.Generator().manual_seed(self.seed)
        for _ in range(self.epochs):
            order = torch.randperm(len(xt), generator=gen)
            for k in range(0, len(xt), self.batch_size):
                idx = order[k:k + self.batch_size]
                opt.zero_grad()
                loss = loss_fn(self.net(xt[idx]), yt[idx])
                loss.backward()
                opt.step()
        return self

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        return self.predict_values(_matrix(X, self.columns))

    def predict_values(self, values: np.ndarray) -> np.ndarray:
        """P(up) for rows already checked: finite, columns in ``self.columns`` order."""
        import torch

        x = (values - self.mean) / self.std
        with torch.no_grad():
            return torch.sigmoid(self.net(torch.tensor(x, dtype=torch.float32))).numpy()[:, 0].astype(np.float64)


PARTS = ("xgboost", "neural_net")  # the ensemble's models, as its weights and parts name them


def blend(weights: dict[str, float], parts: dict[str, Any]) -> Any:
    """sum over models of weight x signal (arrays or columns alike)."""
    return sum(weights[k] * parts[k] for k in PARTS)


@dataclass
class EnsembleModel:
    """XGBoost and the MLP blended: signal = sum of weight x (2p - 1); weights sum to 1."""

    weights: dict[str, float] = field(default_factory=lambda: {"xgboost": 0.6, "neural_net": 0.4})
    xgboost: XGBoostPredictor = field(default_factory=XGBoostPredictor)
    neural_net: NeuralNetPredictor = field(default_factory=NeuralNetPredictor)

    def __post_init__(self) -> None:
        if set(self.weights) != set(PARTS) or not np.isclose(sum(self.weights.values()), 1.0) \
                or min(self.weights.values()) < 0:
            raise DataError("ensemble weights must be non-negative for xgboost and neural_net and sum to 1",
                            source="weights")

    def fit(self, X: pd.DataFrame, y: pd.Series) -> EnsembleModel:
        self.xgboost.fit(X, y)
        self.neural_net.fit(X, y)
        return self

    def parts(self, X: pd.DataFrame) -> dict[str, np.ndarray]:
        return self.parts_of_values(_matrix(X, self.xgboost.columns))

    def parts_of_values(self, values: np.ndarray) -> dict[str, np.ndarray]:
        """Each model's signal for rows already checked (finite, in the feature order): the
        serving path, which validates its rows once when it builds them."""
        return {"xgboost": 2 * self.xgboost.predict_values(values) - 1,
                "neural_net": 2 * self.neural_net.predict_values(values) - 1}

    def blend(self, parts: dict[str, np.ndarray]) -> np.ndarray:
        return blend(self.weights, parts)

    def predict(self, X: pd.DataFrame) -> pd.DataFrame:
        """Per row: ``signal`` in [-1, 1], ``confidence`` = |signal|, and each model's signal."""
        parts = self.parts(X)
        signal = self.blend(parts)
        return pd.DataFrame({"signal": signal, "confidence": np.abs(signal), **parts}, index=X.index)
