"""Hedging: the minimum-variance hedge against numpy's regression, the gamma-neutral trades against
the book Greeks, delta hedging by hand, on seeded synthetic paths (labelled) and on real prices."""

from __future__ import annotations

import math
from datetime import date

import numpy as np
import pandas as pd
import pytest

from raytrade.core.errors import DomainError
from raytrade.core.instruments import equity, option
from raytrade.data import load_factor_etfs, load_index_close, load_prices
from raytrade.risk.greeks import book_greeks
from raytrade.risk.hedging import (
    delta_hedge,
    gamma_neutral,
    hedging_error_study,
    min_variance_hedge,
)
from raytrade.risk.options import bs_greeks, bs_price


def test_the_minimum_variance_hedge_is_the_regression_slope_on_real_returns():
    """A book of KO, PEP, PG hedged with the S&P 500 index or a factor ETF (2014-2022): the ratio is
    the OLS slope, the variance removed the squared correlation, the residual the regression's."""
    book = load_prices(["KO", "PEP", "PG"], start="2014-01-01").pct_change().mean(axis=1).dropna()
    candidates = pd.concat([load_index_close().pct_change().rename("SPX"), load_factor_etfs().pct_change()], axis=1)
    choice = min_variance_hedge(book, candidates)
    joined = pd.concat([book.rename("b"), candidates], axis=1, join="inner").dropna()
    for name, row in choice.table.iterrows():
        slope, _ = np.polyfit(joined[name], joined["b"], 1)
        assert row["hedge_ratio"] == pytest.approx(slope, rel=1e-10)
        assert row["variance_removed"] == pytest.approx(np.corrcoef(joined[name], joined["b"])[0, 1] ** 2, rel=1e-10)
        resid = joined["b"] - slope * joined[name]
        assert row["residual_volatility"] == pytest.approx(resid.std(ddof=1) * math.sqrt(252), rel=1e-10)
    assert choice.best == choice.table["correlation"].abs().idxmax()
    assert choice.best == "USMV" and 0.5 < choice.table.loc["USMV", "variance_removed"] < 0.9   # staples: min-vol
    with pytest.raises(DomainError, match="at least 20"):
        min_variance_hedge(book.iloc[:10], candidates)


def test_gamma_neutral_trades_zero_the_book_greeks():
    """A book short 10 calls: buy the hedge option and trade the stock as gamma_neutral says, and the
    book's delta and gamma are 0."""
    short = option("KO", date(2024, 3, 15), 60.0, "call")
    hedge = option("KO", date(2024, 6, 21), 62.5, "call")
    inst = {"KO": equity("KO"), short.symbol: short, hedge.symbol: hedge}
    kw = {"as_of": date(2024, 2, 1), "volatility": {"KO": 0.2}}
    g = book_greeks({short.symbol: -10}, inst, {"KO": 59.0}, **kw).by_underlying.loc["KO"]
    unit = book_greeks({hedge.symbol: 1}, inst, {"KO": 59.0}, **kw).by_underlying.loc["KO"]
    n, shares = gamma_neutral(g["delta"], g["gamma"], unit["delta"], unit["gamma"])
    after = book_greeks({short.symbol: -10, hedge.symbol: n, "KO": shares}, inst, {"KO": 59.0}, **kw)
    assert abs(after.by_underlying.loc["KO", "delta"]) < 1e-9 and abs(after.by_underlying.loc["KO", "gamma"]) < 1e-12
    assert n > 0 and shares < 0
    with pytest.raises(DomainError, match="no gamma"):
        gamma_neutral(1.0, 1.0, 0.5, 0.0)


def test_delta_hedging_by_hand_on_three_bars():
    """Write a call on 100 shares at S 100, K 100, 20 % volatility, 2 days to expiry; hedge each
    close; at expiry the book is premium + the hedge's P&L - the payout."""
    idx = pd.DatetimeIndex(["2024-01-02", "2024-01-03", "2024-01-04"], tz="UTC")
    close = pd.Series([100.0, 101.0, 103.0], index=idx)
    run = delta_hedge(close, strike=100.0, expiry=idx[-1], sigma=0.2)
    d0 = float(bs_greeks(100, 100, 2 / 365, 0, 0, 0.2, "call")["delta"]) * 100
    d1 = float(bs_greeks(101, 100, 1 / 365, 0, 0, 0.2, "call")["delta"]) * 100
    premium = float(bs_price(100, 100, 2 / 365, 0, 0, 0.2, "call")) * 100
    cash = premium - d0 * 100 - (d1 - d0) * 101
    assert run.premium == pytest.approx(premium, rel=1e-12) and run.rebalances == 2
    assert run.error == pytest.approx(cash + d1 * 103 - 3 * 100, rel=1e-12)
    assert run.path["shares"].tolist() == pytest.approx([d0, d1, d1])


def test_the_error_shrinks_as_the_hedge_is_rebalanced_more_often_on_synthetic_paths():
    """SYNTHETIC (seeded geometric Brownian motion at exactly the pricing volatility, 4 bars a day
    for 30 days): the error's spread falls with the bars between rebalances, about as their square
    root, and its mean stays near 0; hedging within a band trades less than every bar."""
    rng = np.random.default_rng(11)
    idx = pd.date_range("2024-01-01", periods=121, freq="6h", tz="UTC")
    sigma, dt = 0.3, 0.25 / 365
    errs: dict[int, list[float]] = {1: [], 4: [], 16: []}
    band_trades, every_trades = [], []
    for _ in range(300):
        path = 100 * np.exp(np.cumsum(np.r_[0, rng.normal(-0.5 * sigma**2 * dt, sigma * math.sqrt(dt), 120)]))
        close = pd.Series(path, index=idx)
        for n in errs:
            run = delta_hedge(close, strike=100.0, expiry=idx[-1], sigma=sigma, every=n)
            errs[n].append(run.error / run.premium)
            if n == 1:
                every_trades.append(run.rebalances)
        band_trades.append(delta_hedge(close, strike=100.0, expiry=idx[-1], sigma=sigma, band=0.05).rebalances)
    std = {n: float(np.std(e)) for n, e in errs.items()}
    assert std[1] < std[4] < std[16]
    assert 1.4 < std[4] / std[1] < 2.6 and 1.4 < std[16] / std[4] < 2.6      # ~ sqrt(4) = 2
    assert abs(np.mean(errs[1])) < 3 * std[1] / math.sqrt(300)
    assert np.mean(band_trades) < 0.5 * np.mean(every_trades)


def test_on_real_prices_the_error_shrinks_with_daily_hedging():
    """KO since 1990: 395 back-to-back 30-day at-the-money calls, each priced at its own life's
    realised volatility (hindsight): hedged daily the error's spread is 11 % of the premium, monthly
    (one hedge at the sale) 74 %, in the order of the intervals."""
    table = hedging_error_study(load_prices(["KO"])["KO"].dropna())
    std = table["std_error_of_premium"]
    assert (table["options"] == 395).all() and std.is_monotonic_increasing
    assert round(std.loc[1], 2) == 0.11 and round(std.loc[21], 2) == 0.74


def test_the_readme_hedging_example_runs_as_written(tmp_path, monkeypatch):
    import re
    from pathlib import Path

    text = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    part = text[text.index("## Options pricing"):]
    part = part[:part.index("\n## ", 5)]
    code = re.findall(r"```python\n(.*?)```", part, flags=re.S)[1]
    monkeypatch.chdir(tmp_path)
    scope: dict = {}
    exec(compile(code, "README.md", "exec"), scope)
    assert (tmp_path / "delta_hedge.png").stat().st_size > 10_000
    quoted = [0.11, 0.22, 0.35, 0.48, 0.74]   # the README's figures
    assert [round(v, 2) for v in scope["table"]["std_error_of_premium"]] == quoted
    assert abs(scope["one"].error) < 0.2 * scope["one"].premium


def test_delta_hedge_orders_by_hand():
    """Short 10 calls at delta 0.4 (-400 shares) beside 100 shares: net -300, hedged by buying 300
    once -300 x 50 exceeds the band; an open buy of 250 counts as filled; a stock held alone is
    never hedged; lots round toward zero."""
    from raytrade.risk.hedging import delta_hedge_orders

    rows = pd.DataFrame([{"symbol": "C1", "underlying": "KO", "quantity": -10, "delta": -400.0, "spot": 50.0},
                         {"symbol": "KO", "underlying": "KO", "quantity": 100, "delta": 100.0, "spot": 50.0},
                         {"symbol": "XOM", "underlying": "XOM", "quantity": 500, "delta": 500.0, "spot": 80.0}])
    (o,) = delta_hedge_orders(rows, 1_000_000, band=0.01)
    assert (o.symbol, o.quantity, o.net_delta) == ("KO", 300.0, -300.0)
    assert delta_hedge_orders(rows, 1_000_000, band=0.02) == []              # 15,000 is 1.5 % of equity
    (o,) = delta_hedge_orders(rows, 1_000_000, band=0.001, pending={"KO": 250.0})
    assert o.quantity == 50.0
    (o,) = delta_hedge_orders(rows, 1_000_000, band=0.001, lots={"KO": 100.0})
    assert o.quantity == 300.0
    (o,) = delta_hedge_orders(rows, 1_000_000, band=0.001, target=-100.0, lots={"KO": 150.0})
    assert o.quantity == 150.0                                               # 200 to go, one lot of 150
