"""Seeded synthetic market data, for where no real data exists.

Everything generated here is labelled synthetic: symbols start with ``SYN``, and the frame's
``attrs`` carry ``synthetic=True`` and the generator with its parameters. Conventions: ``mu`` and
``sigma`` are annualised (drift of log-price and volatility), 252 trading days a year; timestamps
are UTC; the same seed gives the same numbers on every platform (numpy's PCG64).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from pandas.tseries.offsets import BDay

from raytrade.core.errors import DataError

TRADING_DAYS = 252


def _label(frame: pd.DataFrame, generator: str, **params: object) -> pd.DataFrame:
    frame.attrs["synthetic"] = True
    frame.attrs["generator"] = generator
    frame.attrs["params"] = dict(params)
    return frame


def _daily_index(n_days: int, start: str) -> pd.DatetimeIndex:
    return pd.date_range(pd.Timestamp(start, tz="UTC"), periods=n_days, freq=BDay(), name="timestamp")


def _symbols(n_assets: int) -> list[str]:
    return [f"SYN{i:03d}" for i in range(n_assets)]


def _require(cond: bool, problem: str, generator: str) -> None:
    if not cond:
        raise DataError(problem, source=f"synthetic.{generator}")


def gbm_prices(
    n_days: int = 2520,
    n_assets: int = 1,
    *,
    mu: float = 0.07,
    sigma: float = 0.20,
    s0: float = 100.0,
    correlation: float = 0.0,
    seed: int = 0,
    start: str = "2000-01-03",
) -> pd.DataFrame:
    """Daily closes from geometric Brownian motion (business days from ``start``).

    log S_t+1 - log S_t = (mu - sigma^2/2) dt + sigma sqrt(dt) Z, dt = 1/252, with an equal
    pairwise ``correlation`` between assets' shocks. Row 0 is ``s0``.
    """
    _require(n_days >= 2 and n_assets >= 1, "need n_days >= 2 and n_assets >= 1", "gbm_prices")
    _require(sigma >= 0 and s0 > 0, "need sigma >= 0 and s0 > 0", "gbm_prices")
    _require(-1.0 / max(n_assets - 1, 1) <= correlation < 1.0 or n_assets == 1,
             "correlation must keep the covariance positive definite", "gbm_prices")
    rng = np.random.default_rng(seed)
    z = rng.standard_normal((n_days - 1, n_assets))
    if n_assets > 1 and correlation != 0.0:
        corr = np.full((n_assets, n_assets), correlation)
        np.fill_diagonal(corr, 1.0)
        z = z @ np.linalg.cholesky(corr).T
    dt = 1.0 / TRADING_DAYS
    steps = (mu - 0.5 * sigma**2) * dt + sigma * np.sqrt(dt) * z
    logp = np.vstack([np.zeros((1, n_assets)), np.cumsum(steps, axis=0)])
    frame = pd.DataFrame(s0 * np.exp(logp), index=_daily_index(n_days, start), columns=_symbols(n_assets))
    return _label(frame, "gbm_prices", mu=mu, sigma=sigma, s0=s0, correlation=correlation, seed=seed)


@dataclass(frozen=True, slots=True)
class Regime:
    """One state of the regime-switching model: annualised drift and volatility."""

    name: str
    mu: float
    sigma: float


DEFAULT_REGIMES = (Regime("bull", 0.15, 0.12), Regime("bear", -0.25, 0.35))
DEFAULT_TRANSITIONS = ((0.99, 0.01), (0.03, 0.97))


def regime_switching_prices(
    n_days: int = 2520,
    n_assets: int = 1,
    *,
    regimes: tuple[Regime, ...] = DEFAULT_REGIMES,
    transitions: tuple[tuple[float, ...], ...] = DEFAULT_TRANSITIONS,
    s0: float = 100.0,
    seed: int = 0,
    start: str = "2000-01-03",
) -> tuple[pd.DataFrame, pd.Series]:
    """GBM whose drift and volatility follow a Markov chain of ``regimes``.

    ``transitions[i][j]`` is the daily probability of moving from regime i to j (rows sum to 1).
    All assets share the regime path. Returns (closes, regime name per day).
    """
    p = np.asarray(transitions, dtype=float)
    k = len(regimes)
    _require(p.shape == (k, k), f"transitions must be {k}x{k}", "regime_switching_prices")
    _require(bool(np.all(p >= 0)) and np.allclose(p.sum(axis=1), 1.0),
             "each row of transitions must be probabilities summing to 1", "regime_switching_prices")
    _require(n_days >= 2 and n_assets >= 1, "need n_days >= 2 and n_assets >= 1", "regime_switching_prices")
    rng = np.random.default_rng(seed)
    states = np.empty(n_days, dtype=np.int64)
    states[0] = 0
    u = rng.random(n_days)
    cum = np.cumsum(p, axis=1)
    for t in range(1, n_days):
        states[t] = min(int(np.searchsorted(cum[states[t - 1]], u[t], side="right")), k - 1)
    mu = np.array([r.mu for r in regimes])[states[1:]][:, None]
    sigma = np.array([r.sigma for r in regimes])[states[1:]][:, None]
    dt = 1.0 / TRADING_DAYS
    z = rng.standard_normal((n_days - 1, n_assets))
    logp = np.vstack([np.zeros((1, n_assets)), np.cumsum((mu - 0.5 * sigma**2) * dt + sigma * np.sqrt(dt) * z, axis=0)])
    index = _daily_index(n_days, start)
    frame = pd.DataFrame(s0 * np.exp(logp), index=index, columns=_symbols(n_assets))
    labels = pd.Series([regimes[s].name for s in states], index=index, name="regime")
    params = {"regimes": [(r.name, r.mu, r.sigma) for r in regimes], "transitions": p.tolist(), "seed": seed}
    _label(frame, "regime_switching_prices", **params)
    labels.attrs.update(frame.attrs)
    return frame, labels


def u_shaped_volume_profile(n_bars: int, *, edge_ratio: float = 3.0) -> np.ndarray:
    """Share of the day's volume in each of ``n_bars`` intraday bars; sums to 1.

    A parabola in time of day x in [0, 1]: w(x) = 1 + (edge_ratio - 1) (2x - 1)^2, so the first and
    last bars carry ``edge_ratio`` times the volume of the midday bar (the U shape of equity volume).
    """
    _require(n_bars >= 1 and edge_ratio >= 1.0, "need n_bars >= 1 and edge_ratio >= 1", "u_shaped_volume_profile")
    x = (np.arange(n_bars) + 0.5) / n_bars
    w = 1.0 + (edge_ratio - 1.0) * (2.0 * x - 1.0) ** 2
    return w / w.sum()


def intraday_bars(
    n_days: int = 5,
    *,
    bar_minutes: int = 5,
    sigma: float = 0.20,
    s0: float = 100.0,
    daily_volume: float = 1_000_000.0,
    edge_ratio: float = 3.0,
    seed: int = 0,
    start: str = "2024-01-02",
    symbol: str = "SYN000",
) -> pd.DataFrame:
    """Intraday OHLCV bars of the US regular session (09:30-16:00 America/New_York), in UTC.

    Prices follow driftless GBM with annualised ``sigma`` sampled each minute; each bar's OHLC
    comes from its minutes. Volume per bar is ``daily_volume`` x the U-shaped profile
    (:func:`u_shaped_volume_profile`) x a lognormal noise factor (sd 0.25), rounded to shares.
    Timestamps are bar close times. The open gap between days is not modelled.
    """
    _require(n_days >= 1 and 390 % bar_minutes == 0, "need n_days >= 1 and bar_minutes dividing 390", "intraday_bars")
    _require(symbol.startswith("SYN"), "synthetic symbols must start with 'SYN'", "intraday_bars")
    rng = np.random.default_rng(seed)
    n_bars = 390 // bar_minutes
    profile = u_shaped_volume_profile(n_bars, edge_ratio=edge_ratio)
    days = pd.bdate_range(pd.Timestamp(start), periods=n_days)
    dt = 1.0 / (TRADING_DAYS * 390)
    steps = -0.5 * sigma**2 * dt + sigma * np.sqrt(dt) * rng.standard_normal(n_days * 390)
    minute = s0 * np.exp(np.cumsum(steps)).reshape(n_days * n_bars, bar_minutes)
    prev_close = np.concatenate([[s0], minute[:-1, -1]])
    opens = prev_close
    highs = np.maximum(minute.max(axis=1), opens)
    lows = np.minimum(minute.min(axis=1), opens)
    closes = minute[:, -1]
    noise = rng.lognormal(mean=-0.5 * 0.25**2, sigma=0.25, size=n_days * n_bars)
    volume = np.round(daily_volume * np.tile(profile, n_days) * noise)
    offsets = pd.to_timedelta(np.arange(1, n_bars + 1) * bar_minutes, unit="min")
    index = pd.DatetimeIndex(np.concatenate([
        (pd.Timestamp(f"{day.date()} 09:30", tz="America/New_York") + offsets).tz_convert("UTC")
        for day in days
    ]))
    frame = pd.DataFrame({"open": opens, "high": highs, "low": lows, "close": closes, "volume": volume},
                         index=index.rename("timestamp"))
    return _label(frame, "intraday_bars", sigma=sigma, s0=s0, daily_volume=daily_volume,
                  edge_ratio=edge_ratio, bar_minutes=bar_minutes, seed=seed, symbol=symbol)
