"""Black-Scholes throughput: price-and-Greeks evaluations and implied volatilities per second, one
core, vectorised over n options; the baseline in the same run is numpy evaluating exp and the
normal CDF once over the same n values (what any vectorised pricer pays at least).

    python benchmarks/options_throughput.py [--n 1000000] [--repeat 3]

Targets: >= 5,000,000 price-and-Greeks evaluations per second; >= 500,000 implied volatilities
per second, every recovered value within 1e-8.
"""

from __future__ import annotations

import argparse

import numpy as np
from _timing import best
from scipy.special import ndtr

from raytrade.risk.options import bs_greeks, implied_vol


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=1_000_000)
    ap.add_argument("--repeat", type=int, default=3)
    a = ap.parse_args()
    rng = np.random.default_rng(0)
    n = a.n
    S, K = np.full(n, 100.0), rng.uniform(70, 130, n)
    T, r, q, s = rng.uniform(0.05, 2, n), rng.uniform(0, 0.05, n), rng.uniform(0, 0.03, n), rng.uniform(0.1, 0.8, n)
    right = np.where(rng.random(n) < 0.5, "call", "put")
    t_base = best(lambda: ndtr(np.exp(s)), a.repeat)
    t_greeks = best(lambda: bs_greeks(S, K, T, r, q, s, right), a.repeat)
    g = bs_greeks(S, K, T, r, q, s, right)
    keep = g["vega"] > 2e-3
    m = int(keep.sum())
    t_iv = best(lambda: implied_vol(g["price"][keep], S[keep], K[keep], T[keep], r[keep], q[keep], right[keep]), 1)
    iv = implied_vol(g["price"][keep], S[keep], K[keep], T[keep], r[keep], q[keep], right[keep])
    print(f"{'row':<40}{'per second':>16}{'vs baseline':>13}")
    print(f"{'baseline: ndtr(exp(x)) over n values':<40}{n / t_base:>16,.0f}{1.0:>13.3f}")
    print(f"{'price and 6 Greeks':<40}{n / t_greeks:>16,.0f}{t_base / t_greeks:>13.3f}")
    print(f"{'implied volatility':<40}{m / t_iv:>16,.0f}{(t_base / n) / (t_iv / m):>13.3f}")
    print(f"implied volatility: {m:,} of {n:,} options (vega > 2e-3), largest error {np.abs(iv - s[keep]).max():.2e}")


if __name__ == "__main__":
    main()
