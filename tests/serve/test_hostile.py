"""The API against hostile and careless clients, over real HTTP: poison orders inside the batches the
API coalesces, another key's orders, bodies that are not JSON, values no order can have, and error
answers that must never carry a traceback."""

from __future__ import annotations

import asyncio
import json
import re

import httpx
import pytest
import ray

from raytrade.serve import Role
from tests.serve.conftest import Api, make_key

pytestmark = [pytest.mark.integration]

TRACE = re.compile(r"Traceback|\x1b\[|pid=|File \"|ray::|actor_id|\.py", re.I)


def no_trace(r: httpx.Response) -> None:
    assert not TRACE.search(r.text), r.text


def test_a_poison_order_among_many_good_ones_fails_alone(api: Api) -> None:
    """25 good orders and 5 poison ones (a price that overflows the tick arithmetic, a NUL in the
    reason, a boolean quantity, a quantity of 1e-10 shares, a NUL in the symbol) sent at once by
    one fresh key (its bucket holds 30): the API coalesces them into shared batches; every good
    order is answered 201 and filled, every poison one 422 naming its problem."""
    token, _ = make_key(api.cfg, Role.TRADER)
    poison = [
        {"symbol": "KO", "side": "buy", "quantity": 1, "order_type": "limit", "limit_price": 1.8e306},
        {"symbol": "KO", "side": "buy", "quantity": 1, "reason": "bad\x00reason"},
        {"symbol": "KO", "side": "buy", "quantity": True},
        {"symbol": "KO", "side": "buy", "quantity": 1e-10},
        {"symbol": "K\x00O", "side": "buy", "quantity": 1},
    ]

    async def scenario() -> tuple[list[httpx.Response], list[httpx.Response]]:
        limits = httpx.Limits(max_connections=64)
        async with httpx.AsyncClient(base_url=api.base, headers={"Authorization": f"Bearer {token}"},
                                     timeout=60, limits=limits) as c:
            sends = []
            for i in range(25):
                sends.append(c.post("/api/orders", json={"symbol": "JPM", "side": "buy" if i % 2 else "sell",
                                                         "quantity": 1, "client_order_id": f"good-{i}"}))
                if i % 5 == 2:
                    sends.append(c.post("/api/orders", json=poison[i // 5]))
            answers = await asyncio.gather(*sends)
        good = [a for a in answers if a.request.content and b"good-" in a.request.content]
        bad = [a for a in answers if a not in good]
        return good, bad

    good, bad = asyncio.run(scenario())
    assert len(good) == 25 and len(bad) == 5
    for r in good:
        assert r.status_code == 201 and r.json()["status"] == "filled", r.text
    for r in bad:
        assert r.status_code == 422, r.text
        no_trace(r)
    assert {r.json().get("field") or r.json()["error"] for r in bad} == {
        "limit_price", "reason", "quantity", "NOT_LOT_MULTIPLE", "symbol"}


def test_orders_belong_to_the_key_that_placed_them(api: Api) -> None:
    other, _ = make_key(api.cfg, Role.TRADER)
    mine = api("POST", "/api/orders", Role.TRADER, json={"symbol": "KO", "side": "buy", "quantity": 1,
                                                         "order_type": "limit", "limit_price": 48.0,
                                                         "client_order_id": "iso-mine"})
    assert mine.status_code == 201, mine.text
    h = {"Authorization": f"Bearer {other}"}
    assert api("GET", "/api/orders/iso-mine", headers=h).status_code == 404
    assert api("DELETE", "/api/orders/iso-mine", headers=h).status_code == 404
    stolen = api("POST", "/api/orders", headers=h, json={"symbol": "KO", "side": "sell", "quantity": 1,
                                                         "client_order_id": "iso-mine"})
    assert stolen.status_code == 409 and stolen.json()["error"] == "DUPLICATE_ORDER_ID", stolen.text
    assert "limit_price" not in json.dumps(stolen.json())          # nothing of the other key's order
    listing = api("GET", "/api/orders", headers=h).json()
    assert all(o["principal"] != f"key:{api.tokens[Role.TRADER][1]}" for o in listing["orders"])
    assert api("GET", "/api/orders/iso-mine", Role.TRADER).json()["status"] == "accepted"
    assert api("DELETE", "/api/orders/iso-mine", Role.ADMIN).json()["status"] == "cancelled"


def test_error_answers_are_json_in_one_shape_without_tracebacks(api: Api) -> None:
    h = {"Content-Type": "application/json"}
    r = api("POST", "/api/orders", Role.TRADER, content=b"\xff\xfe{", headers=h)   # not UTF-8
    assert r.status_code == 422 and r.json()["error"] == "INVALID_REQUEST" and r.json()["field"] == "body", r.text
    r = api("POST", "/api/orders", Role.TRADER, content=b'{"symbol": "KO", "side": "bu', headers=h)  # truncated
    assert r.status_code == 422 and r.json()["field"] == "body" and "character" in r.json()["detail"], r.text
    r = api("POST", "/api/parameters/update", Role.ADMIN, content=b'{"component": "risk", "values": '
                                                                  b'{"max_symbol_weight": Infinity}}', headers=h)
    assert r.status_code == 422, r.text
    # a filled order cannot be cancelled: 409 with the engine's sentence, no remote traceback
    api("POST", "/api/orders", Role.TRADER, json={"symbol": "KO", "side": "buy", "quantity": 1,
                                                  "client_order_id": "err-filled"})
    r = api("DELETE", "/api/orders/err-filled", Role.TRADER)
    assert r.status_code == 409 and r.json()["error"] == "NOT_CANCELLABLE", r.text
    no_trace(r)
    r = api("GET", "/api/nowhere", Role.VIEWER)
    assert r.status_code == 404 and r.json()["error"] == "NOT_FOUND"


def test_rate_limited_websocket_connects_get_their_own_close_code(api: Api) -> None:
    import websockets
    from websockets.exceptions import ConnectionClosed

    token, _ = make_key(api.cfg, Role.VIEWER)
    url = api.base.replace("http://", "ws://") + f"/ws?token={token}"

    async def scenario() -> set[int]:
        codes: set[int] = set()
        for _ in range(60):   # the deployment's bucket holds 30
            async with websockets.connect(url) as ws:
                try:
                    first = json.loads(await asyncio.wait_for(ws.recv(), 10))
                    assert first["type"] == "subscribed"
                except ConnectionClosed as exc:
                    codes.add(exc.rcvd.code if exc.rcvd else -1)
        return codes

    assert asyncio.run(scenario()) == {4429}


def test_a_restarted_order_manager_fills_at_the_last_known_price(api: Api) -> None:
    """After a restart the paper broker has the saved marks: an order fills before any new bar."""
    import os
    import signal

    from tests.integration.test_engine import wait_restarted

    pid = ray.get(api.engine.orders.ready.remote())["pid"]
    ray.get(api.engine.orders.on_bars.remote([]))   # marks saved (they are, at every bar)
    os.kill(pid, signal.SIGKILL)
    wait_restarted(api.engine.orders, pid)
    r = api("POST", "/api/orders", Role.TRADER, json={"symbol": "JPM", "side": "buy", "quantity": 1})
    assert r.status_code == 201 and r.json()["status"] == "filled", r.text


