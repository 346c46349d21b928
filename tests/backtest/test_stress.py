"""Stress tests by hand, and on the bundled crashes."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from raytrade.backtest.stress import (
    HYPOTHETICAL,
    Replay,
    betas,
    historical_replays,
    hypothetical_shocks,
)
from raytrade.data import load_index_close, load_prices


def test_replay_by_hand():
    idx = pd.date_range("2020-01-01", periods=8, freq="D", tz="UTC")
    eq = pd.DataFrame({"A": [100, 110, 100, 80, 90, 105, 111, 112.0], "B": [100, 100, 100, 100, 100, 100, 100, 100.0]},
                      index=idx)
    hold = eq.sum(axis=1)
    (row,) = historical_replays(eq, hold, (Replay("dip", "2020-01-03", "2020-01-05"),))
    # before = bar 1 total 210; window bars 2..4: 200, 180, 190
    assert row["pnl"] == pytest.approx(190 / 210 - 1)
    assert row["max_drawdown"] == pytest.approx(180 / 210 - 1)
    # trough at bar 3 (180); pre-window peak 210 regained at bar 6 (211): 3 bars later
    assert row["bars_to_recover"] == 3
    assert row["worst_asset"] == "A"


def test_scenario_outside_the_data_is_marked_uncovered():
    idx = pd.date_range("2020-01-01", periods=5, freq="D", tz="UTC")
    eq = pd.DataFrame({"A": np.linspace(100, 110, 5)}, index=idx)
    (row,) = historical_replays(eq, eq["A"], (Replay("1987", "1987-10-01", "1987-10-31"),))
    assert row == {"scenario": "1987", "covered": False}


def test_betas_by_hand():
    rng = np.random.default_rng(0)
    idx = pd.date_range("2020-01-01", periods=300, freq="D", tz="UTC")
    market = pd.Series(rng.normal(0, 0.01, 300), index=idx)
    assets = pd.DataFrame({"HI": 1.5 * market + rng.normal(0, 0.001, 300), "LO": 0.5 * market}, index=idx)
    b = betas(assets, market, lookback=250)
    assert b["HI"] == pytest.approx(1.5, abs=0.02) and b["LO"] == pytest.approx(0.5)


def test_shocks_by_hand():
    weights = pd.Series({"A": 0.6, "B": -0.2})
    beta = pd.Series({"A": 1.2, "B": 0.8})
    rows = {r["scenario"]: r for r in hypothetical_shocks(weights, beta, mean_log_return=0.0005)}
    black_monday = rows[HYPOTHETICAL[0].name]
    expected = 0.6 * 1.2 * -0.22 + -0.2 * 0.8 * -0.22
    assert black_monday["pnl"] == pytest.approx(expected)
    assert black_monday["worst_asset"] == "A"
    assert black_monday["bars_to_recover"] == int(np.ceil(np.log(1 / (1 + expected)) / 0.0005))
    flash = rows[HYPOTHETICAL[3].name]
    assert flash["pnl"] == 0.0 and flash["max_drawdown"] == pytest.approx(0.6 * 1.2 * -0.10 + -0.2 * 0.8 * -0.10)


def test_buy_and_hold_lost_in_the_real_crashes():
    close = load_prices()
    hold = close / close.iloc[0]
    rows = {r["scenario"]: r for r in historical_replays(hold, hold.sum(axis=1))}
    assert rows["financial crisis"]["pnl"] < -0.2
    assert rows["COVID crash"]["pnl"] < -0.2
    b = betas(close.pct_change().iloc[1:], load_index_close().pct_change().iloc[1:])
    assert 0.2 < b.median() < 1.8
