"""Performance metrics, vectorised over columns (one column = one backtest).

Conventions (all figures are fractions, not percent, unless named otherwise):

- periods: simple returns r_t = E_t / E_{t-1} - 1 of the equity curve E (T values, T-1 returns);
  ``periods_per_year`` = 252 for daily bars. A column whose equity reached <= 0 is ruined: its
  returns after that bar are taken as 0.
- risk-free: ``risk_free`` is an annual simple rate, converted to a per-period rate
  rf_p = (1 + risk_free)^(1/periods_per_year) - 1; excess returns x_t = r_t - rf_p.
- total_return = E_T / E_0 - 1; annual_return (CAGR) = (1 + total)^(periods_per_year / (T-1)) - 1,
  or -1 when the total is <= -100%.
- annual_volatility = std(r, ddof=1) x sqrt(periods_per_year).
- sharpe = mean(x) / std(x, ddof=1) x sqrt(periods_per_year) (NaN when std is 0).
- sortino = mean(x) / DD x sqrt(periods_per_year), DD = sqrt(sum(min(x_t, 0)^2) / (T-1)), the
  downside deviation over all periods (Sortino and Price 1994; NaN when DD is 0).
- max_drawdown = min_t (E_t / max_{s<=t} E_s - 1), <= 0; max_drawdown_duration = the longest run of
  bars spent below the previous peak (peak to recovery, or to the end), in bars.
- calmar = annual_return / |max_drawdown| (NaN when there is no drawdown).
- var_95 / cvar_95: historical one-period Value at Risk and Conditional VaR at 95%, as positive
  loss fractions: VaR = -q, q the 5% empirical quantile of r (linear interpolation, numpy's
  default); CVaR = -mean(r_t | r_t <= q).
- trade figures from the kernel's round trips: win_rate = winning trips / closed trips (NaN with
  none); profit_factor = gross profit / gross loss (inf with no loss, NaN with no trips);
  turnover = sum of |traded notional| / equity at the fill, per year; exposure = share of bars
  ending with a non-zero position.
"""

from __future__ import annotations

import numba as nb
import numpy as np

from raytrade.core.calendars import periods_per_year

PERIODS_PER_YEAR = int(periods_per_year("XNYS"))  # daily US equity bars

RETURN_METRICS: tuple[str, ...] = (
    "total_return", "annual_return", "annual_volatility", "sharpe", "sortino", "calmar",
    "max_drawdown", "max_drawdown_duration",
)
TRADE_METRICS: tuple[str, ...] = ("win_rate", "profit_factor", "turnover", "exposure", "round_trips")
TAIL_METRICS: tuple[str, ...] = ("var_95", "cvar_95")


@nb.njit(cache=True, nogil=True)
def _equity_pass(equity, rf_p):
    n_bars, n_cols = equity.shape
    mean = np.zeros(n_cols)
    m2 = np.zeros(n_cols)
    down = np.zeros(n_cols)
    peak = equity[0].copy()
    mdd = np.zeros(n_cols)
    run = np.zeros(n_cols)
    longest = np.zeros(n_cols)
    for t in range(1, n_bars):
        for k in range(n_cols):
            e0 = equity[t - 1, k]
            e1 = equity[t, k]
            r = e1 / e0 - 1.0 if e0 > 0.0 else 0.0
            x = r - rf_p
            d = x - mean[k]
            mean[k] += d / t
            m2[k] += d * (x - mean[k])
            if x < 0.0:
                down[k] += x * x
            if e1 >= peak[k]:
                peak[k] = e1
                run[k] = 0.0
            else:
                run[k] += 1.0
                if run[k] > longest[k]:
                    longest[k] = run[k]
                if peak[k] > 0.0:
                    dd = e1 / peak[k] - 1.0
                    if dd < mdd[k]:
                        mdd[k] = dd
    return mean, m2, down, mdd, longest


def performance_metrics(
    equity: np.ndarray,
    *,
    periods_per_year: int = PERIODS_PER_YEAR,
    risk_free: float = 0.0,
) -> dict[str, np.ndarray]:
    """Return and drawdown metrics of each column of ``equity`` (T, K) or (T,); see module doc."""
    eq = np.ascontiguousarray(equity, dtype=np.float64)
    if eq.ndim == 1:
        eq = eq[:, None]
    n = eq.shape[0] - 1
    if n < 1:
        raise ValueError(f"need at least 2 equity values per column, got {eq.shape[0]}")
    rf_p = (1.0 + risk_free) ** (1.0 / periods_per_year) - 1.0
    mean, m2, down, mdd, longest = _equity_pass(eq, rf_p)
    ann = np.sqrt(periods_per_year)
    with np.errstate(divide="ignore", invalid="ignore"):
        std = np.sqrt(m2 / (n - 1)) if n > 1 else np.full_like(mean, np.nan)
        vol = std * ann  # a constant rf shifts the mean only: std(r) == std(r - rf_p)
        sharpe = np.where(std > 0, mean / std * ann, np.nan)
        dd_dev = np.sqrt(down / n)
        sortino = np.where(dd_dev > 0, mean / dd_dev * ann, np.nan)
        total = eq[-1] / eq[0] - 1.0
        growth = np.where(total > -1.0, 1.0 + total, np.nan)
        cagr = np.where(total > -1.0, growth ** (periods_per_year / n) - 1.0, -1.0)
        calmar = np.where(mdd < 0, cagr / np.abs(mdd), np.nan)
    return {
        "total_return": total, "annual_return": cagr, "annual_volatility": vol, "sharpe": sharpe,
        "sortino": sortino, "calmar": calmar, "max_drawdown": mdd, "max_drawdown_duration": longest,
    }


def trade_metrics(
    *,
    round_trips: np.ndarray,
    wins: np.ndarray,
    gross_profit: np.ndarray,
    gross_loss: np.ndarray,
    turnover: np.ndarray,
    exposure_bars: np.ndarray,
    n_bars: int,
    periods_per_year: int = PERIODS_PER_YEAR,
) -> dict[str, np.ndarray]:
    """Win rate, profit factor, annual turnover and exposure from per-column trade tallies.

    ``gross_loss`` is the sum of losing trips' |P&L| (>= 0); ``turnover`` the sum of |traded
    notional| / equity over the whole run; ``exposure_bars`` the bars ending with a position.
    """
    years = max(n_bars - 1, 1) / periods_per_year
    with np.errstate(divide="ignore", invalid="ignore"):
        win_rate = np.where(round_trips > 0, wins / round_trips, np.nan)
        pf = np.where(round_trips > 0,
                      np.where(gross_loss > 0, gross_profit / gross_loss, np.inf), np.nan)
    return {
        "win_rate": win_rate, "profit_factor": pf, "turnover": turnover / years,
        "exposure": exposure_bars / n_bars, "round_trips": np.asarray(round_trips, dtype=np.float64),
    }


def tail_risk(returns: np.ndarray, level: float = 0.95) -> dict[str, np.ndarray]:
    """Historical VaR and CVaR of each column of ``returns`` (T, K) as positive loss fractions."""
    r = np.asarray(returns, dtype=np.float64)
    if r.ndim == 1:
        r = r[:, None]
    if not 0.5 < level < 1.0:
        raise ValueError(f"level must be in (0.5, 1), got {level}")
    q = np.quantile(r, 1.0 - level, axis=0)
    tail = np.where(r <= q, r, np.nan)
    with np.errstate(invalid="ignore"):
        cvar = -np.nanmean(tail, axis=0)
    suffix = f"{round(level * 100)}"
    return {f"var_{suffix}": -q, f"cvar_{suffix}": cvar}


def returns_from_equity(equity: np.ndarray) -> np.ndarray:
    """Simple returns (T-1, K) of an equity array (T, K); 0 after a column's equity is <= 0."""
    eq = np.asarray(equity, dtype=np.float64)
    prev = eq[:-1]
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(prev > 0, eq[1:] / prev - 1.0, 0.0)


def drawdown(equity: np.ndarray) -> np.ndarray:
    """Drawdown E_t / max_{s<=t} E_s - 1 of each column (<= 0), same shape as ``equity``."""
    eq = np.asarray(equity, dtype=np.float64)
    return eq / np.maximum.accumulate(eq, axis=0) - 1.0
