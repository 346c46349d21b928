"""Covered calls and cash-secured puts on a scripted path (synthetic, labelled): premium in,
assignment, roll, marking, checked by hand with Black-Scholes written out here; then on real prices."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from raytrade.backtest.overlays import SYNTHETIC_NOTE, OverlayConfig, run_overlay, strike_for_delta
from raytrade.core.errors import BacktestError
from raytrade.data import load_prices
from raytrade.risk.options import bs_greeks


def _n(x: float) -> float:
    return 0.5 * (1 + math.erf(x / math.sqrt(2)))


def bs(S: float, K: float, T: float, sigma: float, call: bool) -> float:
    """Black-Scholes with r = q = 0, by hand."""
    if T <= 0:
        return max(S - K, 0.0) if call else max(K - S, 0.0)
    d1 = (math.log(S / K) + 0.5 * sigma * sigma * T) / (sigma * math.sqrt(T))
    d2 = d1 - sigma * math.sqrt(T)
    return S * _n(d1) - K * _n(d2) if call else K * _n(-d2) - S * _n(-d1)


def scripted(end_first: float) -> pd.Series:
    """60 business days from 2021-01-04: 100 rising (or falling) in log steps to ``end_first`` at
    2021-02-03 (bar 22, 30 days on), flat after."""
    index = pd.bdate_range("2021-01-04", periods=60, tz="UTC")
    path = np.r_[100 * (end_first / 100) ** (np.arange(23) / 22), np.full(37, end_first)]
    return pd.Series(path, index=index, name="SYN")


def test_covered_call_premium_assignment_and_roll_by_hand():
    close = scripted(110.0)
    cfg = OverlayConfig(kind="covered_call", contracts=5, otm_pct=0.05, volatility=0.25)
    res = run_overlay(close, cfg)
    ev = res.events
    # no third sale: no bar lies 30 days after 2021-03-05 in the data, so the book ends uncovered
    assert ev["action"].tolist() == ["sell", "assigned", "sell", "expired"]
    # 1st call: S 100, K 105, 30 days; assigned at 110 on 2021-02-03; 2nd: S 110, K 115.5, to 2021-03-05
    assert ev["expiry"].iloc[0] == close.index[22] and ev["strike"].iloc[0] == pytest.approx(105.0)
    p1 = bs(100, 105, 30 / 365, 0.25, True)
    p2 = bs(110, 115.5, 30 / 365, 0.25, True)
    assert ev["premium"].iloc[0] == pytest.approx(p1 * 500, rel=1e-12)
    assert ev["premium"].iloc[2] == pytest.approx(p2 * 500, rel=1e-12)
    cash = 500 * (p1 + p2) + (105 - 110) * 500   # capital = the shares' cost; premiums; assigned at 105, bought back at 110
    assert res.equity.iloc[-1] == pytest.approx(cash + 500 * 110, rel=1e-12)
    # while the second call is open (bar 30, 2021-02-15, 18 days left) it is marked at its price
    mid = bs(110, 115.5, 18 / 365, 0.25, True)
    assert res.equity.iloc[30] == pytest.approx(cash + 500 * 110 - 500 * mid, rel=1e-12)
    assert res.summary["assignments"] == 1 and res.summary["sales"] == 2
    assert res.summary["premium_income"] == pytest.approx(500 * (p1 + p2), rel=1e-12)
    assert res.equity.iloc[0] == pytest.approx(100 * 500 + 500 * p1 - 500 * p1)   # sold at the close it is marked at
    assert res.benchmark.iloc[-1] == pytest.approx(110 * 500)
    assert res.note == SYNTHETIC_NOTE and "synthetic option prices" in res.summary["note"]


def test_cash_secured_put_assignment_by_hand():
    close = scripted(90.0)
    cfg = OverlayConfig(kind="cash_secured_put", contracts=5, otm_pct=0.05, volatility=0.25, initial_capital=60_000)
    res = run_overlay(close, cfg)
    assert res.events["action"].tolist()[:2] == ["sell", "assigned"]
    p1 = bs(100, 95, 30 / 365, 0.25, False)
    p2 = bs(90, 85.5, 30 / 365, 0.25, False)
    cash = 60_000 + 500 * (p1 + p2) - (95 - 90) * 500        # bought at 95, sold at 90
    assert res.equity.iloc[-1] == pytest.approx(cash, rel=1e-12)
    # cash-secured: with 40,000 only 4 puts at K 95 (9,500 each) are covered
    small = run_overlay(close, cfg.model_copy(update={"initial_capital": 40_000}))
    assert small.events["contracts"].iloc[0] == 4


def test_strike_by_delta_has_that_delta():
    for call, target in ((True, 0.30), (False, 0.25)):
        K = strike_for_delta(100.0, 30 / 365, 0.02, 0.3, target, call)
        d = float(bs_greeks(100.0, K, 30 / 365, 0.02, 0.0, 0.3, "call" if call else "put")["delta"])
        assert d == pytest.approx(target if call else -target, rel=1e-10)


def test_the_products_example_on_real_prices():
    """500 shares of KO, one call per 100 shares, 30 days, 0.30 delta, monthly rolls, 2010-2022."""
    close = load_prices(["KO"], start="2010-01-01")["KO"]
    res = run_overlay(close, OverlayConfig(contracts=5, vol_premium=0.02, strike_step=0.5,
                                           commission_per_contract=0.65, option_half_spread=0.02))
    s = res.summary
    assert 140 < s["sales"] < 170 and 0 < s["assignments"] < s["sales"]
    assert 0.02 < s["annualised_premium_yield"] < 0.15 and s["premium_income"] > 0
    assert np.isfinite(res.equity).all() and (res.events.loc[res.events["action"] == "sell", "strike"] % 0.5 == 0).all()


def test_bad_input_is_named():
    with pytest.raises(BacktestError, match="DatetimeIndex"):
        run_overlay(pd.Series([1.0, 2.0]))
    with pytest.raises(BacktestError, match="volatility warm-up"):
        run_overlay(scripted(100.0).iloc[:10])


# --- the overlays as catalogue strategies (sleeves sized by capital) ---------------------------

def _kw(**params):
    from raytrade.strategies.registry import get_strategy

    return get_strategy(params.pop("name")), params


def test_covered_call_strategy_is_the_overlay_sized_by_capital():
    """A covered_call sleeve whose capital buys exactly 500 KO shares equals run_overlay with 5
    contracts (the hand-checked accounting), bar by bar; the fills add up to its cash."""
    from raytrade.backtest.costs import CostModel
    from raytrade.backtest.overlays import backtest_overlay

    close = load_prices(["KO"], start="2015-01-01")
    strategy, params = _kw(name="covered_call", delta=0.3, days_to_expiry=30, vol_lookback=21, vol_premium=0.02,
                           option_half_spread=0.02)
    costs = CostModel(commission_bps=1.0, half_spread_bps=1.0)
    capital = float(close["KO"].iloc[21]) * 500 * (1 + 2e-4)
    res = backtest_overlay(strategy, params, close, costs=costs, initial_capital=capital)
    ref = run_overlay(close["KO"], OverlayConfig(contracts=5, delta=0.3, vol_premium=0.02, option_half_spread=0.02,
                                                 commission_bps=2.0))
    np.testing.assert_allclose(res.equity["KO"].iloc[21:].to_numpy(), ref.equity.to_numpy(), rtol=1e-12)
    assert (res.equity["KO"].iloc[:21] == capital).all()           # in cash through the volatility warm-up
    assert res.shares["KO"].iloc[-1] == pytest.approx(500)
    sells = res.fills[res.fills["symbol"].str.endswith(" C") & (res.fills["side"] == "sell")]
    assert len(sells) == ref.summary["sales"] and np.allclose(sells["quantity"], 500)
    # cash = capital - stock bought + premiums in - intrinsic values paid - commissions
    signed = np.where(res.fills["side"] == "buy", -1, 1) * res.fills["quantity"] * res.fills["price"]
    cash = capital + signed.sum() - res.fills["commission"].sum()
    # no option is open at the end (no bar lies 30 days after the last expiry): equity = cash + stock
    assert res.equity["KO"].iloc[-1] == pytest.approx(cash + 500 * close["KO"].iloc[-1], rel=1e-12)
    trips = res.trades   # every call written, closed at expiry, and the stock, still held
    assert len(trips) == ref.summary["sales"] + 1 and trips["open"].tolist() == [False] * len(sells) + [True]
    assert res.metrics.loc["KO", "round_trips"] == len(sells)


def test_cash_secured_puts_sized_by_capital_by_hand():
    """Notional sizing: every sale writes cash / (K x 100) puts. On the scripted fall to 90 the
    first put (sold at bar 5) is assigned at bar 27, a loss of K - 90 a share; the second, sold
    there, expires worthless; no bar lies 30 days after the third sale's bar, so none is sold."""
    from raytrade.backtest.overlays import backtest_overlay, realised_vol

    close = scripted(90.0).to_frame()
    strategy, params = _kw(name="cash_secured_put", delta=0.3, days_to_expiry=30, vol_lookback=5, vol_premium=0.25,
                           option_half_spread=0.0)
    res = backtest_overlay(strategy, params, close, initial_capital=10_000.0)
    c = close["SYN"].to_numpy()
    sig = realised_vol(c, 5) + 0.25
    days = (close.index - close.index[0]).days.to_numpy()
    e1 = int(np.searchsorted(days, days[5] + 30))
    e2 = int(np.searchsorted(days, days[e1] + 30))
    assert (e1, e2) == (27, 49) and days[-1] < days[e2] + 30
    T1, T2 = (days[e1] - days[5]) / 365, (days[e2] - days[e1]) / 365
    K1 = strike_for_delta(c[5], T1, 0.0, sig[5], 0.3, call=False)
    n1 = 10_000 / (K1 * 100)
    cash1 = 10_000 + bs(c[5], K1, T1, sig[5], call=False) * 100 * n1 - (K1 - 90.0) * 100 * n1
    assert K1 > 90.0                                                         # assigned
    K2 = strike_for_delta(90.0, T2, 0.0, sig[e1], 0.3, call=False)
    n2 = cash1 / (K2 * 100)
    p2 = bs(90.0, K2, T2, sig[e1], call=False)
    sells = res.fills[res.fills["side"] == "sell"]
    assert sells["quantity"].tolist() == pytest.approx([100 * n1, 100 * n2], rel=1e-12)
    assert res.equity["SYN"].iloc[e1] == pytest.approx(cash1, rel=1e-12)    # the new put marked at its sale price
    assert res.equity["SYN"].iloc[-1] == pytest.approx(cash1 + p2 * 100 * n2, rel=1e-12)
    assert res.trades["pnl"].round(6).tolist()[:1] == [round((bs(c[5], K1, T1, sig[5], False) - (K1 - 90)) * 100 * n1, 6)]


def test_walk_forward_scoring_equals_a_backtest_of_the_window():
    """evaluate_overlay (a walk-forward trial's unit) on bars [a, b) equals backtest_overlay on the
    same bars with the warm-up before them, sleeve for sleeve, for every set of a grid."""
    from raytrade.backtest.overlays import backtest_overlay, evaluate_overlay
    from raytrade.core.calendars import day_numbers

    close = load_prices(["KO", "XOM", "WMT"], start="2005-01-01", end="2012-12-31")
    strategy, _ = _kw(name="covered_call")
    block = strategy.space.grid({"delta": [0.2, 0.4], "days_to_expiry": [30, 45], "vol_lookback": [21, 63]})
    a, b = 800, 1400
    out = evaluate_overlay(strategy, close.to_numpy(), block, a, b, days=day_numbers(close.index),
                           initial_capital=3e5)
    for k, params in enumerate(block.rows()):
        # the trial starts every sleeve at bar a; a backtest sells after its own warm-up
        warm = int(params["vol_lookback"])
        starts = backtest_overlay(strategy, params, close.iloc[a - warm:b], initial_capital=3e5)
        np.testing.assert_allclose(out.equity[:, k], starts.equity["PORTFOLIO"].iloc[warm:].to_numpy(), rtol=1e-12)
        assert out.stat("round_trips")[k] == starts.metrics.loc["PORTFOLIO", "round_trips"]


def test_the_engine_refuses_an_options_overlay():
    from raytrade.core.errors import ConfigError
    from raytrade.execution.runner import parse_runner_spec

    with pytest.raises(ConfigError, match="covered_call writes options, and the engine holds no option positions"):
        parse_runner_spec({"name": "cc", "strategy": "covered_call", "symbols": ["KO"]})
