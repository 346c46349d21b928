"""Out-of-sample quality of a signal against forward returns.

- IC: mean over dates of the cross-sectional Pearson correlation between signal and forward
  return (dates with fewer than 3 symbols or no dispersion are skipped); rank IC the same with
  Spearman (ranks) correlation;
- hit rate: share of rows where sign(signal) == sign(forward return) (zero signals count as misses);
- AUC: probability that a random up row scores above a random down row (Mann-Whitney, ties half).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.stats import rankdata


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


def signal_quality(signal: pd.Series, forward_return: pd.Series) -> dict[str, float]:
    """IC, rank IC, hit rate and AUC of ``signal`` (index (timestamp, symbol)) against returns."""
    s, r = signal.align(forward_return, join="inner")
    up = r.to_numpy() > 0
    return {"ic": _daily_corr(s, r, False), "rank_ic": _daily_corr(s, r, True),
            "hit_rate": float((np.sign(s.to_numpy()) == np.where(up, 1, -1)).mean()),
            "auc": auc(s.to_numpy(), up), "rows": float(len(s))}
