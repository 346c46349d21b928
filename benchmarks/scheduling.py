"""Scheduling and routing parents into children, in process: the target is 10,000 parents in <= 1 s.

    python benchmarks/scheduling.py [--parents 10000] [--seed 3]

Each parent (synthetic, seeded: random symbol-free sizes of 1,000 to 200,000 shares in lots of 1 or
100, a horizon of 10 minutes to 6.5 hours, algorithm drawn from TWAP, VWAP, POV and Almgren-Chriss
at a random urgency, 10 to 40 slices) is scheduled with the engine's own algorithms
(``make_algorithm(...).schedule()``), and every child of the schedule is routed by the ``cost``
policy over three venue quotes (two lit, one dark pool): ``CostPolicy.allocate`` routes the
children that face the same quotes and lot in one call (what a router does with the children
due on a tick; row by row what ``route`` gives each child, a test holds the two equal).

Baseline in the same run: the same parents split into equal slices with one NumPy call each and
every child sent to one venue (no algorithm object, no router): the least work a splitter can do.
The ratio says what the algorithms and the router cost on top of it; the absolute time is what the
target is about.
"""

from __future__ import annotations

import argparse
import time
from datetime import UTC, datetime, timedelta

import numpy as np
from _timing import best

from raytrade.execution.algorithms import ParentSpec, make_algorithm
from raytrade.execution.routing import CostPolicy, VenueQuote

T0 = datetime(2024, 3, 4, 14, 30, tzinfo=UTC)
QUOTES = [VenueQuote("PRIMARY", "lit", 99.99, 100.01, 2_000, 0.3, 1.0),
          VenueQuote("SECONDARY", "lit", 99.99, 100.01, 1_000, -0.2, 2.0),
          VenueQuote("DARK", "dark", 99.99, 100.01, 3_000, 0.1, 5.0, 0.35, 100)]


def parents(n: int, seed: int) -> list[tuple[str, dict, ParentSpec]]:
    rng = np.random.default_rng(seed)
    names = ["twap", "vwap", "pov", "almgren_chriss"]
    out = []
    for _ in range(n):
        lot = float(rng.choice([1.0, 100.0]))
        qty = float(rng.integers(10, 2000)) * (100.0 if lot == 1.0 else lot)
        horizon = timedelta(seconds=float(rng.uniform(600, 23_400)))
        name = names[int(rng.integers(0, 4))]
        params = {"slices": int(rng.integers(10, 41))} if name != "pov" else {"rate": float(rng.uniform(0.05, 0.2))}
        out.append((name, params, ParentSpec(qty, lot, T0, T0 + horizon, float(rng.uniform(0, 1)))))
    return out


def schedule_and_route(work: list[tuple[str, dict, ParentSpec]]) -> int:
    policy = CostPolicy()
    by_lot: dict[float, list[float]] = {}
    for name, params, spec in work:
        by_lot.setdefault(spec.lot, []).extend(q for _, q in make_algorithm(name, spec, params).schedule() if q > 0)
    return sum(len(policy.allocate(1, sizes, QUOTES, lot)[1]) for lot, sizes in by_lot.items())


def baseline(work: list[tuple[str, dict, ParentSpec]]) -> int:
    children = 0
    for _, params, spec in work:
        lots = int(spec.quantity / spec.lot)
        k = int(params.get("slices", 20))
        sizes = np.diff(np.floor(np.linspace(0, lots, k + 1))) * spec.lot
        children += int((sizes > 0).sum())
    return children


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--parents", type=int, default=10_000)
    ap.add_argument("--seed", type=int, default=3)
    args = ap.parse_args()
    work = parents(args.parents, args.seed)
    schedule_and_route(work[:200])  # warm-up (imports, caches)
    t_base = best(lambda: baseline(work), repeat=3)
    t0 = time.perf_counter()
    children = schedule_and_route(work)
    first = time.perf_counter() - t0
    t_full = best(lambda: schedule_and_route(work), repeat=3)
    print(f"{args.parents:,} parents -> {children:,} children routed over {len(QUOTES)} venues")
    print(f"  equal slices with NumPy, one venue (baseline): {t_base:8.3f} s")
    print(f"  algorithms + cost router (engine's code):      {t_full:8.3f} s  (first run {first:.3f} s; "
          f"{t_full / t_base:.1f}x the baseline; {args.parents / t_full:,.0f} parents/s)")
    print(f"  target: 10,000 parents in <= 1 s -> {'met' if t_full * 10_000 / args.parents <= 1.0 else 'NOT met'}")


if __name__ == "__main__":
    main()
