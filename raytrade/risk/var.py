"""Value at risk and expected shortfall (CVaR) by several methods, one result type, and VaR backtests.

Conventions: inputs are simple daily returns (fractions: 0.01 = 1%), of a portfolio (1-D) or of
assets with portfolio ``weights`` (2-D, days x assets; the portfolio's daily return is their
weighted sum). VaR and CVaR are *losses*, positive fractions of the portfolio's value: at
``level`` 0.99, VaR is the loss exceeded on 1% of horizons and CVaR the mean loss over those. A
``horizon`` of h days aggregates h daily returns by summing them (the simple-return approximation;
for parametric methods mean x h and standard deviation x sqrt h).

Methods (:class:`VarResult.method`):

- ``historical``: the losses of the overlapping h-day sums of the history; VaR = the k-th smallest
  loss, k = ceil(n x level) (the order statistic), CVaR = the mean of the losses >= VaR;
- ``normal``: VaR = -(mu_h + z sigma_h), CVaR = -(mu_h - sigma_h phi(z) / (1 - level)),
  z = Phi^-1(1 - level), mu and sigma the sample mean and standard deviation (ddof 1);
- ``cornish_fisher``: the normal quantile corrected for the sample skewness S and excess kurtosis
  K: z_cf = z + (z^2 - 1) S/6 + (z^3 - 3z) K/24 - (2z^3 - 5z) S^2/36; CVaR is the mean of the
  corrected quantile over the tail (a 10,000-point midpoint rule);
- ``monte_carlo_normal``: ``paths`` h-day sums of draws from the multivariate normal with the
  sample mean and covariance of the assets (seeded), then as ``historical``;
- ``bootstrap``: the same with whole days of the history drawn with replacement (keeps the
  assets' joint moves and fat tails, not their time dependence);
- ``fhs``: filtered historical simulation: GARCH(1,1) with a constant mean fitted by the ``arch``
  package to the portfolio's returns, its standardised residuals drawn with replacement and
  scaled by the conditional volatility the model carries forward from the last day, h days a path.

VaR backtests: :func:`kupiec_pof` (the proportion of breaches against 1 - level, a likelihood
ratio with one degree of freedom) and :func:`christoffersen_independence` (whether a breach makes
the next one more likely, a likelihood ratio of a two-state Markov chain against independence).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np
from scipy import stats

from raytrade.core.errors import DataError

Method = Literal["historical", "normal", "cornish_fisher", "monte_carlo_normal", "bootstrap", "fhs"]


@dataclass(frozen=True, slots=True)
class VarResult:
    var: float
    cvar: float
    level: float
    horizon: int
    method: str


def portfolio_returns(returns: np.ndarray, weights: np.ndarray | None = None) -> np.ndarray:
    """The portfolio's daily returns: ``returns`` itself (1-D) or its rows dotted with ``weights``."""
    r = np.asarray(returns, dtype=np.float64)
    if r.ndim == 2:
        if weights is None:
            raise DataError("asset returns (days x assets) need weights", source="var")
        w = np.asarray(weights, dtype=np.float64)
        if w.shape != (r.shape[1],):
            raise DataError(f"weights must have one entry per asset ({r.shape[1]}), got {w.shape}", source="var")
        r = r @ w
    if r.ndim != 1 or len(r) < 10:
        raise DataError("returns must be 1-D (or days x assets) with at least 10 days", source="var")
    if not np.isfinite(r).all():
        raise DataError(f"returns must be finite (day {int(np.argmax(~np.isfinite(r)))})", source="var")
    return r


def _check(level: float, horizon: int) -> None:
    if not 0.5 < level < 1.0:
        raise DataError(f"level must be in (0.5, 1), got {level!r}", source="var")
    if not isinstance(horizon, int) or horizon < 1:
        raise DataError(f"horizon must be a whole number of days >= 1, got {horizon!r}", source="var")


def _from_losses(losses: np.ndarray, level: float) -> tuple[float, float]:
    """(VaR, CVaR) of a sample of losses: the ceil(n level)-th smallest, and the mean at or above it."""
    s = np.sort(losses)
    k = math.ceil(len(s) * level)
    var = float(s[k - 1])
    return var, float(s[s >= var].mean())


def _h_day(r: np.ndarray, horizon: int) -> np.ndarray:
    """Overlapping sums of ``horizon`` consecutive daily returns (the returns themselves for 1)."""
    if horizon == 1:
        return r.copy()
    c = np.concatenate([[0.0], np.cumsum(r)])
    return c[horizon:] - c[:-horizon]


def value_at_risk(returns: np.ndarray, level: float = 0.99, horizon: int = 1, method: Method = "historical", *,
                  weights: np.ndarray | None = None, paths: int = 100_000, seed: int = 0) -> VarResult:
    """VaR and CVaR of the portfolio by ``method`` (see the module)."""
    _check(level, horizon)
    r = portfolio_returns(returns, weights)
    if method == "historical":
        var, cvar = _from_losses(-_h_day(r, horizon), level)
    elif method in ("normal", "cornish_fisher"):
        mu, sd = r.mean() * horizon, r.std(ddof=1) * math.sqrt(horizon)
        z = stats.norm.ppf(1 - level)
        if method == "normal":
            var, cvar = -(mu + z * sd), -(mu - sd * stats.norm.pdf(z) / (1 - level))
        else:
            S, K = stats.skew(r, bias=False), stats.kurtosis(r, bias=False)

            def cf(q: np.ndarray) -> np.ndarray:
                return q + (q**2 - 1) * S / 6 + (q**3 - 3 * q) * K / 24 - (2 * q**3 - 5 * q) * S**2 / 36

            u = (np.arange(10_000) + 0.5) / 10_000 * (1 - level)
            var, cvar = -(mu + cf(np.array(z)) * sd), -(mu + cf(stats.norm.ppf(u)).mean() * sd)
    elif method in ("monte_carlo_normal", "bootstrap"):
        rng = np.random.default_rng(seed)
        a = np.asarray(returns, dtype=np.float64)
        assets, w = (a, np.asarray(weights, dtype=np.float64)) if a.ndim == 2 else (a[:, None], np.ones(1))
        total = np.zeros(paths)
        for _ in range(horizon):
            if method == "bootstrap":
                day = assets[rng.integers(0, len(assets), paths)]
            else:
                cov = np.atleast_2d(np.cov(assets, rowvar=False))
                day = rng.multivariate_normal(assets.mean(axis=0), cov, size=paths, method="cholesky")
            total += day @ w
        var, cvar = _from_losses(-total, level)
    elif method == "fhs":
        var, cvar = _fhs(r, level, horizon, paths, seed)
    else:
        raise DataError(f"unknown method {method!r} (historical, normal, cornish_fisher, monte_carlo_normal, "
                        "bootstrap, fhs)", source="var")
    return VarResult(float(var), float(cvar), level, horizon, method)


def _fhs(r: np.ndarray, level: float, horizon: int, paths: int, seed: int) -> tuple[float, float]:
    from arch import arch_model

    fit = arch_model(r * 100.0, mean="Constant", vol="GARCH", p=1, q=1, dist="normal").fit(disp="off")
    mu, omega, alpha, beta = (float(fit.params[k]) for k in ("mu", "omega", "alpha[1]", "beta[1]"))
    z = np.asarray(fit.std_resid, dtype=np.float64)
    z = z[np.isfinite(z)]
    rng = np.random.default_rng(seed)
    last_var = float(fit.conditional_volatility[-1]) ** 2
    last_eps = float(fit.resid[-1])
    s2 = np.full(paths, omega + alpha * last_eps**2 + beta * last_var)  # tomorrow's variance
    total = np.zeros(paths)
    for _ in range(horizon):
        eps = np.sqrt(s2) * z[rng.integers(0, len(z), paths)]
        total += mu + eps
        s2 = omega + alpha * eps**2 + beta * s2
    return _from_losses(-total / 100.0, level)


def breaches(returns: np.ndarray, var: np.ndarray) -> np.ndarray:
    """Days whose loss exceeded that day's VaR forecast (``var`` positive losses, aligned)."""
    return -np.asarray(returns, dtype=np.float64) > np.asarray(var, dtype=np.float64)


def kupiec_pof(breach: np.ndarray, level: float) -> tuple[float, float]:
    """Kupiec's (1995) proportion-of-failures test: (LR, p-value), LR = -2 ln[(1-p)^(n-x) p^x /
    ((1-x/n)^(n-x) (x/n)^x)], p = 1 - level, x breaches in n days; chi-squared with 1 degree of freedom."""
    b = np.asarray(breach, dtype=bool)
    n, x = len(b), int(b.sum())
    p = 1.0 - level

    def ll(q: float) -> float:
        return (n - x) * math.log(1 - q) if q < 1 else 0.0 if x == n else -math.inf

    obs = x / n
    lr = -2.0 * ((ll(p) + (x * math.log(p) if x else 0.0)) - (ll(obs) + (x * math.log(obs) if x else 0.0)))
    return lr, float(stats.chi2.sf(lr, 1))


def christoffersen_independence(breach: np.ndarray) -> tuple[float, float]:
    """Christoffersen's (1998) independence test: (LR, p-value) of a first-order Markov chain of
    breaches (pi_01 = P(breach | none yesterday), pi_11 = P(breach | breach yesterday)) against
    one breach probability; chi-squared with 1 degree of freedom."""
    b = np.asarray(breach, dtype=bool).astype(int)
    prev, cur = b[:-1], b[1:]
    n00 = int(((prev == 0) & (cur == 0)).sum())
    n01 = int(((prev == 0) & (cur == 1)).sum())
    n10 = int(((prev == 1) & (cur == 0)).sum())
    n11 = int(((prev == 1) & (cur == 1)).sum())

    def xlogy(x: int, y: float) -> float:
        return x * math.log(y) if x else 0.0

    pi01 = n01 / (n00 + n01) if n00 + n01 else 0.0
    pi11 = n11 / (n10 + n11) if n10 + n11 else 0.0
    pi = (n01 + n11) / (n00 + n01 + n10 + n11)
    l_ind = xlogy(n00 + n10, 1 - pi) + xlogy(n01 + n11, pi)
    l_mark = xlogy(n00, 1 - pi01) + xlogy(n01, pi01) + xlogy(n10, 1 - pi11) + xlogy(n11, pi11)
    lr = -2.0 * (l_ind - l_mark)
    return lr, float(stats.chi2.sf(lr, 1))


def correlation_risk(weights: np.ndarray, corr: np.ndarray) -> float:
    """The weighted average pairwise correlation of the positions:
    sum_{i != j} |w_i| |w_j| rho_ij / sum_{i != j} |w_i| |w_j| (0 with fewer than two positions)."""
    w = np.abs(np.asarray(weights, dtype=np.float64))
    c = np.asarray(corr, dtype=np.float64)
    outer = np.outer(w, w)
    np.fill_diagonal(outer, 0.0)
    total = outer.sum()
    return float((outer * c).sum() / total) if total > 0 else 0.0
