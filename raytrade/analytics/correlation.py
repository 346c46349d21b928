"""Correlation analysis of a book: sample and shrunk correlation, hierarchical clusters with names,
a diversification score, and a heatmap ordered by the clustering.

Conventions: ``returns`` (T, assets) simple returns per period, rows with a missing value dropped
pairwise for the sample matrix and listwise for the shrunk one.

- Shrunk correlation: Ledoit and Wolf (2004), "A well-conditioned estimator for large-dimensional
  covariance matrices", applied to the standardised returns (so to the correlation): with X the
  (n, p) demeaned returns each divided by its standard deviation (ddof=0), S = X'X / n,
  m = tr(S) / p, d2 = ||S - m I||^2 / p, b2 = min(d2, sum_k ||x_k x_k' - S||^2 / (n^2 p)),
  shrunk = (b2 / d2) m I + (1 - b2 / d2) S, rescaled to a unit diagonal (||.|| Frobenius).
- Clusters: average-linkage hierarchical clustering (scipy) on the distance sqrt((1 - rho) / 2),
  cut into ``n_clusters``; a cluster is named by the sector most of its members share ("Energy",
  or "Energy + Financials" when no sector holds a majority), or by its most central member (the
  highest mean correlation to the others) when no sectors are given.
- Diversification score in [0, 1]: (ENB - 1) / (p - 1), ENB = exp(-sum_k pi_k ln pi_k) the
  effective number of bets from the eigenvalues lambda_k of the correlation matrix, pi_k = lambda_k
  / p (Meucci's entropy measure applied to the principal components): 1 for uncorrelated assets,
  0 when one factor explains everything. The weighted diversification ratio
  DR = sum w_i sigma_i / sigma_p (Choueifaty and Coignard 2008) is reported beside it.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.cluster import hierarchy
from scipy.spatial.distance import squareform

from raytrade.core.errors import DataError


def ledoit_wolf_correlation(returns: pd.DataFrame) -> tuple[pd.DataFrame, float]:
    """(shrunk correlation matrix, shrinkage intensity in [0, 1]); see the module."""
    r = returns.dropna()
    n, p = r.shape
    if n < 3 or p < 2:
        raise DataError(f"shrinkage needs >= 3 complete rows and >= 2 assets, got {n} x {p}", source="correlation")
    x = r.to_numpy(np.float64)
    x = x - x.mean(axis=0)
    sd = x.std(axis=0)
    if (sd <= 0).any():
        raise DataError(f"{r.columns[int(np.argmin(sd))]} has no variation", source="correlation")
    x = x / sd
    s = x.T @ x / n
    m = np.trace(s) / p
    d2 = float(((s - m * np.eye(p)) ** 2).sum()) / p
    # sum_k ||x_k x_k' - S||^2 = sum_k ||x_k||^4 - n ||S||^2 (S = X'X / n is symmetric)
    b2_bar = (float(((x * x).sum(axis=1) ** 2).sum()) - n * float((s * s).sum())) / (n * n * p)
    b2 = min(b2_bar, d2)
    k = b2 / d2 if d2 > 0 else 1.0
    shrunk = k * m * np.eye(p) + (1 - k) * s
    dg = np.sqrt(np.diag(shrunk))
    corr = shrunk / np.outer(dg, dg)
    return pd.DataFrame(corr, index=r.columns, columns=r.columns), float(k)


def diversification_score(corr: pd.DataFrame | np.ndarray) -> float:
    """(ENB - 1) / (p - 1) of the correlation matrix (see the module)."""
    c = np.asarray(corr, dtype=np.float64)
    p = c.shape[0]
    if p < 2:
        return 0.0
    lam = np.clip(np.linalg.eigvalsh(c), 0.0, None)
    pi = lam / lam.sum()
    pi = pi[pi > 0]
    enb = math.exp(-float((pi * np.log(pi)).sum()))
    return float(min(max((enb - 1.0) / (p - 1.0), 0.0), 1.0))


def diversification_ratio(weights: np.ndarray, cov: np.ndarray) -> float:
    """sum w_i sigma_i / sqrt(w' C w): 1 for a single asset or perfectly correlated ones."""
    w = np.asarray(weights, dtype=np.float64)
    c = np.asarray(cov, dtype=np.float64)
    return float(w @ np.sqrt(np.diag(c)) / math.sqrt(float(w @ c @ w)))


@dataclass(frozen=True, slots=True)
class CorrelationAnalysis:
    sample: pd.DataFrame
    shrunk: pd.DataFrame
    shrinkage: float
    clusters: pd.DataFrame          # asset, cluster (1..k), cluster_name
    order: list[str]                # assets in dendrogram order (the heatmap's)
    score: float                    # diversification score of the shrunk matrix
    ratio: float | None             # diversification ratio of the weights given (None without)
    average_correlation: float      # mean off-diagonal sample correlation

    def cluster_table(self) -> pd.DataFrame:
        """One row per cluster: its name, members and their mean pairwise correlation."""
        rows = []
        for cid, g in self.clusters.groupby("cluster"):
            members = list(g["asset"])
            sub = self.sample.loc[members, members].to_numpy()
            off = sub[~np.eye(len(members), dtype=bool)]
            rows.append({"cluster": cid, "name": g["cluster_name"].iloc[0], "members": ", ".join(members),
                         "size": len(members), "mean_correlation": float(off.mean()) if len(off) else 1.0})
        return pd.DataFrame(rows).set_index("cluster")


def analyse_correlation(returns: pd.DataFrame, *, n_clusters: int = 4, sectors: Mapping[str, str] | None = None,
                        weights: Mapping[str, float] | None = None) -> CorrelationAnalysis:
    """The analysis of the module for ``returns`` (T, assets)."""
    if returns.shape[1] < 2:
        raise DataError("correlation analysis needs at least 2 assets", source="correlation")
    sample = returns.corr()
    if sample.isna().to_numpy().any():
        bad = sample.columns[sample.isna().any()].tolist()
        raise DataError(f"no correlation for {', '.join(map(str, bad[:5]))} (too few common periods or no variation)",
                        source="correlation")
    shrunk, k = ledoit_wolf_correlation(returns)
    dist = np.sqrt(np.clip((1.0 - sample.to_numpy()) / 2.0, 0.0, None))
    np.fill_diagonal(dist, 0.0)
    link = hierarchy.linkage(squareform(dist, checks=False), method="average")
    labels = hierarchy.fcluster(link, t=min(n_clusters, returns.shape[1]), criterion="maxclust")
    assets = [str(a) for a in returns.columns]
    order = [assets[i] for i in hierarchy.leaves_list(link)]
    names: dict[int, str] = {}
    for cid in sorted(set(labels)):
        members = [a for a, lab in zip(assets, labels, strict=True) if lab == cid]
        if sectors:
            counts = Counter(sectors.get(m, "unknown") for m in members).most_common()
            top, n_top = counts[0]
            names[cid] = top if n_top * 2 > len(members) else " + ".join(s for s, _ in counts[:2])
        else:
            sub = sample.loc[members, members].to_numpy()
            names[cid] = members[int(np.argmax(sub.mean(axis=1)))]
    clusters = pd.DataFrame({"asset": assets, "cluster": labels, "cluster_name": [names[c] for c in labels]})
    ratio = None
    if weights:
        w = np.array([float(weights.get(a, 0.0)) for a in assets])
        ratio = diversification_ratio(w, returns.cov().to_numpy())
    off = sample.to_numpy()[~np.eye(len(assets), dtype=bool)]
    return CorrelationAnalysis(sample, shrunk, k, clusters, order, diversification_score(shrunk), ratio,
                               float(off.mean()))


def heatmap_figure(analysis: CorrelationAnalysis) -> object:
    """A matplotlib figure of the sample correlation, rows and columns in cluster order."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    m = analysis.sample.loc[analysis.order, analysis.order]
    n = len(m)
    fig, ax = plt.subplots(figsize=(max(5, 0.35 * n + 2), max(4, 0.35 * n + 1)))
    im = ax.imshow(m.to_numpy(), cmap="RdBu_r", vmin=-1, vmax=1)
    ax.set_xticks(range(n), m.columns, rotation=90, fontsize=7)
    ax.set_yticks(range(n), m.index, fontsize=7)
    ax.set_title(f"Correlation, clustered (diversification score {analysis.score:.2f})")
    fig.colorbar(im, ax=ax, shrink=0.8)
    fig.tight_layout()
    return fig
