"""The ensemble model on Ray Serve: batched inference, hot reload of another registry version.

``SignalModel`` loads a registry version (``model_path``) and answers, for one or many symbols,
the ensemble's signal in [-1, 1], its confidence, each model's part and the market regime, from
the symbols' latest features as of a date on the bundled history (features of bar t use bars up to
t). Concurrent requests are batched (``@serve.batch``); ``reconfigure`` (a new ``user_config``)
loads another version while the old one keeps answering until the new one is ready, so no request
is dropped. A symbol without enough history, or features that are missing or NaN, is refused by
name (the API turns it into a 422), never answered with a silent zero.
"""

import gc
import os
from typing import Any

import numpy as np
import pandas as pd
from ray import serve

from raytrade.core.errors import ConfigError, DataError
from raytrade.data import load_index_close, load_prices
from raytrade.signals.dataset import features, regime_names
from raytrade.signals.registry import load_model


@serve.deployment(ray_actor_options={"num_cpus": 0}, max_ongoing_requests=256)
class SignalModel:
    def __init__(self) -> None:
        self.path: str | None = None  # set by reconfigure, which Serve calls with the user_config
        self.meta: dict[str, Any] = {}
        self._missing: list[str] = []
        self._cube: np.ndarray | None = None
        close = load_prices()
        self._dates = close.index
        self._symbols = list(close.columns)
        self._position = {s: i for i, s in enumerate(self._symbols)}
        full = pd.MultiIndex.from_product([self._dates, self._symbols])
        self._panel = features(close, load_index_close()).reindex(full)
        regime_cols = [c for c in self._panel.columns if c.startswith("regime.")]
        # per date: the regime is the index's, the same for every symbol
        self._regime = regime_names(self._panel[regime_cols].xs(self._symbols[0], level=1))
        self._batches: list[int] = []

    def _load(self, model_path: str) -> None:
        model, meta = load_model(model_path)
        missing = [c for c in meta["features"] if c not in self._panel.columns]
        cube = None if missing else self._panel[meta["features"]].to_numpy(np.float64).reshape(
            len(self._dates), len(self._symbols), len(meta["features"]))
        self.model, self.meta, self.path, self._missing, self._cube = model, meta, model_path, missing, cube
        # The panel and the models are long-lived: out of the collector's sight, a full collection
        # no longer walks them in the middle of a request (tail latency). Unfrozen first, so that
        # a replaced model's cycles are collected rather than kept for the replica's life.
        gc.unfreeze()
        gc.collect()
        gc.freeze()

    def reconfigure(self, config: dict[str, Any]) -> None:
        """Serve calls this after ``__init__`` and on every new user_config, in place (a
        lightweight update: same replica): load ``model_path``; the old model answers until the
        new one is loaded."""
        if not config.get("model_path"):
            raise DataError("user_config needs model_path (a registry version folder)", source="user_config")
        if config["model_path"] != self.path:
            self._load(config["model_path"])

    def batch_stats(self) -> dict[str, int]:
        """Model calls made by this replica, requests they answered, and the largest batch."""
        return {"calls": len(self._batches), "requests": sum(self._batches), "max_batch": max(self._batches, default=0)}

    def version(self) -> dict[str, Any]:
        """The loaded version, and which replica answers (an in-place reload keeps the replica)."""
        return {"path": self.path, "name": self.meta.get("name"), "trained_at": self.meta.get("trained_at"),
                "features": len(self.meta.get("features", [])),
                "replica": serve.get_replica_context().replica_id.unique_id, "pid": os.getpid()}

    def _locate(self, symbols: list[str], as_of: str | None) -> tuple[int, list[int]]:
        """The bar at or before ``as_of`` (default: the last) and each symbol's column."""
        unknown = [s for s in symbols if s not in self._position]
        if unknown:
            raise DataError(f"unknown symbol (bundled: {', '.join(self._symbols)})", source=unknown[0])
        t = len(self._dates) - 1
        if as_of:
            t = int(self._dates.searchsorted(pd.Timestamp(as_of, tz="UTC"), side="right")) - 1
            if t < 0:
                raise DataError(f"no bars on or before {as_of}", source="as_of")
        return t, [self._position[s] for s in symbols]

    def values(self, symbols: list[str], as_of: str | None) -> tuple[int, np.ndarray]:
        """The position of the bar at or before ``as_of`` (default: the last) and the model's
        features of each symbol there, (symbols, features), in the model's order; NaN where
        history is too short."""
        if self._cube is None and not self._missing:
            raise ConfigError("no model version is loaded: the deployment needs user_config.model_path")
        if self._missing:
            raise DataError(f"the model needs feature {self._missing[0]!r}, which is not computed", source="features")
        t, cols = self._locate(symbols, as_of)
        return t, self._cube[t, cols]

    def rows(self, symbols: list[str], as_of: str | None) -> pd.DataFrame:
        """:meth:`values` as a frame indexed by (timestamp, symbol)."""
        t, x = self.values(symbols, as_of)
        return pd.DataFrame(x, columns=self.meta["features"],
                            index=pd.MultiIndex.from_product([[self._dates[t]], symbols]))

    # No wait for company: a lone request is answered at once (a wait would add itself to every
    # lone request's latency), and the requests that queue while a batch is computed form the next one.
    @serve.batch(max_batch_size=64, batch_wait_timeout_s=0.0)
    async def _predict(self, blocks: list[np.ndarray]) -> list[dict[str, np.ndarray]]:
        """One model call for every request that arrived together (rows stacked)."""
        self._batches.append(len(blocks))
        parts = self.model.parts_of_values(np.vstack(blocks))
        signal = self.model.blend(parts)
        out, start = [], 0
        for block in blocks:
            end = start + len(block)
            out.append({"signal": signal[start:end], **{k: v[start:end] for k, v in parts.items()}})
            start = end
        return out

    async def signals(self, symbols: list[str], as_of: str | None = None) -> list[dict[str, Any]]:
        t, x = self.values(symbols, as_of)
        if np.isnan(x).any():
            i, j = np.argwhere(np.isnan(x))[0]
            raise DataError(f"feature is NaN for {symbols[i]} on {self._dates[t].date()} (not enough history)",
                            source=symbols[i], column=str(self.meta["features"][j]))
        pred = await self._predict(x)
        regime = self._regime[t]
        stamp = self._dates[t].isoformat()
        return [{"symbol": sym, "as_of": stamp, "signal": float(s), "confidence": abs(float(s)), "regime": regime,
                 "parts": {"xgboost": float(xg), "neural_net": float(nn)}, "model": self.meta.get("name"),
                 "model_path": self.path}
                for sym, s, xg, nn in zip(symbols, pred["signal"], pred["xgboost"], pred["neural_net"], strict=True)]


def build_signal_model(model_path: str) -> Any:
    """The Serve application serving the registry version ``model_path``. An imperative
    ``serve.run`` with another path rolls new replicas, and requests keep being answered (the
    test sends 60 during one); for a reload in place, deploy from a config file (:func:`app_builder`)."""
    return SignalModel.options(user_config={"model_path": model_path}).bind()


def app_builder(args: dict[str, Any]) -> Any:
    """Serve's application builder for config files (``serve deploy``, a RayService's
    serveConfigV2): ``import_path: raytrade.serve.signals:app_builder``, with the version in the
    deployment's ``user_config``::

        - name: signals
          import_path: raytrade.serve.signals:app_builder
          deployments:
            - name: SignalModel
              user_config: {model_path: runs/models/ensemble_us20/v0001}

    Changing ``model_path`` there and deploying again calls :meth:`SignalModel.reconfigure` on the
    running replicas (Serve's lightweight update): same replicas, the old version answering until
    the new one is loaded. A path in ``args`` instead would be part of the application's code
    version, so changing it would replace the replicas; both are accepted, the user_config wins.
    """
    unknown = sorted(set(args) - {"model_path"})
    if unknown:
        raise ConfigError(f"signal app: unknown argument {unknown[0]!r} (it takes model_path)")
    model = SignalModel.options(user_config={"model_path": args["model_path"]}) if args.get("model_path") else SignalModel
    return model.bind()
