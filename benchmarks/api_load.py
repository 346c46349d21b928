"""REST and WebSocket load on a running raytrade API, from a separate load process.

Starts a local Ray instance, an engine (SQLite store in a temporary folder, the local Redis for the
event bus) and the API on Serve, then runs a load process (`--load`) that measures, each at a
fixed concurrency:

- GET /api/health (baseline: Serve and FastAPI, no key check, no actor call),
- GET /api/portfolio (key check, one call to the portfolio actor),
- POST /api/orders (market orders through the whole engine path),
- WebSocket fan-out: 100 clients subscribed to trade_update; orders are submitted one by one
  and each fill's trade_update is timed from the moment its POST was sent to each client's
  receipt (an upper bound of fill-to-client: it includes the order's own path, and the event can
  reach the clients before the POST's answer does); every client must get every fill (events lost
  must be 0).

    python benchmarks/api_load.py [--seconds 5] [--concurrency 50] [--ws-clients 100] [--orders 50]

Targets on the 2-core machine: GET p99 <= 50 ms at 50 concurrent clients; no event lost.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
from _serving import running_api

REDIS_URL = "redis://127.0.0.1:6379/0"
RESULT = "RESULT "  # marks the JSON line among whatever Ray prints


def pct(values: list[float], q: float) -> float:
    return float(np.percentile(values, q)) * 1000 if values else float("nan")


@contextmanager
def collection_off() -> Iterator[None]:
    """No garbage collection in this process while the block runs (the heap so far frozen)."""
    gc.collect()
    gc.freeze()
    gc.disable()
    try:
        yield
    finally:
        gc.enable()
        gc.unfreeze()


async def http_load(base: str, token: str, method: str, path: str, seconds: float, concurrency: int,
                    body: Any = None) -> dict[str, Any]:
    """``concurrency`` clients, each sending its next request when the last one is answered.

    The load client is aiohttp: an httpx client, tried first, was slower than the server on these
    two cores and measured itself. The clients share one process, so one garbage collection of
    that process would stall all of them at once and count as server latency (real clients do
    not pause together): collection is off while they run (:func:`collection_off`)."""
    import aiohttp

    latencies: list[float] = []
    codes: dict[int, int] = {}
    deadline = time.perf_counter() + seconds
    async with aiohttp.ClientSession(base, connector=aiohttp.TCPConnector(limit=concurrency),
                                     timeout=aiohttp.ClientTimeout(total=30),
                                     headers={"Authorization": f"Bearer {token}"}) as client:
        async def worker(w: int) -> None:
            n = 0
            while time.perf_counter() < deadline:
                t = time.perf_counter()
                payload = body(w, n) if callable(body) else body
                async with client.request(method, path, json=payload) as r:
                    await r.read()
                latencies.append(time.perf_counter() - t)
                codes[r.status] = codes.get(r.status, 0) + 1
                n += 1

        start = time.perf_counter()
        with collection_off():
            await asyncio.gather(*[worker(w) for w in range(concurrency)])
        wall = time.perf_counter() - start
    return {"requests": len(latencies), "rps": len(latencies) / wall, "p50_ms": pct(latencies, 50),
            "p99_ms": pct(latencies, 99), "codes": codes}


async def ws_fanout(base: str, token: str, n_clients: int, n_orders: int) -> dict[str, Any]:
    import httpx
    import websockets

    url = base.replace("http://", "ws://") + f"/ws?token={token}&events=trade_update"
    received: list[dict[str, float]] = [{} for _ in range(n_clients)]
    conns = [await websockets.connect(url, max_queue=None) for _ in range(n_clients)]
    for c in conns:
        json.loads(await c.recv())  # subscribed

    async def reader(i: int, ws: Any) -> None:
        async for raw in ws:
            msg = json.loads(raw)
            if msg["type"] == "trade_update":
                received[i][msg["data"]["payload"]["fill"]["client_order_id"]] = time.perf_counter()

    readers = [asyncio.create_task(reader(i, c)) for i, c in enumerate(conns)]
    await asyncio.sleep(0.5)
    sent: dict[str, float] = {}
    async with httpx.AsyncClient(base_url=base, timeout=30, headers={"Authorization": f"Bearer {token}"}) as client:
        for k in range(n_orders):
            cid = f"ws-{uuid.uuid4().hex[:10]}"
            at = time.perf_counter()
            r = await client.post("/api/orders", json={"symbol": "KO", "side": "buy" if k % 2 == 0 else "sell",
                                                       "quantity": 1, "client_order_id": cid})
            if r.status_code == 201 and r.json()["status"] == "filled":
                sent[cid] = at
            await asyncio.sleep(0.02)
    await asyncio.sleep(3.0)
    for t in readers:
        t.cancel()
    for c in conns:
        await c.close()
    latencies = [got[cid] - at for got in received for cid, at in sent.items() if cid in got]
    lost = len(sent) * n_clients - len(latencies)
    return {"clients": n_clients, "fills": len(sent), "deliveries": len(latencies), "lost": lost,
            "p50_ms": pct(latencies, 50), "p99_ms": pct(latencies, 99)}


def load(base: str, tokens: dict[str, str], seconds: float, concurrency: int, ws_clients: int, orders: int) -> None:
    def order(w: int, n: int) -> dict[str, Any]:
        return {"symbol": ("AAPL", "KO", "JPM")[(w + n) % 3], "side": "buy" if n % 2 == 0 else "sell", "quantity": 1}

    rows = [
        ("GET /api/health (baseline)", asyncio.run(http_load(base, tokens["viewer"], "GET", "/api/health", seconds,
                                                             concurrency))),
        ("GET /api/portfolio", asyncio.run(http_load(base, tokens["viewer"], "GET", "/api/portfolio", seconds,
                                                     concurrency))),
        ("POST /api/orders", asyncio.run(http_load(base, tokens["trader"], "POST", "/api/orders", seconds,
                                                   concurrency, order))),
    ]
    with collection_off():
        ws = asyncio.run(ws_fanout(base, tokens["trader"], ws_clients, orders))
    print(json.dumps({"rows": rows, "ws": ws}))


def run_mode(args: argparse.Namespace) -> dict[str, Any]:
    """Engine and API on a fresh local Ray instance with the chosen Serve ingress; the load
    process's figures."""
    from raytrade.serve.ingress import use_throughput_ingress

    if args.serve_mode == "haproxy":
        use_throughput_ingress()
    with running_api(REDIS_URL) as (base, tokens):
        out = subprocess.run([sys.executable, __file__, "--load", base, json.dumps(tokens),
                              "--seconds", str(args.seconds), "--concurrency", str(args.concurrency),
                              "--ws-clients", str(args.ws_clients), "--orders", str(args.orders)],
                             capture_output=True, text=True, check=True, timeout=900)
        return dict(json.loads(out.stdout.strip().splitlines()[-1]))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seconds", type=float, default=5.0)
    ap.add_argument("--concurrency", type=int, default=50)
    ap.add_argument("--ws-clients", type=int, default=100)
    ap.add_argument("--orders", type=int, default=50)
    ap.add_argument("--modes", default="proxy,haproxy",
                    help="Serve ingresses to measure, each on its own Ray instance: proxy (Serve's default "
                         "Python proxy), haproxy (RAY_SERVE_THROUGHPUT_OPTIMIZED with HAProxy)")
    ap.add_argument("--serve-mode", help=argparse.SUPPRESS)
    ap.add_argument("--load", nargs=2, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.load:
        load(args.load[0], json.loads(args.load[1]), args.seconds, args.concurrency, args.ws_clients, args.orders)
        return
    if args.serve_mode:
        print(RESULT + json.dumps(run_mode(args)))
        return

    results = {}
    for mode in args.modes.split(","):
        out = subprocess.run([sys.executable, __file__, "--serve-mode", mode, "--seconds", str(args.seconds),
                              "--concurrency", str(args.concurrency), "--ws-clients", str(args.ws_clients),
                              "--orders", str(args.orders)], capture_output=True, text=True, timeout=1800)
        if out.returncode:
            sys.exit(f"{mode}: the run failed:\n{out.stderr[-3000:]}")
        results[mode] = json.loads(next(line for line in out.stdout.splitlines() if line.startswith(RESULT))[len(RESULT):])

    print(f"raytrade API under load from a separate process (aiohttp): {args.concurrency} concurrent clients, "
          f"{args.seconds:g} s each, one Serve replica, 2 cores")
    print(f"{'ingress':8s} {'request':30s} {'requests':>9s} {'req/s':>8s} {'p50 ms':>8s} {'p99 ms':>8s} "
          f"{'x baseline':>10s}  status codes")
    base_rps = results[next(iter(results))]["rows"][0][1]["rps"]
    for mode, result in results.items():
        for name, r in result["rows"]:
            print(f"{mode:8s} {name:30s} {r['requests']:9,d} {r['rps']:8,.0f} {r['p50_ms']:8.1f} {r['p99_ms']:8.1f} "
                  f"{r['rps'] / base_rps:10.3f}  {r['codes']}")
    print("(x baseline: against GET /api/health through the first ingress)")
    for mode, result in results.items():
        ws, get = result["ws"], result["rows"][1][1]
        print(f"\n{mode}: WebSocket fan-out: {ws['clients']} clients x {ws['fills']} fills = {ws['deliveries']:,} "
              f"deliveries, lost {ws['lost']}; submit-to-client p50 {ws['p50_ms']:.1f} ms, p99 {ws['p99_ms']:.1f} ms")
        print(f"{mode}: targets: GET p99 <= 50 ms at {args.concurrency} clients: {get['p99_ms']:.1f} ms -> "
              f"{'met' if get['p99_ms'] <= 50 else 'NOT met'}; events lost 0: {ws['lost']} -> "
              f"{'met' if ws['lost'] == 0 else 'NOT met'}")


if __name__ == "__main__":
    main()
