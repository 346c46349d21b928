"""The portfolio kernel: K multi-asset books, one cash account each, in one fused pass over the bars.

Where :mod:`raytrade.backtest.kernel` runs independent single-asset sleeves, this kernel runs a
book over N assets whose strategy returns target weights, for K parameter sets at once. Rules (the
reference loop ``reference_portfolio`` in ``tests/backtest/reference.py`` implements them bar by
bar from this statement, and the tests hold the two equal):

1. Targets. ``weights[t, k, n]`` is set k's target weight of asset n, a fraction of the book's
   equity (negative = short), known at bar t's close. If the gross exposure G = sum_n |w_n|
   exceeds ``max_gross``, every weight of the row is scaled by ``max_gross / G`` (the leverage
   cap). Each book starts with ``initial_capital`` in cash and no position.
2. When to rebalance (decided at bar t's close, per set):
   - ``every_bar``: at every bar;
   - ``on_change``: when the row of target weights differs from the previous bar's (the row
     before bar 0 is all zeros);
   - ``calendar``: at the first bar of each calendar period (``calendar``: week, month, quarter or
     year, of the bar timestamps) and at bar 0;
   - ``threshold``: when some asset's current weight (shares x close_t / equity_t) is more than
     ``threshold`` away from its (capped) target; when equity_t <= 0, when any position is open.
3. Next-bar execution. A rebalance decided at bar t is executed at bar t+1 at the reference price
   ``ref_n = exec_price[t+1, n]`` (the open when opens exist, else the close); one decided at the
   last bar never is. Equity at execution E = cash + sum_n shares_n x ref_n. If E <= 0 every
   target is flat (a ruined book is liquidated). Otherwise the target count of asset n is
   w_n x E / ref_n, truncated toward zero to a multiple of ``lot_size`` with ``whole_shares``
   (:func:`~raytrade.execution.formulas.book_target_shares`);
   every asset whose count differs trades the difference q_n in one fill (a difference within
   1e-12 of the larger count is float residue, no fill: :func:`~raytrade.execution.formulas.is_trade`).
4. Fill price and costs, per leg (the formulas of :mod:`raytrade.execution.formulas`): fill =
   ref x (1 + side x (half_spread_bps + slippage_bps) / 1e4); commission = |q| x fill x
   commission_bps / 1e4 + |q| x commission_per_share; cash -= q x fill + commission. Targets are
   sized at the reference price, so costs come out of cash: a book fully invested carries cash of
   about minus the costs it paid (a small overdraft). No financing, borrow cost or margin is
   charged; short sales credit their proceeds to cash.
5. Marking. equity[t, k] = cash + sum_n shares_n x close[t, n], after bar t's execution.
6. Statistics per set (fields of :data:`~raytrade.backtest.kernel.STAT_FIELDS`): fills are legs
   traded; turnover sums |q| x fill / E over fills; exposure counts bars ending with any position;
   costs are commissions + |q| x |fill - ref|. Round trips are counted per asset as in the
   single-asset kernel (rule 7 there): from a fill opening a position from flat to the fill
   bringing it back to flat (a flip closes one and opens the next, its cash flow split pro rata).

Size-dependent impact (``CostModel.impact``) is not modelled here yet: the runner refuses it.
"""

from __future__ import annotations

import numba as nb
import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field

from raytrade.backtest.costs import CalendarPeriod, CostModel, Rebalance
from raytrade.backtest.kernel import N_STATS, KernelOutput, check_prices
from raytrade.core.errors import BacktestError
from raytrade.execution.formulas import (
    book_target_shares,
    commission,
    fill_price,
    is_trade,
    register_with_numba,
)

register_with_numba()  # the formulas, compiled inline by the @njit code below

PortfolioRebalance = Rebalance  # one vocabulary for both kernels (calendar and threshold: portfolios only)

_MODE_CODE = {PortfolioRebalance.EVERY_BAR: 0, PortfolioRebalance.ON_CHANGE: 1,
              PortfolioRebalance.CALENDAR: 2, PortfolioRebalance.THRESHOLD: 3}


class PortfolioSizing(BaseModel):
    """How a portfolio strategy's target weights become positions (rules in the module docstring).

    ``max_gross``: the cap on sum |w| (1 = no leverage; 2 = e.g. 100 % long and 100 % short);
    ``rebalance`` and, for it, ``calendar`` (the period) or ``threshold`` (the drift band, a
    fraction of equity per asset); ``whole_shares`` and ``lot_size`` as in the single-asset
    :class:`~raytrade.backtest.costs.Sizing`.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    rebalance: PortfolioRebalance = PortfolioRebalance.ON_CHANGE
    calendar: CalendarPeriod = CalendarPeriod.MONTH
    threshold: float = Field(0.05, gt=0, le=1)
    max_gross: float = Field(1.0, gt=0, le=10)
    whole_shares: bool = False
    lot_size: float = Field(1.0, gt=0)


def calendar_due(index: pd.Index, period: CalendarPeriod | str) -> np.ndarray:
    """(T,) True at bar 0 and at the first bar of each ``period`` of a DatetimeIndex."""
    if not isinstance(index, pd.DatetimeIndex):
        raise BacktestError("calendar rebalancing needs timestamps: close must have a DatetimeIndex")
    idx = index.tz_convert(None) if index.tz is not None else index
    freq = {"week": "W", "month": "M", "quarter": "Q", "year": "Y"}[CalendarPeriod(period).value]
    p = idx.to_period(freq).asi8
    due = np.ones(len(idx), dtype=np.bool_)
    due[1:] = p[1:] != p[:-1]
    return due


@nb.njit(cache=True, nogil=True)
def _portfolio_kernel(exec_price, close, weights, due, mode, threshold, max_gross, initial_capital, impact,
                      comm_bps, comm_share, whole, lot, equity_out, shares_out, record_shares, stats):
    n_bars, n_sets, n_assets = weights.shape
    cash = np.full(n_sets, initial_capital)
    pos = np.zeros((n_sets, n_assets))
    target = np.zeros((n_sets, n_assets))
    prev_w = np.zeros((n_sets, n_assets))
    pending = np.zeros(n_sets, dtype=np.bool_)
    trip_cash = np.zeros((n_sets, n_assets))
    for t in range(n_bars):
        for k in range(n_sets):
            p = pos[k]
            s = stats[k]
            if pending[k]:
                pending[k] = False
                eq = cash[k]
                for n in range(n_assets):
                    eq += p[n] * exec_price[t, n]
                for n in range(n_assets):
                    ref = exec_price[t, n]
                    goal = book_target_shares(target[k, n], eq, ref, whole, lot)
                    p0 = p[n]
                    q = goal - p0
                    if not is_trade(goal, p0):
                        continue
                    fill = fill_price(ref, 1.0 if q > 0.0 else -1.0, impact)
                    aq = abs(q)
                    comm = commission(q, fill, comm_bps, comm_share)
                    flow = -q * fill - comm
                    cash[k] += flow
                    p[n] = goal
                    s[0] += 1.0
                    if eq > 0.0:
                        s[5] += aq * fill / eq
                    s[7] += comm + aq * abs(fill - ref)
                    if p0 != 0.0 and (goal == 0.0 or (goal > 0.0) != (p0 > 0.0)):
                        frac = abs(p0) / aq
                        pnl = trip_cash[k, n] + frac * flow
                        s[1] += 1.0
                        if pnl > 0.0:
                            s[2] += 1.0
                            s[3] += pnl
                        else:
                            s[4] -= pnl
                        trip_cash[k, n] = (1.0 - frac) * flow
                    else:
                        trip_cash[k, n] += flow
            eq = cash[k]
            held = False
            for n in range(n_assets):
                eq += p[n] * close[t, n]
                if p[n] != 0.0:
                    held = True
                if record_shares:
                    shares_out[t, k, n] = p[n]
            equity_out[t, k] = eq
            if held:
                s[6] += 1.0
            w = weights[t, k]
            gross = 0.0
            for n in range(n_assets):
                gross += abs(w[n])
            cap = max_gross / gross if gross > max_gross else 1.0
            go = False
            if mode == 0:
                go = True
            elif mode == 1:
                for n in range(n_assets):
                    if w[n] != prev_w[k, n]:
                        go = True
                        break
            elif mode == 2:
                go = due[t]
            else:
                if eq <= 0.0:
                    go = held
                else:
                    for n in range(n_assets):
                        if abs(p[n] * close[t, n] / eq - w[n] * cap) > threshold:
                            go = True
                            break
            if go:
                pending[k] = True
                for n in range(n_assets):
                    target[k, n] = w[n] * cap
            for n in range(n_assets):
                prev_w[k, n] = w[n]


def run_portfolio_kernel(
    weights: np.ndarray,
    close: np.ndarray,
    *,
    open_: np.ndarray | None = None,
    costs: CostModel | None = None,
    sizing: PortfolioSizing | None = None,
    index: pd.Index | None = None,
    initial_capital: float = 100_000.0,
    record_shares: bool = True,
) -> KernelOutput:
    """Run K books at once (rules in the module docstring).

    ``weights`` (T, K, N) finite; ``close`` and ``open_`` (T, N) finite and > 0; ``index`` the bar
    timestamps (needed for calendar rebalancing). Returns equity (T, K) in the currency of
    ``initial_capital``, shares (T, K, N) when recorded, and stats (K, len(STAT_FIELDS)).
    """
    costs = costs or CostModel()
    sizing = sizing or PortfolioSizing()
    if costs.impact is not None:
        raise BacktestError("costs.impact (size-dependent impact) is not modelled by the portfolio kernel yet: "
                            "leave it out of portfolio backtests")
    w = np.ascontiguousarray(weights, dtype=np.float64)
    c = np.ascontiguousarray(close, dtype=np.float64)
    if c.ndim != 2:
        raise BacktestError(f"close must be 2-D (bars x assets), got shape {c.shape}")
    if w.ndim != 3 or w.shape[0] != c.shape[0] or w.shape[2] != c.shape[1]:
        raise BacktestError(f"weights must have shape (bars, sets, assets) = ({c.shape[0]}, K, {c.shape[1]}), "
                            f"got {w.shape}")
    ex = c if open_ is None else np.ascontiguousarray(open_, dtype=np.float64)
    if ex.shape != c.shape:
        raise BacktestError(f"open shape {ex.shape} differs from close shape {c.shape}")
    check_prices(c, ex)
    if not np.isfinite(w).all():
        t, k, a = np.argwhere(~np.isfinite(w))[0]
        raise BacktestError(f"weight at bar {t}, set {k}, asset {a} is {w[t, k, a]}: weights must be finite")
    if not np.isfinite(initial_capital) or initial_capital <= 0:
        raise BacktestError(f"initial_capital must be finite and > 0, got {initial_capital}")
    n_bars, n_sets, n_assets = w.shape
    if sizing.rebalance is PortfolioRebalance.CALENDAR:
        if index is None or len(index) != n_bars:
            raise BacktestError("calendar rebalancing needs the bars' timestamps (index)")
        due = calendar_due(index, sizing.calendar)
    else:
        due = np.zeros(n_bars, dtype=np.bool_)
    equity = np.empty((n_bars, n_sets))
    shares = np.empty((n_bars, n_sets, n_assets)) if record_shares else np.empty((1, 1, 1))
    stats = np.zeros((n_sets, N_STATS))
    _portfolio_kernel(ex, c, w, due, _MODE_CODE[sizing.rebalance], sizing.threshold, sizing.max_gross,
                      float(initial_capital), costs.price_impact_bps / 1e4, costs.commission_bps / 1e4,
                      costs.commission_per_share, sizing.whole_shares, sizing.lot_size, equity, shares,
                      record_shares, stats)
    return KernelOutput(equity, shares if record_shares else None, stats)
