"""The vectorised backtest kernel: K single-asset backtests in one fused pass over the bars.

Rules (the reference event loop in ``tests/backtest/reference.py`` implements the same ones bar by
bar, and the tests hold the two equal):

1. Signals. ``signal[t, k]`` in [-1, 1] is column k's target, known at bar t's close. Column k
   trades asset ``col_asset[k]``. Target weight w = signal x ``scale[t, asset]`` (``scale[t, k]``
   for Kelly sizing, which reads each column's own signals; see
   :class:`~raytrade.backtest.costs.Sizing`), a fraction of equity, negative for short.
2. Next-bar execution. A target set at bar t's close is executed at bar t+1 at the reference price
   ``exec_price[t+1]``: bar t+1's open when opens exist, else bar t+1's close. A target set at the
   last bar is never executed. Columns start flat with ``initial_capital`` in cash.
3. When to trade. With ``rebalance=on_change`` a new target is set only when the signal differs
   from the previous bar's (the signal before bar 0 is 0); the share count is otherwise held, so
   the weight drifts with the price; a target set while the scale was 0 (volatility warm-up) is
   set again at the first bar whose scale is positive. With ``every_bar`` the target is reset at
   every bar.
4. Share count (:func:`~raytrade.execution.formulas.target_shares`). Equity at execution
   E = cash + shares x ref price; if E <= 0 or w = 0 the target is flat (a ruined column is
   liquidated and stays flat). A reversal (long to short or back) is closed first: E becomes the
   cash left once flat, the closing leg's impact and commission paid. The count is |w| x E / unit,
   unit = fill x (1 + commission bps / 1e4) + commission per share on the target's side, so that
   shares x fill + commission fit |w| x E; with whole shares it is floored to the lot. A count
   within 1e-12 (relative to the larger) of the shares held is no trade: the float residue of
   recomputing the same count (:func:`~raytrade.execution.formulas.is_trade`).
5. Fill price = ref x (1 + side x (half_spread_bps + slippage_bps) / 1e4), side = +1 buy, -1 sell.
   With a size-dependent impact (``CostModel.impact``) the fill price is worse by a further
   fraction :func:`~raytrade.execution.formulas.impact_cost` (|q|, adv, sigma) of ref, adv and
   sigma the average volume and return volatility of the ``lookback`` bars up to the bar the
   target was set at (:func:`~raytrade.execution.impact.impact_inputs`): the count of rule 4 is
   sized without it, so a large trade's impact comes out of cash (it may leave cash slightly
   below zero: a short-lived overdraft, not margin).
   Commission = |q| x fill x commission_bps / 1e4 + |q| x commission_per_share.
   Cash -= q x fill + commission. No financing, borrow cost or margin is charged.
6. Marking. equity[t] = cash + shares x close[t], after bar t's execution.
7. Trades. A round trip runs from a fill that opens a position from flat (or the opening part of a
   flip) to the fill that brings it back to flat (or the closing part of a flip); its P&L is the
   sum of its fills' cash flows (commissions in; a flip's commission is split pro rata by shares).
   Trips still open at the last bar are not counted.
"""

from __future__ import annotations

from dataclasses import dataclass

import numba as nb
import numpy as np

from raytrade.backtest.costs import CostModel, Rebalance, Sizing, SizingMode
from raytrade.core.calendars import periods_per_year
from raytrade.core.errors import BacktestError, ConfigError
from raytrade.execution.formulas import (
    NO_IMPACT,
    commission,
    fill_price,
    impact_cost,
    is_trade,
    rebalance_due,
    register_with_numba,
    sized_after,
    target_shares,
)
from raytrade.execution.impact import impact_inputs

register_with_numba()  # the formulas, compiled inline by the @njit code below

TRADING_DAYS = int(periods_per_year("XNYS"))  # daily bars: the sqrt(252) of vol-target sizing

# Per-column scalars accumulated by the kernel, in this order along the last axis of `stats`.
STAT_FIELDS: tuple[str, ...] = (
    "fills",            # number of fills
    "round_trips",      # closed round trips
    "wins",             # closed round trips with P&L > 0
    "gross_profit",     # sum of winning trips' P&L (currency)
    "gross_loss",       # sum of losing trips' |P&L| (currency)
    "turnover",         # sum over fills of |q| x fill / equity at execution
    "exposure_bars",    # bars ending with a non-zero position
    "costs",            # commissions + |q| x |fill - ref|: total paid to the market (currency)
    "impact_costs",     # |q| x ref x the size-dependent impact: the part of costs due to size (currency)
)
N_STATS = len(STAT_FIELDS)


@dataclass(frozen=True, slots=True)
class KernelOutput:
    """``equity`` (T, K) in currency; ``shares`` (T, K) after each bar's fill, or None when not
    recorded; ``stats`` (K, len(STAT_FIELDS)) float64."""

    equity: np.ndarray
    shares: np.ndarray | None
    stats: np.ndarray

    def stat(self, name: str) -> np.ndarray:
        return self.stats[:, STAT_FIELDS.index(name)]


@nb.njit(cache=True, nogil=True, fastmath=False)
def _kernel(exec_price, close, scale, signal, col_asset, initial_capital, impact, comm_bps,
            comm_share, whole, lot, every_bar, equity_out, accumulate, shares_out, record_shares, stats,
            imp_kind, imp_adv, imp_sigma, imp_eta, imp_beta, imp_gamma, imp_y, scale_by_col):
    n_bars, n_cols = signal.shape
    cash = np.full(n_cols, initial_capital)
    pos = np.zeros(n_cols)
    prev_sig = np.zeros(n_cols)
    pending = np.zeros(n_cols, dtype=np.bool_)
    pending_w = np.zeros(n_cols)
    trip_cash = np.zeros(n_cols)
    sized = np.ones(n_cols, dtype=np.bool_)
    for t in range(n_bars):
        for k in range(n_cols):
            a = col_asset[k]
            if pending[k]:
                pending[k] = False
                ref = exec_price[t, a]
                p0 = pos[k]
                eq = cash[k] + p0 * ref
                w = pending_w[k]
                target = target_shares(w, cash[k], p0, ref, impact, comm_bps, comm_share, whole, lot)
                q = target - p0
                if is_trade(target, p0):
                    extra = 0.0
                    if imp_kind != NO_IMPACT:
                        extra = impact_cost(q, imp_adv[t - 1, a], imp_sigma[t - 1, a], imp_kind, imp_eta,
                                            imp_beta, imp_gamma, imp_y)
                    fill = fill_price(ref, 1.0 if q > 0 else -1.0, impact + extra)
                    aq = abs(q)
                    comm = commission(q, fill, comm_bps, comm_share)
                    flow = -q * fill - comm
                    cash[k] += flow
                    pos[k] = target
                    s = stats[k]
                    s[0] += 1.0
                    if eq > 0.0:
                        s[5] += aq * fill / eq
                    s[7] += comm + aq * abs(fill - ref)
                    s[8] += aq * ref * extra
                    closes = p0 != 0.0 and (target == 0.0 or (target > 0.0) != (p0 > 0.0))
                    if closes:
                        frac = abs(p0) / aq
                        pnl = trip_cash[k] + frac * flow
                        s[1] += 1.0
                        if pnl > 0.0:
                            s[2] += 1.0
                            s[3] += pnl
                        else:
                            s[4] -= pnl
                        trip_cash[k] = (1.0 - frac) * flow
                    else:
                        trip_cash[k] += flow
            p = pos[k]
            if accumulate:
                equity_out[t, k] += cash[k] + p * close[t, a]
            else:
                equity_out[t, k] = cash[k] + p * close[t, a]
            if record_shares:
                shares_out[t, k] = p
            if p != 0.0:
                stats[k, 6] += 1.0
            sg = signal[t, k]
            sc = scale[t, k] if scale_by_col else scale[t, a]
            if rebalance_due(every_bar, sg, prev_sig[k], sized[k], sc):
                pending[k] = True
                pending_w[k] = sg * sc
                sized[k] = sized_after(sg, sc)
            prev_sig[k] = sg


def kelly_scale(signal: np.ndarray, close: np.ndarray, col_asset: np.ndarray, sizing: Sizing) -> np.ndarray:
    """The (T, K) Kelly scale of each column from its own signals (the ``kelly`` rule of
    :class:`Sizing`), by running sums over the unit-exposure returns."""
    sig = np.asarray(signal, dtype=np.float64)
    c = np.asarray(close, dtype=np.float64)
    n_bars, n_cols = sig.shape
    n = sizing.kelly_lookback
    out = np.zeros((n_bars, n_cols))
    if n_bars <= n:
        return out
    r = c[1:] / c[:-1] - 1.0                     # (T-1, N): the return of bar s = 1..T-1
    u = sig[:-1] * r[:, col_asset]               # (T-1, K): u_s = signal_{s-1} x r_s
    cs = np.vstack([np.zeros((1, n_cols)), np.cumsum(u, axis=0)])        # cs[t] = sum of u_1..u_t
    cq = np.vstack([np.zeros((1, n_cols)), np.cumsum(u * u, axis=0)])
    m = (cs[n:] - cs[:-n]) / n                   # windows ending at t = n..T-1
    v = ((cq[n:] - cq[:-n]) - n * m * m) / (n - 1)
    with np.errstate(divide="ignore", invalid="ignore"):
        f = np.where(v > 1e-18, sizing.fraction * m / v, 0.0)
    out[n:] = np.clip(f, 0.0, sizing.max_leverage)
    return out


def sizing_scale(close: np.ndarray, sizing: Sizing, signal: np.ndarray | None = None,
                 col_asset: np.ndarray | None = None, periods_per_year: float = TRADING_DAYS) -> np.ndarray:
    """The scale that turns a signal into a target weight (see :class:`Sizing`): (T, N) per
    asset, or for Kelly sizing (T, K) per column of ``signal`` (required then; ``col_asset`` as
    in :func:`run_kernel`). Volatility is annualised with sqrt(``periods_per_year``): 252 for
    daily equity bars, 365 for daily crypto bars, 105,120 for 5-minute crypto bars
    (:func:`raytrade.core.calendars.bars_per_year`)."""
    close = np.asarray(close, dtype=np.float64)
    if sizing.mode is SizingMode.KELLY:
        if signal is None:
            raise ConfigError("kelly sizing reads the strategy's own signals: pass them (signal=...) to size by it")
        sig = np.asarray(signal)
        if col_asset is None:
            col_asset = np.arange(sig.shape[1]) if close.shape[1] == sig.shape[1] else np.zeros(sig.shape[1], int)
        return kelly_scale(sig, close, np.asarray(col_asset, dtype=np.int64), sizing)
    if sizing.mode is SizingMode.FIXED_FRACTION:
        return np.full(close.shape, sizing.fraction)
    n = sizing.vol_lookback
    rets = close[1:] / close[:-1] - 1.0
    scale = np.zeros(close.shape)
    if len(rets) >= n:
        windows = np.lib.stride_tricks.sliding_window_view(rets, n, axis=0)  # (T-n, N, n)
        vol = windows.std(axis=-1, ddof=1) * np.sqrt(periods_per_year)
        with np.errstate(divide="ignore"):
            s = np.where(vol > 0, sizing.fraction * sizing.vol_target / vol, np.inf)
        scale[n:] = np.minimum(sizing.max_leverage, s)
    return scale


def run_kernel(
    signal: np.ndarray,
    close: np.ndarray,
    *,
    open_: np.ndarray | None = None,
    col_asset: np.ndarray | None = None,
    costs: CostModel | None = None,
    sizing: Sizing | None = None,
    initial_capital: float = 100_000.0,
    record_shares: bool = True,
    scale: np.ndarray | None = None,
    equity_into: np.ndarray | None = None,
    volume: np.ndarray | None = None,
    periods_per_year: float = TRADING_DAYS,
) -> KernelOutput:
    """Run K backtests at once (rules in the module docstring).

    ``signal`` (T, K) in [-1, 1], finite; ``close`` and ``open_`` (T, N) > 0, finite; ``col_asset``
    (K,) maps columns to assets (default: column k trades asset k when N == K, else asset 0).
    ``scale`` may be passed precomputed (from :func:`sizing_scale`) to share it across chunks;
    ``periods_per_year`` annualises the volatility of vol-target sizing when it is not.
    Equity is in the currency of ``initial_capital``. With ``equity_into`` (T, K) float64,
    C-contiguous, each column's equity is added to it in place and the output's ``equity`` is that
    array: sleeves summed into one book without a (T, K) array per sleeve (a large grid's equity
    is hundreds of MB, and a fresh one per sleeve is paged in and summed again).
    """
    costs = costs or CostModel()
    sizing = sizing or Sizing()
    if sizing.rebalance not in (Rebalance.ON_CHANGE, Rebalance.EVERY_BAR):
        raise BacktestError(f"sizing.rebalance {sizing.rebalance.value} applies to portfolio strategies; a "
                            "per-asset strategy rebalances on_change or every_bar")
    signal = np.asarray(signal)
    close = _as_2d(close, "close")
    if signal.ndim != 2:
        raise BacktestError(f"signal must be 2-D (bars x columns), got shape {signal.shape}")
    n_bars, n_cols = signal.shape
    if close.shape[0] != n_bars:
        raise BacktestError(f"signal has {n_bars} bars but close has {close.shape[0]}")
    exec_price = close if open_ is None else _as_2d(open_, "open")
    if exec_price.shape != close.shape:
        raise BacktestError(f"open shape {exec_price.shape} differs from close shape {close.shape}")
    check_prices(close, exec_price)
    if not np.isfinite(signal).all():
        t, k = np.argwhere(~np.isfinite(signal))[0]
        raise BacktestError(f"signal at bar {t}, column {k} is {signal[t, k]}: signals must be finite")
    if col_asset is None:
        col_asset = np.arange(n_cols) if close.shape[1] == n_cols else np.zeros(n_cols, dtype=np.int64)
    col_asset = np.ascontiguousarray(col_asset, dtype=np.int64)
    if col_asset.shape != (n_cols,) or (n_cols and (col_asset.min() < 0 or col_asset.max() >= close.shape[1])):
        raise BacktestError(f"col_asset must map {n_cols} columns to assets 0..{close.shape[1] - 1}")
    if not np.isfinite(initial_capital) or initial_capital <= 0:
        raise BacktestError(f"initial_capital must be finite and > 0, got {initial_capital}")
    by_col = sizing.mode is SizingMode.KELLY
    if scale is None:
        scale = sizing_scale(close, sizing, signal, col_asset, periods_per_year)
    if np.shape(scale) != ((n_bars, n_cols) if by_col else close.shape):
        raise BacktestError(f"scale must have shape {(n_bars, n_cols) if by_col else close.shape}, "
                            f"got {np.shape(scale)}")
    if equity_into is None:
        equity = np.empty((n_bars, n_cols))
    elif (equity_into.shape != (n_bars, n_cols) or equity_into.dtype != np.float64
          or not equity_into.flags.c_contiguous or not equity_into.flags.writeable):
        raise BacktestError(f"equity_into must be a writeable C-contiguous float64 array of shape "
                            f"{(n_bars, n_cols)}, got {equity_into.dtype} {equity_into.shape}")
    else:
        equity = equity_into
    shares = np.empty((n_bars, n_cols)) if record_shares else np.empty((1, 1))
    stats = np.zeros((n_cols, N_STATS))
    imp = costs.impact
    if imp is None:
        adv = sig = np.zeros((1, 1))
    else:
        if volume is None:
            raise BacktestError("costs.impact needs volumes: use an OHLCV table (data.kind: ohlcv)")
        vol = _as_2d(volume, "volume")
        if vol.shape != close.shape:
            raise BacktestError(f"volume shape {vol.shape} differs from close shape {close.shape}")
        try:
            adv, sig = impact_inputs(close, vol, imp.lookback)
        except ConfigError as e:
            raise BacktestError(str(e)) from None
    _kernel(exec_price, close, np.ascontiguousarray(scale, dtype=np.float64), np.ascontiguousarray(signal),
            col_asset, float(initial_capital), costs.price_impact_bps / 1e4, costs.commission_bps / 1e4,
            costs.commission_per_share, sizing.whole_shares, sizing.lot_size,
            sizing.rebalance is Rebalance.EVERY_BAR, equity, equity_into is not None, shares, record_shares, stats,
            NO_IMPACT if imp is None else imp.code, adv, sig, *(0.0, 0.0, 0.0, 0.0) if imp is None else
            (imp.eta, imp.beta, imp.gamma, imp.y), by_col)
    return KernelOutput(equity, shares if record_shares else None, stats)


def check_prices(close: np.ndarray, exec_price: np.ndarray) -> None:
    """BacktestError naming the first bar and asset whose close or open is not finite and > 0
    (both kernels' input check)."""
    for name, arr in (("close", close), ("open", exec_price)):
        bad = ~(np.isfinite(arr) & (arr > 0))
        if bad.any():
            t, a = np.argwhere(bad)[0]
            raise BacktestError(f"{name} price at bar {t}, asset {a} is {arr[t, a]}: prices must be finite and > 0")


def _as_2d(arr: np.ndarray, name: str) -> np.ndarray:
    a = np.ascontiguousarray(arr, dtype=np.float64)
    if a.ndim == 1:
        a = a[:, None]
    if a.ndim != 2:
        raise BacktestError(f"{name} must be 1-D or 2-D (bars x assets), got shape {a.shape}")
    return a
