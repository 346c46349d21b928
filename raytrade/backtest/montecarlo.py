"""Monte Carlo resampling of a strategy's returns: distributions of final equity, drawdown, Sharpe.

Methods (``returns`` are simple per-period returns of the strategy or portfolio):

- ``iid``: each period is drawn independently, uniformly from the history (with replacement);
- ``stationary``: the stationary block bootstrap of Politis and Romano (1994): a path starts at a
  random period and continues with the next one (circularly), jumping to a new random start with
  probability 1 / ``mean_block`` each period, so blocks have geometric lengths of mean
  ``mean_block`` and autocorrelation within blocks is kept;
- ``reshuffle``: the order of the strategy's trade returns is permuted (no replacement). Final
  equity is the same on every path (a product does not depend on order); the drawdown
  distribution is what this method measures.

A multi-asset history is resampled by whole rows (days), so cross-asset correlation is kept; with
fixed weights rebalanced each period, that is the resampling of the portfolio's own returns,
which is what is computed.

Reproducibility: paths come in chunks of ``CHUNK_PATHS``; chunk i draws from
``SeedSequence(seed).spawn(n_chunks)[i]``, so the same seed gives the same paths however many
workers compute the chunks. Sharpe is annualised (sqrt of the calendar's periods per year, 252 for XNYS daily bars; ddof=1); drawdowns are <= 0.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

import numba as nb
import numpy as np

from raytrade.core.calendars import periods_per_year as calendar_periods
from raytrade.core.errors import DomainError

CHUNK_PATHS = 1000
PERIODS_PER_YEAR = calendar_periods("XNYS")  # daily bars: the default annualisation of path Sharpes
PERCENTILES = (1, 5, 25, 50, 75, 95, 99)


class Method(StrEnum):
    IID = "iid"
    STATIONARY = "stationary"
    RESHUFFLE = "reshuffle"


@nb.njit(cache=True, nogil=True)
def _paths(returns, uniforms, starts, p_new, iid, reshuffle_order, horizon, keep, curves, annualise):
    n_paths = starts.shape[0]
    n_hist = returns.shape[0]
    final = np.empty(n_paths)
    mdd = np.empty(n_paths)
    sharpe = np.empty(n_paths)
    for i in range(n_paths):
        eq = 1.0
        peak = 1.0
        worst = 0.0
        mean = 0.0
        m2 = 0.0
        idx = starts[i, 0]
        for t in range(horizon):
            if reshuffle_order.shape[0] > 0:
                r = returns[reshuffle_order[i, t]]
            else:
                if t > 0:
                    if iid or uniforms[i, t] < p_new:
                        idx = starts[i, t]
                    else:
                        idx = idx + 1
                        if idx >= n_hist:
                            idx = 0
                r = returns[idx]
            eq *= 1.0 + r
            if eq > peak:
                peak = eq
            dd = eq / peak - 1.0
            if dd < worst:
                worst = dd
            d = r - mean
            mean += d / (t + 1)
            m2 += d * (r - mean)
            if i < keep:
                curves[i, t] = eq
        final[i] = eq
        mdd[i] = worst
        sd = np.sqrt(m2 / (horizon - 1)) if horizon > 1 else 0.0
        sharpe[i] = mean / sd * annualise if sd > 0 else np.nan
    return final, mdd, sharpe


@dataclass(frozen=True, slots=True)
class ChunkPaths:
    """Per-path statistics of one chunk; ``curves`` holds the equity of its first paths (for fans)."""

    final: np.ndarray
    max_drawdown: np.ndarray
    sharpe: np.ndarray
    curves: np.ndarray


def simulate_chunk(returns: np.ndarray, n_paths: int, seed: np.random.SeedSequence, *, method: Method,
                   horizon: int | None = None, mean_block: float = 20.0, keep_curves: int = 0,
                   periods_per_year: float = PERIODS_PER_YEAR) -> ChunkPaths:
    """``n_paths`` paths of ``horizon`` periods (default: the history's length) from one seed;
    each path's Sharpe is annualised with sqrt(``periods_per_year``) (:mod:`raytrade.core.calendars`)."""
    r = np.ascontiguousarray(returns, dtype=np.float64)
    if r.ndim != 1 or len(r) < 2 or not np.isfinite(r).all():
        raise DomainError("returns must be a finite 1-D series of at least 2 periods")
    method = Method(method)
    rng = np.random.default_rng(seed)
    n = len(r)
    h = n if horizon is None or method is Method.RESHUFFLE else int(horizon)
    if h < 2:
        raise DomainError(f"horizon must be >= 2, got {h}")
    if mean_block < 1:
        raise DomainError(f"mean_block must be >= 1, got {mean_block}")
    keep = min(keep_curves, n_paths)
    curves = np.empty((keep, h))
    if method is Method.RESHUFFLE:
        order = np.argsort(rng.random((n_paths, n)), axis=1)
        starts = np.zeros((n_paths, 1), dtype=np.int64)
        uniforms = np.zeros((n_paths, 1))
    else:
        order = np.zeros((0, 0), dtype=np.int64)
        starts = rng.integers(0, n, size=(n_paths, h))
        uniforms = rng.random((n_paths, h)) if method is Method.STATIONARY else np.zeros((n_paths, 1))
    final, mdd, sharpe = _paths(r, uniforms, starts, 1.0 / mean_block, method is Method.IID, order, h, keep, curves,
                                float(np.sqrt(periods_per_year)))
    return ChunkPaths(final, mdd, sharpe, curves)


def chunk_plan(n_paths: int, seed: int) -> list[tuple[int, np.random.SeedSequence]]:
    """(paths, seed) per chunk: fixed-size chunks, each with its own spawned seed."""
    if n_paths < 1:
        raise DomainError(f"n_paths must be >= 1, got {n_paths}")
    sizes = [CHUNK_PATHS] * (n_paths // CHUNK_PATHS) + ([n_paths % CHUNK_PATHS] if n_paths % CHUNK_PATHS else [])
    return list(zip(sizes, np.random.SeedSequence(seed).spawn(len(sizes)), strict=True))


def summarize_paths(chunks: list[ChunkPaths], *, drawdown_threshold: float = 0.20) -> dict:
    """Percentiles of final equity (growth of 1), max drawdown and Sharpe; probability of a loss
    (final < 1) and of a drawdown deeper than ``drawdown_threshold``; the fan chart's quantiles."""
    final = np.concatenate([c.final for c in chunks])
    mdd = np.concatenate([c.max_drawdown for c in chunks])
    sharpe = np.concatenate([c.sharpe for c in chunks])
    curves = np.concatenate([c.curves for c in chunks if len(c.curves)], axis=0) if any(
        len(c.curves) for c in chunks) else np.zeros((0, 0))

    def pct(x: np.ndarray) -> dict[str, float]:
        x = x[np.isfinite(x)]
        return {f"p{p}": float(np.percentile(x, p)) for p in PERCENTILES} if len(x) else {}

    fan = {}
    if curves.size:
        fan = {f"p{p}": np.percentile(curves, p, axis=0).tolist() for p in (5, 25, 50, 75, 95)}
    return {
        "paths": len(final),
        "final_equity": pct(final),
        "max_drawdown": pct(mdd),
        "sharpe": pct(sharpe),
        "probability_of_loss": float(np.mean(final < 1.0)),
        "drawdown_threshold": drawdown_threshold,
        "probability_drawdown_beyond": float(np.mean(mdd < -drawdown_threshold)),
        "fan": fan,
        "fan_paths": len(curves),
    }


def simulate(returns: np.ndarray, n_paths: int = 1000, *, method: Method = Method.STATIONARY, seed: int = 0,
             horizon: int | None = None, mean_block: float = 20.0, drawdown_threshold: float = 0.20,
             fan_paths: int = 1000) -> dict:
    """All chunks in this process (the Ray version fans the same chunks out as tasks)."""
    chunks = []
    kept = 0
    for size, ss in chunk_plan(n_paths, seed):
        keep = max(0, min(size, fan_paths - kept))
        chunks.append(simulate_chunk(returns, size, ss, method=method, horizon=horizon, mean_block=mean_block,
                                     keep_curves=keep))
        kept += keep
    return summarize_paths(chunks, drawdown_threshold=drawdown_threshold)


def trade_returns(equity: np.ndarray, shares: np.ndarray) -> np.ndarray:
    """Returns of each round trip of each sleeve, as a fraction of the whole portfolio.

    ``equity`` and ``shares`` are (T, N) per sleeve (N equally funded sleeves). A trip is a run of
    bars holding a non-zero position of one sign; its return is the sleeve's equity change from the
    bar before the run to the run's last bar, divided by the portfolio equity before the run.
    Trips are listed in the order they close (ties by sleeve).
    """
    eq = np.asarray(equity, dtype=np.float64)
    sh = np.asarray(shares, dtype=np.float64)
    total = eq.sum(axis=1)
    out: list[tuple[int, int, float]] = []
    sign = np.sign(sh)
    for j in range(eq.shape[1]):
        t = 0
        n = len(sign)
        while t < n:
            if sign[t, j] == 0:
                t += 1
                continue
            start = t
            while t + 1 < n and sign[t + 1, j] == sign[start, j]:
                t += 1
            before = max(start - 1, 0)
            out.append((t, j, (eq[t, j] - eq[before, j]) / total[before]))
            t += 1
    out.sort()
    return np.array([r for _, _, r in out])
