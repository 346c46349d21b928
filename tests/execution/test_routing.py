"""Router decisions on hand-built venue quotes (raytrade.execution.routing)."""

from __future__ import annotations

import numpy as np
import pytest

from raytrade.core.errors import ConfigError
from raytrade.execution.routing import CostPolicy, LitOnlyPolicy, VenueQuote, make_policy

PRIMARY = VenueQuote("PRIMARY", "lit", 99.99, 100.01, 300, fee_bps=0.3, latency_ms=1)
SECONDARY = VenueQuote("SECONDARY", "lit", 99.99, 100.01, 200, fee_bps=-0.2, latency_ms=2)
DARK = VenueQuote("DARK", "dark", 99.99, 100.01, 400, fee_bps=0.1, latency_ms=5, fill_prob=0.5, min_size=100)


def test_all_in_prices_by_hand() -> None:
    assert PRIMARY.all_in(1) == pytest.approx(100.01 * 1.00003)
    assert SECONDARY.all_in(1) == pytest.approx(100.01 * 0.99998)  # a rebate improves the price
    assert SECONDARY.all_in(-1) == pytest.approx(99.99 * 1.00002)
    assert DARK.all_in(1) == pytest.approx(100.0 * 1.00001)  # the midpoint
    assert DARK.all_in(-1) == pytest.approx(100.0 * 0.99999)


def test_dark_first_where_it_pays_then_lit_by_all_in_price() -> None:
    best = 100.01 * 0.99998
    saving = 0.5 * (best - 100.001) - 0.5 * best * 0.01 * 5 / 1e4
    assert CostPolicy().dark_saving(1, DARK, best) == pytest.approx(saving)
    assert saving > 0
    plan = CostPolicy().route(1, 1000, [PRIMARY, SECONDARY, DARK])
    # dark takes its hidden 400; SECONDARY (cheapest lit) shows 200, PRIMARY 300; the last 100 go
    # to SECONDARY, the cheapest
    assert [(s.venue, s.quantity) for s in plan] == [("DARK", 400), ("SECONDARY", 300), ("PRIMARY", 300)]
    assert plan[0].fill_prob == 0.5 and plan[0].price == pytest.approx(100.001)


def test_a_sell_prefers_the_highest_all_in_bid() -> None:
    plan = LitOnlyPolicy().route(-1, 450, [PRIMARY, SECONDARY])
    assert [(s.venue, s.quantity) for s in plan] == [("SECONDARY", 200), ("PRIMARY", 250)]


def test_dark_is_skipped_when_a_miss_costs_more_than_a_fill_saves_or_below_its_minimum() -> None:
    slow = VenueQuote("DARK", "dark", 99.99, 100.01, 400, fee_bps=0.1, latency_ms=200, fill_prob=0.05, min_size=100)
    best = 100.01 * 0.99998
    assert CostPolicy().dark_saving(1, slow, best) == pytest.approx(0.05 * (best - 100.001) - 0.95 * best * 0.01 * 200 / 1e4)
    assert [s.venue for s in CostPolicy().route(1, 1000, [PRIMARY, SECONDARY, slow])] == ["SECONDARY", "PRIMARY"]
    assert [s.venue for s in CostPolicy().route(1, 50, [PRIMARY, SECONDARY, DARK])] == ["SECONDARY"]
    # a dark venue whose fee eats the half spread never pays
    dear = VenueQuote("DARK", "dark", 99.99, 100.01, 400, fee_bps=2.0, fill_prob=1.0)
    assert all(s.kind == "lit" for s in CostPolicy().route(1, 1000, [PRIMARY, SECONDARY, dear]))


def test_the_dark_venues_can_be_excluded_for_a_miss() -> None:
    plan = CostPolicy().route(1, 400, [PRIMARY, SECONDARY, DARK], exclude={"DARK"})
    assert [(s.venue, s.quantity) for s in plan] == [("SECONDARY", 200), ("PRIMARY", 200)]


def test_slices_sum_to_the_child_in_whole_lots() -> None:
    rng = np.random.default_rng(11)
    for _ in range(300):
        lot = float(rng.choice([1, 10, 100]))
        qty = float(rng.integers(1, 500)) * lot
        quotes = [VenueQuote(f"L{i}", "lit", 99.9, 100.1, float(rng.integers(1, 2000)), float(rng.uniform(-1, 1)))
                  for i in range(int(rng.integers(1, 4)))]
        quotes.append(VenueQuote("D", "dark", 99.9, 100.1, float(rng.integers(1, 3000)), 0.0,
                                 float(rng.uniform(0, 10)), float(rng.uniform(0, 1)), float(rng.integers(0, 500))))
        plan = CostPolicy().route(int(rng.choice([1, -1])), qty, quotes, lot)
        assert sum(s.quantity for s in plan) == pytest.approx(qty, abs=1e-9)
        assert all(abs(s.quantity / lot - round(s.quantity / lot)) < 1e-9 and s.quantity > 0 for s in plan)


def test_policies_come_from_a_registry_with_clear_errors() -> None:
    assert make_policy("cost", {"delay_bps_per_ms": 0.1}).name == "cost"
    with pytest.raises(ConfigError, match=r"unknown policy 'fastest' \(known: cost, lit_only\)"):
        make_policy("fastest")
    with pytest.raises(ConfigError, match=r"routing\.params"):
        make_policy("cost", {"bogus": 1})
    with pytest.raises(ConfigError, match="no lit venue"):
        CostPolicy().route(1, 100, [DARK])


def test_allocating_many_children_at_once_plans_what_routing_each_does() -> None:
    rng = np.random.default_rng(4)
    policy = CostPolicy()
    for _ in range(50):
        lot = float(rng.choice([1, 100]))
        qty = rng.integers(0, 80, size=30).astype(float) * lot
        side = int(rng.choice([1, -1]))
        venues, alloc = policy.allocate(side, qty, [PRIMARY, SECONDARY, DARK], lot)
        for i, q in enumerate(qty):
            each = {s.venue: s.quantity for s in policy.route(side, q, [PRIMARY, SECONDARY, DARK], lot)} if q else {}
            assert {v: alloc[i, j] for j, v in enumerate(venues) if alloc[i, j]} == pytest.approx(each)
        np.testing.assert_allclose(alloc.sum(axis=1), qty)
