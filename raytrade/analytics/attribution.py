"""P&L attribution: by sector against a benchmark (Brinson-Fachler), by any grouping of positions
(sector, strategy), by market regime, by factor (regression), and the return of an account with
flows (time- and money-weighted).

Conventions: returns are simple returns per period (a fraction, 0.01 = 1%); weights are fractions
of the book's value at the start of the period (summing to 1 over the assets held, cash a sector of
its own if it is to count); P&L in the account currency; annualisation by ``periods_per_year``
(252 for daily data, 12 for monthly) with Sharpe = mean / sd (ddof=1) x sqrt(periods_per_year), no
risk-free rate unless the returns are excess returns.

Brinson-Fachler (1985), per sector i in one period, portfolio weights w_i and returns r_i,
benchmark weights b_i and returns s_i, benchmark total S = sum b_i s_i:

- allocation A_i = (w_i - b_i) (s_i - S);
- selection S_i = b_i (r_i - s_i);
- interaction I_i = (w_i - b_i) (r_i - s_i);

and sum_i (A_i + S_i + I_i) = sum w_i r_i - S, the active return, exactly. Over many periods the
effects of each period are summed (arithmetic: their sum is the sum of the periods' active
returns, not the compounded active return; the difference is stated as ``residual``). A sector the
portfolio (or the benchmark) does not hold in a period has weight 0 and, on that side, the
equal-weighted return of its assets (so its selection is measured against that).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

import numpy as np
import pandas as pd
from scipy import optimize

from raytrade.core.errors import DataError


def brinson_fachler(w: np.ndarray, r: np.ndarray, b: np.ndarray, s: np.ndarray) -> pd.DataFrame:
    """One period's effects per sector (arrays of equal length; see the module): columns
    allocation, selection, interaction, total."""
    w, r, b, s = (np.asarray(x, dtype=np.float64) for x in (w, r, b, s))
    if not (w.shape == r.shape == b.shape == s.shape) or w.ndim != 1:
        raise DataError("brinson_fachler needs four 1-D arrays of the same length", source="attribution")
    alloc, sel, inter = _effects(w, r, b, s)
    return pd.DataFrame({"allocation": alloc, "selection": sel, "interaction": inter,
                         "total": alloc + sel + inter})


def _effects(w: np.ndarray, r: np.ndarray, b: np.ndarray, s: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(allocation, selection, interaction) of the module, sectors along the last axis (one
    period per row when 2-D)."""
    total_b = (b * s).sum(axis=-1, keepdims=True)
    return (w - b) * (s - total_b), b * (r - s), (w - b) * (r - s)


def sector_attribution(weights: pd.DataFrame, returns: pd.DataFrame, sectors: Mapping[str, str],
                       benchmark_weights: pd.DataFrame | None = None) -> pd.DataFrame:
    """Brinson-Fachler by sector over many periods.

    ``weights`` (T, assets): the portfolio's weights at the start of each period; ``returns``
    (T, assets): each asset's return over the period; ``sectors``: asset -> sector;
    ``benchmark_weights`` the benchmark's (default: equal weights over the assets with a return).
    Sector returns are the weight-averaged returns of their assets (equal-weighted where the
    side holds none of them). Rows per sector plus ``TOTAL``: allocation, selection, interaction,
    total (summed over periods), portfolio and benchmark return contributions, and ``residual`` on
    TOTAL (compounded active return minus the summed effects)."""
    if not weights.index.equals(returns.index) or list(weights.columns) != list(returns.columns):
        raise DataError("weights and returns must have the same dates and assets", source="attribution")
    missing = [a for a in returns.columns if a not in sectors]
    if missing:
        raise DataError(f"no sector for {', '.join(map(str, missing[:5]))}", source="attribution")
    rets = returns.to_numpy(np.float64)
    wts = np.nan_to_num(weights.to_numpy(np.float64))
    has = np.isfinite(rets)
    if benchmark_weights is None:
        bw = has / np.maximum(has.sum(axis=1, keepdims=True), 1)
    else:
        bw = np.nan_to_num(benchmark_weights.reindex(index=returns.index, columns=returns.columns).to_numpy(np.float64))
    r0 = np.where(has, rets, 0.0)
    names = sorted(set(sectors[a] for a in returns.columns))
    member = np.array([[sectors[a] == n for n in names] for a in returns.columns], dtype=np.float64)  # (N, S)
    count = has @ member  # assets with a return per sector and period
    equal = np.divide((has * r0) @ member, count, out=np.zeros_like(count), where=count > 0)

    def sector_returns(wt: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        w_s = wt @ member
        r_s = np.divide((wt * r0) @ member, w_s, out=equal.copy(), where=w_s != 0)
        return w_s, r_s

    w, r = sector_returns(wts)
    b, s_ = sector_returns(bw)
    alloc, sel, inter = _effects(w, r, b, s_)
    acc = np.column_stack([alloc.sum(axis=0), sel.sum(axis=0), inter.sum(axis=0)])
    port = (w * r).sum(axis=0)
    bench = (b * s_).sum(axis=0)
    p_total = (w * r).sum(axis=1)
    b_total_1 = (b * s_).sum(axis=1)
    out = pd.DataFrame(acc, index=names, columns=["allocation", "selection", "interaction"])
    out["total"] = out.sum(axis=1)
    out["portfolio_contribution"] = port
    out["benchmark_contribution"] = bench
    total = out.sum(axis=0)
    compounded = float(np.prod(1 + p_total) - np.prod(1 + b_total_1))
    out.loc["TOTAL"] = total
    out["residual"] = np.nan
    out.loc["TOTAL", "residual"] = compounded - float(total["total"])
    out.index.name = "sector"
    return out


def group_pnl(pnl: pd.DataFrame, groups: Mapping[str, str] | None = None, *,
              periods_per_year: int = 252, capital: float | None = None) -> pd.DataFrame:
    """P&L by group: ``pnl`` (T, positions) of P&L per period in currency; ``groups`` position ->
    group (sector, strategy; None: each column its own group). Per group: ``pnl`` (the sum),
    ``share`` of the total P&L (a fraction; groups that lost have a negative share), and
    ``sharpe`` of the group's P&L series (mean / sd x sqrt(periods_per_year); as a return series
    when ``capital`` is given, which does not change the ratio)."""
    g = pnl if groups is None else pnl.T.groupby(lambda c: groups.get(c, c)).sum().T
    total = float(g.to_numpy().sum())
    sd = g.std(ddof=1)
    out = pd.DataFrame({"pnl": g.sum(), "share": g.sum() / total if total else np.nan,
                        "sharpe": np.where(sd > 0, g.mean() / sd.where(sd > 0, 1.0) * math.sqrt(periods_per_year),
                                           np.nan)})
    if capital:
        out["return"] = out["pnl"] / capital
    out.index.name = "group"
    return out.sort_values("pnl", ascending=False)


def regime_pnl(pnl: pd.Series, regimes: pd.Series, periods_per_year: int = 252) -> pd.DataFrame:
    """P&L per market regime: ``pnl`` per period, ``regimes`` a label per period (None: not yet
    known, counted as ``unknown``); per regime the P&L, its share of the total, the Sharpe of the
    P&L over the periods in that regime, and the periods spent in it."""
    lab = regimes.reindex(pnl.index).astype(object)
    lab = lab.where(lab.notna(), "unknown").astype(str)
    total = float(pnl.sum())
    rows = {}
    for r in lab.unique():
        x = pnl[lab == r]
        sd = float(x.std(ddof=1)) if len(x) > 1 else 0.0
        rows[r] = {"pnl": float(x.sum()), "share": float(x.sum()) / total if total else np.nan,
                   "sharpe": float(x.mean()) / sd * math.sqrt(periods_per_year) if sd > 0 else np.nan,
                   "periods": len(x)}
    out = pd.DataFrame.from_dict(rows, orient="index").sort_values("pnl", ascending=False)
    out.index.name = "regime"
    return out


def describe(table: pd.DataFrame, currency: str = "$") -> list[str]:
    """The rows of :func:`group_pnl` or :func:`regime_pnl` in the product's words:
    ``Technology: +$15,000 (40% of returns, 2.1 Sharpe)``."""
    lines = []
    for name, row in table.iterrows():
        sign = "+" if row["pnl"] >= 0 else "-"
        share = f"{round(row['share'] * 100)}% of returns" if math.isfinite(row["share"]) else "no net return"
        sharpe = f"{row['sharpe']:.1f} Sharpe" if math.isfinite(row["sharpe"]) else "Sharpe n/a"
        lines.append(f"{name}: {sign}{currency}{abs(row['pnl']):,.0f} ({share}, {sharpe})")
    return lines


@dataclass(frozen=True, slots=True)
class FactorAttribution:
    """OLS of returns on factors with an intercept: ``alpha`` per period and annualised,
    its t-statistic (classical OLS standard error), ``betas``, each factor's ``contribution``
    (beta x the factor's mean return x periods per year: its share of the annual return) and R^2."""

    alpha: float
    alpha_annual: float
    alpha_t: float
    betas: dict[str, float]
    t_stats: dict[str, float]
    contribution: dict[str, float]
    r_squared: float
    periods: int

    def table(self) -> pd.DataFrame:
        rows = [{"term": "alpha", "coefficient": self.alpha, "t_stat": self.alpha_t,
                 "annual_contribution": self.alpha_annual}]
        rows += [{"term": k, "coefficient": v, "t_stat": self.t_stats[k], "annual_contribution": self.contribution[k]}
                 for k, v in self.betas.items()]
        return pd.DataFrame(rows).set_index("term")


def factor_attribution(returns: pd.Series, factors: pd.DataFrame, periods_per_year: int = 252,
                       risk_free: pd.Series | None = None) -> FactorAttribution:
    """Regress ``returns`` (minus ``risk_free`` when given) on ``factors`` over their common dates
    (rows with a missing value dropped); see :class:`FactorAttribution`."""
    y = returns if risk_free is None else returns - risk_free.reindex(returns.index)
    data = pd.concat([y.rename("__y"), factors], axis=1, join="inner").dropna()
    n, k = len(data), factors.shape[1]
    if n <= k + 1:
        raise DataError(f"factor regression needs more than {k + 1} common periods, got {n}", source="attribution")
    X = np.column_stack([np.ones(n), data[factors.columns].to_numpy(np.float64)])
    yy = data["__y"].to_numpy(np.float64)
    coef, *_ = np.linalg.lstsq(X, yy, rcond=None)
    resid = yy - X @ coef
    dof = n - k - 1
    s2 = float(resid @ resid) / dof
    se = np.sqrt(np.diag(s2 * np.linalg.inv(X.T @ X)))
    tss = float(((yy - yy.mean()) ** 2).sum())
    names = [str(c) for c in factors.columns]
    means = data[factors.columns].mean().to_numpy()
    return FactorAttribution(
        alpha=float(coef[0]), alpha_annual=float(coef[0]) * periods_per_year, alpha_t=float(coef[0] / se[0]),
        betas=dict(zip(names, map(float, coef[1:]), strict=True)),
        t_stats=dict(zip(names, map(float, coef[1:] / se[1:]), strict=True)),
        contribution=dict(zip(names, map(float, coef[1:] * means * periods_per_year), strict=True)),
        r_squared=1.0 - float(resid @ resid) / tss if tss > 0 else float("nan"), periods=n)


def time_weighted_return(values: pd.Series, flows: pd.Series | None = None) -> float:
    """The time-weighted return over ``values`` (the account's value at each time, after that
    time's flow), ``flows`` the external flows at those times (+ contribution, - withdrawal):
    prod over periods of (V_t - F_t) / V_{t-1} - 1, the flow arriving at the end of its period."""
    v = values.to_numpy(np.float64)
    f = np.zeros(len(v)) if flows is None else flows.reindex(values.index).fillna(0.0).to_numpy(np.float64)
    if len(v) < 2 or (v[:-1] <= 0).any():
        raise DataError("time_weighted_return needs >= 2 values, all > 0 but the last", source="attribution")
    return float(np.prod((v[1:] - f[1:]) / v[:-1]) - 1.0)


def money_weighted_return(flows: Sequence[tuple[datetime, float]], final_value: float, end: datetime) -> float:
    """The money-weighted return (IRR, annual, act/365): the rate x with
    sum_i CF_i (1 + x)^(-(t_i - t_0) / 365 days) = 0, the cash flows being each contribution as
    a payment into the account (-amount), each withdrawal as a receipt (+amount) and the final
    value at ``end`` as a receipt. ``flows``: (time, amount), + contribution, - withdrawal."""
    cfs = [(t, -a) for t, a in flows] + [(end, final_value)]
    t0 = min(t for t, _ in cfs)
    years = np.array([(t - t0).total_seconds() / (365 * 86400) for t, _ in cfs])
    amounts = np.array([a for _, a in cfs])

    def npv(x: float) -> float:
        return float((amounts * (1.0 + x) ** (-years)).sum())

    try:
        return float(optimize.brentq(npv, -0.9999, 100.0, xtol=1e-14, maxiter=500))
    except ValueError:
        raise DataError("the money-weighted return has no root in (-100%, 10,000%): check the flows' signs",
                        source="attribution") from None


def return_decomposition(start_value: float, end_value: float, flows: pd.Series) -> dict[str, float]:
    """Contributions, withdrawals and gains: end = start + contributions - withdrawals + gains."""
    contributions = float(flows[flows > 0].sum())
    withdrawals = float(-flows[flows < 0].sum())
    return {"start_value": start_value, "contributions": contributions, "withdrawals": withdrawals,
            "gains": end_value - start_value - contributions + withdrawals, "end_value": end_value}
