"""The platform's metrics as Prometheus scrapes them: from Ray's metrics export port."""

from __future__ import annotations

import re
import time

import httpx
import pytest
import ray

from raytrade.serve import Role
from tests.serve.conftest import Api

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def scrape() -> str:
    port = ray._private.worker.global_worker.node.metrics_export_port
    return httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=10).text


def value(text: str, name: str, **labels: str) -> float | None:
    """Sum of the samples of ``name`` whose labels include ``labels``."""
    total, found = 0.0, False
    for line in text.splitlines():
        m = re.match(rf"^{name}(\{{(.*)\}})? (\S+)$", line)
        if m and all(f'{k}="{v}"' in (m.group(2) or "") for k, v in labels.items()):
            total += float(m.group(3))
            found = True
    return total if found else None


def test_engine_and_api_metrics_reach_prometheus(api: Api) -> None:
    engine = api.cfg.name
    api("POST", "/api/orders", Role.TRADER, json={"symbol": "JPM", "side": "buy", "quantity": 2})
    api("POST", "/api/orders", Role.TRADER, json={"symbol": "JPM", "side": "buy", "quantity": 10**6})
    api("GET", "/api/portfolio", Role.VIEWER)
    # a one-slice TWAP parent: its child fills it at once, and its shortfall is observed
    parent = api("POST", "/api/orders", Role.TRADER, json={"symbol": "JPM", "side": "buy", "quantity": 3,
                                                           "exec_algorithm": {"name": "twap", "params": {"slices": 1}},
                                                           "horizon_s": 60})
    assert parent.status_code == 201 and parent.json()["status"] == "filled", parent.text
    wanted = {
        "ray_orders_submitted_total": {"engine": engine},
        "ray_orders_rejected_total": {"engine": engine},
        "ray_trades_total": {"engine": engine, "symbol": "JPM"},
        "ray_order_slippage_bps_count": {"engine": engine},
        "ray_execution_shortfall_bps_count": {"engine": engine, "algorithm": "twap"},
        "ray_portfolio_equity": {"engine": engine},
        "ray_api_latency_ms_count": {"route": "/api/portfolio", "method": "GET", "status": "200"},
    }
    deadline = time.monotonic() + 60
    missing = list(wanted)
    text = ""
    while missing and time.monotonic() < deadline:
        text = scrape()
        missing = [n for n, labels in wanted.items() if value(text, n, **labels) is None]
        time.sleep(1)
    assert not missing, missing
    assert value(text, "ray_orders_rejected_total", engine=engine) >= 1
    assert value(text, "ray_portfolio_equity", engine=engine) > 0
