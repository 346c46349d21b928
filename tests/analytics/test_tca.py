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


def _log() -> list:
    """A scripted log: parent P (buy 300, TWAP, arrival 100) worked by two children on two venues,
    parent Q (sell 100, VWAP, arrival 50) cancelled after one fill, and a plain order."""
    from datetime import UTC, datetime

    from raytrade.core.enums import EventType
    from raytrade.core.events import Event
    from raytrade.core.orders import Fill, Order

    t0 = datetime(2024, 3, 4, 15, 0, tzinfo=UTC)
    m = lambda k: t0 + timedelta(minutes=k)  # noqa: E731

    def accepted(cid, side, qty, k, **extra):
        return Event(EventType.ORDER_ACCEPTED, "u", "", {"order": Order("X", side, qty, client_order_id=cid,
                                                                         created_at=m(k)).to_dict(), **extra}, m(k))

    def fill(cid, side, qty, px, k, venue=None):
        return Event(EventType.FILL, "broker", "", {"fill": Fill(cid, "X", side, qty, px, 0.5, m(k), f"{cid}-1",
                                                                 venue).to_dict()}, m(k))

    ex = lambda name, arrival: {"name": name, "params": {}, "urgency": 0.5, "start": m(0).isoformat(),  # noqa: E731
                                "end": m(10).isoformat(), "arrival": arrival}
    return [
        accepted("P", "buy", 300, 0, exec=ex("twap", 100.0)),
        accepted("P-c0", "buy", 100, 0, parent="P"), fill("P-c0", "buy", 100, 100.10, 0, "DARK"),
        accepted("plain", "buy", 5, 1), fill("plain", "buy", 5, 99.0, 1),
        accepted("Q", "sell", 100, 1, exec={**ex("vwap", 50.0), "start": m(1).isoformat()}),
        accepted("Q-c0", "sell", 40, 1, parent="Q"), fill("Q-c0", "sell", 40, 49.9, 2, "LIT"),
        Event(EventType.ORDER_CANCELLED, "u", "", {"client_order_id": "Q"}, m(3)),
        accepted("P-c1", "buy", 200, 5, parent="P"), fill("P-c1", "buy", 200, 100.40, 5, "LIT"),
    ]


def test_parents_read_from_a_log_and_their_costs_by_hand() -> None:
    from raytrade.analytics.tca import (
        algorithm_summary,
        parents_from_events,
        tca_table,
        venue_summary,
    )

    parents = parents_from_events(_log())
    assert [(p.client_order_id, p.status, p.children, p.filled) for p in parents] == [
        ("P", "filled", 2, 300.0), ("Q", "cancelled", 1, 40.0)]
    idx = pd.date_range("2024-03-04 15:00", periods=12, freq="1min", tz="UTC")
    px = pd.DataFrame({"price": [100.0, 100.2, 100.2, 100.3, 100.3, 100.4, 100.5, 100.5, 100.5, 100.5, 100.3, 100.3],
                       "volume": [1000.0] * 12}, index=idx)
    table = tca_table(parents, {"X": px}).set_index("parent")
    p = table.loc["P"]
    avg = (100 * 100.10 + 200 * 100.40) / 300
    assert p["avg_price"] == pytest.approx(avg)
    assert p["slippage_vs_arrival_bps"] == pytest.approx((avg / 100 - 1) * 1e4)
    vwap = px["price"].iloc[:6].mean()  # bars 15:00..15:05, equal volumes
    assert p["interval_vwap"] == pytest.approx(vwap)
    assert p["slippage_vs_vwap_bps"] == pytest.approx((avg / vwap - 1) * 1e4)
    assert p["participation"] == pytest.approx(300 / 6000)
    assert p["trading_cost"] == pytest.approx(100 * 0.10 + 200 * 0.40)
    assert (p["delay_cost"], p["opportunity_cost"], p["fees"]) == (0.0, 0.0, 1.0)
    assert p["shortfall_bps"] == pytest.approx((90 + 1) / (300 * 100) * 1e4)
    # reversion: 5 minutes after 15:05 the price is 100.3, below the end price 100.4: it came back
    assert p["reversion_bps"] == pytest.approx(-(100.3 / 100.4 - 1) * 1e4)
    q = table.loc["Q"]  # a sell of 100 cancelled at 15:03 with 40 filled at 49.9, arrival 50
    assert q["fill_rate"] == pytest.approx(0.4)
    assert q["trading_cost"] == pytest.approx(-1 * 40 * (49.9 - 50.0))
    # the 60 unfilled: opportunity = side x 60 x (end price - arrival); X's frame is in the 100s,
    # so the end price is the frame's last price at 15:03
    assert q["opportunity_cost"] == pytest.approx(-1 * 60 * (100.3 - 50.0))
    s = algorithm_summary(table.reset_index()).set_index("algorithm")
    assert s.loc["twap", "parents"] == 1 and s.loc["twap", "shortfall_bps_mean"] == pytest.approx(p["shortfall_bps"])
    v = venue_summary(parents).set_index("venue")
    assert v.loc["LIT", "quantity"] == 240 and v.loc["DARK", "share"] == pytest.approx(100 / 340)
    lit_bps = (200 * (100.40 / 100 - 1) * 1e4 + 40 * -(49.9 / 50 - 1) * 1e4) / 240
    assert v.loc["LIT", "slippage_vs_arrival_bps"] == pytest.approx(lit_bps)
