"""Trading engine throughput: orders per second through compliance, risk, the paper broker, the
portfolio and the event store (every acknowledgement committed), with SQLite and PostgreSQL;
event-store appends per second; ``audit verify`` records per second.

Baselines measured in the same run: the same order flow through the same pure domain objects in
one process without Ray or actors (what the actor plumbing costs), and single-event appends (what
group commit saves).

    python benchmarks/engine_throughput.py [--seconds 5] [--concurrency 32] [--pg postgresql://...]

Submitters each send one order at a time and wait for its acknowledgement, either with one Ray call
per order or through an OrderClient, which coalesces what concurrent submitters send while earlier
calls are in flight into one ``submit_batch`` call (what an API replica does). The last rows of
each backend run the 16-submitter OrderClient flow again: with a bar of every symbol every 0.25 s
(a market minute each), then with those bars and 8 VWAP parent orders working (a child per parent
at every bar: what execution algorithms cost the order flow, against the bars-only row), and with
2,000 limit orders resting in the book (every decision counts the open orders' pending exposure):
against the same row without them, what a full book costs each order.

Targets on the 2-core machine, PostgreSQL: >= 1,000 orders/s sustained with p99 <= 20 ms from
submission to acknowledgement; verify >= 100,000 records/s.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np

from raytrade.actors import EngineConfig, OrderClient, TradingEngine
from raytrade.brokers import PaperBroker, PaperBrokerConfig
from raytrade.compliance import ComplianceChecker, ComplianceRules
from raytrade.core import Bar, Event, EventType, Fill, Order, Portfolio, equity
from raytrade.execution import OrderBook
from raytrade.risk import PreTradeRisk, RiskLimits
from raytrade.storage import GroupCommitter, store_from_url
from raytrade.storage.postgres import PostgresEventStore

SYMBOLS = ("AAPL", "MSFT", "KO", "JPM", "XOM", "PFE", "WMT", "INTC")
NOW = datetime(2024, 3, 4, 15, 0, tzinfo=UTC)
RISK = {"max_orders_per_second": 1e9, "max_symbol_weight": 1.0, "max_sector_weight": 1.0, "max_order_notional": 1e9}
LISTED = 100_000  # orders in the book for the listing row
RESTING = 2000  # limit buys 5% below the market, left working before the "resting" rows
BAR_EVERY_S = 0.25  # the "bars" and "vwap" rows: a bar of every symbol this often, a market minute each
VWAP_PARENTS = 8  # the "vwap" row: one VWAP parent per symbol working (a child per symbol at every bar)


def request(i: int) -> dict[str, Any]:
    return {"symbol": SYMBOLS[i % len(SYMBOLS)], "side": "buy" if (i // len(SYMBOLS)) % 2 == 0 else "sell",
            "quantity": 1 + i % 5, "client_order_id": f"b{i}-{uuid.uuid4().hex[:8]}"}


def pct(values: list[float], q: float) -> float:
    return float(np.percentile(values, q)) * 1000 if values else float("nan")


async def drive_engine(eng: TradingEngine, seconds: float, concurrency: int, mode: str = "client",
                       bars: Any = None) -> dict[str, Any]:
    """``concurrency`` submitters, each submitting one order at a time for ``seconds``: through an
    :class:`OrderClient` (``client``: concurrent submissions coalesced into batch calls) or with
    one Ray call per order (``call``); latency per order from submission to acknowledgement.
    ``bars``: a callable giving the next bars, sent every ``BAR_EVERY_S`` during the run."""
    latencies: list[float] = []
    statuses: dict[str, int] = {}
    counter = iter(range(10**9))
    deadline = time.perf_counter() + seconds
    client = OrderClient(eng.orders)

    async def worker() -> None:
        while time.perf_counter() < deadline:
            t = time.perf_counter()
            if mode == "call":
                view = await eng.orders.submit.remote(request(next(counter)), "bench")
            else:
                view = await client.submit(request(next(counter)), "bench")
            latencies.append(time.perf_counter() - t)
            statuses[view["status"]] = statuses.get(view["status"], 0) + 1

    async def feed() -> None:
        while time.perf_counter() < deadline:
            await eng.orders.on_bars.remote(bars())
            await asyncio.sleep(BAR_EVERY_S)

    start = time.perf_counter()
    await asyncio.gather(*[worker() for _ in range(concurrency)], *([feed()] if bars else []))
    wall = time.perf_counter() - start
    return {"orders": len(latencies), "orders_s": len(latencies) / wall, "p50_ms": pct(latencies, 50),
            "p99_ms": pct(latencies, 99), "statuses": statuses,
            "calls": client.calls if mode == "client" else len(latencies)}


async def place_resting(eng: TradingEngine, n: int) -> None:
    """``n`` limit buys 5% below the bars' close (they rest: the market never comes down to them),
    so that every later order is decided with ``n`` open orders in the book."""
    client = OrderClient(eng.orders)
    views = await asyncio.gather(*[client.submit({**request(i), "side": "buy", "order_type": "limit",
                                                  "limit_price": 95.0, "time_in_force": "gtc"}, "bench")
                                   for i in range(n)])
    assert {v["status"] for v in views} == {"accepted"}, {v["status"] for v in views}


def place_parents(eng: TradingEngine) -> None:
    """One VWAP parent per symbol (100,000 shares over 6.5 hours, 390 slices: a child at every bar)."""
    import ray

    for i, sym in enumerate(SYMBOLS[:VWAP_PARENTS]):
        view = ray.get(eng.orders.submit.remote({
            "symbol": sym, "side": "buy", "quantity": 100_000, "client_order_id": f"vwap-{i}-{uuid.uuid4().hex[:6]}",
            "exec_algorithm": {"name": "vwap", "params": {"slices": 390}}, "horizon_s": 23_400}, "bench"))
        assert view["status"] in ("accepted", "partially_filled"), view


def engine_run(store_url: str, schema: str | None, seconds: float,
               shapes: list[tuple[str, int]]) -> list[tuple[str, int, dict[str, Any]]]:
    """One engine; for each (mode, submitters) a timed run."""
    import ray

    cfg = EngineConfig(name=f"bench{uuid.uuid4().hex[:8]}", equities=SYMBOLS, clock="market", store_url=store_url,
                       store_schema=schema, risk=RISK, broker={"participation_rate": None}, initial_cash=1e9)
    eng = TradingEngine(cfg)
    eng.start()
    try:
        bars = [{"symbol": s, "timestamp": NOW.isoformat(), "open": 100.0, "high": 101.0, "low": 99.0,
                 "close": 100.0, "volume": 1e9} for s in SYMBOLS]
        ray.get(eng.orders.on_bars.remote(bars, True))
        asyncio.run(drive_engine(eng, 1.0, 8))  # warm-up
        minute = iter(range(1, 10**9))

        def next_bars() -> list[dict[str, Any]]:
            ts = (NOW + timedelta(minutes=next(minute))).isoformat()
            return [{**b, "timestamp": ts} for b in bars]

        out = []
        for mode, submitters in shapes:
            if mode == "resting" and not ray.get(eng.orders.stats.remote())["open_orders"]:
                asyncio.run(place_resting(eng, RESTING))
            if mode == "vwap":
                place_parents(eng)
            before = ray.get(eng.orders.stats.remote())
            result = asyncio.run(drive_engine(eng, seconds, submitters, "call" if mode == "call" else "client",
                                              next_bars if mode in ("bars", "vwap") else None))
            after = ray.get(eng.orders.stats.remote())
            result["commits"] = after["commits"] - before["commits"]
            out.append((mode, submitters, result))
        return out
    finally:
        eng.shutdown()


def ray_call_ceiling(seconds: float, inflight: int) -> dict[str, Any]:
    """A no-op async actor called with an order request, ``inflight`` calls at a time: the most
    orders per second one Ray call per order could ever carry here."""
    import ray

    @ray.remote(num_cpus=0)
    class NoOp:
        async def submit(self, request: dict[str, Any], principal: str) -> dict[str, Any]:
            return request

    actor = NoOp.remote()
    ray.get(actor.submit.remote(request(0), "bench"))
    latencies: list[float] = []

    async def drive() -> float:
        deadline = time.perf_counter() + seconds

        async def worker() -> None:
            while time.perf_counter() < deadline:
                t = time.perf_counter()
                await actor.submit.remote(request(len(latencies)), "bench")
                latencies.append(time.perf_counter() - t)

        start = time.perf_counter()
        await asyncio.gather(*[worker() for _ in range(inflight)])
        return time.perf_counter() - start

    wall = asyncio.run(drive())
    ray.kill(actor)
    return {"orders": len(latencies), "orders_s": len(latencies) / wall, "p50_ms": pct(latencies, 50),
            "p99_ms": pct(latencies, 99), "calls": len(latencies)}


async def in_process_baseline(seconds: float) -> dict[str, Any]:
    """The same checks, broker and book, called directly in one process, one order at a time,
    with no store: the cost floor of the domain logic itself."""
    instruments = {s: equity(s) for s in SYMBOLS}
    book = Portfolio(1e9)
    risk = PreTradeRisk(RiskLimits(**RISK))
    compliance = ComplianceChecker(ComplianceRules())
    broker = PaperBroker(PaperBrokerConfig(participation_rate=None))
    for s in SYMBOLS:
        broker.on_bar(Bar(s, NOW, 100.0, 101.0, 99.0, 100.0, 1e9))
        book.mark(s, 100.0)
    n, latencies = 0, []
    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline:
        t = time.perf_counter()
        r = request(n)
        order = Order(r["symbol"], r["side"], r["quantity"], client_order_id=r["client_order_id"], created_at=NOW)
        if compliance.check(order, instruments[order.symbol], NOW).ok and risk.check(order, book, {}, NOW).ok:
            reply = await broker.submit(order, instruments[order.symbol])
            for f in reply.fills:
                book.apply_fill(f)
        latencies.append(time.perf_counter() - t)
        n += 1
    return {"orders": n, "orders_s": n / seconds, "p50_ms": pct(latencies, 50), "p99_ms": pct(latencies, 99)}


def listing_cost(n_orders: int, repeats: int = 5) -> dict[str, float]:
    """GET /api/orders' work in the order manager (which answers nothing else meanwhile): the
    newest 100 of ``n_orders`` filled orders, by building every view and sorting them (baseline:
    what it did) and by :meth:`OrderBook.listing`; best of ``repeats``, in ms."""
    book = OrderBook()
    for i in range(n_orders):
        r = request(i)
        o = Order(r["symbol"], r["side"], r["quantity"], client_order_id=r["client_order_id"], created_at=NOW)
        book.accept(o, "bench", NOW)
        book.get(o.client_order_id).apply_fill(Fill(o.client_order_id, o.symbol, o.side, o.quantity, 100.0, 0.0,
                                                    NOW, fill_id=f"f{i}"))

    def full() -> list[dict[str, Any]]:
        views = [m.view() for m in book.orders.values()] + [x.view() for x in book.rejections.values()]
        views.sort(key=lambda v: v["updated_at"], reverse=True)
        return views[:100]

    out = {}
    for name, fn in (("full", full), ("listing", lambda: book.listing(limit=100)["orders"])):
        best = float("inf")
        for _ in range(repeats):
            t = time.perf_counter()
            fn()
            best = min(best, time.perf_counter() - t)
        out[name] = best * 1000
    assert full() == book.listing(limit=100)["orders"]
    return out


async def store_appends(store_url: str, schema: str | None, seconds: float, concurrency: int) -> dict[str, float]:
    """Appends per second: one event per transaction (serial), and group commit under concurrency."""
    async with store_from_url(store_url, schema=schema) as store:
        n, deadline = 0, time.perf_counter() + seconds / 2
        while time.perf_counter() < deadline:
            await store.append([Event(EventType.CASH_CHANGED, "bench", "x", {"amount": float(n)})])
            n += 1
        single = n / (seconds / 2)
        gc = GroupCommitter(store)
        count = 0
        deadline = time.perf_counter() + seconds / 2

        async def writer() -> None:
            nonlocal count
            while time.perf_counter() < deadline:
                await gc.append([Event(EventType.CASH_CHANGED, "bench", "x", {"amount": float(count)})])
                count += 1

        t = time.perf_counter()
        await asyncio.gather(*[writer() for _ in range(concurrency)])
        grouped = count / (time.perf_counter() - t)
        t = time.perf_counter()
        result = await store.verify()
        verify_s = time.perf_counter() - t
        assert result.ok
        return {"single_s": single, "grouped_s": grouped, "commits": gc.commits, "verify_records": result.records,
                "verify_s": result.records / verify_s}


async def drop_schema(url: str, schema: str) -> None:
    async with PostgresEventStore(url, schema=schema) as s:
        await s.drop_schema()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seconds", type=float, default=5.0)
    ap.add_argument("--concurrency", type=int, default=32, help="appenders in the group-commit test")
    ap.add_argument("--pg", default=os.environ.get("RAYTRADE_TEST_DATABASE_URL",
                                                    "postgresql://postgres@127.0.0.1:5432/test"))
    args = ap.parse_args()
    from raytrade import cluster

    cluster.connect(num_cpus=2)
    tmp = Path(tempfile.mkdtemp())
    backends = {"sqlite": (f"sqlite:///{tmp / 'bench.sqlite'}", None),
                "postgresql": (args.pg, f"rt_bench_{uuid.uuid4().hex[:8]}")}
    shapes = [("call", 8), ("call", 32), ("client", 8), ("client", 12), ("client", 16), ("client", 32),
              ("bars", 16), ("vwap", 16), ("resting", 16)]
    rows = []
    base = asyncio.run(in_process_baseline(args.seconds))
    rows.append(("in-process domain objects, no store (baseline)", base))
    rows.append(("no-op Ray actor, 8 calls in flight (ceiling of a call/order)", ray_call_ceiling(args.seconds, 8)))
    store_rows = []
    for name, (url, schema) in backends.items():
        try:
            for mode, submitters, result in engine_run(url, schema, args.seconds, shapes):
                how = {"call": "a Ray call per order", "client": "OrderClient",
                       "bars": f"OrderClient, bars every {BAR_EVERY_S:g} s",
                       "vwap": f"OrderClient, bars, {VWAP_PARENTS} VWAP parents",
                       "resting": f"OrderClient, {RESTING:,} resting orders"}[mode]
                rows.append((f"actors, {name}, {submitters} submitters, {how}", result))
            store_rows.append((name, asyncio.run(store_appends(url, (schema or "") + "_s" if schema else None,
                                                               args.seconds, args.concurrency))))
        finally:
            if schema:
                asyncio.run(drop_schema(url, schema))
                asyncio.run(drop_schema(url, schema + "_s"))

    print(f"Trading engine: market orders on {len(SYMBOLS)} symbols through compliance, risk, paper broker, "
          f"portfolio and the event store; {args.seconds:g} s each")
    print(f"{'path':70s} {'orders':>8s} {'orders/s':>9s} {'p50 ms':>8s} {'p99 ms':>8s} {'x baseline':>10s} "
          f"{'commits':>8s} {'Ray calls':>9s}")
    for label, r in rows:
        print(f"{label:70s} {r['orders']:8,d} {r['orders_s']:9,.0f} {r['p50_ms']:8.2f} {r['p99_ms']:8.2f} "
              f"{r['orders_s'] / base['orders_s']:10.3f} {r.get('commits', 0):8,d} {r.get('calls', 0):9,d}")
    engine_rows = [r for _, r in rows if "statuses" in r]
    assert all(set(r["statuses"]) == {"filled"} for r in engine_rows), [r["statuses"] for r in engine_rows]
    print()
    print(f"{'event store':12s} {'appends/s, 1 per txn':>21s} {'appends/s, group commit':>24s} {'x':>6s} "
          f"{'verify records/s':>17s}")
    for name, r in store_rows:
        print(f"{name:12s} {r['single_s']:21,.0f} {r['grouped_s']:24,.0f} {r['grouped_s'] / r['single_s']:6.1f} "
              f"{r['verify_s']:17,.0f}  ({r['verify_records']:,} records)")
    listing = listing_cost(LISTED)
    print()
    print(f"order listing, newest 100 of {LISTED:,} orders (the order manager's work for GET /api/orders): "
          f"every view built and sorted (baseline) {listing['full']:.1f} ms, OrderBook.listing "
          f"{listing['listing']:.1f} ms ({listing['full'] / listing['listing']:.1f}x)")
    print()
    print("targets (PostgreSQL, every acknowledgement committed): >= 1,000 orders/s with p99 <= 20 ms; "
          f"verify >= 100,000 records/s (measured {dict(store_rows)['postgresql']['verify_s']:,.0f})")
    for label, r in rows:
        if "postgresql" in label:
            met = r["orders_s"] >= 1000 and r["p99_ms"] <= 20
            print(f"  {label}: {r['orders_s']:,.0f} orders/s, p99 {r['p99_ms']:.1f} ms -> {'met' if met else 'NOT met'}")


if __name__ == "__main__":
    main()
