"""Metrics against hand computation (the conventions are in raytrade/analytics/metrics.py)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from raytrade.analytics import (
    drawdown,
    performance_metrics,
    returns_from_equity,
    tail_risk,
    trade_metrics,
)

EQUITY = np.array([100.0, 110.0, 99.0, 108.9, 120.0])
RETURNS = [0.10, -0.10, 0.10, 120.0 / 108.9 - 1]


def test_return_metrics_by_hand():
    m = {k: v[0] for k, v in performance_metrics(EQUITY).items()}
    mean = sum(RETURNS) / 4
    sd = math.sqrt(sum((r - mean) ** 2 for r in RETURNS) / 3)
    assert m["total_return"] == pytest.approx(0.20)
    assert m["annual_return"] == pytest.approx(1.2 ** (252 / 4) - 1)
    assert m["annual_volatility"] == pytest.approx(sd * math.sqrt(252))
    assert m["sharpe"] == pytest.approx(mean / sd * math.sqrt(252))
    downside = math.sqrt((0.10**2) / 4)
    assert m["sortino"] == pytest.approx(mean / downside * math.sqrt(252))
    assert m["max_drawdown"] == pytest.approx(99 / 110 - 1)
    assert m["max_drawdown_duration"] == 2  # bars 2 and 3 below the 110 peak
    assert m["calmar"] == pytest.approx(m["annual_return"] / (1 - 99 / 110))


def test_risk_free_rate_converts_geometrically_per_period():
    rf = 0.05
    m = performance_metrics(EQUITY, risk_free=rf, periods_per_year=12)
    rf_p = 1.05 ** (1 / 12) - 1
    x = [r - rf_p for r in RETURNS]
    mean = sum(x) / 4
    sd = math.sqrt(sum((v - mean) ** 2 for v in x) / 3)
    assert m["sharpe"][0] == pytest.approx(mean / sd * math.sqrt(12))
    assert m["annual_volatility"][0] == pytest.approx(sd * math.sqrt(12))


def test_columns_are_independent_and_flat_is_nan():
    eq = np.column_stack([EQUITY, np.full(5, 100.0)])
    m = performance_metrics(eq)
    assert m["total_return"][1] == 0
    assert math.isnan(m["sharpe"][1])
    assert math.isnan(m["calmar"][1])
    assert m["max_drawdown"][1] == 0
    assert m["sharpe"][0] == pytest.approx(performance_metrics(EQUITY)["sharpe"][0])


def test_unrecovered_drawdown_runs_to_the_end():
    m = performance_metrics(np.array([100.0, 90.0, 95.0, 97.0]))
    assert m["max_drawdown_duration"][0] == 3
    assert m["max_drawdown"][0] == pytest.approx(-0.10)


def test_ruin_gives_minus_one_cagr():
    m = performance_metrics(np.array([100.0, 50.0, -10.0, -10.0]))
    assert m["annual_return"][0] == -1.0
    assert m["total_return"][0] == pytest.approx(-1.1)


def test_var_and_cvar_by_hand():
    r = np.array([-0.05, -0.03, -0.02, -0.01, 0.0, 0.01, 0.02, 0.03, 0.04, 0.05,
                  0.01, 0.01, 0.01, 0.01, 0.01, 0.01, 0.01, 0.01, 0.01, -0.04])
    out = tail_risk(r)
    # 5% quantile of 20 values with linear interpolation: position 0.05 x 19 = 0.95 between
    # the sorted values -0.05 and -0.04
    q = -0.05 + 0.95 * (0.01)
    assert out["var_95"][0] == pytest.approx(-q)
    assert out["cvar_95"][0] == pytest.approx(0.05)  # only -0.05 is <= q


def test_trade_metrics_by_hand():
    m = trade_metrics(round_trips=np.array([4.0, 0.0]), wins=np.array([3.0, 0.0]),
                      gross_profit=np.array([30.0, 0.0]), gross_loss=np.array([10.0, 0.0]),
                      turnover=np.array([5.0, 0.0]), exposure_bars=np.array([126.0, 0.0]), n_bars=253)
    assert m["win_rate"][0] == 0.75
    assert m["profit_factor"][0] == 3.0
    assert m["turnover"][0] == pytest.approx(5.0)
    assert m["exposure"][0] == pytest.approx(126 / 253)
    assert math.isnan(m["win_rate"][1]) and math.isnan(m["profit_factor"][1])


def test_drawdown_and_returns_helpers():
    np.testing.assert_allclose(drawdown(EQUITY), [0, 0, 99 / 110 - 1, 108.9 / 110 - 1, 0])
    np.testing.assert_allclose(returns_from_equity(EQUITY), RETURNS)


def test_report_tables_read_as_a_person_writes_them() -> None:
    """Plain headers, percent for fractions named as such (by column or by row), thousands
    separators, no scientific notation, dates without midnight times, infinity as a symbol."""
    import numpy as np
    import pandas as pd

    from raytrade.analytics.report import format_number, is_percent, table_html

    frame = pd.DataFrame({"annual_return": [0.1234, -0.05], "sharpe": [1.234, 0.5], "round_trips": [12, 3],
                          "max_drawdown_duration": [120.0, 30.0], "equity": [1_234_567.891, 2.5e7],
                          "_sets": [14751.0, 1e-7],
                          "start": pd.to_datetime(["2020-01-01", "2021-01-01"], utc=True)}, index=["KO", "PEP"])
    page = table_html(frame)
    for shown in ("<th>annual return</th>", "12.3%", "-5.0%", "1.23", "0.50", "<td>120</td>", "1,234,568",
                  "25,000,000", "<th>sets</th>", "14,751", "0.0000", "2020-01-01</td>"):
        assert shown in page, shown
    assert "e+" not in page and "e-" not in page and "00:00" not in page and "_" not in page
    by_row = table_html(pd.DataFrame({"KO": [0.1, 1.5, np.inf]}, index=["total_return", "sharpe", "profit_factor"]))
    assert "10.0%" in by_row and "1.50" in by_row and "∞" in by_row
    assert [is_percent(n) for n in ("max_drawdown", "win_rate", "pbo", "max_drawdown_duration", "sharpe",
                                    "sector_share", "basis_per_share", "basis_per_unit")] == \
        [True, True, True, False, False, True, False, False]
    assert (format_number(float("nan")), format_number(-np.inf), format_number(0.25, True)) == ("–", "-∞", "25.0%")
