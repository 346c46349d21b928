"""Pairs trading on cointegration: the Engle-Granger test, pair selection under multiple testing,
hedge ratios, the spread's z-score and the entry/exit/stop rule, and the ``pairs`` portfolio
strategy that puts them together.

Conventions: prices enter as natural logs; A is regressed on B, a_t = alpha + beta b_t + e_t, so
beta is the hedge ratio in log terms (a 1 % move of B goes with a beta % move of A) and a spread
position holds beta currency units of B against each unit of A. A long spread is long A and short
B; its z-score is the spread's distance from its mean in standard deviations (``spread_zscore``).

- :func:`engle_granger` is statsmodels' ``coint`` with its defaults: a constant in the
  cointegrating regression (``trend="c"``), the augmented Engle-Granger method (``"aeg"``), the ADF
  lag chosen by AIC up to 12 (n/100)^(1/4), MacKinnon's (1994, 2010) p-values. A small p-value
  says the spread a - beta b is stationary. :func:`engle_granger_fast` computes the same test (the
  same sample, lags and AIC; p-values from statsmodels' ``mackinnonp``) from one QR decomposition
  per pair instead of one regression per candidate lag, about 30 times faster; the tests hold it
  equal to ``coint``. The strategy's rolling re-selection uses it.
- :func:`benjamini_hochberg`: the step-up procedure controlling the false discovery rate at q over
  all pairs tested together (190 for 20 stocks), where testing each at 5 % would pass about ten
  pairs by chance.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from itertools import combinations
from typing import ClassVar

import numba as nb
import numpy as np

from raytrade.core.errors import ConfigError, DataError
from raytrade.strategies.base import rolling_sum
from raytrade.strategies.space import ParamBlock, Parameter, ParameterSpace

MIN_OBSERVATIONS = 30
BATCH_MAX_BARS = 1000  # measured: batched up to here (100x coint at 252 bars), pair by pair above


@dataclass(frozen=True, slots=True)
class EngleGranger:
    pvalue: float
    tstat: float
    beta: float        # the hedge ratio: units of B per unit of A in log terms
    intercept: float


def _check_pair(log_a: np.ndarray, log_b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    a = np.asarray(log_a, dtype=np.float64)
    b = np.asarray(log_b, dtype=np.float64)
    if a.shape != b.shape or a.ndim != 1:
        raise DataError(f"the two series must be 1-D and aligned, got shapes {a.shape} and {b.shape}", source="pairs")
    if len(a) < MIN_OBSERVATIONS:
        raise DataError(f"need at least {MIN_OBSERVATIONS} observations, got {len(a)}", source="pairs")
    bad = ~(np.isfinite(a) & np.isfinite(b))
    if bad.any():
        raise DataError(f"non-finite value at observation {int(np.argmax(bad))}", source="pairs")
    return a, b


def _hedge(a: np.ndarray, b: np.ndarray) -> tuple[float, float, np.ndarray]:
    X = np.column_stack([b, np.ones_like(b)])
    (beta, intercept), *_ = np.linalg.lstsq(X, a, rcond=None)
    return float(beta), float(intercept), a - X @ np.array([beta, intercept])


def engle_granger(log_a: np.ndarray, log_b: np.ndarray) -> EngleGranger:
    """The test of the module (statsmodels' ``coint``) on two aligned, finite series of at least 30
    observations; DataError naming the problem otherwise."""
    from statsmodels.tsa.stattools import coint

    a, b = _check_pair(log_a, log_b)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # collinear series: coint says so and returns -inf, p 0
        tstat, pvalue, _ = coint(a, b, trend="c", method="aeg", autolag="aic")
    beta, intercept, _ = _hedge(a, b)
    return EngleGranger(float(pvalue), float(tstat), beta, intercept)


def engle_granger_fast(log_a: np.ndarray, log_b: np.ndarray) -> EngleGranger:
    """:func:`engle_granger` computed from one QR decomposition per pair (see module doc)."""
    a, b = _check_pair(log_a, log_b)
    beta, intercept, e = _hedge(a, b)
    ssr = float(e @ e)
    tss = float(((a - a.mean()) ** 2).sum())
    if tss == 0.0 or 1.0 - ssr / tss >= 1.0 - 100.0 * math.sqrt(np.finfo(float).eps):
        return EngleGranger(0.0, -math.inf, beta, intercept)  # collinear: as coint
    tstat = _adf_tstat(e)
    return EngleGranger(float(_mackinnon_p2(np.array([tstat]))[0]), tstat, beta, intercept)


def _adf_design(x: np.ndarray, lags: int) -> tuple[np.ndarray, np.ndarray]:
    """The ADF regression without deterministic terms: dx_t on x_{t-1}, dx_{t-1}, .., dx_{t-lags},
    on the sample statsmodels uses (the first ``lags`` + 1 observations lost)."""
    dx = np.diff(x)
    n = len(dx) - lags
    cols = [x[lags:lags + n]] + [dx[lags - i: lags - i + n] for i in range(1, lags + 1)]
    return np.column_stack(cols), dx[lags:]


def _adf_tstat(x: np.ndarray) -> float:
    """statsmodels' ``adfuller(x, regression="n", autolag="AIC")`` statistic: the lag minimising
    AIC = n log(SSR / n) + 2 k (+ constants) over 0..maxlag on the common sample of maxlag lags,
    then the t-statistic of x_{t-1} refitted with that lag on its own (longer) sample."""
    nobs = len(x)
    maxlag = min(nobs // 2 - 1, math.ceil(12.0 * (nobs / 100.0) ** 0.25))
    X, y = _adf_design(x, maxlag)
    n = len(y)
    q, _ = np.linalg.qr(X)
    qy = q.T @ y
    yy = float(y @ y)
    best, best_lag = math.inf, 0
    for lag in range(maxlag + 1):   # k = lag + 1 regressors, nested in column order
        ssr = yy - float(qy[: lag + 1] @ qy[: lag + 1])
        aic = n * math.log(max(ssr, 1e-300) / n) + 2.0 * (lag + 1)
        if aic < best:
            best, best_lag = aic, lag
    X, y = _adf_design(x, best_lag)
    coef, *_ = np.linalg.lstsq(X, y, rcond=None)
    resid = y - X @ coef
    dof = len(y) - X.shape[1]
    cov = np.linalg.inv(X.T @ X) * float(resid @ resid) / dof
    return float(coef[0] / math.sqrt(cov[0, 0]))


def benjamini_hochberg(pvalues: np.ndarray, q: float = 0.05) -> np.ndarray:
    """Which hypotheses the Benjamini-Hochberg step-up procedure rejects at false discovery rate
    ``q``: with the m p-values sorted p_(1) <= .. <= p_(m), reject the k smallest, k the largest i
    with p_(i) <= i q / m (none if there is no such i). NaN p-values are never rejected and do not
    count in m."""
    p = np.asarray(pvalues, dtype=np.float64)
    if not 0.0 < q < 1.0:
        raise ConfigError(f"fdr: the false discovery rate must be in (0, 1), got {q}")
    keep = np.zeros(p.shape, dtype=bool)
    ok = np.flatnonzero(np.isfinite(p))
    m = len(ok)
    if m == 0:
        return keep
    order = ok[np.argsort(p[ok], kind="stable")]
    passed = p[order] <= q * np.arange(1, m + 1) / m
    if passed.any():
        k = int(np.flatnonzero(passed).max()) + 1
        keep[order[:k]] = True
    return keep


@dataclass(frozen=True, slots=True)
class SelectedPair:
    a: int              # column of A (regressed on B)
    b: int
    pvalue: float
    beta: float


def cointegration_pvalues(log_close: np.ndarray, *, fast: bool = True,
                          pairs: list[tuple[int, int]] | None = None) -> tuple[list[tuple[int, int]], np.ndarray]:
    """The Engle-Granger p-value of every pair (i, j), i < j, of the columns of ``log_close``
    (T, N), column i as A (or of the ``pairs`` given): the pairs and their p-values (NaN where the
    window has a missing price). ``fast`` runs :func:`engle_granger_fast`'s computation on all the
    pairs at once (batched QR); otherwise statsmodels' ``coint`` pair by pair."""
    pairs = list(combinations(range(log_close.shape[1]), 2)) if pairs is None else pairs
    pvalues = np.full(len(pairs), np.nan)
    if not pairs:
        return pairs, pvalues
    logs = np.asarray(log_close, dtype=np.float64)
    ia = np.array([a for a, _ in pairs])
    ib = np.array([b for _, b in pairs])
    ok = np.asarray(np.isfinite(logs).all(axis=0))
    good = np.flatnonzero(ok[ia] & ok[ib])
    if fast and len(logs) <= BATCH_MAX_BARS:
        if len(good) and len(logs) >= MIN_OBSERVATIONS:
            pvalues[good] = _engle_granger_batch(logs[:, ia[good]].T, logs[:, ib[good]].T)[1]
        return pairs, pvalues
    if fast:  # long windows: pair by pair (the stacked arrays outgrow the caches)
        for i in good:
            pvalues[i] = engle_granger_fast(logs[:, ia[i]], logs[:, ib[i]]).pvalue
        return pairs, pvalues
    for i in good:
        pvalues[i] = engle_granger(logs[:, ia[i]], logs[:, ib[i]]).pvalue
    return pairs, pvalues


def _engle_granger_batch(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(t-statistics, p-values) of :func:`engle_granger_fast` for P pairs at once: ``a`` and ``b``
    (P, T) finite. The same computation, batched: the cointegrating OLS in closed form, one
    stacked QR for the AIC lag search, and one stacked solve per distinct chosen lag."""
    n_pairs, nobs = a.shape
    am, bm = a.mean(axis=1, keepdims=True), b.mean(axis=1, keepdims=True)
    bc = b - bm
    vb = (bc * bc).sum(axis=1)
    beta = np.where(vb > 0, ((a - am) * bc).sum(axis=1) / np.where(vb > 0, vb, 1.0), 0.0)
    e = (a - am) - beta[:, None] * bc
    ssr = (e * e).sum(axis=1)
    tss = ((a - am) ** 2).sum(axis=1)
    collinear = (tss == 0) | (1.0 - ssr / np.where(tss > 0, tss, 1.0) >= 1.0 - 100.0 * math.sqrt(np.finfo(float).eps))
    maxlag = min(nobs // 2 - 1, math.ceil(12.0 * (nobs / 100.0) ** 0.25))
    dx = np.diff(e, axis=1)
    n = dx.shape[1] - maxlag

    def design(lags: int, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        m = dx.shape[1] - lags
        cols = [e[rows, lags:lags + m]] + [dx[rows, lags - i: lags - i + m] for i in range(1, lags + 1)]
        return np.ascontiguousarray(np.stack(cols, axis=2)), dx[rows, lags:]

    X, y = design(maxlag, np.arange(n_pairs))
    q, _ = np.linalg.qr(X)
    qy = np.matmul(y[:, None, :], q)[:, 0, :]
    ssr_k = (y * y).sum(axis=1)[:, None] - np.cumsum(qy * qy, axis=1)          # k = 1 .. maxlag + 1
    aic = n * np.log(np.maximum(ssr_k, 1e-300) / n) + 2.0 * np.arange(1, maxlag + 2)
    best = np.argmin(aic, axis=1)                                              # ties: the fewest lags
    tstat = np.full(n_pairs, -np.inf)
    for lag in np.unique(best[~collinear]):
        rows = np.flatnonzero((best == lag) & ~collinear)
        X, y = design(int(lag), rows)
        xtx = np.einsum("pnk,pnj->pkj", X, X)
        coef = np.linalg.solve(xtx, np.einsum("pnk,pn->pk", X, y)[..., None])[..., 0]
        resid = y - np.einsum("pnk,pk->pn", X, coef)
        s2 = (resid * resid).sum(axis=1) / (X.shape[1] - X.shape[2])
        inv00 = np.linalg.inv(xtx)[:, 0, 0]
        tstat[rows] = coef[:, 0] / np.sqrt(inv00 * s2)
    return tstat, _mackinnon_p2(tstat)


def _mackinnon_p2(tstat: np.ndarray) -> np.ndarray:
    """statsmodels' ``mackinnonp(t, regression="c", N=2)`` for an array of t (its tables, its rule:
    1 above the table's maximum, 0 below its minimum, else the normal CDF of the small-p or
    large-p polynomial on either side of its switch point)."""
    from scipy.stats import norm
    from statsmodels.tsa import adfvalues as av

    t = np.asarray(tstat, dtype=np.float64)
    small = np.polyval(np.asarray(av._tau_smallps["c"][1])[::-1], t)
    large = np.polyval(np.asarray(av._tau_largeps["c"][1])[::-1], t)
    p = norm.cdf(np.where(t <= av._tau_stars["c"][1], small, large))
    p = np.where(t > av._tau_maxs["c"][1], 1.0, p)
    return np.where(t < av._tau_mins["c"][1], 0.0, p)


def select_pairs(log_close: np.ndarray, *, fdr: float = 0.05, max_pairs: int = 5,
                 pvalues: np.ndarray | None = None, fast: bool = True) -> list[SelectedPair]:
    """The pairs of ``log_close`` (T, N) cointegrated at false discovery rate ``fdr``
    (:func:`benjamini_hochberg` over all N (N - 1) / 2 tests), at most ``max_pairs`` of them, the
    lowest p-values first. ``pvalues`` may be passed precomputed (e.g. from Ray tasks) in the
    order of :func:`cointegration_pvalues`."""
    pairs = list(combinations(range(log_close.shape[1]), 2))
    if pvalues is None:
        pairs, pvalues = cointegration_pvalues(log_close, fast=fast)
    chosen = np.flatnonzero(benjamini_hochberg(pvalues, fdr))
    chosen = chosen[np.argsort(pvalues[chosen], kind="stable")][:max_pairs]
    out = []
    for i in chosen:
        a, b = pairs[i]
        beta, _, _ = _hedge(log_close[:, a], log_close[:, b])
        out.append(SelectedPair(a, b, float(pvalues[i]), beta))
    return out


def rolling_hedge(log_a: np.ndarray, log_b: np.ndarray, window: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Rolling OLS of A on B over the ``window`` bars ending at each bar: (alpha, beta, z), z_t the
    bar's residual a_t - alpha_t - beta_t b_t over the residuals' standard deviation (ddof 2) in
    that window. NaN before ``window`` bars exist or where B does not move."""
    a = np.asarray(log_a, dtype=np.float64)
    b = np.asarray(log_b, dtype=np.float64)
    n = len(a)
    alpha, beta, z = (np.full(n, np.nan) for _ in range(3))
    if window < 3 or n < window:
        return alpha, beta, z

    sa, sb, sab, sbb, saa = (rolling_sum(x, window) for x in (a, b, a * b, b * b, a * a))
    with np.errstate(divide="ignore", invalid="ignore"):
        vb = sbb - sb * sb / window
        cov = sab - sa * sb / window
        bt = np.where(vb > 1e-14 * np.maximum(sbb, 1.0), cov / vb, np.nan)
        al = (sa - bt * sb) / window
        ssr = np.maximum((saa - sa * sa / window) - bt * cov, 0.0)
        sd = np.sqrt(ssr / (window - 2))
        e = a[window - 1:] - al - bt * b[window - 1:]
        zz = np.where(sd > 0, e / sd, np.nan)
    alpha[window - 1:], beta[window - 1:], z[window - 1:] = al, bt, zz
    return alpha, beta, z


def kalman_hedge(log_a: np.ndarray, log_b: np.ndarray, *, delta: float = 1e-4, obs_var: float = 1e-3,
                 burn_in: int = 30) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A Kalman filter of (alpha, beta) as a random walk (state noise delta / (1 - delta) times
    the identity), observing a_t = alpha + beta b_t + noise of variance ``obs_var``: (alpha, beta,
    z), alpha and beta the estimates before seeing bar t (so z uses no future), z_t the
    innovation over its predicted standard deviation. NaN for the first ``burn_in`` bars."""
    a = np.asarray(log_a, dtype=np.float64)
    b = np.asarray(log_b, dtype=np.float64)
    return _kalman(a, b, delta / (1.0 - delta), obs_var, burn_in)


@nb.njit(cache=True)
def _kalman(a, b, wvar, vvar, burn_in):
    n = len(a)
    alpha = np.full(n, np.nan)
    beta = np.full(n, np.nan)
    z = np.full(n, np.nan)
    th0, th1 = 0.0, 0.0
    p00, p01, p11 = 1.0, 0.0, 1.0   # a vague prior
    for t in range(n):
        p00 += wvar
        p11 += wvar
        x1 = b[t]
        pred = th0 + th1 * x1
        e = a[t] - pred
        s = p00 + 2.0 * p01 * x1 + p11 * x1 * x1 + vvar
        if t >= burn_in:
            alpha[t] = th0
            beta[t] = th1
            z[t] = e / np.sqrt(s)
        k0 = (p00 + p01 * x1) / s
        k1 = (p01 + p11 * x1) / s
        th0 += k0 * e
        th1 += k1 * e
        q00 = p00 - k0 * (p00 + p01 * x1)
        q01 = p01 - k0 * (p01 + p11 * x1)
        q11 = p11 - k1 * (p01 + p11 * x1)
        p00, p01, p11 = q00, q01, q11
    return alpha, beta, z


@nb.njit(cache=True)
def pair_positions(z, entry, exit_, stop):
    """The spread position (+1 long A / short B, -1 short A / long B, 0 flat) at each bar's close
    from the z-score path ``z``:

    - flat: enter short when entry < z <= stop, long when -stop <= z < -entry;
    - in a trade: exit when |z| <= ``exit_`` (the spread came back), stop out when |z| > ``stop``
      (it ran away: the pair may have broken); after a stop, no new entry until |z| < ``entry``;
    - a NaN z (warm-up, a missing price) closes any trade and enters none.
    """
    n = len(z)
    out = np.zeros(n)
    pos = 0.0
    armed = True
    for t in range(n):
        x = z[t]
        if not np.isfinite(x):
            pos = 0.0
        elif pos != 0.0:
            if abs(x) > stop:
                pos = 0.0
                armed = False
            elif abs(x) <= exit_:
                pos = 0.0
        if np.isfinite(x) and pos == 0.0:
            if not armed and abs(x) < entry:
                armed = True
            if armed and entry < abs(x) <= stop:
                pos = -1.0 if x > 0 else 1.0
        out[t] = pos
    return out


def pair_weights(position: np.ndarray, beta: np.ndarray, gross: float) -> tuple[np.ndarray, np.ndarray]:
    """Weights of A and B (T,) from the spread position and the hedge ratio, the ratio fixed at
    each trade's entry: w_A = s g / (1 + |beta|), w_B = -s g beta / (1 + |beta|), s the position,
    g the gross exposure of the pair."""
    wa = np.zeros(len(position))
    wb = np.zeros(len(position))
    held_beta = 0.0
    for t in range(len(position)):
        s = position[t]
        if s != 0.0:
            if t == 0 or position[t - 1] != s:
                held_beta = beta[t]
            if np.isfinite(held_beta):
                wa[t] = s * gross / (1.0 + abs(held_beta))
                wb[t] = -s * gross * held_beta / (1.0 + abs(held_beta))
    return wa, wb


def selection_schedule(n_bars: int, formation: int, reselect: int) -> list[int]:
    """The bars at whose close pairs are (re)selected: formation - 1, then every ``reselect``."""
    return list(range(formation - 1, n_bars, reselect))


class PairsTrading:
    """Pairs trading over the assets it is given, as one market-neutral book.

    Every ``reselect`` bars (first once ``formation`` bars exist), the pairs of the last
    ``formation`` bars cointegrated at false discovery rate ``fdr`` (Engle-Granger,
    Benjamini-Hochberg) are selected, at most ``max_pairs``; each is traded until the next
    selection on its spread's z-score (hedge ratio and z by rolling OLS over ``lookback`` bars, or
    by a Kalman filter with ``kalman`` = 1): enter at |z| > ``entry_z``, exit at |z| <= ``exit_z``,
    stop at |z| > ``stop_z`` (:func:`pair_positions`, run over the whole path, so a pair kept at a
    re-selection keeps its trade, and one selected while its spread is in a trade joins it at the
    hedge ratio of that trade's entry). A pair not re-selected is closed. Each pair
    holds a gross of 1 / ``max_pairs`` of equity. Needs shorts (``allow_short``).
    """

    name: ClassVar[str] = "pairs"
    requires_short: ClassVar[bool] = True
    space: ClassVar[ParameterSpace] = ParameterSpace(
        params=(
            Parameter("lookback", int, 10, 2520, "bars of the rolling hedge ratio and z-score"),
            Parameter("entry_z", float, 0.1, 10.0, "enter when |z| exceeds this"),
            Parameter("exit_z", float, 0.0, 10.0, "exit when |z| falls to this"),
            Parameter("stop_z", float, 0.2, 20.0, "stop out when |z| exceeds this"),
            Parameter("kalman", int, 0, 1, "1: hedge ratio by a Kalman filter, 0: rolling OLS"),
            Parameter("formation", int, 60, 5040, "bars the cointegration tests read"),
            Parameter("reselect", int, 5, 5040, "bars between pair selections"),
            Parameter("fdr", float, 0.001, 0.5, "false discovery rate of the selection"),
            Parameter("max_pairs", int, 1, 50, "most pairs held"),
        ),
        constraint=lambda p: (p["exit_z"] < p["entry_z"]) & (p["entry_z"] < p["stop_z"]),
        constraint_doc="exit_z < entry_z < stop_z",
        defaults={"lookback": 60, "entry_z": 2.0, "exit_z": 0.2, "stop_z": 3.0, "kalman": 0, "formation": 252,
                  "reselect": 63, "fdr": 0.05, "max_pairs": 5},
    )

    def __init__(self, allow_short: bool = False) -> None:
        self.allow_short = allow_short

    def prepare(self, close: np.ndarray, block: ParamBlock) -> dict:
        if not self.allow_short:
            raise ConfigError("strategy pairs sells one leg of each pair short: set allow_short: true")
        logc = np.log(np.asarray(close, dtype=np.float64))
        if logc.ndim != 2 or logc.shape[1] < 2:
            raise ConfigError("strategy pairs needs at least two symbols")
        selections: dict[tuple[int, int, float, int], list[tuple[int, list[SelectedPair]]]] = {}
        tests: dict[tuple[int, int], list[tuple[int, list[tuple[int, int]], np.ndarray]]] = {}
        for f, r, q, m in {(int(f), int(r), float(q), int(m)) for f, r, q, m in
                           zip(block["formation"], block["reselect"], block["fdr"], block["max_pairs"], strict=True)}:
            if (f, r) not in tests:
                tests[(f, r)] = [(d, *cointegration_pvalues(logc[d - f + 1: d + 1]))
                                 for d in selection_schedule(len(logc), f, r)]
            selections[(f, r, q, m)] = [
                (d, select_pairs(logc[d - f + 1: d + 1], fdr=q, max_pairs=m, pvalues=p)) for d, _, p in tests[(f, r)]]
        return {"log": logc, "selections": selections, "hedges": {}}

    def _hedge_z(self, prepared: dict, a: int, b: int, lookback: int, kalman: int) -> tuple[np.ndarray, np.ndarray]:
        key = (a, b, lookback if not kalman else 0, kalman)
        if key not in prepared["hedges"]:
            la, lb = prepared["log"][:, a], prepared["log"][:, b]
            _, beta, z = kalman_hedge(la, lb) if kalman else rolling_hedge(la, lb, lookback)
            prepared["hedges"][key] = (beta, z)
        return prepared["hedges"][key]

    def weights(self, prepared: dict, block: ParamBlock) -> np.ndarray:
        logc = prepared["log"]
        n_bars, n_assets = logc.shape
        out = np.zeros((n_bars, len(block), n_assets))
        for k, row in enumerate(block.rows()):
            key = (int(row["formation"]), int(row["reselect"]), float(row["fdr"]), int(row["max_pairs"]))
            schedule = prepared["selections"][key]
            gross = 1.0 / row["max_pairs"]
            traded: dict[tuple[int, int], tuple[np.ndarray, np.ndarray]] = {}
            for i, (d, chosen) in enumerate(schedule):
                end = schedule[i + 1][0] if i + 1 < len(schedule) else n_bars
                for pair in chosen:
                    if (pair.a, pair.b) not in traded:  # the rule runs on the whole path: a kept pair's trade goes on
                        beta, z = self._hedge_z(prepared, pair.a, pair.b, int(row["lookback"]), int(row["kalman"]))
                        pos = pair_positions(z, row["entry_z"], row["exit_z"], row["stop_z"])
                        traded[(pair.a, pair.b)] = pair_weights(pos, beta, gross)
                    wa, wb = traded[(pair.a, pair.b)]
                    out[d:end, k, pair.a] += wa[d:end]
                    out[d:end, k, pair.b] += wb[d:end]
        return out

    def warmup(self, block: ParamBlock) -> int:
        return int(max(block["formation"].max(), block["lookback"].max()))
