"""The paper broker's fill rules against hand-computed prices, quantities and commissions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from raytrade.backtest.costs import CostModel
from raytrade.brokers import PaperBroker, PaperBrokerConfig
from raytrade.core import Bar, Order, Quote, equity

T = datetime(2024, 3, 1, 21, tzinfo=UTC)
X = equity("X")
COSTS = CostModel(commission_bps=1.0, commission_per_share=0.005, half_spread_bps=2.0, slippage_bps=1.0)


def bar(close: float, volume: float = 1_000, day: int = 0, open_: float | None = None) -> Bar:
    o = open_ if open_ is not None else close
    return Bar("X", T + timedelta(days=day), o, max(o, close) * 1.01, min(o, close) * 0.99, close, volume)


async def test_market_order_fills_at_close_plus_impact_with_commission() -> None:
    b = PaperBroker(PaperBrokerConfig(costs=COSTS, participation_rate=None))
    b.on_bar(bar(100.0))
    r = await b.submit(Order("X", "buy", 10, client_order_id="o1"), X)
    (f,) = r.fills
    assert f.price == pytest.approx(100.0 * (1 + 3 / 1e4))
    assert f.commission == pytest.approx(10 * f.price * 1e-4 + 10 * 0.005)
    assert f.fill_id == "o1-1"
    r = await b.submit(Order("X", "sell", 10, client_order_id="o2"), X)
    assert r.fills[0].price == pytest.approx(100.0 * (1 - 3 / 1e4))


async def test_participation_caps_fills_per_bar_and_the_rest_works_on() -> None:
    b = PaperBroker(PaperBrokerConfig(participation_rate=0.1))
    b.on_bar(bar(100.0, volume=1_000))
    r = await b.submit(Order("X", "buy", 250, client_order_id="o1"), X)
    assert [f.quantity for f in r.fills] == [100]
    r2 = await b.submit(Order("X", "buy", 5, client_order_id="o2"), X)
    assert r2.fills == ()                                    # this bar's capacity is used up
    fills = b.on_bar(bar(101.0, volume=1_000, day=1))
    assert [(f.client_order_id, f.quantity) for f in fills] == [("o1", 100)]
    fills = b.on_bar(bar(102.0, volume=600, day=2))
    assert [(f.client_order_id, f.quantity) for f in fills] == [("o1", 50), ("o2", 5)]
    assert b.take_fills()[-1].fill_id == "o2-1" and b.working() == []
    assert b.on_bar(bar(102.0, volume=0, day=3)) == []


async def test_withdraw_forgets_the_order_and_gives_its_fills_back_to_the_bar() -> None:
    b = PaperBroker(PaperBrokerConfig(participation_rate=0.1))
    b.on_bar(bar(100.0, volume=1_000))
    r = await b.submit(Order("X", "buy", 250, client_order_id="o1"), X)
    assert [f.quantity for f in r.fills] == [100] and b.working() == ["o1"]
    b.withdraw("o1", r.fills)
    assert b.working() == []
    again = await b.submit(Order("X", "buy", 250, client_order_id="o1"), X)  # new, not "already working"
    assert [(f.quantity, f.fill_id) for f in again.fills] == [(100, "o1-1")]
    b = PaperBroker(PaperBrokerConfig(participation_rate=0.1))
    b.on_bar(bar(100.0, volume=1_000))
    done = await b.submit(Order("X", "buy", 60, client_order_id="o4"), X)
    b.on_bar(bar(101.0, volume=1_000, day=1))
    b.withdraw("o4", done.fills)                           # fills of an older bar: no cap to give back
    r5 = await b.submit(Order("X", "buy", 250, client_order_id="o5"), X)
    assert [f.quantity for f in r5.fills] == [100]


async def test_limit_orders_rest_until_marketable() -> None:
    b = PaperBroker(PaperBrokerConfig(costs=CostModel(slippage_bps=10), participation_rate=None))
    b.on_bar(bar(100.0))
    r = await b.submit(Order("X", "buy", 10, "limit", 99.5, client_order_id="o1"), X)
    assert r.accepted and r.fills == ()
    assert b.on_bar(bar(99.5, day=1)) == []                  # 99.5 x 1.001 > 99.5
    (f,) = b.on_bar(bar(99.0, day=2))
    assert f.price == pytest.approx(99.0 * 1.001)


async def test_next_open_timing_and_quotes() -> None:
    b = PaperBroker(PaperBrokerConfig(fill_at="next_open", participation_rate=None))
    b.on_bar(bar(100.0))
    r = await b.submit(Order("X", "buy", 10, client_order_id="o1"), X)
    assert r.fills == ()
    (f,) = b.on_bar(bar(105.0, day=1, open_=103.0))
    assert f.price == 103.0
    q = PaperBroker(PaperBrokerConfig(costs=CostModel(half_spread_bps=50, slippage_bps=1), participation_rate=None))
    q.on_quote(Quote("X", T, 99.0, 101.0, 500, 500))
    r = await q.submit(Order("X", "buy", 10, client_order_id="q1"), X)
    assert r.fills[0].price == pytest.approx(101.0 * 1.0001)   # ask + slippage; the quote is the spread


async def test_ioc_fok_cancel_and_unknown_market() -> None:
    b = PaperBroker(PaperBrokerConfig(participation_rate=0.1))
    r = await b.submit(Order("X", "buy", 1, client_order_id="z"), X)
    assert not r.accepted and "no market data" in r.detail
    b.on_bar(bar(100.0, volume=100))
    r = await b.submit(Order("X", "buy", 30, time_in_force="ioc", client_order_id="i"), X)
    assert [f.quantity for f in r.fills] == [10] and r.cancelled_remainder and b.working() == []
    b.on_bar(bar(100.0, volume=100, day=1))
    r = await b.submit(Order("X", "buy", 30, time_in_force="fok", client_order_id="f"), X)
    assert not r.accepted and r.fills == ()
    r = await b.submit(Order("X", "buy", 10, "limit", 90.0, client_order_id="l"), X)
    assert await b.cancel("l") and not await b.cancel("l")
    r = await b.submit(Order("X", "buy", 10, client_order_id="l"), X)
    assert r.detail == "already working" and r.fills == ()


async def test_the_paper_broker_reports_every_step_as_a_typed_event_stream() -> None:
    from raytrade.core.broker_events import (
        Accepted,
        Cancelled,
        CancelRejected,
        Filled,
        PartiallyFilled,
        Rejected,
        Replaced,
    )

    b = PaperBroker(PaperBrokerConfig(participation_rate=0.1))
    b.on_bar(bar(100.0, volume=1_000))
    await b.submit(Order("X", "buy", 250, "limit", 101.0, client_order_id="o1", time_in_force="gtc"), X)
    await b.submit(Order("X", "sell", 5, client_order_id="o2", time_in_force="ioc"), X)  # capacity used up
    await b.submit(Order("X", "buy", 1, "stop", stop_price=120.0, client_order_id="o3"), X)
    await b.submit(Order("Y", "buy", 1, client_order_id="o4"), equity("Y"))
    got = b.take_events()
    assert [type(e) for e in got] == [Accepted, PartiallyFilled, Accepted, Cancelled, Rejected, Rejected]
    assert got[1].fill.quantity == 100 and got[3].detail == "immediate-or-cancel remainder"
    assert "stop orders" in got[4].detail and got[5].code == "NO_MARKET_PRICE"
    assert b.take_events() == []
    await b.replace(Order("X", "buy", 200, "limit", 101.0, client_order_id="o1", time_in_force="gtc"))
    b.on_bar(bar(100.5, volume=1_000, day=1))
    await b.cancel("o1")
    await b.replace(Order("X", "buy", 300, "limit", 101.0, client_order_id="o1", time_in_force="gtc"))
    got = b.take_events()
    assert [type(e) for e in got] == [Replaced, Filled, Cancelled, CancelRejected]
    assert got[0].quantity == 200 and got[1].fill.quantity == 100 and got[1].fill.fill_id == "o1-2"
    assert got[2].detail == "nothing left working at the broker"  # filled before the cancel came


async def test_the_stream_waits_for_events_and_reconcile_reports_holdings_and_working_orders() -> None:
    import asyncio

    from raytrade.core.broker_events import Accepted, Filled

    b = PaperBroker(PaperBrokerConfig(participation_rate=None, positions={"X": 40.0, "Z": 0.0}))
    stream = b.events()
    waiting = asyncio.ensure_future(anext(stream))
    await asyncio.sleep(0.01)
    assert not waiting.done()                       # nothing happened yet: the reader waits
    b.on_bar(bar(100.0))
    await b.submit(Order("X", "sell", 10, client_order_id="o1"), X)
    assert isinstance(await asyncio.wait_for(waiting, 1), Accepted)
    assert isinstance(await asyncio.wait_for(anext(stream), 1), Filled)
    await b.submit(Order("X", "buy", 5, "limit", 50.0, client_order_id="o2"), X)
    account = await b.reconcile()
    assert account.positions == {"X": 30.0} and account.open_orders == {"o2": 5.0} and account.cash is None
    b.restore_positions({"X": 10.0, "Q": -3.0})
    assert (await b.reconcile()).positions == {"X": 40.0, "Q": -3.0}


def test_the_factory_picks_the_broker_by_kind_and_names_the_unknown() -> None:
    from raytrade.brokers import make_broker
    from raytrade.core.errors import ConfigError

    assert isinstance(make_broker(PaperBrokerConfig()), PaperBroker)

    class Other(PaperBrokerConfig):
        kind: str = "ib"  # type: ignore[assignment]

    with pytest.raises(ConfigError, match="unknown broker 'ib' \\(known: paper, routed\\)"):
        make_broker(Other())


async def test_market_impact_temporary_paid_permanent_moves_later_fills() -> None:
    """Power law with eta 0.1, beta 0.5, gamma 0.2 over the last 3 bars, by hand: each fill pays
    eta sigma sqrt(q / adv) on the price, moved by the permanent gamma sigma q / adv of the fills
    before it; a sale of the same size moves it back."""
    import statistics

    from raytrade.execution.impact import ImpactModel

    cfg = PaperBrokerConfig(participation_rate=None, impact=ImpactModel(eta=0.1, beta=0.5, gamma=0.2, lookback=3))
    b = PaperBroker(cfg)
    for day, (c, v) in enumerate([(97.0, 5_000), (100.0, 1_000), (102.0, 1_200), (99.0, 1_000)]):
        b.on_bar(bar(c, volume=v, day=day))
    adv = (1_000 + 1_200 + 1_000) / 3  # the last 3 bars
    sigma = statistics.stdev([100 / 97 - 1, 102 / 100 - 1, 99 / 102 - 1])  # the last 3 returns
    p = 100 / adv
    temp, perm = 0.1 * sigma * p**0.5, 0.2 * sigma * p
    (f1,) = (await b.submit(Order("X", "buy", 100, client_order_id="a"), X)).fills
    assert f1.price == pytest.approx(99.0 * (1 + temp), rel=1e-12)
    (f2,) = (await b.submit(Order("X", "buy", 100, client_order_id="b"), X)).fills
    assert f2.price == pytest.approx(99.0 * (1 + perm) * (1 + temp), rel=1e-12)
    assert b.simulated_shift("X") == pytest.approx(2 * perm)
    (f3,) = (await b.submit(Order("X", "sell", 200, client_order_id="c"), X)).fills
    assert f3.price == pytest.approx(99.0 * (1 + 2 * perm) * (1 - 0.1 * sigma * (2 * p) ** 0.5), rel=1e-12)
    assert b.simulated_shift("X") == pytest.approx(0.0, abs=1e-15)
    # a withdrawn submission takes its price move back with it
    r = await b.submit(Order("X", "buy", 100, client_order_id="d"), X)
    b.withdraw("d", r.fills)
    assert b.simulated_shift("X") == pytest.approx(0.0, abs=1e-15)


async def test_no_impact_before_two_returns_and_none_by_default() -> None:
    from raytrade.execution.impact import ImpactModel

    b = PaperBroker(PaperBrokerConfig(participation_rate=None, impact=ImpactModel()))
    b.on_bar(bar(100.0))
    b.on_bar(bar(101.0, day=1))
    (f,) = (await b.submit(Order("X", "buy", 500, client_order_id="a"), X)).fills
    assert f.price == 101.0
    assert PaperBrokerConfig().impact is None
