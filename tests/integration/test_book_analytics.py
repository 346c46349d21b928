"""The live book's analytics and tax lots on a real engine: a loss, the harvester's proposal, the
harvest sale through the normal order path, the 31-day lock compliance enforces, and the
attribution, drawdowns and lots the order manager answers from its log."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
import ray

from tests.integration.test_engine import OPEN, bar, engine_factory  # noqa: F401  (the fixture)

pytestmark = [pytest.mark.integration]


def test_harvest_lock_lots_attribution_and_drawdowns(engine_factory: Any) -> None:  # noqa: F811
    eng = engine_factory()
    om = eng.orders
    ray.get(om.on_bars.remote([bar("AAPL", 100.0), bar("JPM", 80.0), bar("KO", 50.0)]))
    assert eng.submit({"symbol": "AAPL", "side": "buy", "quantity": 100, "client_order_id": "a1"})["status"] == "filled"
    assert eng.submit({"symbol": "JPM", "side": "buy", "quantity": 100, "client_order_id": "j1",
                       "strategy": "trend"})["status"] == "filled"
    day2 = OPEN + timedelta(days=1)
    ray.get(om.on_bars.remote([bar("AAPL", 80.0, day2), bar("JPM", 85.0, day2), bar("KO", 50.0, day2)]))

    h = ray.get(om.tax_harvest.remote({}))
    (p,) = h["proposals"]
    assert (p["symbol"], p["quantity"], p["loss"]) == ("AAPL", 100.0, pytest.approx(2_000.0))
    assert p["tax_benefit"] == pytest.approx(740.0) and p["substitute"] is None  # no sectors configured
    assert ray.get(om.tax_harvest.remote({"min_loss": 5_000.0}))["proposals"] == []

    sold = eng.submit({"symbol": "AAPL", "side": "sell", "quantity": 100, "client_order_id": "h1",
                       "strategy": h["harvest_strategy"]})
    assert sold["status"] == "filled"
    back = eng.submit({"symbol": "AAPL", "side": "buy", "quantity": 10, "client_order_id": "b1"})
    assert (back["status"], back["reject_code"]) == ("rejected", "WASH_SALE_LOCK")

    lots = ray.get(om.tax_lots.remote())
    assert [(x["symbol"], x["quantity"], x["price"]) for x in lots["open"]] == [("JPM", 100.0, 85.0)]
    (sale,) = lots["realized"]
    assert (sale["symbol"], sale["gain"], sale["term"], sale["wash_disallowed"]) == (
        "AAPL", pytest.approx(-2_000.0), "short", 0.0)
    assert lots["totals"]["short_term_gain"] == pytest.approx(-2_000.0)
    assert lots["totals"]["unrealized"] == pytest.approx(500.0)

    att = ray.get(om.attribution.remote())
    strat = {g["group"]: g["pnl"] for g in att["by_strategy"]}
    assert strat["trend"] == pytest.approx(500.0)
    assert strat["manual"] + strat["tax_harvest"] == pytest.approx(-2_000.0)
    assert att["pnl"] == pytest.approx(-1_500.0)
    dd = ray.get(om.drawdowns.remote(0.001))
    (ev,) = dd["events"]
    assert ev["depth"] == pytest.approx(-1_500.0 / 1_000_000.0) and ev["open"]

    later = OPEN + timedelta(days=32)   # Friday 5 April: the lock (31 days from the sale) is over
    ray.get(om.on_bars.remote([bar("AAPL", 82.0, later), bar("JPM", 85.0, later), bar("KO", 50.0, later)]))
    again = eng.submit({"symbol": "AAPL", "side": "buy", "quantity": 10, "client_order_id": "b2"})
    assert again["status"] == "filled"
