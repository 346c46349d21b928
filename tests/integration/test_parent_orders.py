"""Parent orders in the engine: a TWAP parent worked by children on the bars the order manager
takes, through a SIGKILL of the order manager in the middle: no child twice, the parent finishes."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import ray

from raytrade.core import EventType
from tests.integration.test_engine import bar, engine_factory, read_log, wait_restarted  # noqa: F401

pytestmark = [pytest.mark.integration]

T0 = datetime(2024, 3, 4, 15, 0, tzinfo=UTC)


def test_a_twap_parent_survives_a_sigkill_and_finishes_without_a_duplicate_child(engine_factory: Any) -> None:  # noqa: F811
    eng = engine_factory(equities=("KO",), risk={"max_orders_per_second": 100_000, "max_symbol_weight": 1.0,
                                                  "max_sector_weight": 1.0})
    om = eng.orders
    ray.get(om.on_bars.remote([bar("KO", 50.0, T0)], True))
    view = eng.submit({"symbol": "KO", "side": "buy", "quantity": 1000, "client_order_id": "P",
                       "exec_algorithm": {"name": "twap", "params": {"slices": 10}}, "horizon_s": 600})
    assert view["exec_algorithm"]["name"] == "twap" and view["filled_quantity"] == 100  # the first slice at once
    for i in range(1, 5):
        ray.get(om.on_bars.remote([bar("KO", 50.0 + 0.01 * i, T0 + timedelta(minutes=i))], True))
    pid = ray.get(om.ready.remote())["pid"]
    ray.kill(om, no_restart=False)
    wait_restarted(om, pid)
    for i in range(5, 12):
        ray.get(om.on_bars.remote([bar("KO", 50.0 + 0.01 * i, T0 + timedelta(minutes=i))], True))
    parent = ray.get(om.get_order.remote("P"))
    assert (parent["status"], parent["filled_quantity"]) == ("filled", 1000)
    log, ok = read_log(eng.config)
    children = [r.event.payload for r in log if r.event.type is EventType.ORDER_ACCEPTED and "parent" in r.event.payload]
    ids = Counter(c["order"]["client_order_id"] for c in children)
    assert ok and len(ids) == 10 and max(ids.values()) == 1  # the parent itself never reached the broker and sum(c["order"]["quantity"] for c in children) == 1000
    fills = [r.event.payload["fill"] for r in log if r.event.type is EventType.FILL]
    assert sum(f["quantity"] for f in fills) == 1000 and all(f["client_order_id"].startswith("P-c") for f in fills)
    # cancel: a second parent, children resting (limit far away is not possible for market children:
    # cancel right after acceptance instead), cancelled with its children
    v2 = eng.submit({"symbol": "KO", "side": "sell", "quantity": 500, "client_order_id": "Q",
                     "exec_algorithm": {"name": "twap", "params": {"slices": 5}}, "horizon_s": 600})
    assert v2["filled_quantity"] == 100
    done = ray.get(om.cancel.remote("Q", "admin"))
    assert done["status"] == "cancelled" and done["filled_quantity"] == 100
    ray.get(om.on_bars.remote([bar("KO", 50.2, T0 + timedelta(minutes=13))], True))
    assert ray.get(om.get_order.remote("Q"))["filled_quantity"] == 100  # no child after the cancel
