"""Pair selection as Ray tasks: the log prices go to the object store once, each task tests a
slice of the N (N - 1) / 2 pairs, and the false discovery rate is controlled over all of them
together on the driver (:func:`raytrade.strategies.pairs.select_pairs`)."""

from __future__ import annotations

from itertools import combinations

import numpy as np
import ray

from raytrade.strategies.pairs import SelectedPair, cointegration_pvalues, select_pairs


@ray.remote(num_cpus=1, max_retries=2)
def _test_pairs(log_close: np.ndarray, pairs: list[tuple[int, int]], fast: bool) -> np.ndarray:
    return cointegration_pvalues(log_close, fast=fast, pairs=pairs)[1]


def pvalues_on_ray(log_close: np.ndarray, *, tasks: int = 2, fast: bool = False) -> tuple[list[tuple[int, int]],
                                                                                          np.ndarray]:
    """Every pair's Engle-Granger p-value (as :func:`cointegration_pvalues`, statsmodels' ``coint``
    by default) in ``tasks`` Ray tasks; the same numbers as one process."""
    logs = np.ascontiguousarray(log_close, dtype=np.float64)
    pairs = list(combinations(range(logs.shape[1]), 2))
    ref = ray.put(logs)
    slices = [pairs[i::tasks] for i in range(max(1, min(tasks, len(pairs))))]
    parts = ray.get([_test_pairs.remote(ref, part, fast) for part in slices])
    pvalues = np.empty(len(pairs))
    for i, part in enumerate(parts):
        pvalues[i::len(slices)] = part
    return pairs, pvalues


def select_pairs_on_ray(log_close: np.ndarray, *, fdr: float = 0.05, max_pairs: int = 5, tasks: int = 2,
                        fast: bool = False) -> list[SelectedPair]:
    """:func:`raytrade.strategies.pairs.select_pairs` with the tests run as Ray tasks."""
    _, pvalues = pvalues_on_ray(log_close, tasks=tasks, fast=fast)
    return select_pairs(log_close, fdr=fdr, max_pairs=max_pairs, pvalues=pvalues)
