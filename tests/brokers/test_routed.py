"""The routed paper broker: fills split over venues, each recording its venue; dark draws seeded."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from raytrade.backtest.costs import CostModel
from raytrade.brokers import RoutedBroker, RoutedBrokerConfig, VenueConfig, make_broker
from raytrade.core import Bar, Order, equity
from raytrade.core.orders import Fill

T = datetime(2024, 3, 1, 15, tzinfo=UTC)
X = equity("X")
VENUES = [VenueConfig(name="PRIMARY", fee_bps=0.3, share=0.3), VenueConfig(name="SECONDARY", fee_bps=-0.2, share=0.2),
          VenueConfig(name="DARK", kind="dark", fee_bps=0.1, share=0.4, fill_prob=0.5, min_size=100)]


def broker(seed: int = 1) -> RoutedBroker:
    b = make_broker(RoutedBrokerConfig(venues=VENUES, seed=seed, participation_rate=None,
                                       costs=CostModel(half_spread_bps=1.0, commission_bps=0.5)))
    assert isinstance(b, RoutedBroker)
    b.on_bar(Bar("X", T, 100.0, 100.5, 99.5, 100.0, 1e6))
    return b


async def _fills(b: RoutedBroker, cid: str, qty: float = 1000, side: str = "buy", **kw: float) -> list[Fill]:
    return list((await b.submit(Order("X", side, qty, client_order_id=cid, **kw), X)).fills)


async def test_a_fill_is_split_over_venues_at_their_prices() -> None:
    b = broker()
    seen_dark = seen_miss = False
    for i in range(40):
        fills = await _fills(b, f"o{i}")
        assert sum(f.quantity for f in fills) == 1000
        by = {f.venue: f for f in fills}
        assert set(by) <= {"PRIMARY", "SECONDARY", "DARK"}
        # touch 100.01; SECONDARY's rebate makes it the cheapest lit venue: it shows 200 and takes the rest
        assert by["PRIMARY"].quantity == 300 and by["PRIMARY"].price == pytest.approx(100.01 * 1.00003)
        assert by["SECONDARY"].price == pytest.approx(100.01 * 0.99998)
        if "DARK" in by:
            seen_dark = True
            assert by["DARK"].quantity == 400 and by["DARK"].price == pytest.approx(100.0 * 1.00001)
            assert by["SECONDARY"].quantity == 300
        else:  # the dark pool missed: its 400 went lit, cheapest first
            seen_miss = True
            assert by["SECONDARY"].quantity == 700
        for f in fills:
            assert f.commission == pytest.approx(f.quantity * f.price * 0.5e-4)
            assert Fill.from_dict(f.to_dict()) == f
    assert seen_dark and seen_miss


async def test_dark_draws_are_seeded_by_order_so_a_restart_routes_the_same() -> None:
    first = [(f.venue, f.quantity, f.price, f.fill_id) for i in range(20) for f in await _fills(broker(5), f"o{i}")]
    again = [(f.venue, f.quantity, f.price, f.fill_id) for i in range(20) for f in await _fills(broker(5), f"o{i}")]
    other = [(f.venue, f.quantity, f.price, f.fill_id) for i in range(20) for f in await _fills(broker(6), f"o{i}")]
    assert first == again and first != other


async def test_a_limit_uses_only_venues_that_meet_it() -> None:
    b = broker()
    # 100.0098 is above SECONDARY's all-in 100.008 but below PRIMARY's 100.013: no PRIMARY fills
    fills = await _fills(b, "lim", order_type="limit", limit_price=100.0098)
    assert sum(f.quantity for f in fills) == 1000 and "PRIMARY" not in {f.venue for f in fills}
    # below every lit venue's price: nothing fills, the order rests
    assert await _fills(b, "low", order_type="limit", limit_price=100.0) == []
    assert "low" in b.working()


def test_a_venue_without_lit_or_with_duplicates_is_refused() -> None:
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match="at least one lit venue"):
        RoutedBrokerConfig(venues=[VenueConfig(name="D", kind="dark")])
    with pytest.raises(ValidationError, match="names must be unique"):
        RoutedBrokerConfig(venues=[VenueConfig(name="A"), VenueConfig(name="A")])
    with pytest.raises(ValidationError, match="fill_prob and min_size are for dark pools"):
        VenueConfig(name="A", fill_prob=0.5)
