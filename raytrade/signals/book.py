"""The ensemble long-short book: the signal model re-trained as it walks, ranking the assets.

Every ``refit`` bars the ensemble of :mod:`raytrade.signals.models` (XGBoost and the MLP, blended
60/40) is fitted afresh on the features of :mod:`raytrade.signals.dataset` (momentum, mean
reversion, volatility; the analyzers' own warm-up is 252 bars) and the labels known by then: at a
refit at bar r, the rows of bars t in (r - horizon - train_bars, r - horizon], whose label (the
log return from t to t + horizon, up or not) is known at r's close. It then predicts P(up) for
every asset at each bar from r to the next refit, from that bar's features only. Every ``hold``
bars the assets are ranked by it: the top ``quantile`` held long and the bottom short at
+-0.5 / k each (k assets a side; gross 1, net 0), held in between (the rule of
:func:`raytrade.signals.long_short.long_short_positions`). The book needs shorts.

The first refit is at the first bar with ``train_bars`` labelled rows behind it, counted from the
start of the data the strategy is given, so a walk-forward window trains only on its own past.
The fits are deterministic (fixed seeds, one thread) and cost about a second each on 20 assets and
756 bars; the predictions are computed once per (refit, train_bars, horizon) in ``prepare``.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from collections.abc import MutableMapping
from typing import ClassVar

import numpy as np
import pandas as pd

from raytrade.signals.dataset import features
from raytrade.signals.long_short import long_short_positions
from raytrade.signals.models import EnsembleModel
from raytrade.strategies.space import ParamBlock, Parameter, ParameterSpace

FEATURE_WARMUP = 252   # bars before the analyzers' features are all defined


def walk_forward_predictions(close: np.ndarray, refit: int, train_bars: int, horizon: int,
                             model: EnsembleModel | None = None,
                             fitted_cache: MutableMapping[tuple, EnsembleModel] | None = None) -> np.ndarray:
    """(T, N) ensemble signal (2 P(up) - 1 blended) per bar and asset, NaN where none: fitted at
    bars r = first, first + refit, ... on the rows labelled by r (module docstring), predicting
    bars [r, r + refit). ``fitted_cache`` keeps the fitted models by the data up to r (a digest
    of those closes), so a caller that calls again on a longer history (the engine's runner,
    every bar) fits only the refits it has not seen."""
    frame = pd.DataFrame(np.asarray(close, dtype=np.float64))
    T, N = frame.shape
    out = np.full((T, N), np.nan)
    X = features(frame)
    fwd = np.log(frame.shift(-horizon) / frame)
    Xv = X.to_numpy(np.float64).reshape(T, N, -1)
    ok = np.isfinite(Xv).all(axis=2)
    yv = fwd.to_numpy(np.float64) > 0
    first = FEATURE_WARMUP + train_bars + horizon - 1
    for r in range(first, T, refit):
        rows = slice(max(0, r - horizon - train_bars + 1), r - horizon + 1)
        train = ok[rows] & np.isfinite(fwd.to_numpy(np.float64)[rows])
        if train.sum() < 50 or len(np.unique(yv[rows][train])) < 2:
            continue
        m = model or EnsembleModel()
        key = (refit, train_bars, horizon, repr(m),
               hashlib.sha1(np.ascontiguousarray(frame.to_numpy(np.float64)[: r + 1]).tobytes()).hexdigest())
        fitted = fitted_cache.get(key) if fitted_cache is not None else None
        if fitted is None:
            fitted = EnsembleModel(weights=dict(m.weights), xgboost=type(m.xgboost)(**_settings(m.xgboost)),
                                   neural_net=type(m.neural_net)(**_settings(m.neural_net)))
            cols = list(X.columns)
            fitted.fit(pd.DataFrame(Xv[rows][train], columns=cols), pd.Series(yv[rows][train].astype(int)))
            if fitted_cache is not None:
                fitted_cache[key] = fitted
        span = slice(r, min(T, r + refit))
        live = ok[span]
        if live.any():
            pred = fitted.blend(fitted.parts_of_values(Xv[span][live]))
            block = out[span]
            block[live] = pred
            out[span] = block
    return out


def _settings(model: object) -> dict:
    """A predictor's hyper-parameters (not its fitted state), to fit a fresh copy."""
    keep = {"columns", "model", "mean", "std", "net"}
    return {k: v for k, v in vars(model).items() if k not in keep}


class _Bounded(OrderedDict):
    """A mapping that forgets its oldest entries beyond ``size``."""

    def __init__(self, size: int) -> None:
        super().__init__()
        self.size = size

    def __setitem__(self, key, value) -> None:
        super().__setitem__(key, value)
        while len(self) > self.size:
            self.popitem(last=False)


class EnsembleLongShort:
    """The ensemble's cross-sectional long-short book (module docstring). Parameters: ``quantile``
    of assets a side, ``hold`` bars between re-rankings, ``refit`` bars between fits,
    ``train_bars`` of history a fit learns from, the label ``horizon`` in bars."""

    name: ClassVar[str] = "ensemble_long_short"
    requires_short: ClassVar[bool] = True
    space: ClassVar[ParameterSpace] = ParameterSpace(
        params=(
            Parameter("quantile", float, 0.05, 0.5, "fraction of the ranked assets held on each side"),
            Parameter("hold", int, 1, 252, "bars between re-rankings"),
            Parameter("refit", int, 5, 2520, "bars between fits of the ensemble"),
            Parameter("train_bars", int, 63, 5000, "bars of labelled history each fit learns from"),
            Parameter("horizon", int, 1, 63, "bars ahead the label looks (up or not)"),
        ),
        defaults={"quantile": 0.2, "hold": 5, "refit": 252, "train_bars": 756, "horizon": 21},
    )

    def __init__(self, allow_short: bool = False) -> None:
        self.allow_short = allow_short
        self.fitted: _Bounded = _Bounded(128)   # fitted models by the data they saw (see prepare)

    def prepare(self, close: np.ndarray, block: ParamBlock) -> dict:
        keys = {(int(a), int(b), int(c)) for a, b, c in zip(block["refit"], block["train_bars"], block["horizon"],
                                                             strict=True)}
        return {key: walk_forward_predictions(close, *key, fitted_cache=self.fitted) for key in keys}

    def weights(self, prepared: dict, block: ParamBlock) -> np.ndarray:
        some = next(iter(prepared.values()))
        T, N = some.shape
        out = np.zeros((T, len(block), N))
        for k, row in enumerate(block.rows()):
            pred = prepared[(int(row["refit"]), int(row["train_bars"]), int(row["horizon"]))]
            pos = long_short_positions(pd.DataFrame(pred), float(row["quantile"]), int(row["hold"])).to_numpy()
            longs = np.maximum((pos > 0).sum(axis=1, keepdims=True), 1)
            out[:, k, :] = pos * 0.5 / longs
        return out

    def warmup(self, block: ParamBlock) -> int:
        return FEATURE_WARMUP + int(block["train_bars"].max()) + int(block["horizon"].max()) - 1
