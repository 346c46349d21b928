"""VaR and CVaR by hand and against each other; Kupiec and Christoffersen by hand; a VaR backtest
on the bundled data."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from raytrade.core.errors import DataError
from raytrade.data import load_prices
from raytrade.risk.var import (
    breaches,
    christoffersen_independence,
    correlation_risk,
    kupiec_pof,
    value_at_risk,
)

R20 = np.array([0.01, -0.02, 0.005, -0.035, 0.012, -0.001, 0.02, -0.05, 0.003, 0.0,
                0.007, -0.012, 0.015, -0.008, 0.004, -0.025, 0.009, 0.011, -0.004, 0.006])


def test_historical_by_hand() -> None:
    # losses sorted: the 90% VaR is the ceil(20 x 0.9) = 18th smallest, here 0.025; CVaR the mean of the top three
    r = value_at_risk(R20, 0.9)
    assert (r.var, r.method, r.horizon) == (0.025, "historical", 1)
    assert r.cvar == pytest.approx((0.025 + 0.035 + 0.05) / 3)
    two = value_at_risk(R20, 0.9, horizon=2)  # 19 overlapping two-day sums
    sums = R20[1:] + R20[:-1]
    assert two.var == pytest.approx(np.sort(-sums)[math.ceil(19 * 0.9) - 1])


def test_normal_and_cornish_fisher_by_hand() -> None:
    mu, sd = R20.mean(), R20.std(ddof=1)
    z = stats.norm.ppf(0.01)
    r = value_at_risk(R20, 0.99, method="normal")
    assert r.var == pytest.approx(-(mu + z * sd)) and r.cvar == pytest.approx(-(mu - sd * stats.norm.pdf(z) / 0.01))
    ten = value_at_risk(R20, 0.99, horizon=10, method="normal")
    assert ten.var == pytest.approx(-(10 * mu + z * sd * math.sqrt(10)))
    # with no skew and no excess kurtosis Cornish-Fisher is the normal quantile
    sym = np.concatenate([R20 - R20.mean(), -(R20 - R20.mean())])
    cf, nm = value_at_risk(sym, 0.99, method="cornish_fisher"), value_at_risk(sym, 0.99, method="normal")
    S, K = stats.skew(sym, bias=False), stats.kurtosis(sym, bias=False)
    assert abs(S) < 1e-12
    zc = z + (z**3 - 3 * z) * K / 24
    assert cf.var == pytest.approx(-(sym.mean() + zc * sym.std(ddof=1))) and cf.var != pytest.approx(nm.var)


def test_simulation_methods_agree_with_the_closed_forms() -> None:
    rng = np.random.default_rng(0)
    cov = np.array([[1.0, 0.6], [0.6, 2.0]]) * 1e-4
    assets = rng.multivariate_normal([0.0005, 0.0002], cov, size=3000)
    w = np.array([0.7, 0.3])
    nm = value_at_risk(assets, 0.99, weights=w, method="normal")
    mc = value_at_risk(assets, 0.99, weights=w, method="monte_carlo_normal", paths=200_000, seed=1)
    assert mc.var == pytest.approx(nm.var, rel=0.02) and mc.cvar == pytest.approx(nm.cvar, rel=0.02)
    hist, boot = value_at_risk(assets, 0.99, weights=w), value_at_risk(assets, 0.99, weights=w, method="bootstrap")
    assert boot.var == pytest.approx(hist.var, rel=0.05)
    mc10 = value_at_risk(assets, 0.99, 10, "monte_carlo_normal", weights=w, paths=100_000)
    assert mc10.var == pytest.approx(value_at_risk(assets, 0.99, 10, "normal", weights=w).var, rel=0.03)


def test_filtered_historical_simulation_follows_the_volatility_of_the_moment() -> None:
    ko = load_prices(["KO"])["KO"]
    r = ko.pct_change().dropna()
    calm = r.loc["2015-01-01":"2017-06-30"].to_numpy()
    storm = r.loc["2006-01-01":"2008-10-15"].to_numpy()  # ends in the 2008 crash
    c, s = value_at_risk(calm, 0.99, method="fhs", paths=20_000), value_at_risk(storm, 0.99, method="fhs", paths=20_000)
    assert 0 < c.var < c.cvar and s.var > 2 * c.var  # the model carries the crash's volatility forward
    assert value_at_risk(storm, 0.99, 10, "fhs", paths=20_000).var > s.var


def test_kupiec_and_christoffersen_by_hand() -> None:
    b = np.zeros(250, dtype=bool)
    b[[10, 60, 110, 160, 210]] = True                     # 5 breaches, 2% against 1% expected
    lr, p = kupiec_pof(b, 0.99)
    want = -2 * (245 * math.log(0.99) + 5 * math.log(0.01) - 245 * math.log(0.98) - 5 * math.log(0.02))
    assert lr == pytest.approx(want) and p == pytest.approx(stats.chi2.sf(want, 1))
    assert kupiec_pof(np.zeros(250, dtype=bool), 0.99)[0] == pytest.approx(-2 * 250 * math.log(0.99))
    clustered = np.zeros(250, dtype=bool)
    clustered[[100, 101, 102, 103, 104]] = True            # the same count, all together
    lr_i, p_i = christoffersen_independence(clustered)
    n00, n01, n10, n11 = 243, 1, 1, 4  # 249 transitions: into the run, within it (4), out of it
    pi01, pi11, pi = 1 / 244, 4 / 5, 5 / 249
    want = -2 * ((n00 + n10) * math.log(1 - pi) + (n01 + n11) * math.log(pi)
                 - (n00 * math.log(1 - pi01) + n01 * math.log(pi01) + n10 * math.log(1 - pi11) + n11 * math.log(pi11)))
    assert lr_i == pytest.approx(want) and p_i < 0.001
    assert christoffersen_independence(b)[1] > 0.5        # spread out: no sign of dependence


def test_a_rolling_var_backtest_on_the_bundled_data() -> None:
    """One-day 99% VaR of an equal-weight book of the 20 stocks, re-estimated each day from the
    previous 500 days (historical and normal), 2005-2012: breaches counted and tested."""
    px = load_prices(start="2003-01-01", end="2012-12-31")
    r = (px.pct_change().dropna() @ np.full(20, 1 / 20)).to_numpy()
    window = 500
    for method in ("historical", "normal"):
        v = np.array([value_at_risk(r[t - window:t], 0.99, method=method).var for t in range(window, len(r))])
        b = breaches(r[window:], v)
        lr, p = kupiec_pof(b, 0.99)
        assert b.sum() > 0 and np.isfinite(lr)
        if method == "normal":  # fat tails and 2008: too many breaches for a normal model
            assert b.mean() > 0.01 and p < 0.05


def test_correlation_risk_and_bad_input() -> None:
    corr = np.array([[1.0, 0.5, 0.1], [0.5, 1.0, 0.3], [0.1, 0.3, 1.0]])
    w = np.array([0.5, -0.3, 0.2])
    pairs = 0.5 * 0.3 * 0.5 + 0.5 * 0.2 * 0.1 + 0.3 * 0.2 * 0.3
    assert correlation_risk(w, corr) == pytest.approx(pairs / (0.5 * 0.3 + 0.5 * 0.2 + 0.3 * 0.2))
    assert correlation_risk([1.0, 0, 0], corr) == 0.0
    with pytest.raises(DataError, match="level"):
        value_at_risk(R20, 1.2)
    with pytest.raises(DataError, match="weights"):
        value_at_risk(np.ones((20, 2)) * 0.01)
    with pytest.raises(DataError, match="unknown method"):
        value_at_risk(R20, method="magic")  # type: ignore[arg-type]
