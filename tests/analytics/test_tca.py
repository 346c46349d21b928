"""Transaction-cost analysis by hand on a small scripted execution."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pandas as pd
import pytest

from raytrade.analytics.tca import ExecFill, analyse
from raytrade.core.errors import DataError

T = datetime(2024, 3, 4, 14, 30, tzinfo=UTC)


def test_a_buy_that_filled_most_of_its_parent_by_hand() -> None:
    # decided at 100.00, reached the market at 100.10; bought 600 of 1,000; the price ended at 101
    fills = [ExecFill(T + timedelta(minutes=5), 200, 100.20, 1.0), ExecFill(T + timedelta(minutes=10), 400, 100.50, 2.0)]
    market = pd.DataFrame({"price": [100.1, 100.3, 100.6, 101.0], "volume": [1000, 2000, 3000, 4000]},
                          index=[T + timedelta(minutes=m) for m in (0, 5, 10, 15)])
    r = analyse(+1, 1000, 100.00, 100.10, fills, 101.0, start=T, end=T + timedelta(minutes=15), market=market,
                price_after=100.7)
    avg = (200 * 100.20 + 400 * 100.50) / 600                       # 100.40
    assert r.avg_price == pytest.approx(avg) and r.filled == 600 and r.fill_rate == 0.6
    assert r.slippage_vs_arrival_bps == pytest.approx((avg / 100.10 - 1) * 1e4)  # ~29.97 bps
    vwap = (100.1 * 1000 + 100.3 * 2000 + 100.6 * 3000 + 101.0 * 4000) / 10_000    # 100.69
    assert r.interval_vwap == pytest.approx(vwap) and r.slippage_vs_vwap_bps == pytest.approx((avg / vwap - 1) * 1e4)
    assert r.participation == pytest.approx(0.06)
    assert r.delay_cost == pytest.approx(600 * 0.10)                # 60
    assert r.trading_cost == pytest.approx(200 * 0.10 + 400 * 0.40)  # 180
    assert r.opportunity_cost == pytest.approx(400 * 1.00)           # 400
    assert r.fees == 3.0 and r.shortfall == pytest.approx(643.0)
    assert r.shortfall_bps == pytest.approx(643.0 / 100_000 * 1e4)  # 64.3 bps
    assert r.reversion_bps == pytest.approx(-(100.7 / 101.0 - 1) * 1e4)  # the price came back ~29.7 bps


def test_a_sell_counts_costs_the_other_way_and_bad_input_is_named() -> None:
    r = analyse(-1, 100, 50.0, 49.9, [ExecFill(T, 100, 49.8)], 49.0, start=T, end=T + timedelta(hours=1))
    assert r.delay_cost == pytest.approx(-100 * (49.9 - 50.0))  # the price fell before we arrived: a cost
    assert r.trading_cost == pytest.approx(-100 * (49.8 - 49.9)) and r.opportunity_cost == 0
    assert r.slippage_vs_arrival_bps == pytest.approx(-(49.8 / 49.9 - 1) * 1e4) and r.interval_vwap is None
    with pytest.raises(DataError, match="exceed"):
        analyse(1, 10, 1.0, 1.0, [ExecFill(T, 11, 1.0)], 1.0, start=T, end=T)
    with pytest.raises(DataError, match="side"):
        analyse(0, 10, 1.0, 1.0, [], 1.0, start=T, end=T)
