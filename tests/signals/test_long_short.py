"""The long-short book of a signal: positions by rule, equity by hand through the kernel."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from raytrade.backtest.costs import CostModel
from raytrade.core import DataError
from raytrade.signals.long_short import long_short_backtest, long_short_positions

IDX = pd.date_range("2020-01-01", periods=3, freq="D", tz="UTC")
SYMS = ["A", "B", "C", "D"]


def test_positions_rank_hold_and_rebalance() -> None:
    sig = pd.DataFrame([[np.nan] * 4, [4, 3, 2, 1], [1, 2, 3, np.nan], [0, 0, 9, 9], [5, 5, 5, 5]],
                       columns=SYMS, dtype=float)
    pos = long_short_positions(sig, quantile=0.25, rebalance_every=2)
    assert pos.iloc[0].tolist() == [0, 0, 0, 0]            # before any signal: flat
    assert pos.iloc[1].tolist() == [1, 0, 0, -1]           # top 1 long, bottom 1 short
    assert pos.iloc[2].tolist() == [1, 0, 0, -1]           # held between rebalances
    assert pos.iloc[3].tolist() == [0, -1, 1, 0]           # ties rank in column order: C, D, A, B
    assert pos.iloc[4].tolist() == [0, -1, 1, 0]
    wide = long_short_positions(sig, quantile=0.5, rebalance_every=1)
    assert wide.iloc[2].tolist() == [-1, 0, 1, 0]          # 3 ranked names: k = min(ceil(1.5), 1) = 1
    assert long_short_positions(sig.iloc[:1], 0.2, 5).abs().sum().sum() == 0
    with pytest.raises(DataError, match="quantile"):
        long_short_positions(sig, quantile=0.6)
    with pytest.raises(DataError, match="rebalance_every"):
        long_short_positions(sig, rebalance_every=0)


def test_book_equity_by_hand() -> None:
    close = pd.DataFrame({"A": [10, 10, 11], "B": [5, 5, 5], "C": [7, 7, 7], "D": [20, 20, 18]}, index=IDX, dtype=float)
    sig = pd.DataFrame([[4, 3, 2, 1], [np.nan] * 4, [np.nan] * 4], index=IDX, columns=SYMS, dtype=float)
    res = long_short_backtest(sig, close, quantile=0.25, rebalance_every=10, initial_capital=1000.0)
    # decided at bar 0, filled at bar 1's close: A long 500 (half the capital), D short 500.
    # Bar 2: A +10% and D -10%: +50 on each side.
    assert res.equity.tolist() == pytest.approx([1000, 1000, 1100])
    costly = long_short_backtest(sig, close, quantile=0.25, rebalance_every=10, initial_capital=1000.0,
                                 costs=CostModel(half_spread_bps=10))
    # A: shares x fill = 500, so 500 / 10.01 shares bought at 10.01; D: 500 / 19.98 sold at 19.98;
    # each share pays 0.01 (A) or 0.02 (D) to the spread
    assert costly.metrics["costs_paid"] == pytest.approx(500 / 10.01 * 0.01 + 500 / 19.98 * 0.02, rel=1e-12)
    assert costly.equity.iloc[-1] == pytest.approx(1100 - 1.0)


def test_book_refuses_mismatched_frames() -> None:
    close = pd.DataFrame(1.0, index=IDX, columns=SYMS)
    with pytest.raises(DataError, match="same bars and symbols"):
        long_short_backtest(close[["A", "B"]], close)
    with pytest.raises(DataError, match="fewer than 2 bars"):
        long_short_backtest(pd.DataFrame(np.nan, index=IDX, columns=SYMS), close)
