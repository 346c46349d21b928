"""Training data for the signal models: the analyzers' features per (bar, symbol) and forward labels.

Label of bar t for symbol s: the log return from t's close to the close ``horizon`` bars later,
y = 1 when it is > 0 else 0; the label's interval is [t, t + horizon] (``label_end``), which the
purged cross-validation uses. Rows whose features or label are NaN (window warm-up, the last
``horizon`` bars) are dropped and counted, never filled.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from raytrade.signals.analyzers import mean_reversion, momentum, volatility
from raytrade.signals.regime import MarketRegime, RegimeDetector
from raytrade.signals.sentiment import SentimentAnalyzer


@dataclass(frozen=True)
class Dataset:
    X: pd.DataFrame              # index (timestamp, symbol), one column per feature
    y: pd.Series                 # 1 up, 0 not up
    forward_return: pd.Series    # log return over the horizon
    label_end: pd.Series         # timestamp at which each label is known
    dropped: int                 # rows dropped for NaN features or labels

    @property
    def times(self) -> pd.Index:
        return self.X.index.get_level_values(0)


def features(close: pd.DataFrame, index_close: pd.Series | None = None, *, news: pd.DataFrame | None = None,
             insiders: pd.DataFrame | None = None, sentiment: SentimentAnalyzer | None = None) -> pd.DataFrame:
    """The analyzers' features and scores in long form; with ``index_close`` also the regime of
    each bar, one-hot (``regime.<name>``); with ``news`` (timestamp, symbol, text) the
    ``sentiment.*`` columns and with ``insiders`` (date, symbol, side, shares, ...) the
    ``insider.*`` ones (see :mod:`raytrade.signals.sentiment`)."""
    analyses = [momentum(close), mean_reversion(close), volatility(close)]
    text = sentiment or SentimentAnalyzer()
    symbols = list(close.columns)
    if news is not None:
        analyses.append(text.news(news, close.index, symbols))
    if insiders is not None:
        analyses.append(text.insiders(insiders, close.index, symbols))
    panel = pd.concat([a.panel() for a in analyses], axis=1)
    if index_close is not None:
        regime = RegimeDetector().detect(index_close.reindex(close.index))
        onehot = pd.DataFrame({f"regime.{r.value}": (regime == r.value).astype(float).where(regime.notna())
                               for r in MarketRegime})
        panel = pd.concat([panel, onehot.reindex(panel.index.get_level_values(0)).set_axis(panel.index)], axis=1)
    return panel


def regime_names(onehot: pd.DataFrame) -> np.ndarray:
    """The regime name of each row of the ``regime.<name>`` one-hot columns; None where the row
    is not exactly one regime (warm-up NaN)."""
    values = onehot.to_numpy(dtype=np.float64)
    ready = np.isfinite(values).all(axis=1) & (np.nan_to_num(values).max(axis=1) == 1)
    names = np.array([str(c).removeprefix("regime.") for c in onehot.columns], dtype=object)
    if not len(names):
        return np.full(len(onehot), None, dtype=object)
    return np.where(ready, names[np.nan_to_num(values).argmax(axis=1)], None)


def build_dataset(close: pd.DataFrame, horizon: int = 21, index_close: pd.Series | None = None, *,
                  news: pd.DataFrame | None = None, insiders: pd.DataFrame | None = None) -> Dataset:
    """Features (see :func:`features`) and labels for every (bar, symbol) where both exist."""
    X = features(close, index_close, news=news, insiders=insiders)
    fwd = np.log(close.shift(-horizon) / close).stack(future_stack=True)
    ends = pd.Series(close.index[np.minimum(np.arange(len(close)) + horizon, len(close) - 1)], index=close.index)
    label_end = pd.Series(ends.reindex(fwd.index.get_level_values(0)).to_numpy(), index=fwd.index)
    frame = X.join(fwd.rename("__fwd"))
    ok = frame.notna().all(axis=1)
    frame = frame[ok]
    fwd_ok = frame.pop("__fwd")
    return Dataset(frame, (fwd_ok > 0).astype(int).rename("y"), fwd_ok.rename("forward_return"),
                   label_end[ok.to_numpy()].rename("label_end"), int((~ok).sum()))
