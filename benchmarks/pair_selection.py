"""Pair selection over the 190 pairs of the 20 bundled stocks: statsmodels' ``coint`` in one
process (the baseline), the same tests as 2 Ray tasks on 2 cores, and the QR-based
``engle_granger_fast`` in one process, in the same run, for formation windows of the last N bars.

    python benchmarks/pair_selection.py                 # windows of 252 and 2,520 bars
    python benchmarks/pair_selection.py --bars 8313     # the whole history (several minutes)
"""

from __future__ import annotations

import argparse
import json
import os
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--bars", type=int, nargs="+", default=[252, 2520])
    args = parser.parse_args()

    import numpy as np
    import ray

    from raytrade.data import load_prices
    from raytrade.strategies.pairs import benjamini_hochberg, cointegration_pvalues
    from raytrade.tune.pairs import pvalues_on_ray

    logs_all = np.log(load_prices().to_numpy(np.float64))
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False,
             runtime_env={"env_vars": {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}})
    pvalues_on_ray(logs_all[-60:, :4], tasks=2)  # workers up, modules imported
    cointegration_pvalues(logs_all[-60:, :4], fast=False)  # statsmodels imported here too
    rows = []
    for n in args.bars:
        logs = logs_all[-n:]
        t0 = time.perf_counter()
        _, p_sm = cointegration_pvalues(logs, fast=False)
        t1 = time.perf_counter()
        _, p_ray = pvalues_on_ray(logs, tasks=2, fast=False)
        t2 = time.perf_counter()
        _, p_fast = cointegration_pvalues(logs, fast=True)
        t3 = time.perf_counter()
        rows.append({
            "bars": n, "pairs": len(p_sm),
            "statsmodels_1_process_s": round(t1 - t0, 2), "statsmodels_2_ray_tasks_s": round(t2 - t1, 2),
            "ray_speedup": round((t1 - t0) / (t2 - t1), 2),
            "fast_1_process_s": round(t3 - t2, 2), "fast_speedup_vs_statsmodels": round((t1 - t0) / (t3 - t2), 1),
            "max_abs_pvalue_diff_fast": float(np.max(np.abs(p_fast - p_sm))),
            "ray_equals_one_process": bool(np.array_equal(p_sm, p_ray)),
            "significant_at_5pct_each": int((p_sm < 0.05).sum()),
            "selected_benjamini_hochberg_5pct": int(benjamini_hochberg(p_sm, 0.05).sum()),
        })
    ray.shutdown()
    print(json.dumps({"target": "<= 20 s for 190 pairs with statsmodels on 2 cores (Ray tasks)", "runs": rows},
                     indent=2))


if __name__ == "__main__":
    main()
