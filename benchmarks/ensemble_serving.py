"""Ensemble inference through Ray Serve against the replica's own work done in process (the
feature lookup and the model call: what Serve adds is the difference), for 1 to 64 symbols per request, and one symbol at a fixed 50 requests/s; plus the
training time per fold.

Trains a registry version on the 20 bundled stocks (purged folds, reported), deploys it with
``raytrade.serve.signals`` and calls it through a DeploymentHandle; then, as a trader's tool would,
POST /api/signals over HTTP through the API (key check, Serve's proxy, the API replica, the model)
at the same fixed rate.

    python benchmarks/ensemble_serving.py [--requests 200] [--ingress haproxy|proxy] [--model VERSION_DIR]

Target on the 2-core machine: p99 <= 25 ms for one symbol at 50 requests/s.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import numpy as np
from _serving import free_port, running_api


def pct(values: list[float], q: float) -> float:
    return float(np.percentile(values, q)) * 1000


async def paced(call: Callable[[], Awaitable[Any]], rate: float, n: int) -> list[float]:
    """Seconds each of ``n`` calls took, the calls started at ``rate`` per second whatever the
    answers' pace (an open loop: a slow server is not given fewer requests)."""
    lat: list[float] = []

    async def one() -> None:
        t = time.perf_counter()
        await call()
        lat.append(time.perf_counter() - t)

    tasks = []
    start = time.perf_counter()
    for k in range(n):
        await asyncio.sleep(max(0.0, start + k / rate - time.perf_counter()))
        tasks.append(asyncio.create_task(one()))
    await asyncio.gather(*tasks)
    return lat


async def paced_http(base: str, token: str, rate: float, n: int) -> list[float]:
    """POST /api/signals for one symbol at ``rate`` requests/s; every answer must be 200."""
    import aiohttp

    async with aiohttp.ClientSession(base, headers={"Authorization": f"Bearer {token}"}) as client:
        async def post() -> None:
            async with client.post("/api/signals", json={"symbols": ["KO"]}) as r:
                body = await r.read()
                if r.status != 200:
                    raise SystemExit(f"POST /api/signals answered {r.status}: {body[:300]!r}")

        await post()  # the first request opens the connection and warms the path
        return await paced(post, rate, n)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--requests", type=int, default=200)
    ap.add_argument("--model", help="serve this registry version instead of training one (no training time)")
    ap.add_argument("--ingress", choices=("haproxy", "proxy"), default="haproxy",
                    help="Serve's settings: haproxy (the throughput-optimised ingress `raytrade serve` runs) or "
                         "proxy (Serve's defaults)")
    args = ap.parse_args()
    if args.ingress == "haproxy":
        from raytrade.serve.ingress import use_throughput_ingress

        use_throughput_ingress()

    from ray import serve

    from raytrade import cluster
    from raytrade.data import load_prices
    from raytrade.serve.signals import SignalModel, build_signal_model
    from raytrade.tune.train_models import ModelConfig, train_models

    cluster.connect(num_cpus=2)
    if args.model:
        folder, fit = Path(args.model), None
    else:
        folder, table = train_models(ModelConfig(name="serving_bench", registry=Path(tempfile.mkdtemp())),
                                     use_ray=True)
        fit = table.groupby("fold")["fit_seconds"].first()
    symbols = list(load_prices().columns)

    local = SignalModel.func_or_class()
    local.reconfigure({"model_path": str(folder)})
    meta = local.meta

    port = free_port()
    serve.start(http_options={"host": "127.0.0.1", "port": port})
    handle = serve.run(build_signal_model(str(folder)), name="bench-signals", route_prefix=None)
    rows = []
    try:
        for size in (1, 8, 32, 64):
            batch = [symbols[i % len(symbols)] for i in range(size)]  # symbols repeat past 20
            in_proc = []
            for _ in range(args.requests):
                t = time.perf_counter()
                local.model.blend(local.model.parts_of_values(local.values(batch, None)[1]))
                in_proc.append(time.perf_counter() - t)
            served = []
            for _ in range(args.requests):
                t = time.perf_counter()
                handle.signals.remote(batch).result()
                served.append(time.perf_counter() - t)
            rows.append((len(batch), in_proc, served))

        at_rate = asyncio.run(paced(lambda: handle.signals.remote(["KO"]), 50.0, args.requests))
        with running_api(None, signals_app="bench-signals", port=port) as (base, tokens):
            over_http = asyncio.run(paced_http(base, tokens["viewer"], 50.0, args.requests))
    finally:
        serve.delete("bench-signals")

    print(f"Serve settings: {args.ingress}")
    if fit is not None:
        print(f"ensemble model ({len(meta['features'])} features): training {fit.mean():.1f} s per fold "
              f"({len(fit)} purged folds, {meta['rows']:,} rows), final fit included in the job")
    print(f"{'symbols/request':>16s} {'in-process p50 ms':>18s} {'p99':>7s} {'Serve p50 ms':>13s} {'p99':>7s} "
          f"{'Serve req/s':>12s} {'x in-process':>12s}")
    for n, ip, sv in rows:
        print(f"{n:16d} {pct(ip, 50):18.2f} {pct(ip, 99):7.2f} {pct(sv, 50):13.2f} {pct(sv, 99):7.2f} "
              f"{1 / np.mean(sv):12.0f} {np.mean(sv) / np.mean(ip):12.1f}")
    for name, lat in (("through Serve (DeploymentHandle)", at_rate), ("over HTTP, POST /api/signals", over_http)):
        p99 = pct(lat, 99)
        print(f"one symbol at 50 requests/s {name}: p50 {pct(lat, 50):.1f} ms, p99 {p99:.1f} ms "
              f"(target <= 25 ms: {'met' if p99 <= 25 else 'NOT met'})")


if __name__ == "__main__":
    main()
