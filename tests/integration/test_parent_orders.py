"""Parent orders in the engine: a TWAP parent worked by children on the bars the order manager
takes, through a SIGKILL of the order manager in the middle: no child twice, the parent finishes."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
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


def test_a_parent_on_the_routed_broker_records_every_fills_venue(engine_factory: Any, tmp_path: Path,  # noqa: F811
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """Children of a VWAP parent routed over two lit venues and a dark pool, with market impact on:
    every fill in the log names its venue, the parent fills in full, and on a bar the dark pool's
    midpoint fills beat the lit ones."""
    venues = [{"name": "PRIMARY", "fee_bps": 0.3, "share": 0.5}, {"name": "SECONDARY", "fee_bps": -0.2, "share": 0.3},
              {"name": "DARK", "kind": "dark", "fee_bps": 0.1, "share": 0.4, "fill_prob": 0.5, "min_size": 10}]
    eng = engine_factory(equities=("KO",), risk={"max_orders_per_second": 100_000, "max_symbol_weight": 1.0,
                                                  "max_sector_weight": 1.0},
                         broker={"kind": "routed", "venues": venues, "seed": 3, "participation_rate": None,
                                 "costs": {"half_spread_bps": 2.0}, "impact": {"lookback": 5}})
    om = eng.orders
    for i in range(6):  # history for the impact estimates
        ray.get(om.on_bars.remote([bar("KO", 50.0 + 0.05 * (i % 2), T0 - timedelta(minutes=6 - i), 50_000)], True))
    eng.submit({"symbol": "KO", "side": "buy", "quantity": 2000, "client_order_id": "V",
                "exec_algorithm": {"name": "vwap", "params": {"slices": 8}}, "horizon_s": 480})
    for i in range(1, 10):
        ray.get(om.on_bars.remote([bar("KO", 50.0, T0 + timedelta(minutes=i), 50_000)], True))
    assert ray.get(om.get_order.remote("V"))["filled_quantity"] == 2000
    log, ok = read_log(eng.config)
    fills = [r.event.payload["fill"] for r in log if r.event.type is EventType.FILL]
    assert ok and sum(f["quantity"] for f in fills) == 2000
    venues_seen = Counter(f["venue"] for f in fills)
    assert set(venues_seen) == {"PRIMARY", "SECONDARY", "DARK"}, venues_seen
    for ts in {f["timestamp"] for f in fills if f["venue"] == "DARK"}:  # on the same bar
        dark = [f["price"] for f in fills if f["venue"] == "DARK" and f["timestamp"] == ts]
        lit = [f["price"] for f in fills if f["venue"] != "DARK" and f["timestamp"] == ts]
        assert max(dark) < min(lit, default=float("inf"))
    # its cost analysis from the log and the bars the order manager saw
    tca = ray.get(om.tca.remote())
    (row,) = tca["parents"]
    assert row["parent"] == "V" and row["status"] == "filled" and row["fill_rate"] == 1.0
    assert row["arrival_price"] == pytest.approx(50.05)  # the last mark before it (bar 5 of the history)
    assert row["interval_vwap"] is not None and 0 < row["participation"] < 1
    assert {v["venue"] for v in tca["venues"]} == {"PRIMARY", "SECONDARY", "DARK"}
    assert sum(v["share"] for v in tca["venues"]) == pytest.approx(1.0)
    assert tca["algorithms"][0]["algorithm"] == "vwap" and tca["algorithms"][0]["parents"] == 1
    # the report from the command line: the same figures, with the market from a file
    import pandas as pd
    from typer.testing import CliRunner

    from raytrade.cli import app
    from tests.execution.test_readme_execution import tca_command

    bars = [(T0 + timedelta(minutes=i), 50.0, 50_000.0) for i in range(1, 10)]
    pd.DataFrame([{"timestamp": t.isoformat(), "symbol": "KO", "price": p, "volume": v} for t, p, v in bars]).to_csv(
        tmp_path / "market.csv", index=False)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("RAYTRADE_DATABASE_URL", eng.config.store_url or "")
    res = CliRunner().invoke(app, tca_command())  # README.md's command as written
    assert res.exit_code == 0, res.output
    assert "1 parent orders analysed" in res.output
    page = (tmp_path / "runs" / "tca" / "tca.html").read_text()
    assert "By venue" in page and "DARK" in page and "data:image/png;base64" in page
    rows = pd.read_csv(tmp_path / "runs" / "tca" / "tca_parents.csv")
    assert rows["parent"].tolist() == ["V"] and rows["avg_price"].iloc[0] == pytest.approx(row["avg_price"])
    bad = CliRunner().invoke(app, ["tca", "report", "-o", str(tmp_path / "x"), "--market", str(tmp_path / "nope.csv"),
                                   "--database-url", eng.config.store_url or ""])
    assert bad.exit_code == 2 and "cannot read the market file" in bad.output and "Traceback" not in bad.output
