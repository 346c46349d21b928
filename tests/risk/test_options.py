"""Black-Scholes-Merton: textbook values, put-call parity, every Greek against finite differences,
limits without NaN, implied volatility round trips and refusals."""

from __future__ import annotations

import numpy as np
import pytest

from raytrade.core.errors import DomainError
from raytrade.risk.options import bs_greeks, bs_price, implied_vol


def test_hull_textbook_values() -> None:
    """Hull, Options, Futures and Other Derivatives: S=42, K=40, r=10%, sigma=20%, six months gives
    a call of 4.76 and a put of 0.81; S=49, K=50, r=5%, sigma=20%, 20 weeks gives a call of 2.40
    with delta 0.522, gamma 0.066, vega 12.1, theta -4.31 a year and rho 8.91."""
    assert bs_price(42, 40, 0.5, 0.10, 0.0, 0.2, "call") == pytest.approx(4.76, abs=0.005)
    assert bs_price(42, 40, 0.5, 0.10, 0.0, 0.2, "put") == pytest.approx(0.81, abs=0.005)
    g = bs_greeks(49, 50, 20 / 52, 0.05, 0.0, 0.2, "call")
    assert g["price"] == pytest.approx(2.40, abs=0.005)
    assert g["delta"] == pytest.approx(0.522, abs=0.0005)
    assert g["gamma"] == pytest.approx(0.066, abs=0.0005)
    assert g["vega"] == pytest.approx(12.1, abs=0.05)
    assert g["theta"] == pytest.approx(-4.31, abs=0.005)
    assert g["rho"] == pytest.approx(8.91, abs=0.005)


def test_put_call_parity_with_a_dividend_yield_over_a_grid() -> None:
    rng = np.random.default_rng(1)
    S, K = rng.uniform(20, 200, 500), rng.uniform(20, 200, 500)
    T, r, q, s = rng.uniform(0.01, 3, 500), rng.uniform(-0.01, 0.1, 500), rng.uniform(0, 0.05, 500), rng.uniform(0.05, 1, 500)
    parity = bs_price(S, K, T, r, q, s, "call") - bs_price(S, K, T, r, q, s, "put")
    np.testing.assert_allclose(parity, S * np.exp(-q * T) - K * np.exp(-r * T), rtol=0, atol=1e-10)
    rights = np.where(rng.random(500) < 0.5, "call", "put")
    mixed = bs_price(S, K, T, r, q, s, rights)
    np.testing.assert_allclose(mixed, np.where(rights == "call", bs_price(S, K, T, r, q, s, "call"),
                                               bs_price(S, K, T, r, q, s, "put")))


@pytest.mark.parametrize("right", ["call", "put"])
def test_every_greek_against_a_central_finite_difference(right: str) -> None:
    S, K, T, r, q, s = 100.0, 95.0, 0.75, 0.03, 0.02, 0.25
    g = bs_greeks(S, K, T, r, q, s, right)

    def p(**kw: float) -> float:
        args = {"S": S, "K": K, "T": T, "r": r, "q": q, "sigma": s} | kw
        return float(bs_price(args["S"], args["K"], args["T"], args["r"], args["q"], args["sigma"], right))

    h = 1e-4
    assert g["delta"] == pytest.approx((p(S=S + h) - p(S=S - h)) / (2 * h), abs=1e-7)
    assert g["gamma"] == pytest.approx((p(S=S + 1e-2) - 2 * p() + p(S=S - 1e-2)) / 1e-4, abs=1e-6)
    assert g["vega"] == pytest.approx((p(sigma=s + h) - p(sigma=s - h)) / (2 * h), abs=1e-6)
    assert g["rho"] == pytest.approx((p(r=r + h) - p(r=r - h)) / (2 * h), abs=1e-6)
    assert g["dividend_rho"] == pytest.approx((p(q=q + h) - p(q=q - h)) / (2 * h), abs=1e-6)
    assert g["theta"] == pytest.approx(-(p(T=T + h) - p(T=T - h)) / (2 * h), abs=1e-6)  # per year of calendar time


def test_limits_at_expiry_zero_volatility_and_far_from_the_money_have_no_nan() -> None:
    S = np.array([80.0, 100.0, 120.0])
    for T, s in ((0.0, 0.3), (1.0, 0.0), (1e-12, 0.3)):
        g = bs_greeks(S, 100.0, T, 0.0, 0.0, s, "call")
        for v in g.values():
            assert np.isfinite(v).all()
        np.testing.assert_allclose(g["price"], np.maximum(S - 100.0, 0.0), atol=1e-4)  # ATM: 0.4 S sigma sqrt T
        assert g["delta"][0] == 0.0 and g["delta"][2] == 1.0 and (g["gamma"][[0, 2]] == 0).all()
    deep = bs_greeks([1.0, 1e6], 100.0, 1.0, 0.05, 0.0, 0.2, "put")
    assert np.isfinite(list(deep.values())).all()
    assert deep["price"][0] == pytest.approx(100 * np.exp(-0.05) - 1.0) and deep["price"][1] == 0.0
    assert deep["delta"][0] == pytest.approx(-1.0) and deep["delta"][1] == 0.0
    # discounted forward intrinsic at zero volatility with carry
    assert bs_price(100.0, 100.0, 1.0, 0.05, 0.0, 0.0, "call") == pytest.approx(100 - 100 * np.exp(-0.05))


def test_implied_volatility_round_trips_within_1e_8_across_a_grid() -> None:
    rng = np.random.default_rng(5)
    n = 20_000
    S, K = np.full(n, 100.0), rng.uniform(60, 140, n)
    T, r, q = rng.uniform(0.05, 2.0, n), rng.uniform(0.0, 0.06, n), rng.uniform(0.0, 0.03, n)
    s = rng.uniform(0.05, 1.0, n)
    right = np.where(rng.random(n) < 0.5, "call", "put")
    g = bs_greeks(S, K, T, r, q, s, right)
    keep = g["vega"] > 2e-3  # where the price pins the volatility down to 1e-8 (others are refused: below)
    iv = implied_vol(g["price"][keep], S[keep], K[keep], T[keep], r[keep], q[keep], right[keep])
    assert np.abs(iv - s[keep]).max() < 1e-8 and keep.mean() > 0.95


def test_implied_volatility_refuses_what_it_cannot_answer_naming_the_row() -> None:
    with pytest.raises(DomainError, match="row 1 is outside the no-arbitrage bounds"):
        implied_vol([10.0, 0.5], 100.0, [95.0, 80.0], 1.0, 0.0, 0.0, "call")  # below intrinsic 20
    with pytest.raises(DomainError, match="row 0 is outside"):
        implied_vol(101.0, 100.0, 100.0, 1.0, 0.0, 0.0, "call")  # above the spot
    deep = float(bs_price(100.0, 10.0, 0.1, 0.0, 0.0, 0.2, "call"))  # vega ~ 0: any low vol fits
    with pytest.raises(DomainError, match="row 0"):
        implied_vol(deep, 100.0, 10.0, 0.1, 0.0, 0.0, "call")
    with pytest.raises(DomainError, match="right must be 'call' or 'put'"):
        bs_price(1.0, 1.0, 1.0, 0.0, 0.0, 0.2, "straddle")
    with pytest.raises(DomainError, match="S must be finite and > 0"):
        bs_price([1.0, -1.0], 1.0, 1.0, 0.0, 0.0, 0.2, "call")
