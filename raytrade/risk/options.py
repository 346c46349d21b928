"""Black-Scholes-Merton prices, Greeks and implied volatility of European options, vectorised.

Inputs broadcast as numpy arrays of any shape: spot ``S`` and strike ``K`` (currency), time to
expiry ``T`` in years of calendar time, continuously compounded rate ``r`` and dividend yield
``q`` (fractions a year), volatility ``sigma`` (a fraction a year, e.g. 0.2), ``right`` "call" or
"put" (or an array of them). With d1 = (ln(S/K) + (r - q + sigma^2/2) T) / (sigma sqrt T),
d2 = d1 - sigma sqrt T, N the normal distribution function and n its density:

    call = S e^-qT N(d1) - K e^-rT N(d2)          put = K e^-rT N(-d2) - S e^-qT N(-d1)

Greeks (:func:`bs_greeks`), with these units: ``delta`` dV/dS; ``gamma`` d2V/dS2; ``vega`` dV/dsigma
per 1.00 of volatility (divide by 100 for a volatility point); ``theta`` dV/dt per year of calendar
time, t the calendar date (= -dV/dT: a long option's theta is usually negative; divide by 365 for
a day); ``rho`` dV/dr per 1.00 of rate; ``dividend_rho`` dV/dq per 1.00 of yield.

Limits: when sigma sqrt T is 0 (expiry, or no volatility) the option is worth its discounted
forward intrinsic value, max(+-(S e^-qT - K e^-rT), 0), delta is e^-qT (or 0, or -e^-qT) by
moneyness, and gamma and vega are 0 (at the forward's exact money a kink: reported as 0, never
NaN). Deep in or out of the money the values are the limits the formulas reach in floating point.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy.special import ndtr

from raytrade.core.errors import DomainError

SQRT_2PI = np.sqrt(2.0 * np.pi)
ArrayLike = Any


def _is_call(right: ArrayLike) -> np.ndarray:
    r = np.asarray(right)
    if r.dtype.kind == "b":  # already decided: True for calls
        return r
    if r.dtype.kind not in "UO":
        raise DomainError(f"right must be 'call' or 'put', got {right!r}")
    call, put = r == "call", r == "put"
    bad = ~(call | put)
    if bad.any():
        raise DomainError(f"right must be 'call' or 'put', got {r[bad].flat[0]!r} (row {int(np.argmax(bad.ravel()))})")
    return np.asarray(call)


def _inputs(S: ArrayLike, K: ArrayLike, T: ArrayLike, r: ArrayLike, q: ArrayLike, sigma: ArrayLike,
            right: ArrayLike) -> tuple[np.ndarray, ...]:
    arrays = [np.asarray(x, dtype=np.float64) for x in (S, K, T, r, q, sigma)]
    call = _is_call(right)
    arrays = list(np.broadcast_arrays(*arrays, call))
    S_, K_, T_, r_, q_, s_, c_ = arrays
    for name, a, low in (("S", S_, 0.0), ("K", K_, 0.0)):
        if not np.isfinite(a).all() or (a <= low).any():
            raise DomainError(f"{name} must be finite and > 0 (row {int(np.argmax(~(np.isfinite(a) & (a > 0))))})")
    for name, a in (("T", T_), ("sigma", s_)):
        if not np.isfinite(a).all() or (a < 0).any():
            raise DomainError(f"{name} must be finite and >= 0 (row {int(np.argmax(~(np.isfinite(a) & (a >= 0))))})")
    for name, a in (("r", r_), ("q", q_)):
        if not np.isfinite(a).all():
            raise DomainError(f"{name} must be finite (row {int(np.argmax(~np.isfinite(a)))})")
    return S_, K_, T_, r_, q_, s_, c_.astype(bool)


def _core(S: np.ndarray, K: np.ndarray, T: np.ndarray, r: np.ndarray, q: np.ndarray, sigma: np.ndarray,
          call: np.ndarray) -> dict[str, np.ndarray]:
    sq = np.sqrt(T)
    vol = sigma * sq
    dq, dr = np.exp(-q * T), np.exp(-r * T)
    fwd_s, pv_k = S * dq, K * dr
    live = vol > 0
    safe = np.where(live, vol, 1.0)
    d1 = np.where(live, (np.log(S / K) + (r - q) * T) / safe + 0.5 * safe, 0.0)
    d2 = d1 - np.where(live, vol, 0.0)
    # at sigma sqrt T = 0 the normal terms become indicators of the forward's moneyness
    itm = fwd_s > pv_k
    n1 = np.where(live, ndtr(d1), itm.astype(float))
    n2 = np.where(live, ndtr(d2), itm.astype(float))
    pdf = np.where(live, np.exp(-0.5 * d1 * d1) / SQRT_2PI, 0.0)
    sign = np.where(call, 1.0, -1.0)
    p1 = np.where(call, n1, n1 - 1.0)   # N(d1) or -N(-d1)
    p2 = np.where(call, n2, n2 - 1.0)   # N(d2) or -N(-d2)
    price = np.maximum(fwd_s * p1 - pv_k * p2, 0.0)
    price = np.where(live, price, np.maximum(sign * (fwd_s - pv_k), 0.0))
    return {"sq": sq, "safe": safe, "live": live, "dq": dq, "dr": dr, "fwd_s": fwd_s, "pv_k": pv_k,
            "p1": p1, "p2": p2, "pdf": pdf, "price": price}


def _price_vega(S: np.ndarray, K: np.ndarray, T: np.ndarray, r: np.ndarray, q: np.ndarray, sigma: np.ndarray,
                call: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Price and vega of validated arrays with sigma sqrt T > 0 (the implied-volatility loop)."""
    sq = np.sqrt(T)
    vol = sigma * sq
    fwd_s, pv_k = S * np.exp(-q * T), K * np.exp(-r * T)
    d1 = np.log(fwd_s / pv_k) / vol + 0.5 * vol
    d2 = d1 - vol
    sign = np.where(call, 1.0, -1.0)
    price = sign * (fwd_s * ndtr(sign * d1) - pv_k * ndtr(sign * d2))
    vega = fwd_s * np.exp(-0.5 * d1 * d1) / SQRT_2PI * sq
    return price, vega


def bs_price(S: ArrayLike, K: ArrayLike, T: ArrayLike, r: ArrayLike, q: ArrayLike, sigma: ArrayLike,
             right: ArrayLike) -> np.ndarray:
    """Black-Scholes-Merton price (see the module), broadcast over the inputs."""
    return _core(*_inputs(S, K, T, r, q, sigma, right))["price"]


def bs_greeks(S: ArrayLike, K: ArrayLike, T: ArrayLike, r: ArrayLike, q: ArrayLike, sigma: ArrayLike,
              right: ArrayLike) -> dict[str, np.ndarray]:
    """``price``, ``delta``, ``gamma``, ``vega``, ``theta``, ``rho``, ``dividend_rho`` (units in
    the module docstring), each broadcast over the inputs."""
    S_, K_, T_, r_, q_, s_, call = _inputs(S, K, T, r, q, sigma, right)
    if (s_ > 0).all() and (T_ > 0).all():
        return _greeks_live(S_, K_, T_, r_, q_, s_, call)
    c = _core(S_, K_, T_, r_, q_, s_, call)
    live = c["live"]
    gamma = np.where(live, c["dq"] * c["pdf"] / (S_ * c["safe"]), 0.0)
    vega = np.where(live, c["fwd_s"] * c["pdf"] * c["sq"], 0.0)
    decay = np.where(live, -c["fwd_s"] * c["pdf"] * s_ / (2.0 * np.where(c["sq"] > 0, c["sq"], 1.0)), 0.0)
    theta = decay - r_ * c["pv_k"] * c["p2"] + q_ * c["fwd_s"] * c["p1"]
    return {"price": c["price"], "delta": c["dq"] * c["p1"], "gamma": gamma, "vega": vega, "theta": theta,
            "rho": T_ * c["pv_k"] * c["p2"], "dividend_rho": -T_ * c["fwd_s"] * c["p1"]}


def _greeks_live(S: np.ndarray, K: np.ndarray, T: np.ndarray, r: np.ndarray, q: np.ndarray, sigma: np.ndarray,
                 call: np.ndarray) -> dict[str, np.ndarray]:
    """:func:`bs_greeks` where every sigma sqrt T is > 0: the same formulas without the limit cases."""
    sq = np.sqrt(T)
    vol = sigma * sq
    fwd_s, pv_k = S * np.exp(-q * T), K * np.exp(-r * T)
    d1 = np.log(fwd_s / pv_k) / vol
    d1 += 0.5 * vol
    d2 = d1 - vol
    p1, p2 = ndtr(d1), ndtr(d2)
    p1 -= ~call  # N(d1) for calls, N(d1) - 1 = -N(-d1) for puts
    p2 -= ~call
    pdf = np.exp(-0.5 * d1 * d1)
    pdf /= SQRT_2PI
    a = fwd_s * p1
    b = pv_k * p2
    fp = fwd_s * pdf
    return {"price": np.maximum(a - b, 0.0), "delta": a / S, "gamma": fp / (S * S * vol), "vega": fp * sq,
            "theta": -fp * sigma / (2.0 * sq) - r * b + q * a, "rho": T * b, "dividend_rho": -T * a}


def implied_vol(price: ArrayLike, S: ArrayLike, K: ArrayLike, T: ArrayLike, r: ArrayLike, q: ArrayLike,
                right: ArrayLike, *, tol: float = 1e-12, max_iter: int = 100) -> np.ndarray:
    """The volatility whose Black-Scholes-Merton price is ``price``, broadcast over the inputs
    (accurate to 1e-8 of volatility or refused).

    A safeguarded Newton solver on a bracket [1e-9, 20]: each step is Newton's where it stays
    inside the bracket, else the bracket's midpoint, and the bracket shrinks around the root, so it
    always converges and never leaves it. DomainError naming the first offending row when a price
    lies outside the no-arbitrage bounds (a call in (max(S e^-qT - K e^-rT, 0), S e^-qT), a put in
    (max(K e^-rT - S e^-qT, 0), K e^-rT)), when T is 0, or when the volatility cannot be pinned
    down (vega ~ 0 where the price is met: deep in or out of the money, where any volatility in a
    wide range gives the same price to the last digit).
    """
    S_, K_, T_, r_, q_, _, call = _inputs(S, K, T, r, q, 0.2, right)
    p = np.broadcast_to(np.asarray(price, dtype=np.float64), S_.shape).astype(np.float64)
    if not np.isfinite(p).all():
        raise DomainError(f"price must be finite (row {int(np.argmax(~np.isfinite(p).ravel()))})")
    if (T_ <= 0).any():
        raise DomainError(f"T must be > 0 to imply a volatility (row {int(np.argmax((T_ <= 0).ravel()))})")
    fwd_s, pv_k = S_ * np.exp(-q_ * T_), K_ * np.exp(-r_ * T_)
    lower = np.where(call, np.maximum(fwd_s - pv_k, 0.0), np.maximum(pv_k - fwd_s, 0.0))
    upper = np.where(call, fwd_s, pv_k)
    outside = (p <= lower) | (p >= upper)
    if outside.any():
        i = int(np.argmax(outside.ravel()))
        raise DomainError(f"price {p.ravel()[i]:g} at row {i} is outside the no-arbitrage bounds "
                          f"({lower.ravel()[i]:g}, {upper.ravel()[i]:g}): no volatility gives it")
    lo = np.full(p.shape, 1e-9)
    hi = np.full(p.shape, 20.0)
    # Brenner-Subrahmanyam's at-the-money approximation as a start
    x = np.clip(np.sqrt(2.0 * np.pi / T_) * p / np.maximum(fwd_s, pv_k), 1e-3, 5.0)
    scale = np.maximum(S_, K_)
    act = np.flatnonzero(np.ones(p.shape, dtype=bool).ravel())  # the rows still being solved
    flat = [a.ravel() for a in (S_, K_, T_, r_, q_, call, p, lo, hi, x)]
    Sf, Kf, Tf, rf, qf, cf, pf, lof, hif, xf = flat
    for _ in range(max_iter):
        if not len(act):
            break
        price, vega = _price_vega(Sf[act], Kf[act], Tf[act], rf[act], qf[act], xf[act], cf[act])
        f = price - pf[act]
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            done = (f == 0) | (np.abs(f) < 1e-12 * vega)  # the next Newton step is below 1e-12 of volatility
            newton = xf[act] - f / vega  # inf or nan where vega ~ 0: the bisection step is taken there
        h = np.where(f > 0, np.minimum(hif[act], xf[act]), hif[act])
        lw = np.where(f < 0, np.maximum(lof[act], xf[act]), lof[act])
        hif[act], lof[act] = h, lw
        ok = (vega > 0) & (newton > lw) & (newton < h)
        xf[act] = np.where(done, xf[act], np.where(ok, newton, 0.5 * (lw + h)))
        act = act[~done & (h - lw > 1e-15 * h)]
    x = xf.reshape(p.shape)
    price, vega = _price_vega(S_, K_, T_, r_, q_, x, call)
    met = np.abs(price - p) <= max(tol, 1e-10) * scale
    pinned = vega * 1e-8 > 1e-13 * scale  # a 1e-8 change of volatility shows above the price's rounding
    bad = ~(met & pinned)
    if bad.any():
        i = int(np.argmax(bad.ravel()))
        why = "the price is not met" if not met.ravel()[i] else "vega is ~0 there: the price does not pin it down"
        raise DomainError(f"no volatility can be pinned down for row {i} (price {p.ravel()[i]:g}): {why}")
    return x
