"""Out-of-sample quality of a signal against forward returns.

- IC: mean over dates of the cross-sectional Pearson correlation between signal and forward
  return (dates with fewer than 3 symbols, or where the signal or the return is the same for every
  symbol, are skipped); rank IC the same with Spearman (ranks) correlation (:func:`daily_corr`);
- hit rate: share of rows where sign(signal) == sign(forward return) (zero signals count as misses);
- AUC: probability that a random up row scores above a random down row (Mann-Whitney, ties half);
- calibration of a probability p = (1 + signal) / 2 against the label y = 1{forward return > 0}:
  Brier score mean((p - y)^2), and the expected calibration error over ``bins`` equal-width bins of
  p, ECE = sum_b (n_b / n) |mean(p in b) - mean(y in b)|, with the reliability table behind it.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
from scipy.stats import rankdata

from raytrade.core.errors import DataError
from raytrade.signals.models import PARTS

QUALITY = ["ic", "rank_ic", "hit_rate", "auc", "brier", "ece"]  # what signal_quality measures
OOS_SIGNALS = ("momentum", *PARTS, "ensemble", "stacked")  # the signals scored out of sample, baseline first


def daily_corr(signal: pd.Series, fwd: pd.Series, rank: bool = False) -> float:
    """Mean over dates of the cross-sectional correlation of ``signal`` and ``fwd`` (both indexed
    by (timestamp, symbol)): Pearson, or Spearman (average ranks for ties) when ``rank``. Pairs with
    a NaN are left out; a date with fewer than 3 pairs, or whose signal or return is the same for
    every symbol, is skipped. NaN when no date is left. All dates at once, on a (dates, symbols)
    matrix."""
    frame = pd.DataFrame({"s": signal, "r": fwd})
    if frame.index.has_duplicates:
        dup = frame.index[frame.index.duplicated()][0]
        raise DataError("a (timestamp, symbol) appears twice", source="signal", timestamp=dup)
    s, r = frame["s"].unstack(), frame["r"].unstack()
    pair = s.notna() & r.notna()
    s, r = s.where(pair), r.where(pair)
    if rank:
        s, r = s.rank(axis=1, method="average"), r.rank(axis=1, method="average")
    x, y = s.to_numpy(np.float64), r.to_numpy(np.float64)
    n = pair.to_numpy().sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN rows: skipped below
        dispersed = (np.nanmax(x, axis=1) > np.nanmin(x, axis=1)) & (np.nanmax(y, axis=1) > np.nanmin(y, axis=1))
        dx = x - np.nanmean(x, axis=1, keepdims=True)
        dy = y - np.nanmean(y, axis=1, keepdims=True)
        corr = np.nansum(dx * dy, axis=1) / np.sqrt(np.nansum(dx * dx, axis=1) * np.nansum(dy * dy, axis=1))
    keep = (n >= 3) & dispersed
    return float(corr[keep].mean()) if keep.any() else float("nan")


def auc(score: np.ndarray, up: np.ndarray) -> float:
    pos, neg = up.sum(), (~up).sum()
    if pos == 0 or neg == 0:
        return float("nan")
    ranks = rankdata(score)
    return float((ranks[up].sum() - pos * (pos + 1) / 2) / (pos * neg))


def reliability(prob: np.ndarray, y: np.ndarray, bins: int = 10) -> pd.DataFrame:
    """Per equal-width bin of ``prob`` in [0, 1] (the last bin closed): rows, mean predicted
    probability and observed frequency of ``y`` == 1. Empty bins are left out."""
    p = np.asarray(prob, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    b = np.minimum((p * bins).astype(int), bins - 1)
    frame = pd.DataFrame({"bin": b, "p": p, "y": y}).groupby("bin").agg(rows=("p", "size"), predicted=("p", "mean"),
                                                                         observed=("y", "mean"))
    frame.index = [f"{i / bins:.1f}-{(i + 1) / bins:.1f}" for i in frame.index]
    return frame


def calibration(prob: np.ndarray, y: np.ndarray, bins: int = 10) -> dict[str, float]:
    """Brier score and expected calibration error (see the module docstring)."""
    p = np.asarray(prob, dtype=np.float64)
    table = reliability(p, y, bins)
    ece = float((table["rows"] / len(p) * (table["predicted"] - table["observed"]).abs()).sum())
    return {"brier": float(np.mean((p - np.asarray(y, dtype=np.float64)) ** 2)), "ece": ece}


def signal_quality(signal: pd.Series, forward_return: pd.Series) -> dict[str, float]:
    """IC, rank IC, hit rate, AUC, Brier score and ECE of ``signal`` (index (timestamp, symbol),
    in [-1, 1]) against forward returns."""
    s, r = signal.align(forward_return, join="inner")
    up = r.to_numpy() > 0
    return {"ic": daily_corr(s, r), "rank_ic": daily_corr(s, r, rank=True),
            "hit_rate": float((np.sign(s.to_numpy()) == np.where(up, 1, -1)).mean()),
            "auc": auc(s.to_numpy(), up), **calibration((1 + s.to_numpy()) / 2, up), "rows": float(len(s))}
