"""Out-of-sample quality of a signal against forward returns.

- IC: mean over dates of the cross-sectional Pearson correlation between signal and forward
  return (dates with fewer than 3 symbols or no dispersion are skipped); rank IC the same with
  Spearman (ranks) correlation;
- hit rate: share of rows where sign(signal) == sign(forward return) (zero signals count as misses);
- AUC: probability that a random up row scores above a random down row (Mann-Whitney, ties half);
- calibration of a probability p = (1 + signal) / 2 against the label y = 1{forward return > 0}:
  Brier score mean((p - y)^2), and the expected calibration error over ``bins`` equal-width bins of
  p, ECE = sum_b (n_b / n) |mean(p in b) - mean(y in b)|, with the reliability table behind it.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.stats import rankdata

from raytrade.signals.models import PARTS

QUALITY = ["ic", "rank_ic", "hit_rate", "auc", "brier", "ece"]  # what signal_quality measures
OOS_SIGNALS = ("momentum", *PARTS, "ensemble", "stacked")  # the signals scored out of sample, baseline first


def _daily_corr(signal: pd.Series, fwd: pd.Series, rank: bool) -> float:
    frame = pd.DataFrame({"s": signal, "r": fwd})
    vals = []
    for _, day in frame.groupby(level=0):
        if len(day) < 3:
            continue
        s, r = day["s"].to_numpy(), day["r"].to_numpy()
        if rank:
            s, r = rankdata(s), rankdata(r)
        if s.std() == 0 or r.std() == 0:
            continue
        vals.append(float(np.corrcoef(s, r)[0, 1]))
    return float(np.mean(vals)) if vals else float("nan")


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
    return {"ic": _daily_corr(s, r, False), "rank_ic": _daily_corr(s, r, True),
            "hit_rate": float((np.sign(s.to_numpy()) == np.where(up, 1, -1)).mean()),
            "auc": auc(s.to_numpy(), up), **calibration((1 + s.to_numpy()) / 2, up), "rows": float(len(s))}
