"""Almgren-Chriss: the mean-variance optimal trajectory of Almgren and Chriss (2000), "Optimal
execution of portfolio transactions", Journal of Risk 3(2), discrete-time solution (their section 4).

Sell (or buy) X shares in N intervals of tau = T / N. With temporary impact eta (price per share
per share-per-unit-time), permanent impact gamma (price per share per share) and volatility sigma
(price per share per square root of time), minimising E[cost] + lam x Var[cost] gives the holdings

    x_j = X sinh(kappa (T - t_j)) / sinh(kappa T),   t_j = j tau,  j = 0..N,

where eta_tilde = eta - gamma tau / 2 and cosh(kappa tau) = 1 + lam sigma^2 tau^2 / (2 eta_tilde).
lam = 0 gives kappa = 0 and the straight line x_j = X (1 - j / N) (TWAP); a larger lam trades
sooner (less price risk, more impact).

Urgency: a parent's ``urgency`` u in [0, 1] sets kappa T = 10 u (the trajectory depends on lam only
through kappa, so urgency is unit-free): half the parent is done after 50% of the horizon at
u = 0 (TWAP), 32% at u = 0.2, 14% at u = 0.5 and 6.9% at u = 1. The risk aversion that corresponds,
lam = 2 eta_tilde (cosh(kappa tau) - 1) / (sigma^2 tau^2), is :func:`lam_for_kappa`.
"""

from __future__ import annotations

import math
from typing import ClassVar

import numpy as np

from raytrade.core.errors import ConfigError
from raytrade.execution.algorithms.base import (
    ParentSpec,
    PlannedSchedule,
    register,
    slice_times,
    whole_lot_slices,
)

URGENCY_KAPPA_T = 10.0  # kappa x T at urgency 1


def ac_kappa(T: float, N: int, sigma: float, eta: float, gamma: float, lam: float) -> float:
    """kappa of the discrete solution: cosh(kappa tau) = 1 + lam sigma^2 tau^2 / (2 eta_tilde)."""
    tau = T / N
    eta_tilde = eta - gamma * tau / 2.0
    if eta_tilde <= 0:
        raise ConfigError(f"eta - gamma tau / 2 must be > 0 (got {eta_tilde:g}): temporary impact too small for "
                          "the permanent impact at this interval")
    if lam < 0 or sigma < 0:
        raise ConfigError(f"lam and sigma must be >= 0, got lam={lam!r}, sigma={sigma!r}")
    return math.acosh(1.0 + lam * sigma * sigma * tau * tau / (2.0 * eta_tilde)) / tau


def trajectory_from_kappa(X: float, T: float, N: int, kappa: float) -> np.ndarray:
    """Holdings x_0 = X .. x_N = 0 for ``kappa`` (the straight line at kappa = 0)."""
    t = np.arange(N + 1) * (T / N)
    kT = kappa * T
    if kT < 1e-8:
        return X * (1.0 - t / T)
    if kT > 600:  # sinh overflows: the ratio is exp(-kappa t) to double precision
        x = X * np.exp(-kappa * t) * (1.0 - np.exp(-2.0 * kappa * (T - t))) / (1.0 - math.exp(-2.0 * kT))
    else:
        x = X * np.sinh(kappa * (T - t)) / math.sinh(kT)
    x[0], x[-1] = X, 0.0
    return x


def almgren_chriss_trajectory(X: float, T: float, N: int, sigma: float, eta: float, gamma: float,
                              lam: float) -> np.ndarray:
    """The N + 1 holdings x_0 = X .. x_N = 0 of the discrete-time optimal trajectory (see the
    module): ``X`` shares, horizon ``T`` (any time unit, the one of sigma and eta), ``N`` intervals."""
    if not isinstance(N, int) or N < 1:
        raise ConfigError(f"N must be an integer >= 1, got {N!r}")
    if not (math.isfinite(T) and T > 0):
        raise ConfigError(f"T must be finite and > 0, got {T!r}")
    return trajectory_from_kappa(float(X), float(T), N, ac_kappa(T, N, sigma, eta, gamma, lam))


def lam_for_kappa(kappa: float, T: float, N: int, sigma: float, eta: float, gamma: float) -> float:
    """The risk aversion whose trajectory has ``kappa`` (the inverse of :func:`ac_kappa`)."""
    tau = T / N
    return 2.0 * (eta - gamma * tau / 2.0) * (math.cosh(kappa * tau) - 1.0) / (sigma * sigma * tau * tau)


@register
class AlmgrenChriss(PlannedSchedule):
    """The parent along :func:`trajectory_from_kappa` in ``slices`` intervals. ``lam`` with
    ``sigma`` and ``eta`` (and ``gamma``), in the units of a horizon of 1 (one parent horizon), set
    kappa by the paper's equation; otherwise the parent's urgency does (kappa T = 10 u)."""

    name: ClassVar[str] = "almgren_chriss"

    def __init__(self, parent: ParentSpec, slices: int = 10, lam: float | None = None, sigma: float | None = None,
                 eta: float | None = None, gamma: float = 0.0, urgency: float | None = None) -> None:
        if not isinstance(slices, int) or not 1 <= slices <= 10_000:
            raise ConfigError(f"almgren_chriss.slices must be an integer in [1, 10000], got {slices!r}")
        self.parent = parent
        if lam is not None:
            if sigma is None or eta is None:
                raise ConfigError("almgren_chriss: lam needs sigma and eta")
            self.kappa_T = ac_kappa(1.0, slices, sigma, eta, gamma, lam)
        else:
            u = parent.urgency if urgency is None else urgency
            if not 0.0 <= u <= 1.0:
                raise ConfigError(f"almgren_chriss.urgency must be in [0, 1], got {u!r}")
            self.kappa_T = URGENCY_KAPPA_T * u
        holdings = trajectory_from_kappa(1.0, 1.0, slices, self.kappa_T)
        self.times = slice_times(parent, slices)
        self.lots = whole_lot_slices(1.0 - holdings[1:], parent.lots)
