"""Options overlays on a stock: covered calls and cash-secured puts, sold monthly and held to expiry.

SYNTHETIC OPTION PRICES: raytrade has no option chain data, so every option is priced with the
Black-Scholes functions of :mod:`raytrade.risk.options` at volatility = the stock's realised
volatility (annualised sample standard deviation of the last ``vol_lookback`` daily log returns,
sqrt 252) plus ``vol_premium`` (or a fixed ``volatility``), rate ``risk_free``, no dividend yield.
Real premiums differ (skew, the variance risk premium, events); every result says so.

Rules (bars are daily closes; T is calendar time, days / 365):

1. Rolls. At the first bar and at each expiry, ``contracts`` options of ``multiplier`` shares
   are sold at the close for expiry on the first bar at least ``days_to_expiry`` calendar days
   later. Strike: by delta (the strike whose Black-Scholes delta is ``delta`` for a call, -``delta``
   for a put, at the pricing volatility) or ``otm_pct`` out of the money (call K = S (1 + p), put
   K = S (1 - p)), rounded to ``strike_step`` when it is > 0 (up for calls, down for puts).
   Premium in = price x (1 - ``option_half_spread``) x multiplier x contracts, less
   ``commission_per_contract`` x contracts.
2. Covered call. The stock (multiplier x contracts shares) is bought at the first close with
   ``initial_capital`` (default: exactly its cost). At
   expiry a call with S > K is assigned: the shares are delivered at K (cash += K x shares) and
   bought back at that close S to keep covering (cash -= S x shares), so the book keeps its
   stance and the assignment costs S - K a share; otherwise the call expires worthless.
3. Cash-secured put. The book holds cash (``initial_capital``, default the first close x
   shares; at least K x shares at every
   sale, else fewer contracts are sold, or none). At expiry a put with S < K is assigned: the
   shares are bought at K and sold at that close S (the book stays in cash), a loss of K - S a
   share; otherwise it expires worthless.
4. Marking. equity = cash + shares x S - contracts x multiplier x the open option's price at the
   bar (Black-Scholes at the bar's close and remaining time, at the volatility it was sold at:
   a trailing realised volatility jumps with one crash day and would mark an out-of-the-money
   option far above what it pays), cash earning no interest. Stock trades pay
   ``commission_bps``.

Reported: premium income, assignments, the annualised premium yield (premium income per year /
capital at risk: the stock's value at each sale for calls, the strike's cash for puts, averaged
over the sales) and the equity curve against holding the stock (calls) or cash (puts).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import StrEnum

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from scipy.special import ndtri

from raytrade.backtest.costs import CostModel, Sizing, SizingMode
from raytrade.backtest.kernel import STAT_FIELDS, KernelOutput
from raytrade.core.calendars import bars_per_year, day_numbers
from raytrade.core.errors import BacktestError, ConfigError
from raytrade.risk.options import bs_price
from raytrade.strategies.base import OverlayStrategy
from raytrade.strategies.options import SYNTHETIC_NOTE
from raytrade.strategies.space import ParamBlock

TRADING_DAYS = 252


class OverlayKind(StrEnum):
    COVERED_CALL = "covered_call"
    CASH_SECURED_PUT = "cash_secured_put"


class OverlayConfig(BaseModel):
    """The overlay (rules in the module docstring). Strike by ``delta`` unless ``otm_pct`` is set."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: OverlayKind = OverlayKind.COVERED_CALL
    contracts: int = Field(5, ge=1)
    multiplier: int = Field(100, ge=1)
    days_to_expiry: int = Field(30, ge=1, le=730)
    delta: float = Field(0.30, gt=0, lt=1)
    otm_pct: float | None = Field(None, ge=0, lt=1)
    strike_step: float = Field(0.0, ge=0)
    vol_lookback: int = Field(21, ge=2, le=2520)
    vol_premium: float = Field(0.0, ge=-0.5, le=2)
    volatility: float | None = Field(None, gt=0, le=5)
    risk_free: float = Field(0.0, ge=-0.05, le=0.5)
    option_half_spread: float = Field(0.0, ge=0, lt=1)
    commission_per_contract: float = Field(0.0, ge=0)
    commission_bps: float = Field(0.0, ge=0, le=1000)
    initial_capital: float | None = Field(None, gt=0)


@dataclass(frozen=True, slots=True)
class OverlayResult:
    """``equity`` and ``benchmark`` (holding the stock, or cash) per bar; ``events`` one row per
    sale, expiry and assignment; ``summary`` the headline figures; ``note`` says the option prices
    are synthetic."""

    equity: pd.Series
    benchmark: pd.Series
    events: pd.DataFrame
    summary: dict
    note: str = SYNTHETIC_NOTE


def realised_vol(close: np.ndarray, lookback: int) -> np.ndarray:
    """(T,) annualised (sqrt 252) sample standard deviation (ddof 1) of the ``lookback`` daily log
    returns ending at each bar; NaN before ``lookback`` returns exist."""
    r = np.diff(np.log(close))
    out = np.full(len(close), np.nan)
    if len(r) >= lookback:
        win = np.lib.stride_tricks.sliding_window_view(r, lookback)
        out[lookback:] = win.std(axis=1, ddof=1) * math.sqrt(TRADING_DAYS)
    return out


def strike_for_delta(S: float, T: float, r: float, sigma: float, delta: float, call: bool) -> float:
    """The Black-Scholes strike (no dividends) whose delta is ``delta`` (call) or -``delta`` (put):
    d1 = N^-1(delta) for a call, -N^-1(delta) for a put, K = S exp(-(d1 sigma sqrt T - (r +
    sigma^2 / 2) T))."""
    d1 = float(ndtri(delta)) if call else -float(ndtri(delta))
    return S * math.exp(-(d1 * sigma * math.sqrt(T) - (r + 0.5 * sigma * sigma) * T))


@dataclass(frozen=True, slots=True)
class _Written:
    """One overlay's path over bars 0 .. n-1 (NaN equity before ``first``): ``shares`` of stock and
    ``contracts`` of the open option at each bar's close; ``trades`` (bar, notional, cost) for the
    statistics; ``fills`` rows (bar, what, side, quantity in shares, price a share, commission);
    ``trips`` each settled option's P&L (premium in less the payout at expiry and fees)."""

    equity: np.ndarray
    shares: np.ndarray
    contracts: np.ndarray
    events: list[dict]
    fills: list[tuple]
    trades: list[tuple[int, float, float]]
    trips: list[float]
    premiums: float
    at_risk: list[float]


def _write(c: np.ndarray, days: np.ndarray, sig: np.ndarray, first: int, cfg: OverlayConfig, *,
           start_cash: float, notional: bool) -> _Written:
    """The overlay of ``cfg`` on closes ``c`` from bar ``first`` (the rules of the module docstring).

    ``days``: each bar's calendar day number (non-decreasing); ``sig``: the pricing volatility
    per bar. With ``notional`` the book is sized by its capital instead of ``cfg.contracts``: a
    covered call buys ``start_cash`` worth of stock (fractional shares) and writes calls on all of
    it; a cash-secured put writes as many puts (fractional) as the cash secures at the strike, as
    index-style overlays (Cboe's BXM and PUT) are. The option events are found in a loop over
    sales; the options are marked at every bar in one vectorised Black-Scholes call."""
    kind = OverlayKind(cfg.kind)   # model_copy(update=...) leaves a plain string
    call = kind is OverlayKind.COVERED_CALL
    right = "call" if call else "put"
    n, mult, bps = len(c), cfg.multiplier, cfg.commission_bps / 1e4
    flows = np.zeros(n)
    strike, expiry, held, sold_vol = np.ones(n), np.zeros(n, dtype=np.int64), np.zeros(n), np.zeros(n)
    fills: list[tuple] = []
    trades: list[tuple[int, float, float]] = []
    shares = 0.0
    if call:
        shares = start_cash / (c[first] * (1 + bps)) if notional else float(cfg.contracts * mult)
        cost = c[first] * shares * (1 + bps)
        if cost > start_cash + 1e-9:
            raise BacktestError(f"initial_capital {start_cash:,.2f} does not buy the {shares:g} shares the calls "
                                f"cover ({cost:,.2f} at bar {first})")
        flows[first] -= cost
        fills.append((first, None, "buy", shares, c[first], c[first] * shares * bps))
        trades.append((first, c[first] * shares, c[first] * shares * bps))
    cash = start_cash + flows[first]
    events: list[dict] = []
    trips: list[float] = []
    premiums = 0.0
    at_risk: list[float] = []
    t = first
    while True:
        e = int(np.searchsorted(days, days[t] + cfg.days_to_expiry, side="left"))
        if e >= n or not np.isfinite(sig[t]) or sig[t] <= 0:
            break
        T = (days[e] - days[t]) / 365.0
        S = c[t]
        if cfg.otm_pct is not None:
            K = S * (1 + cfg.otm_pct) if call else S * (1 - cfg.otm_pct)
        else:
            K = strike_for_delta(S, T, cfg.risk_free, float(sig[t]), cfg.delta, call)
        if cfg.strike_step > 0:
            K = (math.ceil(K / cfg.strike_step) if call else math.floor(K / cfg.strike_step)) * cfg.strike_step
        if K <= 0:
            break
        if call:
            contracts = shares / mult if notional else float(cfg.contracts)
        else:
            contracts = cash / (K * mult) if notional else float(min(cfg.contracts, int(cash // (K * mult))))
        if contracts <= 0:
            break
        qty = contracts * mult
        price = float(bs_price(S, K, T, cfg.risk_free, 0.0, sig[t], right))
        fee = cfg.commission_per_contract * contracts
        premium = price * (1 - cfg.option_half_spread) * qty - fee
        cash += premium
        flows[t] += premium
        premiums += premium
        at_risk.append((S if call else K) * qty)
        strike[t:e], expiry[t:e], held[t:e], sold_vol[t:e] = K, e, contracts, sig[t]
        what = (e, K)
        fills.append((t, what, "sell", qty, price * (1 - cfg.option_half_spread), fee))
        trades.append((t, price * qty, price * cfg.option_half_spread * qty + fee))
        events.append({"timestamp": t, "action": "sell", "right": right, "strike": K, "expiry": e,
                       "contracts": contracts, "price": price, "premium": premium, "volatility": float(sig[t])})
        S = c[e]
        payout = max(S - K, 0.0) if call else max(K - S, 0.0)   # a share
        settle_fee = S * qty * bps if payout > 0 else 0.0
        cash -= payout * qty + settle_fee
        flows[e] -= payout * qty + settle_fee
        # assignment (delivered at K and bought back at S, or bought at K and sold at S) nets to
        # buying the option back at its intrinsic value: the fills show it so
        fills.append((e, what, "buy", qty, payout, settle_fee))
        if payout > 0:
            trades.append((e, (K + S) * qty, settle_fee))
        events.append({"timestamp": e, "action": "assigned" if payout > 0 else "expired", "right": right,
                       "strike": K, "contracts": contracts, "price": S, "premium": 0.0})
        trips.append(premium - payout * qty - settle_fee)
        t = e
    value = np.zeros(n)
    live = np.flatnonzero(held > 0)
    if len(live):
        left = np.maximum((days[expiry[live]] - days[live]) / 365.0, 0.0)
        value[live] = bs_price(c[live], strike[live], left, cfg.risk_free, 0.0, sold_vol[live], right)
    equity = start_cash + np.cumsum(flows) + shares * c - held * mult * value
    equity[:first] = np.nan
    stock = np.where(np.arange(n) >= first, shares, 0.0)
    return _Written(equity, stock, held, events, fills, trades, trips, premiums, at_risk)


def _stats(w: _Written, first: int) -> np.ndarray:
    """Kernel-style statistics (:data:`~raytrade.backtest.kernel.STAT_FIELDS`) of one overlay:
    fills are the stock purchase, the option sales and the assignments; a round trip is a written
    option from sale to expiry, a win when its premium beat its payout; turnover sums traded
    notional (the premium of a sale, strike plus price a share of an assignment, the stock bought)
    over the equity at the trade; exposure counts bars with stock or an open option; costs are the
    option half-spread, contract and stock commissions."""
    out = np.zeros(len(STAT_FIELDS))
    f = STAT_FIELDS.index
    trips = np.asarray(w.trips)
    out[f("fills")] = len(w.trades)
    out[f("round_trips")] = len(trips)
    out[f("wins")] = float((trips > 0).sum())
    out[f("gross_profit")] = float(trips[trips > 0].sum())
    out[f("gross_loss")] = float(-trips[trips < 0].sum())
    out[f("turnover")] = sum(notional / w.equity[bar] for bar, notional, _ in w.trades if w.equity[bar] > 0)
    out[f("exposure_bars")] = float(((w.shares[first:] > 0) | (w.contracts[first:] > 0)).sum())
    out[f("costs")] = sum(cost for _, _, cost in w.trades)
    return out


def _volatility(c: np.ndarray, cfg: OverlayConfig) -> tuple[np.ndarray, int]:
    """The pricing volatility per bar and the first bar it exists."""
    if cfg.volatility is not None:
        return np.full(len(c), cfg.volatility), 0
    return realised_vol(c, cfg.vol_lookback) + cfg.vol_premium, cfg.vol_lookback


def run_overlay(close: pd.Series, config: OverlayConfig | None = None) -> OverlayResult:
    """The overlay of ``config`` on one stock's daily closes (a Series with a DatetimeIndex)."""
    cfg = config or OverlayConfig()
    if not isinstance(close, pd.Series) or not isinstance(close.index, pd.DatetimeIndex):
        raise BacktestError("close must be a pandas Series of daily closes with a DatetimeIndex")
    c = close.to_numpy(np.float64)
    if len(c) < 2 or not (np.isfinite(c) & (c > 0)).all():
        bad = int(np.argmax(~(np.isfinite(c) & (c > 0)))) if len(c) else 0
        raise BacktestError(f"close must hold at least 2 finite prices > 0 (bad at {close.index[bad] if len(c) else '-'})")
    sig, first = _volatility(c, cfg)
    if first >= len(c) - 1:
        raise BacktestError(f"{len(c)} bars leave no bar after the {cfg.vol_lookback}-bar volatility warm-up")
    kind = OverlayKind(cfg.kind)   # model_copy(update=...) leaves a plain string
    call = kind is OverlayKind.COVERED_CALL
    size = cfg.contracts * cfg.multiplier
    cost = c[first] * size * (1 + cfg.commission_bps / 1e4)
    start_cash = cfg.initial_capital if cfg.initial_capital is not None else (cost if call else c[first] * size)
    if call and start_cash < cost - 1e-9:
        raise BacktestError(f"initial_capital {start_cash:,.2f} does not buy the {size} shares the calls cover "
                            f"({cost:,.2f} at {close.index[first]:%Y-%m-%d})")
    w = _write(c, day_numbers(close.index), sig, first, cfg, start_cash=start_cash, notional=False)
    events = [{**e, "timestamp": close.index[e["timestamp"]],
               **({"expiry": close.index[e["expiry"]]} if "expiry" in e else {})} for e in w.events]
    eq = pd.Series(w.equity[first:], index=close.index[first:], name=kind.value)
    bench = (pd.Series(c[first:] / c[first] * start_cash, index=eq.index, name="hold stock") if call
             else pd.Series(np.full(len(eq), start_cash), index=eq.index, name="cash"))
    years = max((eq.index[-1] - eq.index[0]).days / 365.0, 1e-9)
    kinds = pd.DataFrame(events)
    sales = int((kinds["action"] == "sell").sum()) if len(kinds) else 0
    summary = {
        "kind": kind.value, "sales": sales,
        "assignments": int((kinds["action"] == "assigned").sum()) if len(kinds) else 0,
        "premium_income": w.premiums,
        "annualised_premium_yield": (w.premiums / years) / float(np.mean(w.at_risk)) if w.at_risk else float("nan"),
        "total_return": float(eq.iloc[-1] / start_cash - 1), "benchmark_total_return": float(bench.iloc[-1] / start_cash - 1),
        "years": years, "note": SYNTHETIC_NOTE,
    }
    return OverlayResult(eq, bench, kinds, summary)


# --- overlays as catalogue strategies (raytrade.strategies.options): sleeves sized by capital ----

def strategy_overlay(strategy: OverlayStrategy, params: dict[str, int | float], costs: CostModel | None) -> OverlayConfig:
    """The :class:`OverlayConfig` of one parameter set of an overlay strategy; stock trades pay the
    cost model's commission, half-spread and slippage (bps, added)."""
    c = costs or CostModel()
    fields = {**strategy.overlay(params), "commission_bps": c.commission_bps + c.half_spread_bps + c.slippage_bps}
    try:
        return OverlayConfig(**fields)
    except ValidationError as exc:
        err = exc.errors()[0]
        raise ConfigError(f"strategy {strategy.name}: {'.'.join(map(str, err['loc']))}: {err['msg']}") from None


def _check_sizing(sizing: Sizing | None) -> None:
    if sizing is not None and (sizing.mode is not SizingMode.FIXED_FRACTION or sizing.fraction != 1.0):
        raise ConfigError("sizing: an options overlay writes one option per 100 shares of its sleeve's capital: use "
                          "mode fixed_fraction with fraction 1")


def _sleeve(c: np.ndarray, days: np.ndarray, first_trade: int, cfg: OverlayConfig, capital: float) -> _Written | None:
    """One asset's overlay on closes ``c`` (NaN before its listing) with ``capital``, its first
    sale at ``first_trade`` or, when the volatility window is not full there yet, at the first bar
    it is; None when no bar but the last could sell (the sleeve holds cash)."""
    listed = np.isfinite(c)
    if not listed.any():
        return None
    lo = int(listed.argmax())
    sig, warm = _volatility(c[lo:], cfg)
    first = max(first_trade - lo, warm)
    if first >= len(c) - lo - 1:
        return None
    w = _write(c[lo:], days[lo:], sig, first, cfg, start_cash=capital, notional=True)
    if lo == 0:
        return w
    pad = np.full(lo, np.nan)
    return _Written(np.r_[pad, w.equity], np.r_[np.zeros(lo), w.shares], np.r_[np.zeros(lo), w.contracts],
                    [{**e, "timestamp": e["timestamp"] + lo, **({"expiry": e["expiry"] + lo} if "expiry" in e else {})}
                     for e in w.events],
                    [(b + lo, None if what is None else (what[0] + lo, what[1]), *rest) for b, what, *rest in w.fills],
                    [(b + lo, x, y) for b, x, y in w.trades], w.trips, w.premiums, w.at_risk)


def _equity_of(w: _Written | None, n: int, capital: float) -> np.ndarray:
    """The sleeve's equity per bar: its capital in cash before the first sale."""
    if w is None:
        return np.full(n, capital)
    return np.where(np.isnan(w.equity), capital, w.equity)


def evaluate_overlay(strategy: OverlayStrategy, close: np.ndarray, block: ParamBlock, start: int, end: int, *,
                     days: np.ndarray | None, costs: CostModel | None = None, sizing: Sizing | None = None,
                     initial_capital: float = 100_000.0, warmup: int | None = None) -> KernelOutput:
    """Each set of ``block`` written on every asset of ``close`` (T, N) over bars [start, end), the
    capital split equally over the N sleeves and summed: equity (end - start, K) and combined
    stats, as :func:`~raytrade.backtest.runner.evaluate_sleeves` gives a walk-forward trial. The
    volatility reads bars from ``start - warmup``; every sleeve starts in cash at ``start``, buys
    (covered call) and writes there. ``days``: each bar's calendar day number (expiries are in
    calendar days)."""
    if days is None:
        raise BacktestError(f"{strategy.name} needs the bars' dates (option expiries are in calendar days)")
    _check_sizing(sizing)
    lo = max(0, start - (strategy.warmup(block) if warmup is None else warmup))
    n_assets = close.shape[1]
    capital = initial_capital / n_assets
    equity = np.zeros((end - start, len(block)))
    stats = np.zeros((n_assets, len(block), len(STAT_FIELDS)))
    for k, params in enumerate(block.rows()):
        cfg = strategy_overlay(strategy, params, costs)
        for j in range(n_assets):
            w = _sleeve(close[lo:end, j], days[lo:end], start - lo, cfg, capital)
            equity[:, k] += _equity_of(w, end - lo, capital)[start - lo:]
            if w is not None:
                stats[j, k] = _stats(w, start - lo)
    from raytrade.backtest.runner import portfolio_stats

    return KernelOutput(equity, None, portfolio_stats(stats)[0])


def run_overlay_grid(strategy: OverlayStrategy, close: pd.DataFrame, block: ParamBlock, *, costs: CostModel | None = None,
                     sizing: Sizing | None = None, initial_capital: float = 100_000.0, risk_free: float = 0.0,
                     tail: bool = False, periods_per_year: float | None = None) -> pd.DataFrame:
    """Every set of ``block`` on every symbol of ``close``, each a sleeve with ``initial_capital``:
    one row per (symbol, set), columns as :func:`~raytrade.backtest.runner.run_grid`'s."""
    from raytrade.backtest.runner import kernel_metrics

    _check_sizing(sizing)
    if len(block) == 0:
        raise BacktestError("the parameter grid is empty")
    ppy = bars_per_year(close.index) if periods_per_year is None else periods_per_year
    days = day_numbers(close.index)
    frames = []
    for symbol in close.columns:
        c = close[symbol].to_numpy(np.float64)
        equity = np.zeros((len(c), len(block)))
        stats = np.zeros((len(block), len(STAT_FIELDS)))
        for k, params in enumerate(block.rows()):
            w = _sleeve(c, days, 0, strategy_overlay(strategy, params, costs), initial_capital)
            equity[:, k] = _equity_of(w, len(c), initial_capital)
            if w is not None:
                stats[k] = _stats(w, 0)
        metrics = kernel_metrics(KernelOutput(equity, None, stats), risk_free=risk_free, tail=tail,
                                 periods_per_year=ppy)
        table = {"symbol": np.full(len(block), symbol, dtype=object), "param_id": np.arange(len(block))}
        table.update(block.columns)
        table.update(metrics)
        frames.append(pd.DataFrame(table))
    return pd.concat(frames, ignore_index=True)


def _fills_frame(w: _Written, symbol: str, index: pd.DatetimeIndex, right: str) -> pd.DataFrame:
    """The sleeve's fills: the stock bought under ``symbol``; each option under
    ``"<symbol> <expiry> <strike> C|P"`` (sold at its premium a share less the half-spread, closed
    at expiry at its intrinsic value, 0 when it expires worthless)."""
    rows = []
    for bar, what, side, qty, price, fee in w.fills:
        name = symbol if what is None else f"{symbol} {index[what[0]]:%Y-%m-%d} {what[1]:.2f} {right[0].upper()}"
        rows.append({"timestamp": index[bar], "symbol": name, "side": side, "quantity": qty, "price": price,
                     "commission": fee})
    return pd.DataFrame(rows, columns=["timestamp", "symbol", "side", "quantity", "price", "commission"])


def backtest_overlay(strategy: OverlayStrategy, params: dict[str, int | float], close: pd.DataFrame, *,
                     costs: CostModel | None = None, sizing: Sizing | None = None, initial_capital: float = 100_000.0,
                     risk_free: float = 0.0, periods_per_year: float | None = None):  # -> BacktestResult
    """One parameter set on each symbol of ``close``, each sleeve with ``initial_capital / N``.

    The result is a :class:`~raytrade.backtest.runner.BacktestResult`: ``equity`` per symbol (the
    sleeve: cash, stock and the written option marked at its synthetic price) and ``PORTFOLIO``;
    ``shares`` the stock held; ``signals`` minus the option contracts open (of 100 shares;
    fractional, as the sleeve's capital sizes them); ``fills`` stock and options (an assignment
    shows as the option bought back at its intrinsic value, which the delivery nets to); the
    synthetic-price note is in :data:`SYNTHETIC_NOTE` and every report that runs an overlay."""
    from raytrade.backtest.runner import BacktestResult, combine_sleeves, kernel_metrics

    _check_sizing(sizing)
    block = strategy.space.block(params, "strategy.params")
    row = block.row(0)
    cfg = strategy_overlay(strategy, row, costs)
    ppy = bars_per_year(close.index) if periods_per_year is None else periods_per_year
    days = day_numbers(close.index)
    n, capital = close.shape[1], initial_capital / close.shape[1]
    equity = np.zeros(close.shape)
    shares, short = np.zeros(close.shape), np.zeros(close.shape)
    stats = np.zeros((n, len(STAT_FIELDS)))
    fills = []
    for j, symbol in enumerate(close.columns):
        w = _sleeve(close[symbol].to_numpy(np.float64), days, 0, cfg, capital)
        equity[:, j] = _equity_of(w, len(close), capital)
        if w is None:
            continue
        shares[:, j], short[:, j], stats[j] = w.shares, -w.contracts, _stats(w, 0)
        fills.append(_fills_frame(w, str(symbol), close.index, "call" if cfg.kind == "covered_call" else "put"))
    if not fills:
        raise BacktestError(f"{len(close)} bars leave no bar to write an option on after the {cfg.vol_lookback}-bar "
                            "volatility warm-up (give more data)")
    out = KernelOutput(equity, shares, stats)
    metrics = pd.DataFrame(kernel_metrics(out, risk_free=risk_free, tail=True, periods_per_year=ppy), index=close.columns)
    port = kernel_metrics(combine_sleeves(out), risk_free=risk_free, tail=True, periods_per_year=ppy)
    metrics.loc["PORTFOLIO"] = {k: v[0] for k, v in port.items()}
    eq = pd.DataFrame(equity, index=close.index, columns=close.columns)
    eq["PORTFOLIO"] = equity.sum(axis=1)
    frame = pd.concat(fills, ignore_index=True).sort_values("timestamp", kind="stable", ignore_index=True)
    return BacktestResult(row, eq, pd.DataFrame(shares, index=close.index, columns=close.columns),
                          pd.DataFrame(short, index=close.index, columns=close.columns), frame, metrics,
                          close.bfill(), risk_free, ppy)
