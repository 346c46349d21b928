"""Execution algorithms: Almgren-Chriss against its closed form, an independent numerical
optimisation and the paper's figure; whole-lot slicing; TWAP, VWAP and POV by hand."""

from __future__ import annotations

import itertools
import math
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.optimize import minimize

from raytrade.core.errors import ConfigError
from raytrade.execution.algorithms import (
    ALGORITHMS,
    ParentSpec,
    almgren_chriss_trajectory,
    crypto_volume_profile,
    make_algorithm,
    u_shape_profile,
    whole_lot_slices,
)
from raytrade.execution.algorithms.almgren_chriss import ac_kappa, lam_for_kappa

T0 = datetime(2024, 3, 4, 14, 30, tzinfo=UTC)  # 09:30 New York


def parent(qty: float = 10_000, hours: float = 6.5, lot: float = 1.0, urgency: float = 0.5) -> ParentSpec:
    return ParentSpec(qty, lot, T0, T0 + timedelta(hours=hours), urgency)


def test_the_registry_has_the_four_algorithms_under_their_public_names() -> None:
    assert set(ALGORITHMS) == {"twap", "vwap", "pov", "almgren_chriss"}
    with pytest.raises(ConfigError, match="unknown algorithm 'iceberg'"):
        make_algorithm("iceberg", parent())
    with pytest.raises(ConfigError, match=r"exec_algorithm\.params"):
        make_algorithm("twap", parent(), {"slicez": 3})


def test_almgren_chriss_is_the_sinh_closed_form_with_kappa_from_the_discrete_equation() -> None:
    X, T, N, sigma, eta, gamma, lam = 1e6, 5.0, 5, 0.95, 2.5e-6, 2.5e-7, 2e-6
    x = almgren_chriss_trajectory(X, T, N, sigma, eta, gamma, lam)
    tau = T / N
    eta_tilde = eta - gamma * tau / 2
    kappa = math.acosh(1 + lam * sigma**2 * tau**2 / (2 * eta_tilde)) / tau
    want = [X * math.sinh(kappa * (T - j * tau)) / math.sinh(kappa * T) for j in range(N + 1)]
    np.testing.assert_allclose(x, want, rtol=1e-12, atol=1e-6)
    assert x[0] == X and x[-1] == 0.0 and len(x) == N + 1
    # the discrete optimality condition: x_{j-1} + x_{j+1} = (2 + lam sigma^2 tau^2 / eta_tilde) x_j
    for j in range(1, N):
        assert x[j - 1] + x[j + 1] == pytest.approx((2 + lam * sigma**2 * tau**2 / eta_tilde) * x[j], rel=1e-10)


def test_the_paper_example_kappa_is_about_0_6_per_day() -> None:
    """Almgren and Chriss (2000), section 4's example: X = 10^6, T = 5 days, N = 5, sigma = 0.95,
    eta = 2.5e-6, gamma = 2.5e-7; lambda = 1e-6 gives kappa ~ 0.6 / day."""
    kappa = ac_kappa(5.0, 5, 0.95, 2.5e-6, 2.5e-7, 1e-6)
    assert kappa == pytest.approx(0.60, abs=0.01)
    assert lam_for_kappa(kappa, 5.0, 5, 0.95, 2.5e-6, 2.5e-7) == pytest.approx(1e-6, rel=1e-10)


@settings(max_examples=30, deadline=None)
@given(st.integers(2, 12), st.floats(1e-8, 1e-5), st.floats(0.1, 3.0), st.floats(0.0, 0.5))
def test_the_trajectory_minimises_expected_cost_plus_lambda_variance(N: int, lam: float, sigma: float,
                                                                     gamma_frac: float) -> None:
    """Independent of the closed form: minimise E + lam V numerically over x_1..x_{N-1} with
    E = gamma X^2 / 2 + (eta_tilde / tau) sum n_j^2 and V = sigma^2 tau sum x_j^2 (the paper's
    definitions, n_j = x_{j-1} - x_j)."""
    X, T, eta = 1e5, 1.0, 2.5e-6
    tau = T / N
    gamma = gamma_frac * 2 * eta / tau  # keeps eta_tilde > 0
    eta_tilde = eta - gamma * tau / 2

    # E and V in shares scale as X^2: minimise (E + lam V) / X^2 over x / X, the same minimiser
    def scaled(inner: np.ndarray) -> float:
        x = np.concatenate([[1.0], inner, [0.0]])
        n = -np.diff(x)
        return float((eta_tilde / tau) * (n**2).sum() + lam * sigma**2 * tau * (x[1:] ** 2).sum())

    res = minimize(scaled, np.linspace(1, 0, N + 1)[1:-1], method="BFGS", options={"gtol": 1e-14})
    want = np.concatenate([[X], res.x * X, [0.0]])
    got = almgren_chriss_trajectory(X, T, N, sigma, eta, gamma, lam)
    np.testing.assert_allclose(got, want, rtol=0, atol=X * 1e-5)


def test_lambda_zero_is_twap_and_a_larger_lambda_trades_sooner() -> None:
    line = almgren_chriss_trajectory(1000, 1.0, 10, 0.3, 1e-4, 0.0, 0.0)
    np.testing.assert_allclose(line, np.linspace(1000, 0, 11), atol=1e-9)
    firsts = [almgren_chriss_trajectory(1000, 1.0, 10, 0.3, 1e-4, 0.0, lam)[1] for lam in (1e-4, 1e-3, 1e-2, 1e-1)]
    assert all(a > b for a, b in itertools.pairwise(firsts)) and firsts[0] < 900
    huge = almgren_chriss_trajectory(1000, 1.0, 10, 1.0, 1e-4, 0.0, 1e12)  # sinh would overflow
    assert np.isfinite(huge).all() and huge[0] == 1000 and huge[1] < 1e-6 and huge[-1] == 0
    with pytest.raises(ConfigError, match="eta - gamma tau / 2"):
        almgren_chriss_trajectory(1000, 1.0, 10, 0.3, 1e-4, 1e-2, 1e-3)


@settings(max_examples=200, deadline=None)
@given(st.integers(0, 10**7), st.lists(st.floats(0.0, 10.0), min_size=1, max_size=50))
def test_whole_lot_slices_sum_exactly_to_the_parent(total: int, weights: list[float]) -> None:
    w = np.asarray(weights) + 1e-3
    cum = np.cumsum(w) / w.sum()
    slices = whole_lot_slices(cum, total)
    assert slices.sum() == total and (slices >= 0).all() and slices.dtype.kind == "i"
    # never more than half a lot from the exact running share
    assert np.abs(np.cumsum(slices) - cum * total).max() <= 0.5 + 1e-9


def test_twap_slices_equally_on_the_clock_and_randomises_reproducibly() -> None:
    p = parent(1003, hours=1)
    twap = make_algorithm("twap", p, {"slices": 4})
    # running shares 250.75, 501.5, 752.25, 1003 rounded (half to even): 251, 502, 752, 1003
    assert [(t.isoformat(), q) for t, q in twap.schedule()] == [
        ("2024-03-04T14:30:00+00:00", 251.0), ("2024-03-04T14:45:00+00:00", 251.0),
        ("2024-03-04T15:00:00+00:00", 250.0), ("2024-03-04T15:15:00+00:00", 251.0)]
    assert twap.target(T0 - timedelta(seconds=1)) == 0 and twap.target(T0) == 251
    assert twap.target(T0 + timedelta(minutes=14)) == 251 and twap.target(T0 + timedelta(minutes=15)) == 502
    assert twap.target(p.end) == 1003
    a = make_algorithm("twap", p, {"slices": 8, "randomize": 0.5, "seed": 7}).schedule()
    b = make_algorithm("twap", p, {"slices": 8, "randomize": 0.5, "seed": 7}).schedule()
    assert a == b and sum(q for _, q in a) == 1003 and len({q for _, q in a}) > 2


def test_vwap_follows_the_profile_and_the_default_u_shape() -> None:
    u = u_shape_profile(78)
    assert u.sum() == pytest.approx(1) and u[0] / u[39] == pytest.approx(3.0, rel=0.05) and u[0] == u[-1]
    p = parent(78_000, hours=6.5)  # the whole 09:30-16:00 session
    vwap = make_algorithm("vwap", p, {"slices": 78})
    sizes = np.array([q for _, q in vwap.schedule()])
    np.testing.assert_allclose(sizes, u * 78_000, rtol=0, atol=1.0)  # each within a lot; running sums within half
    half = make_algorithm("vwap", parent(1000, hours=13), {"slices": 2})  # a session and the night after
    assert [q for _, q in half.schedule()] == [1000.0]  # the second half has no volume
    flat = make_algorithm("vwap", p, {"slices": 2, "profile": [1, 1, 1, 1]})
    assert [q for _, q in flat.schedule()] == [39_000.0, 39_000.0]
    with pytest.raises(ConfigError, match="profile"):
        make_algorithm("vwap", p, {"profile": [0, 0]})


def test_the_crypto_profile_is_estimated_from_the_bundled_bars_around_the_clock() -> None:
    prof = crypto_volume_profile()
    assert prof.shape == (288,) and prof.sum() == pytest.approx(1) and (prof > 0).all()
    hourly = crypto_volume_profile(24)
    np.testing.assert_allclose(hourly, prof.reshape(24, 12).sum(axis=1), rtol=1e-9)
    day = ParentSpec(2880, 1.0, datetime(2018, 1, 15, tzinfo=UTC), datetime(2018, 1, 16, tzinfo=UTC))
    vwap = make_algorithm("vwap", day, {"slices": 24, "day": "utc"})
    np.testing.assert_allclose([q for _, q in vwap.schedule()], hourly * 2880, rtol=0, atol=1.0)


def test_pov_follows_the_market_volume_in_whole_lots_and_finishes_at_the_end() -> None:
    p = parent(1000, hours=1, lot=10)
    pov = make_algorithm("pov", p, {"rate": 0.1})
    assert pov.target(T0 + timedelta(minutes=5), market_volume=1234) == 120  # floor(123.4 / 10) lots
    assert pov.target(T0 + timedelta(minutes=50), market_volume=1e6) == 1000
    assert pov.target(p.end, market_volume=0) == 1000
    lazy = make_algorithm("pov", p, {"rate": 0.5, "max_rate": 0.2, "finish": False})
    assert lazy.target(p.end, market_volume=3000) == 600  # capped at 20%, the rest left undone


def test_a_parent_that_is_not_whole_lots_or_a_backwards_horizon_is_refused() -> None:
    with pytest.raises(ConfigError, match="whole number of lots"):
        ParentSpec(105, 10, T0, T0 + timedelta(hours=1))
    with pytest.raises(ConfigError, match="end after it starts"):
        ParentSpec(100, 1, T0, T0)
    with pytest.raises(ConfigError, match="urgency"):
        ParentSpec(100, 1, T0, T0 + timedelta(hours=1), urgency=1.5)


def test_vwap_weights_equal_the_day_by_day_walk_of_the_profile() -> None:
    """The vectorised cumulative profile mass equals summing the profile day by day between each
    pair of slice times (the rule as written in VWAP._mass), over nights, weekends and both days."""
    from datetime import UTC, datetime, timedelta

    import numpy as np

    from raytrade.execution.algorithms import ParentSpec, make_algorithm

    rng = np.random.default_rng(1)
    for i in range(300):
        st = datetime(2024, 3, 1, tzinfo=UTC) + timedelta(minutes=float(rng.uniform(0, 60 * 24 * 10)))
        en = st + timedelta(minutes=float(rng.uniform(5, 60 * 24 * 4)))
        a = make_algorithm("vwap", ParentSpec(1e6, 1, st, en), {"slices": int(rng.integers(1, 50)),
                                                                "day": ["xnys", "utc"][i % 2]})
        walked = np.array([a._mass(x, y) for x, y in zip(a.times, [*a.times[1:], en], strict=True)])  # type: ignore[attr-defined]
        if walked.sum() > 0:
            np.testing.assert_allclose(a.weights, walked / walked.sum(), atol=1e-9)  # type: ignore[attr-defined]


def test_pov_caps_its_rate_by_the_liquidity_score_by_default() -> None:
    from datetime import UTC, datetime, timedelta

    import pytest

    from raytrade.core.errors import ConfigError
    from raytrade.execution.algorithms import ParentSpec, make_algorithm
    from raytrade.execution.impact import liquidity_score

    t0 = datetime(2024, 3, 4, 15, tzinfo=UTC)
    spec = ParentSpec(10_000, 1, t0, t0 + timedelta(hours=1))
    illiquid = liquidity_score(spread=0.01, sigma=0.04, adv_notional=2e6)  # 50 bp half spread + 283 bp impact for $1M: ~0.03
    assert make_algorithm("pov", spec, {"rate": 0.3, "liquidity": illiquid}).rate == pytest.approx(0.05 + 0.2 * illiquid)
    assert make_algorithm("pov", spec, {"rate": 0.3, "liquidity": 1.0}).rate == pytest.approx(0.25)
    assert make_algorithm("pov", spec, {"rate": 0.3}).rate == 0.25
    assert make_algorithm("pov", spec, {"rate": 0.3, "max_rate": 0.5, "liquidity": 0.0}).rate == 0.3
    with pytest.raises(ConfigError, match=r"pov\.liquidity must be a score in \[0, 1\]"):
        make_algorithm("pov", spec, {"liquidity": 2})
