"""The REST API on a running Serve app, with a real HTTP client, against a real engine."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx
import pytest
import ray

from raytrade.actors.portfolio import SNAPSHOT as PORTFOLIO_SNAPSHOT
from raytrade.actors.portfolio import SNAPSHOT_REFRESH_S
from raytrade.core import EventType
from raytrade.core.errors import ConfigError
from raytrade.serve import Role, revoke_event
from raytrade.storage import RedisCache, store_from_url
from tests.serve.conftest import REDIS_URL, Api, _append, make_key

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def test_health_ready_and_openapi(api: Api) -> None:
    assert api("GET", "/api/health").json() == {"status": "ok"}
    ready = api("GET", "/api/health/ready")
    assert ready.status_code == 200, ready.text
    checks = ready.json()["checks"]
    assert {"store", "orders", "portfolio", "risk", "compliance", "broker"} <= set(checks)
    assert all(c["ok"] and c["latency_ms"] >= 0 for c in checks.values())
    spec = api("GET", "/openapi.json").json()
    assert {"/api/orders", "/api/orders/{client_order_id}", "/api/portfolio", "/api/risk",
            "/api/compliance/violations"} <= set(spec["paths"])
    assert api("GET", "/docs").status_code == 200


def test_authentication_and_roles(api: Api) -> None:
    assert api("GET", "/api/portfolio").status_code == 401
    bad = api("GET", "/api/portfolio", headers={"Authorization": "Bearer rtk_000000000000.nope-nope-nope-nope-nope"})
    assert bad.status_code == 401 and bad.json()["error"] == "UNAUTHENTICATED"
    assert api("GET", "/api/portfolio", Role.VIEWER).status_code == 200
    forbidden = api("POST", "/api/orders", Role.VIEWER, json={"symbol": "KO", "side": "buy", "quantity": 1})
    assert forbidden.status_code == 403 and forbidden.json()["error"] == "FORBIDDEN"
    assert api("POST", "/api/risk/halt", Role.TRADER, json={"reason": "x"}).status_code == 403
    token = api.tokens[Role.VIEWER][0]
    assert api("GET", "/api/portfolio", headers={"X-API-Key": token}).status_code == 200
    assert token not in api("GET", "/api/portfolio", Role.VIEWER).text


def test_orders_end_to_end_and_the_audit_trail_names_the_key(api: Api) -> None:
    r = api("POST", "/api/orders", Role.TRADER, json={"symbol": "KO", "side": "buy", "quantity": 10,
                                                      "client_order_id": "api-1"})
    assert r.status_code == 201, r.text
    assert (r.json()["status"], r.json()["filled_quantity"]) == ("filled", 10.0)
    again = api("POST", "/api/orders", Role.TRADER, json={"symbol": "KO", "side": "buy", "quantity": 99,
                                                          "client_order_id": "api-1"})
    assert again.status_code == 201 and again.json()["duplicate"] and again.json()["quantity"] == 10.0
    assert api("GET", "/api/orders/api-1", Role.TRADER).json()["status"] == "filled"
    assert api("GET", "/api/orders/api-1", Role.VIEWER).status_code == 404   # another key's order
    assert api("GET", "/api/orders/api-1", Role.ADMIN).json()["status"] == "filled"
    ray.get(api.engine.orders.sync.remote())  # the portfolio applies fills after the acknowledgement
    positions = api("GET", "/api/positions", Role.VIEWER).json()
    assert any(p["symbol"] == "KO" and p["quantity"] == 10.0 for p in positions)
    resting = api("POST", "/api/orders", Role.TRADER, json={"symbol": "KO", "side": "buy", "quantity": 5,
                                                            "order_type": "limit", "limit_price": 49.0,
                                                            "client_order_id": "api-rest"})
    assert resting.json()["status"] == "accepted"
    assert api("DELETE", "/api/orders/api-rest", Role.VIEWER).status_code == 403
    assert api("DELETE", "/api/orders/api-rest", Role.TRADER).json()["status"] == "cancelled"
    assert api("DELETE", "/api/orders/api-rest", Role.TRADER).status_code == 409
    assert api("DELETE", "/api/orders/nope", Role.TRADER).status_code == 404
    assert api("GET", "/api/orders/nope", Role.VIEWER).status_code == 404
    listing = api("GET", "/api/orders", Role.TRADER, params={"status": "cancelled", "limit": 1}).json()
    assert listing["total"] >= 1 and [o["client_order_id"] for o in listing["orders"]] == ["api-rest"]
    assert api("GET", "/api/orders", Role.VIEWER, params={"status": "cancelled"}).json()["total"] == 0

    async def log() -> list[Any]:
        async with store_from_url(api.cfg.store_url) as store:
            return await store.read(types=[EventType.ORDER_ACCEPTED, EventType.ORDER_CANCEL_REQUESTED,
                                           EventType.ORDER_CANCELLED])

    trader_id = api.tokens[Role.TRADER][1]
    principals = {r.event.principal for r in asyncio.run(log())}
    assert principals == {f"key:{trader_id}"}


@pytest.mark.parametrize(("body", "field"), [
    ({"symbol": "KO", "side": "buy", "quantity": -1}, "quantity"),
    ({"symbol": "KO", "side": "hold", "quantity": 1}, "side"),
    ({"symbol": "KO", "side": "buy", "quantity": 1, "colour": "red"}, "colour"),
    ({"symbol": "KO", "side": "buy", "quantity": 1, "order_type": "limit", "limit_price": 0}, "limit_price"),
    ({"side": "buy", "quantity": 1}, "symbol"),
])
def test_bad_requests_are_422_naming_the_field(api: Api, body: dict, field: str) -> None:
    r = api("POST", "/api/orders", Role.TRADER, json=body)
    assert r.status_code == 422 and r.json()["field"] == field, r.text


def test_malformed_json_and_refused_orders(api: Api) -> None:
    r = api("POST", "/api/orders", Role.TRADER, content=b'{"symbol": "KO", "side": "buy", "quantity": NaN}',
            headers={"Content-Type": "application/json"})
    assert r.status_code == 422
    r = api("POST", "/api/orders", Role.TRADER, json={"symbol": "NOPE", "side": "buy", "quantity": 1})
    assert r.status_code == 422 and r.json()["error"] == "UNKNOWN_SYMBOL"
    r = api("POST", "/api/orders", Role.TRADER, json={"symbol": "AAPL", "side": "buy", "quantity": 5000})
    body = r.json()
    assert r.status_code == 422 and body["error"] == "SYMBOL_LIMIT" and body["order"]["status"] == "rejected"
    assert api("GET", "/api/orders", Role.VIEWER, params={"since": "yesterday"}).status_code == 422
    assert api("GET", "/api/orders", Role.VIEWER, params={"status": "bogus"}).status_code == 422


def test_admin_halt_resume_limits_and_violations(api: Api) -> None:
    assert api("POST", "/api/risk/halt", Role.ADMIN, json={"reason": "news"}).json()["halted"]
    r = api("POST", "/api/orders", Role.TRADER, json={"symbol": "JPM", "side": "buy", "quantity": 1})
    assert r.status_code == 422 and r.json()["error"] == "TRADING_HALTED"
    assert not api("POST", "/api/risk/resume", Role.ADMIN, json={"reason": "clear"}).json()["halted"]
    assert api("POST", "/api/parameters/update", Role.ADMIN,
               json={"component": "risk", "values": {"max_gross_leverage": -1}}).status_code == 422
    assert api("POST", "/api/parameters/update", Role.ADMIN,
               json={"component": "risk", "values": {"nonsense": 1}}).json()["field"] == "values.nonsense"
    ok = api("POST", "/api/parameters/update", Role.ADMIN,
             json={"component": "risk", "values": {"max_gross_leverage": 2.5}})
    assert ok.status_code == 200 and ok.json()["limits"]["max_gross_leverage"] == 2.5
    assert api("GET", "/api/risk", Role.VIEWER).json()["limits"]["max_gross_leverage"] == 2.5
    entries = api("POST", "/api/parameters/update", Role.ADMIN, json={"component": "risk", "values": {
        "checks": [{"kind": "gross_leverage", "max": 2.0}, {"kind": "var", "max": 0.5}]}}).json()
    assert "limits" in entries, entries
    entries = entries["limits"]
    assert entries["max_gross_leverage"] == 2.0 and entries["checks"] == [{"kind": "var", "max": 0.5, "horizon": "1d"}]
    bad = api("POST", "/api/parameters/update", Role.ADMIN, json={"component": "risk", "values": {
        "checks": [{"kind": "beta", "max": 1}]}})
    assert bad.status_code == 422 and "unknown check kind 'beta'" in bad.json()["detail"]
    assert api("POST", "/api/parameters/update", Role.ADMIN, json={"component": "risk", "values": {
        "checks": [], "max_gross_leverage": 2.5}}).json()["limits"]["checks"] == []
    assert isinstance(api("GET", "/api/compliance/violations", Role.VIEWER).json(), list)
    assert api("POST", "/api/strategies/stop", Role.ADMIN, json={"reason": "eod"}).json() == {"running": False}
    r = api("POST", "/api/orders", Role.TRADER, json={"symbol": "JPM", "side": "buy", "quantity": 1})
    assert r.json()["error"] == "ENGINE_STOPPED"
    assert api("GET", "/api/strategies/status", Role.VIEWER).json()["running"] is False
    assert api("POST", "/api/strategies/start", Role.ADMIN, json={"reason": "sod"}).json() == {"running": True}
    stopped = api("POST", "/api/strategies/stop", Role.ADMIN, json={"reason": "review", "strategy": "stat-arb"})
    assert stopped.json() == {"strategy": "stat-arb", "running": False, "orders": 0, "open_orders": 0, "rejected": 0,
                              "positions": {}, "pnl": 0.0}
    assert api("POST", "/api/strategies/stop", Role.TRADER, json={"reason": "x", "strategy": "stat-arb"}).status_code == 403
    bad = api("POST", "/api/strategies/stop", Role.ADMIN, json={"reason": "x", "strategy": "no spaces"})
    assert (bad.status_code, bad.json()["field"]) == (422, "strategy")
    r = api("POST", "/api/orders", Role.TRADER, json={"symbol": "JPM", "side": "buy", "quantity": 1,
                                                      "strategy": "stat-arb"})
    assert (r.status_code, r.json()["error"]) == (422, "STRATEGY_STOPPED")
    assert api("POST", "/api/orders", Role.TRADER, json={"symbol": "JPM", "side": "buy", "quantity": 1,
                                                         "strategy": "carry"}).status_code == 201
    strategies = api("GET", "/api/strategies/status", Role.VIEWER).json()["strategies"]
    assert strategies["stat-arb"] == {"running": False, "orders": 0, "open_orders": 0, "rejected": 1,
                                      "positions": {}, "pnl": 0.0}
    assert strategies["carry"]["running"] and strategies["carry"]["orders"] == 1
    assert api("POST", "/api/strategies/start", Role.ADMIN,
               json={"reason": "ok", "strategy": "stat-arb"}).json()["running"] is True
    perf = api("GET", "/api/performance", Role.VIEWER).json()
    assert perf["equity"] > 0 and perf["orders"]["accepted"] >= 1


def test_rate_limit_and_revocation(api: Api) -> None:
    token, key_id = make_key(api.cfg, Role.VIEWER)
    headers = {"Authorization": f"Bearer {token}"}
    time.sleep(1.1)
    codes = [api("GET", "/api/risk", headers=headers).status_code
             for _ in range(45)]
    assert codes.count(429) >= 1 and codes[0] == 200
    limited = next(i for i, c in enumerate(codes) if c == 429)
    assert limited >= 25  # the burst of 30 passes (a few refill tokens are possible)
    asyncio.run(_append(api.cfg, [revoke_event(key_id, "test")]))
    time.sleep(1.5)
    assert api("GET", "/api/risk", headers=headers).status_code == 401


def test_a_key_with_its_own_rate_is_held_to_it(api: Api) -> None:
    """The deployment allows 5 requests a second with a burst of 30: a key created with 50 a second
    passes 45 requests at once (its burst is one second of its rate); one created with 2 a second
    keeps the deployment's burst, then is refused and told its own rate."""
    fast, _ = make_key(api.cfg, Role.VIEWER, rate_per_s=50)
    slow, _ = make_key(api.cfg, Role.VIEWER, rate_per_s=2)
    time.sleep(1.1)
    codes = [api("GET", "/api/risk", headers={"Authorization": f"Bearer {fast}"}).status_code for _ in range(45)]
    assert codes == [200] * 45
    answers = [api("GET", "/api/risk", headers={"Authorization": f"Bearer {slow}"}) for _ in range(45)]
    limited = next(i for i, r in enumerate(answers) if r.status_code == 429)
    assert limited >= 25 and "more than 2 requests per second" in answers[limited].json()["detail"]
    with pytest.raises(ConfigError, match="a key's rate must be > 0"):
        make_key(api.cfg, Role.VIEWER, rate_per_s=0)


def test_signals_without_a_model_is_404(api: Api) -> None:
    r = api("POST", "/api/signals", Role.VIEWER, json={"symbols": ["KO"]})
    assert r.status_code == 404 and r.json()["error"] == "NO_MODEL"


def test_a_key_works_the_moment_it_is_created(api: Api) -> None:
    """Even right after the replica read the keys (it reads at most once a second unless it meets
    a token it does not know)."""
    for _ in range(3):
        assert api("GET", "/api/portfolio", Role.VIEWER).status_code == 200
        token, _ = make_key(api.cfg, Role.VIEWER)
        r = api("GET", "/api/portfolio", headers={"Authorization": f"Bearer {token}"})
        assert r.status_code == 200, r.text


def test_concurrent_portfolio_reads_share_snapshots(api: Api) -> None:
    """20 GET /api/portfolio at once on warm connections: all answered, the same book, and fewer
    portfolio snapshots (each stamped as_of when the actor made it) than requests."""
    token, _ = make_key(api.cfg, Role.VIEWER)

    async def burst() -> list[httpx.Response]:
        limits = httpx.Limits(max_connections=20, max_keepalive_connections=20)
        async with httpx.AsyncClient(base_url=api.base, timeout=30, limits=limits) as client:
            await asyncio.gather(*[client.get("/api/health") for _ in range(20)])  # opens the connections
            headers = {"Authorization": f"Bearer {token}"}
            return list(await asyncio.gather(*[client.get("/api/portfolio", headers=headers) for _ in range(20)]))

    answers = asyncio.run(burst())
    assert [r.status_code for r in answers] == [200] * 20, answers[0].text
    books = [r.json() for r in answers]
    assert all(b["positions"] == books[0]["positions"] and b["cash"] == books[0]["cash"] for b in books)
    assert len({b["as_of"] for b in books}) < 20


def test_portfolio_is_the_snapshot_in_redis_and_the_actor_when_redis_has_none(api: Api) -> None:
    """GET /api/portfolio answers what the portfolio actor last wrote to Redis, as written; with
    the key gone it asks the actor, and the actor writes the key again within its refresh."""
    async def on_cache(op: str) -> Any:
        cache = RedisCache(REDIS_URL, prefix=f"raytrade:{api.cfg.name}:")
        try:
            return await getattr(cache, op)(PORTFOLIO_SNAPSHOT)
        finally:
            await cache.close()

    def cached() -> Any:
        return asyncio.run(on_cache("get"))

    r = api("POST", "/api/orders", Role.TRADER, json={"symbol": "KO", "side": "buy", "quantity": 3})
    assert r.status_code == 201 and r.json()["status"] == "filled", r.text
    ray.get(api.engine.orders.sync.remote())
    before = cached()
    served = api("GET", "/api/portfolio", Role.VIEWER).json()
    assert before is not None and served in (before, cached())  # as written (a refresh may fall between)
    actor = ray.get(api.engine.portfolio.snapshot.remote())
    assert served["positions"] == actor["positions"] and served["cash"] == actor["cash"]
    asyncio.run(on_cache("delete"))
    from_actor = api("GET", "/api/portfolio", Role.VIEWER).json()
    assert from_actor["positions"] == actor["positions"] and from_actor["as_of"] > served["as_of"]
    deadline = time.monotonic() + 4 * SNAPSHOT_REFRESH_S
    while cached() is None:
        assert time.monotonic() < deadline, "the portfolio actor did not write its snapshot again"
        time.sleep(0.1)


def test_a_strategy_runs_in_the_engine_through_the_api(api: Api) -> None:
    runner = {"strategy": "ma_crossover", "params": {"fast": 3, "slow": 8}, "symbols": ["KO"],
              "sizing": {"whole_shares": True, "fraction": 0.1}, "capital": 50_000}
    r = api("POST", "/api/strategies/start", Role.ADMIN, json={"reason": "go", "strategy": "ma-api", "runner": runner})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["running"] and body["spec"]["params"] == {"fast": 3, "slow": 8} and body["spec"]["allow_short"] is False
    for bad, field in (({**runner, "strategy": "nope"}, "unknown strategy"), ({**runner, "params": {"fast": 9, "slow": 8}}, "constraint"),
                       ({**runner, "symbols": []}, "symbols"), ({**runner, "leverage": 3}, "leverage")):
        r = api("POST", "/api/strategies/start", Role.ADMIN, json={"reason": "x", "strategy": "bad-1", "runner": bad})
        assert r.status_code == 422 and field in r.json()["detail"], r.text
    r = api("POST", "/api/strategies/start", Role.ADMIN, json={"reason": "x", "runner": runner})
    assert (r.status_code, r.json()["field"]) == (422, "strategy")
    r = api("POST", "/api/parameters/update", Role.ADMIN,
            json={"component": "strategy", "strategy": "ma-api", "values": {"fast": 2}})
    assert r.status_code == 200 and r.json()["spec"]["params"] == {"fast": 2, "slow": 8}, r.text
    r = api("POST", "/api/parameters/update", Role.ADMIN,
            json={"component": "strategy", "strategy": "ma-api", "values": {"fast": 8}})
    assert r.status_code == 422 and "constraint" in r.json()["detail"]  # fast must stay below slow
    r = api("POST", "/api/parameters/update", Role.ADMIN,
            json={"component": "strategy", "strategy": "ghost", "values": {"fast": 2}})
    assert r.status_code == 422 and "no runner" in r.json()["detail"]
    deadline = time.monotonic() + 60
    while True:  # the runner is a new process: its status shows once it has started
        status = api("GET", "/api/strategies/status", Role.VIEWER).json().get("strategies", {}).get("ma-api", {})
        if "params" in status.get("runner", {}) or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert status["running"] and status["runner"]["params"] == {"fast": 2, "slow": 8}, status
    assert status["runner"]["symbols"] == ["KO"] and status["pnl"] == 0.0
    r = api("POST", "/api/strategies/stop", Role.ADMIN, json={"reason": "done", "strategy": "ma-api"})
    assert r.status_code == 200 and r.json()["running"] is False
    # a portfolio strategy (one book over its symbols) starts the same way; one it cannot run is a 422
    book = {"strategy": "equal_weight", "params": {"gross": 0.5}, "symbols": ["KO", "JPM"], "capital": 50_000}
    r = api("POST", "/api/strategies/start", Role.ADMIN, json={"reason": "go", "strategy": "ew-api", "runner": book})
    assert r.status_code == 200 and r.json()["spec"]["params"] == {"gross": 0.5}, r.text
    r = api("POST", "/api/strategies/start", Role.ADMIN,
            json={"reason": "x", "strategy": "pairs-api", "runner": {**book, "strategy": "pairs", "params": {}}})
    assert r.status_code == 422 and "allow_short" in r.json()["detail"], r.text
    assert api("POST", "/api/strategies/stop", Role.ADMIN, json={"reason": "done", "strategy": "ew-api"}).status_code == 200


def test_tca_answers_typed_per_parent_algorithm_and_venue(api: Api) -> None:
    r = api("POST", "/api/orders", Role.TRADER, json={"symbol": "JPM", "side": "buy", "quantity": 100,
                                                      "client_order_id": "tca-1", "horizon_s": 600,
                                                      "exec_algorithm": {"name": "twap", "params": {"slices": 4}}})
    assert r.status_code == 201, r.text
    body = api("GET", "/api/tca", Role.VIEWER).json()
    (row,) = [p for p in body["parents"] if p["parent"] == "tca-1"]
    # the first of 4 slices filled at once at the mark (80, no costs): no slippage yet, a quarter filled
    assert (row["algorithm"], row["arrival_price"], row["fill_rate"], row["slippage_vs_arrival_bps"]) == (
        "twap", 80.0, 0.25, 0.0)
    assert row["opportunity_cost"] == 0.0 and row["status"] == "working"
    assert any(a["algorithm"] == "twap" for a in body["algorithms"])
    assert body["venues"] and body["venues"][0]["venue"] == "-"
    spec = api("GET", "/openapi.json").json()
    assert "TcaReport" in spec["components"]["schemas"]
    later = api("GET", "/api/tca", Role.VIEWER, params={"start": "2100-01-01T00:00:00+00:00"}).json()
    assert later["parents"] == []
    bad = api("GET", "/api/tca", Role.VIEWER, params={"start": "yesterday"})
    assert bad.status_code == 422 and bad.json()["field"] == "start"
    naive = api("GET", "/api/tca", Role.VIEWER, params={"end": "2024-03-04T15:00:00"})
    assert naive.status_code == 422 and "time zone" in naive.json()["detail"]
    assert api("GET", "/api/tca").status_code == 401


def test_analytics_and_tax_answer_typed_for_the_live_book(api: Api) -> None:
    r = api("POST", "/api/orders", Role.TRADER, json={"symbol": "KO", "side": "buy", "quantity": 10,
                                                      "client_order_id": "tax-1", "strategy": "carry"})
    assert r.status_code == 201, r.text
    lots = api("GET", "/api/tax/lots", Role.VIEWER).json()
    assert lots["method"] == "fifo" and any(x["symbol"] == "KO" and x["price"] == 50.0 for x in lots["open"])
    assert set(lots["totals"]) == {"short_term_gain", "long_term_gain", "wash_disallowed", "unrealized"}
    att = api("GET", "/api/analytics/attribution", Role.VIEWER).json()
    assert "carry" in {g["group"] for g in att["by_strategy"]} and "KO" in {g["group"] for g in att["by_symbol"]}
    assert api("GET", "/api/analytics/drawdowns", Role.VIEWER, params={"threshold": 0.2}).json()["threshold"] == 0.2
    harvest = api("GET", "/api/tax/harvest", Role.VIEWER).json()
    assert harvest["harvest_strategy"] == "tax_harvest" and harvest["config"]["short_rate"] == 0.37
    schemas = api("GET", "/openapi.json").json()["components"]["schemas"]
    assert {"AttributionReport", "DrawdownReport", "TaxLotsReport", "HarvestReport"} <= set(schemas)
    for path, params, field in (("/api/analytics/drawdowns", {"threshold": 1.5}, "threshold"),
                                ("/api/analytics/drawdowns", {"threshold": "deep"}, "threshold"),
                                ("/api/tax/lots", {"year": 1066}, "year"),
                                ("/api/tax/harvest", {"min_loss": -1}, "min_loss"),
                                ("/api/tax/harvest", {"short_rate": 2}, "short_rate"),
                                ("/api/tax/harvest", {"min_correlation": "nan"}, "min_correlation")):
        bad = api("GET", path, Role.VIEWER, params=params)
        assert bad.status_code == 422 and bad.json()["field"] == f"query.{field}", (path, params, bad.text)
    for path in ("/api/analytics/attribution", "/api/analytics/drawdowns", "/api/tax/lots", "/api/tax/harvest"):
        assert api("GET", path).status_code == 401
