"""The engine's risk figures from a book and the closes it saw, by hand against raytrade.risk.var."""

from __future__ import annotations

from datetime import UTC, date, datetime

import numpy as np
import pandas as pd
import pytest

from raytrade.core import Fill, Portfolio
from raytrade.core.instruments import equity, option
from raytrade.data import load_prices
from raytrade.risk.live import compute_figures, daily_closes
from raytrade.risk.var import correlation_risk, value_at_risk

AT = datetime(2019, 12, 31, 21, tzinfo=UTC)
CALL = option("KO", date(2020, 2, 21), 55.0, "call")
INSTRUMENTS = {"KO": equity("KO"), "PEP": equity("PEP"), CALL.symbol: CALL}


def book_of(closes: pd.DataFrame, **qty: float) -> Portfolio:
    p = Portfolio(1_000_000, {CALL.symbol: 100.0})
    last = closes.iloc[-1]
    for sym, q in qty.items():
        price = float(last[sym]) if sym in last else 2.0
        p.apply_fill(Fill("seed", sym, "buy" if q > 0 else "sell", abs(q), price, 0.0, AT))
        p.mark(sym, price)
    for sym in closes.columns:
        p.mark(sym, float(last[sym]))
    return p


def test_stock_book_var_is_the_weighted_history_by_hand():
    closes = load_prices(["KO", "PEP"], start="2018-01-01", end="2019-12-31")
    book = book_of(closes, KO=4_000, PEP=-1_500)
    f = compute_figures(book, INSTRUMENTS, closes, as_of=AT, lookback=252, computed_at=AT)
    r = closes.pct_change().iloc[1:].iloc[-252:].to_numpy()
    w = np.array([4_000 * closes["KO"].iloc[-1], -1_500 * closes["PEP"].iloc[-1]]) / book.equity
    assert f.days == 252 and f.note is None
    assert f.var_1d == pytest.approx(value_at_risk(r, 0.99, 1, "historical", weights=w).var, rel=1e-12)
    assert f.cvar_10d == pytest.approx(value_at_risk(r, 0.99, 10, "historical", weights=w).cvar, rel=1e-12)
    assert f.var_normal_1d == pytest.approx(value_at_risk(r, 0.99, 1, "normal", weights=w).var, rel=1e-12)
    assert f.correlation_risk == pytest.approx(correlation_risk(w, np.corrcoef(r, rowvar=False)), rel=1e-12)
    assert f.gross_leverage == pytest.approx(book.gross_exposure / book.equity)
    assert f.greeks["dollar_delta"] == pytest.approx(w.sum() * book.equity)
    assert f.to_dict(datetime(2019, 12, 31, 21, 0, 5, tzinfo=UTC))["age_s"] == 5.0


def test_an_option_counts_at_its_delta_and_missing_history_is_said():
    closes = load_prices(["KO", "PEP"], start="2018-01-01", end="2019-12-31")
    book = book_of(closes, KO=1_000, **{CALL.symbol: -10})
    f = compute_figures(book, INSTRUMENTS, closes, as_of=AT)
    assert f.exposures["KO"] < 1_000 * closes["KO"].iloc[-1]            # short calls take delta off
    assert f.greeks["vega"] < 0 and f.var_1d is not None and f.var_1d > 0
    short = compute_figures(book, INSTRUMENTS, closes.iloc[-10:], as_of=AT)
    assert short.var_1d is None and "VaR needs 20" in short.note
    empty = compute_figures(Portfolio(1_000), INSTRUMENTS, closes, as_of=AT)
    assert empty.var_1d == 0.0 and empty.days == 0


def test_intraday_bars_fold_into_daily_closes():
    t = pd.date_range("2024-01-01 00:05", periods=600, freq="5min", tz="UTC")
    tape = {"ETH": [(ts, float(i)) for i, ts in enumerate(t)]}
    d = daily_closes(tape)
    assert len(d) == 3 and d["ETH"].tolist() == [286.0, 574.0, 599.0]   # the last bar of each day
