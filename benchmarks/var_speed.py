"""VaR and CVaR speed: a 20-asset book on 8,313 days, every method, 1-day and 10-day horizons, one
process. The baseline in the same run is numpy's percentile of the book's daily losses (the least
any historical VaR pays: one sort of the history).

    python benchmarks/var_speed.py [--repeat 3]

Targets: historical and parametric < 50 ms; filtered historical simulation with GARCH(1,1) < 5 s;
Monte Carlo with 100,000 paths < 2 s.
"""

from __future__ import annotations

import argparse

import numpy as np
from _timing import best

from raytrade.data import load_prices
from raytrade.risk.var import value_at_risk

TARGETS = {"historical": 0.05, "normal": 0.05, "cornish_fisher": 0.05, "monte_carlo_normal": 2.0,
           "bootstrap": 2.0, "fhs": 5.0}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--repeat", type=int, default=3)
    a = ap.parse_args()
    close = load_prices()
    returns = close.pct_change().iloc[1:].fillna(0.0).to_numpy()     # before a listing: 0 (held in cash)
    weights = np.full(returns.shape[1], 1.0 / returns.shape[1])
    book = returns @ weights
    t_base = best(lambda: np.percentile(-book, 99), a.repeat)
    print(f"{returns.shape[0]:,} days x {returns.shape[1]} assets, 99 % VaR, 100,000 paths where simulated")
    print(f"{'method':<20}{'horizon':>8}{'seconds':>10}{'target':>9}{'vs baseline':>13}{'VaR':>9}{'CVaR':>9}")
    print(f"{'baseline: percentile':<20}{1:>8}{t_base:>10.4f}{'':>9}{1.0:>13.1f}")
    for method, target in TARGETS.items():
        for h in (1, 10):
            t = best(lambda m=method, h=h: value_at_risk(returns, 0.99, h, m, weights=weights), a.repeat)
            res = value_at_risk(returns, 0.99, h, method, weights=weights)
            print(f"{method:<20}{h:>8}{t:>10.4f}{'<' + str(target):>9}{t / t_base:>13.1f}{res.var:>9.2%}{res.cvar:>9.2%}"
                  f"{'' if t < target else '  MISSED'}")


if __name__ == "__main__":
    main()
