"""The engine under the faults real networks and real clients produce, against the real PostgreSQL
and Redis through fault proxies (the shared servers are never stopped): a commit whose reply is
lost, a link that freezes or refuses, an outage longer than the store waits, a Redis cut, SIGKILL
of the order manager and poison orders among good ones. What must hold after all of them: no
acknowledged order lost, none doubled, positions equal to the log's replay, the chain intact and a
restart that replays the log cleanly.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import ray

from raytrade.actors import TradingEngine
from raytrade.core import EventType
from tests.faults import FaultProxy
from tests.integration.test_engine import (
    _drop,
    assert_portfolio_is_the_log_replay,
    bar,
    make_config,
    read_log,
    settle,
    wait_ready,
    wait_restarted,
)
from tests.storage.conftest import PG_URL

pytestmark = [pytest.mark.integration, pytest.mark.slow]

SERVER_SIDE = {"STORE_UNAVAILABLE", "RISK_UNAVAILABLE", "COMPLIANCE_UNAVAILABLE", "BROKER_UNAVAILABLE",
               "NO_MARKET_PRICE"}
RAY_GONE = (ray.exceptions.RayActorError, ray.exceptions.ActorUnavailableError, ray.exceptions.GetTimeoutError)


@pytest.fixture
def proxies() -> Iterator[tuple[FaultProxy, FaultProxy]]:
    pg, redis = FaultProxy("127.0.0.1", 5432), FaultProxy("127.0.0.1", 6379)
    yield pg, redis
    pg.close()
    redis.close()


@pytest.fixture
def faulty_engine(ray_session: dict, tmp_path: Path, proxies: tuple[FaultProxy, FaultProxy]) -> Iterator[Any]:
    """An engine whose store and Redis are reached through the proxies (1 s store timeouts, 4 s
    to settle an unknown commit before the order manager restarts from the log)."""
    pg, redis = proxies
    cfg = make_config(tmp_path, "postgresql", store_url=PG_URL.replace(":5432", f":{pg.port}"),
                      redis_url=f"redis://127.0.0.1:{redis.port}/0", store_timeout_s=1.0, store_resolve_s=4.0,
                      audit_checkpoints=str(tmp_path / "elsewhere" / "checkpoints.jsonl"), audit_checkpoint_s=0.5,
                      call_timeout_s=30,
                      risk={"max_orders_per_second": 100_000, "max_symbol_weight": 1.0, "max_sector_weight": 1.0})
    eng = TradingEngine(cfg)
    eng.start()
    yield eng
    pg.set("pass")
    redis.set("pass")
    eng.shutdown(clear_cache=True)
    import asyncio

    asyncio.run(_drop(cfg))


def submit_until_answered(eng: TradingEngine, req: dict[str, Any], principal: str = "loop",
                          deadline_s: float = 120.0) -> dict[str, Any]:
    """What a careful client does: resubmit the same client order id until it gets an answer that
    is not a temporary server-side refusal."""
    deadline = time.monotonic() + deadline_s
    while True:
        try:
            view = ray.get(eng.orders.submit.remote(req, principal), timeout=30)
            if view["status"] != "rejected" or view["reject_code"] not in SERVER_SIDE:
                return view
        except RAY_GONE:
            pass
        assert time.monotonic() < deadline, f"no answer for {req['client_order_id']}"
        time.sleep(0.05)


def assert_engine_equals_its_log(eng: TradingEngine, acks: dict[str, dict[str, Any]]) -> list[Any]:
    """Every acknowledged order is in the log as answered, nothing is doubled, the portfolio is the
    log's replay and the chain verifies. Returns the log."""
    settle(eng)
    log, ok = read_log(eng.config)
    assert ok, "audit chain broken"
    accepted = Counter(r.event.payload["order"]["client_order_id"] for r in log
                       if r.event.type is EventType.ORDER_ACCEPTED)
    assert max(accepted.values(), default=1) == 1, [c for c, n in accepted.items() if n > 1]
    fill_ids = Counter(r.event.payload["fill"]["fill_id"] for r in log if r.event.type is EventType.FILL)
    assert max(fill_ids.values(), default=1) == 1, "a fill was written twice"
    filled: Counter[str] = Counter()
    for r in log:
        if r.event.type is EventType.FILL:
            filled[r.event.payload["fill"]["client_order_id"]] += r.event.payload["fill"]["quantity"]
    rejected = {r.event.payload["client_order_id"] for r in log if r.event.type is EventType.ORDER_REJECTED}
    for cid, view in acks.items():
        if view["status"] == "rejected":
            assert cid in rejected or view["reject_code"] in SERVER_SIDE | {"INVALID_ORDER"}, view
        else:
            assert accepted[cid] == 1, view
            assert filled[cid] == view["filled_quantity"], view
    assert_portfolio_is_the_log_replay(eng, log)
    return log


def restart_cleanly(eng: TradingEngine) -> dict[str, Any]:
    """SIGKILL the order manager; it must come back, replay the whole log without a skipped record."""
    pid = ray.get(eng.orders.ready.remote())["pid"]
    os.kill(pid, signal.SIGKILL)
    wait_restarted(eng.orders, pid)
    stats = ray.get(eng.orders.stats.remote())
    assert stats["replay_anomalies"] == 0
    return stats


def test_a_commit_whose_reply_is_lost_is_settled_before_the_answer(faulty_engine: Any,
                                                                    proxies: tuple[FaultProxy, FaultProxy]) -> None:
    eng, (pg, _) = faulty_engine, proxies
    ray.get(eng.orders.on_bars.remote([bar("KO", 50.0)]))
    req = {"symbol": "KO", "side": "buy", "quantity": 10, "client_order_id": "lost-1"}
    answer: dict[str, Any] = {}
    with pg.fault("drop_replies"):
        t = threading.Thread(target=lambda: answer.update(ray.get(eng.orders.submit.remote(req, "c"), timeout=60)))
        t.start()
        time.sleep(2.0)                       # the INSERT reached PostgreSQL; its reply did not come back
        assert pg.dropped_reply_bytes > 0 and t.is_alive()   # nobody has been answered yet
    t.join(60)
    assert answer["status"] == "filled", answer       # settled as committed, not "nothing written"
    again = ray.get(eng.orders.submit.remote(req, "c"))
    assert again["duplicate"] and again["filled_quantity"] == 10
    log = assert_engine_equals_its_log(eng, {"lost-1": answer})
    assert sum(r.event.type is EventType.FILL for r in log) == 1
    restart_cleanly(eng)
    assert ray.get(eng.orders.get_order.remote("lost-1"))["filled_quantity"] == 10


def test_an_outage_past_the_deadline_restarts_the_order_manager_from_the_log(
        faulty_engine: Any, proxies: tuple[FaultProxy, FaultProxy]) -> None:
    eng, (pg, _) = faulty_engine, proxies
    ray.get(eng.orders.on_bars.remote([bar("KO", 50.0)]))
    pid = ray.get(eng.orders.ready.remote())["pid"]
    req = {"symbol": "KO", "side": "buy", "quantity": 7, "client_order_id": "lost-2"}
    with pg.fault("drop_replies"), pytest.raises(RAY_GONE):   # the process ended rather than answer wrongly
        ray.get(eng.orders.submit.remote(req, "c"), timeout=60)
    view = submit_until_answered(eng, req, "c")
    assert view["duplicate"] and view["status"] == "filled"   # it had committed: the retry returns it
    assert ray.get(eng.orders.ready.remote())["pid"] != pid
    assert_engine_equals_its_log(eng, {"lost-2": view})
    restart_cleanly(eng)


def test_cancel_during_a_store_outage_leaves_the_order_working(faulty_engine: Any,
                                                              proxies: tuple[FaultProxy, FaultProxy]) -> None:
    from raytrade.core.errors import StoreError

    eng, (pg, _) = faulty_engine, proxies
    ray.get(eng.orders.on_bars.remote([bar("KO", 50.0)]))
    resting = ray.get(eng.orders.submit.remote({"symbol": "KO", "side": "buy", "quantity": 5, "order_type": "limit",
                                                "limit_price": 49.0, "client_order_id": "rest-1"}, "c"))
    assert resting["status"] == "accepted"
    with pg.fault("refuse"):
        with pytest.raises(ray.exceptions.RayTaskError) as info:
            ray.get(eng.orders.cancel.remote("rest-1", "c"), timeout=60)
        assert isinstance(info.value.cause, StoreError)
    assert ray.get(eng.orders.get_order.remote("rest-1"))["status"] == "accepted"
    # still working at the broker: a bar through the limit fills it
    fills = ray.get(eng.orders.on_bars.remote([bar("KO", 48.5)]))
    assert [f["client_order_id"] for f in fills] == ["rest-1"]
    resting2 = ray.get(eng.orders.submit.remote({"symbol": "KO", "side": "buy", "quantity": 5, "order_type": "limit",
                                                 "limit_price": 47.0, "client_order_id": "rest-2"}, "c"))
    assert resting2["status"] == "accepted"
    assert ray.get(eng.orders.cancel.remote("rest-2", "c"))["status"] == "cancelled"
    log = assert_engine_equals_its_log(eng, {"rest-1": ray.get(eng.orders.get_order.remote("rest-1")),
                                             "rest-2": ray.get(eng.orders.get_order.remote("rest-2"))})
    types = [r.event.type for r in log if r.event.payload.get("client_order_id") == "rest-2"]
    assert types == [EventType.ORDER_CANCEL_REQUESTED, EventType.ORDER_CANCELLED]
    restart_cleanly(eng)


def test_fault_injection_under_eight_clients(faulty_engine: Any, proxies: tuple[FaultProxy, FaultProxy]) -> None:
    """Eight clients trade while the link to PostgreSQL loses replies, freezes, refuses and goes
    away past the deadline, Redis is cut, the order manager is SIGKILLed, and batches carry poison
    orders: 0 acknowledged orders lost, 0 doubled, positions equal to the log, a clean restart."""
    eng, (pg, redis) = faulty_engine, proxies
    ray.get(eng.orders.on_bars.remote([bar("AAPL", 100.0), bar("KO", 50.0), bar("JPM", 80.0)]))
    acks: dict[str, dict[str, Any]] = {}
    errors: list[str] = []
    lock = threading.Lock()
    stop = threading.Event()

    def client(k: int) -> None:
        i = 0
        while not stop.is_set() and i < 400:
            cid = f"k{k}-{i:04d}"
            req = {"symbol": ("AAPL", "KO", "JPM")[i % 3], "side": "buy" if (i + k) % 4 else "sell",
                   "quantity": 1 + i % 5, "client_order_id": cid}
            view = submit_until_answered(eng, req)
            with lock:
                acks[cid] = view
            i += 1

    def poison_batches() -> None:
        n = 0
        while not stop.is_set():
            items = [({"symbol": "KO", "side": "buy", "quantity": 1, "client_order_id": f"pg-{n}-{j}"}, "loop")
                     for j in range(6)]
            items[2] = ({"symbol": "KO", "side": "buy", "quantity": 1, "order_type": "limit", "limit_price": 1.8e306,
                         "client_order_id": f"px-{n}"}, "loop")
            items[4] = ({"symbol": "KO", "side": "buy", "quantity": 1, "reason": "nul\x00",
                         "client_order_id": f"pn-{n}"}, "loop")
            try:
                out = ray.get(eng.orders.submit_batch.remote(items), timeout=60)
            except RAY_GONE:
                continue
            for (req, _), view in zip(items, out, strict=True):
                if isinstance(view, Exception):
                    errors.append(f"{req['client_order_id']} raised {view!r}")
                    continue
                if req["client_order_id"].startswith(("px-", "pn-")):   # refused (recorded, or not while the store is out)
                    if view["reject_code"] not in {"INVALID_ORDER", "STORE_UNAVAILABLE"}:
                        errors.append(f"poison answered {view}")
                elif view["status"] != "rejected" or view["reject_code"] not in SERVER_SIDE:
                    with lock:
                        acks[req["client_order_id"]] = view
            n += 1
            time.sleep(0.2)

    def acknowledged(n: int, timeout_s: float = 180.0) -> None:
        deadline = time.monotonic() + timeout_s
        while len(acks) < n:
            assert any(t.is_alive() for t in threads) and time.monotonic() < deadline, f"{len(acks)} of {n}"
            time.sleep(0.05)

    def guarded(fn: Any, *args: Any) -> Any:
        def run() -> None:
            try:
                fn(*args)
            except BaseException as exc:  # a dead client thread must fail the test, not vanish
                errors.append(f"{fn.__name__}{args}: {exc!r}")
        return run

    threads = [threading.Thread(target=guarded(client, k)) for k in range(8)]
    threads.append(threading.Thread(target=guarded(poison_batches)))
    for t in threads:
        t.start()
    try:
        acknowledged(50)
        for mode, seconds in (("drop_replies", 2.0), ("freeze", 2.0), ("refuse", 1.5)):
            with pg.fault(mode):  # type: ignore[arg-type]
                time.sleep(seconds)
            acknowledged(len(acks) + 40)
        with redis.fault("refuse"):       # Redis is a cache and a fan-out: trading goes on
            acknowledged(len(acks) + 40)
        pid = ray.get(eng.orders.ready.remote())["pid"]
        with pg.fault("drop_replies"):    # past the 4 s deadline: the order manager restarts from the log
            time.sleep(6.0)
        acknowledged(len(acks) + 40)
        os.kill(ray.get(eng.orders.ready.remote())["pid"], signal.SIGKILL)
        acknowledged(len(acks) + 40)
    finally:
        stop.set()
        for t in threads:
            t.join(timeout=300)
    assert not any(t.is_alive() for t in threads)
    assert not errors, errors[:5]
    # good orders of poisoned batches were answered: at least two whole batches' four (how many
    # batches go out depends on how fast the engine comes back from each fault, so not a fixed count)
    assert sum(c.startswith("pg-") for c in acks) >= 8
    for h in eng.handles.values():
        wait_ready(h)
    assert ray.get(eng.orders.ready.remote())["pid"] != pid
    assert_engine_equals_its_log(eng, acks)
    restart_cleanly(eng)
    log = assert_engine_equals_its_log(eng, acks)
    # the order managers signed checkpoints of their commits as they went, across every restart
    import asyncio

    from raytrade.storage import checkpoint as cp
    from raytrade.storage import store_from_url

    points = cp.CheckpointFile(eng.config.audit_checkpoints or "").read()

    async def verify() -> Any:
        async with store_from_url(PG_URL, schema=eng.config.store_schema) as store:
            return await store.verify(watch=[p["sequence"] for p in points])

    chain = asyncio.run(verify())
    report = cp.check(chain, chain.watched, points, cp.audit_key(), max_unattested=len(log))
    assert report.ok and len(points) >= 5 and report.attested_upto > len(log) // 2, report.describe()
