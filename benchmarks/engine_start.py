"""Engine start: how long ``TradingEngine.start()`` takes (its actors created, each importing its
module and rebuilding from an empty SQLite log, a book funded) against, in the same run, the same
number of bare actors that import nothing of raytrade (the floor: Ray's worker processes).

    python benchmarks/engine_start.py [--repeat 3]

Also the import time of the modules an actor and an API replica load, each in a fresh interpreter
(these decide how fast an actor restarts after a SIGKILL). Figures are the best of ``--repeat``
runs (the machines are shared). The ratio engine / bare is the figure to compare between machines.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path

from _timing import best

MODULES = ("raytrade.actors.order_manager", "raytrade.actors.portfolio", "raytrade.serve.api")


def import_seconds(module: str) -> float:
    code = f"import time; t = time.perf_counter(); import {module}; print(time.perf_counter() - t)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return float(out.stdout.strip())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    for m in MODULES:
        print(f"import {m}: {min(import_seconds(m) for _ in range(args.repeat)):.2f} s")

    import ray

    from raytrade import cluster
    from raytrade.actors.config import EngineConfig
    from raytrade.actors.engine import ROLES, TradingEngine

    cluster.connect(num_cpus=2, include_dashboard=False)

    @ray.remote(num_cpus=0)
    class Bare:
        def ready(self) -> bool:
            return True

    def bare() -> None:
        actors = [Bare.remote() for _ in ROLES]
        ray.get([a.ready.remote() for a in actors])
        for a in actors:
            ray.kill(a)

    with tempfile.TemporaryDirectory() as tmp:
        def engine() -> None:
            cfg = EngineConfig(name=f"bench{uuid.uuid4().hex[:6]}", equities=("AAPL", "KO"), clock="market",
                               store_url=f"sqlite:///{Path(tmp) / uuid.uuid4().hex}.sqlite",
                               broker={"participation_rate": None})  # type: ignore[arg-type]
            eng = TradingEngine(cfg)
            eng.start()
            eng.shutdown(clear_cache=True)

        b = best(bare, args.repeat)
        e = best(engine, args.repeat)
    print(f"{len(ROLES)} bare actors ready: {b:.2f} s; engine started: {e:.2f} s; engine / bare {e / b:.1f}")


if __name__ == "__main__":
    main()
