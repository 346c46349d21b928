"""Monte Carlo paths as Ray tasks: the returns go to the object store once, one task per chunk of
paths, each with its own spawned seed (the same seed gives the same summary on any cluster)."""

from __future__ import annotations

import numpy as np
import ray

from raytrade.backtest.montecarlo import (
    ChunkPaths,
    Method,
    chunk_plan,
    simulate_chunk,
    summarize_paths,
)


@ray.remote(num_cpus=1, max_retries=3)
def _chunk(returns: np.ndarray, size: int, seed: np.random.SeedSequence, method: str, horizon: int | None,
           mean_block: float, keep: int) -> ChunkPaths:
    return simulate_chunk(returns, size, seed, method=Method(method), horizon=horizon, mean_block=mean_block,
                          keep_curves=keep)


def simulate_on_ray(returns: np.ndarray, n_paths: int = 1000, *, method: Method = Method.STATIONARY, seed: int = 0,
                    horizon: int | None = None, mean_block: float = 20.0, drawdown_threshold: float = 0.20,
                    fan_paths: int = 1000) -> dict:
    """:func:`raytrade.backtest.montecarlo.simulate` on the connected Ray cluster."""
    ref = ray.put(np.ascontiguousarray(returns, dtype=np.float64))
    futures, kept = [], 0
    for size, ss in chunk_plan(n_paths, seed):
        keep = max(0, min(size, fan_paths - kept))
        futures.append(_chunk.remote(ref, size, ss, str(Method(method)), horizon, mean_block, keep))
        kept += keep
    return summarize_paths(ray.get(futures), drawdown_threshold=drawdown_threshold)
