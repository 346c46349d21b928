"""Overfitting statistics: how much of a backtest's edge survives selection.

Conventions:

- Sharpe ratios here are per period (not annualised): SR = mean(r) / std(r, ddof=1) of the
  returns given (pass excess returns if a risk-free rate matters).
- Skewness and kurtosis are the sample (biased, moment) estimates; kurtosis is raw, not excess
  (3 for a normal distribution), as in Bailey and Lopez de Prado.
- Probabilistic Sharpe Ratio (Bailey and Lopez de Prado 2012):
  PSR(SR*) = Phi((SR - SR*) sqrt(T - 1) / sqrt(1 - g3 SR + (g4 - 1) / 4 SR^2)).
- Deflated Sharpe Ratio (Bailey and Lopez de Prado 2014): PSR with SR* = SR0, the expected
  maximum Sharpe ratio of N unskilled trials,
  SR0 = sqrt(V[SR_n]) ((1 - gamma) Phi^-1(1 - 1/N) + gamma Phi^-1(1 - 1/(N e))), gamma the
  Euler-Mascheroni constant, V[SR_n] the variance of the N trials' Sharpe ratios.
- Probability of Backtest Overfitting by CSCV (Bailey, Borwein, Lopez de Prado and Zhu 2017):
  the T x N matrix of trial returns is cut into S blocks of consecutive rows; for each of the
  C(S, S/2) choices of S/2 blocks as in-sample (the rest out-of-sample) the best in-sample
  trial n* is found, its out-of-sample relative rank w = rank / (N + 1) (rank 1 = worst), and
  the logit l = ln(w / (1 - w)). PBO = share of combinations with l <= 0.
- Overfitting ratio = in-sample Sharpe / out-of-sample Sharpe, flagged above 2.0 (and when the
  out-of-sample Sharpe is <= 0 while the in-sample one is > 0, where the ratio is +inf).
- Walk-forward efficiency = annualised out-of-sample return / annualised in-sample return.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from statistics import NormalDist

import numpy as np

from raytrade.core.errors import DomainError

_NORMAL = NormalDist()  # the standard normal's cdf and inverse cdf, to double precision

EULER_GAMMA = 0.5772156649015329
OVERFIT_FLAG = 2.0


def sharpe_per_period(returns: np.ndarray) -> np.ndarray:
    """mean / std (ddof=1) of each column; NaN where all its returns are equal (the float std of
    a constant column can be a rounding residue like 1e-18, not 0, which would give a Sharpe of
    1e16)."""
    r = np.asarray(returns, dtype=np.float64)
    sd = r.std(axis=0, ddof=1)
    varies = r.max(axis=0, initial=-np.inf) > r.min(axis=0, initial=np.inf)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(varies, r.mean(axis=0) / sd, np.nan)


def probabilistic_sharpe_ratio(sr: float, sr_benchmark: float, n_obs: int, skew: float, kurtosis: float) -> float:
    """Probability that the true per-period Sharpe exceeds ``sr_benchmark``, given the observed
    per-period ``sr`` over ``n_obs`` returns with ``skew`` and raw ``kurtosis``."""
    if n_obs < 2:
        raise DomainError(f"need at least 2 observations, got {n_obs}")
    var = 1.0 - skew * sr + (kurtosis - 1.0) / 4.0 * sr**2
    if var <= 0:
        return math.nan
    return float(_NORMAL.cdf((sr - sr_benchmark) * math.sqrt(n_obs - 1) / math.sqrt(var)))


def expected_max_sharpe(n_trials: int, var_sr: float) -> float:
    """SR0: the expected maximum per-period Sharpe of ``n_trials`` unskilled trials whose Sharpe
    ratios have variance ``var_sr`` (0 for a single trial)."""
    if n_trials < 1:
        raise DomainError(f"n_trials must be >= 1, got {n_trials}")
    if n_trials == 1:
        return 0.0
    z = (1 - EULER_GAMMA) * _NORMAL.inv_cdf(1 - 1 / n_trials) + EULER_GAMMA * _NORMAL.inv_cdf(
        1 - 1 / (n_trials * math.e))
    return float(math.sqrt(var_sr) * z)


@dataclass(frozen=True, slots=True)
class SharpeInference:
    """PSR/DSR of one return series: ``sr`` per period, ``sr_benchmark`` the hurdle, ``probability``."""

    sr: float
    sr_benchmark: float
    n_obs: int
    skew: float
    kurtosis: float
    n_trials: int
    var_sr: float
    probability: float


def moments(returns: np.ndarray) -> tuple[float, float, float]:
    """(per-period Sharpe, skewness, raw kurtosis) of a 1-D return series; the moments are the
    population ones, m3 / m2^1.5 and m4 / m2^2 with m_k = mean((r - mean r)^k) (NaN when every
    return is the same)."""
    r = np.asarray(returns, dtype=np.float64)
    sr = float(sharpe_per_period(r[:, None])[0])
    if r.size == 0 or r.min() == r.max():
        return sr, math.nan, math.nan
    d = r - r.mean()
    m2 = float(np.mean(d**2))
    return sr, float(np.mean(d**3)) / m2**1.5, float(np.mean(d**4)) / m2**2


def psr_of_returns(returns: np.ndarray, sr_benchmark: float = 0.0) -> SharpeInference:
    """PSR of a return series against a fixed per-period Sharpe hurdle (default 0)."""
    sr, sk, ku = moments(returns)
    p = probabilistic_sharpe_ratio(sr, sr_benchmark, len(returns), sk, ku)
    return SharpeInference(sr, sr_benchmark, len(returns), sk, ku, 1, 0.0, p)


def deflated_sharpe_ratio(best_returns: np.ndarray, trial_sharpes: np.ndarray) -> SharpeInference:
    """DSR of the selected trial's returns, deflated by every trial's per-period Sharpe.

    ``trial_sharpes`` must hold one entry for every trial the search evaluated (the selected one
    included); NaN entries (trials that never traded) count as trials but not in V[SR_n].
    """
    sharpes = np.asarray(trial_sharpes, dtype=np.float64)
    n = len(sharpes)
    finite = sharpes[np.isfinite(sharpes)]
    var_sr = float(finite.var(ddof=1)) if len(finite) > 1 else 0.0
    sr0 = expected_max_sharpe(n, var_sr)
    sr, sk, ku = moments(best_returns)
    p = probabilistic_sharpe_ratio(sr, sr0, len(best_returns), sk, ku)
    return SharpeInference(sr, sr0, len(best_returns), sk, ku, n, var_sr, p)


@dataclass(frozen=True, slots=True)
class PBOResult:
    """CSCV outcome: ``pbo``, the logits per combination, and for the selected trial its
    in-sample and out-of-sample Sharpe per combination (for the degradation plot)."""

    pbo: float
    logits: np.ndarray
    is_sharpe: np.ndarray
    oos_sharpe: np.ndarray
    n_blocks: int
    n_trials: int

    @property
    def probability_oos_loss(self) -> float:
        """Share of combinations where the selected trial lost money out of sample."""
        return float(np.mean(self.oos_sharpe < 0))


def pbo_cscv(returns: np.ndarray, n_blocks: int = 16) -> PBOResult:
    """Probability of Backtest Overfitting of the trials (columns) of ``returns`` (T x N).

    Ranks by per-period Sharpe. Rows are cut into ``n_blocks`` (even) near-equal blocks of
    consecutive rows (``numpy.array_split``: no row dropped). Ties: the first best trial is
    selected; out-of-sample ranks are averaged over ties. A trial with zero variance in a
    sample ranks last there.
    """
    r = np.asarray(returns, dtype=np.float64)
    if r.ndim != 2 or r.shape[1] < 2:
        raise DomainError(f"need a T x N matrix with N >= 2 trials, got shape {r.shape}")
    if n_blocks < 2 or n_blocks % 2:
        raise DomainError(f"n_blocks must be even and >= 2, got {n_blocks}")
    if r.shape[0] < 2 * n_blocks:
        raise DomainError(f"need at least {2 * n_blocks} rows for {n_blocks} blocks, got {r.shape[0]}")
    if not np.isfinite(r).all():
        raise DomainError("returns must be finite")
    blocks = np.array_split(np.arange(r.shape[0]), n_blocks)
    count = np.array([len(b) for b in blocks], dtype=np.float64)
    s1 = np.stack([r[b].sum(axis=0) for b in blocks])
    s2 = np.stack([(r[b] ** 2).sum(axis=0) for b in blocks])
    combos = np.array([[1.0 if i in c else 0.0 for i in range(n_blocks)]
                       for c in itertools.combinations(range(n_blocks), n_blocks // 2)])

    def sharpe_from(mask: np.ndarray) -> np.ndarray:
        n = mask @ count
        m1 = mask @ s1
        m2 = mask @ s2
        mean = m1 / n[:, None]
        var = (m2 - n[:, None] * mean**2) / (n[:, None] - 1)
        with np.errstate(divide="ignore", invalid="ignore"):
            sr = np.where(var > 1e-300, mean / np.sqrt(np.maximum(var, 0)), -np.inf)
        return sr

    is_sr = sharpe_from(combos)
    oos_sr = sharpe_from(1.0 - combos)
    best = np.argmax(is_sr, axis=1)
    rows = np.arange(len(combos))
    chosen_oos = oos_sr[rows, best]
    below = (oos_sr < chosen_oos[:, None]).sum(axis=1)
    equal = (oos_sr == chosen_oos[:, None]).sum(axis=1)
    rank = below + (equal + 1) / 2.0
    w = rank / (r.shape[1] + 1)
    logits = np.log(w / (1 - w))
    return PBOResult(float(np.mean(logits <= 0)), logits, is_sr[rows, best], chosen_oos, n_blocks, r.shape[1])


def overfitting_ratio(is_sharpe: float, oos_sharpe: float) -> float:
    """In-sample / out-of-sample Sharpe: +inf when OOS <= 0 < IS, NaN when IS <= 0."""
    if not (math.isfinite(is_sharpe) and math.isfinite(oos_sharpe)) or is_sharpe <= 0:
        return math.nan
    return math.inf if oos_sharpe <= 0 else is_sharpe / oos_sharpe


def is_overfit(ratio: float, threshold: float = OVERFIT_FLAG) -> bool:
    """True when the overfitting ratio exceeds ``threshold`` (+inf included)."""
    return not math.isnan(ratio) and ratio > threshold


def walk_forward_efficiency(oos_annual_return: float, is_annual_return: float) -> float:
    """Annualised OOS return / annualised IS return (NaN when the IS return is <= 0)."""
    if not (math.isfinite(oos_annual_return) and math.isfinite(is_annual_return)) or is_annual_return <= 0:
        return math.nan
    return oos_annual_return / is_annual_return
