"""Execution costs measured, not claimed: implementation shortfall of one market order against
TWAP, VWAP, POV and Almgren-Chriss at three urgencies, in an impact-simulated market, and a VWAP
schedule against real trade prints.

    python benchmarks/execution_costs.py [--paths 1000] [--seed 7] [--plot runs/execution_costs.png]

The simulated market (synthetic, seeded; parameters from the bundled data): one trading day of 78
five-minute buckets; a buy parent of 1%, 5%, 10% or 20% of the average daily volume (ADV) starts
at the open. Per path:

- market volume per bucket = ADV x the U-shaped profile (raytrade.execution.algorithms.vwap) x a
  log-normal factor (sd 0.3, mean 1), so VWAP knows the expected profile, not the day's;
- the mid moves as a random walk with KO's daily volatility (log returns 2018-2022 of the bundled
  closes) spread evenly over the buckets, plus the parent's own permanent impact;
- each child of n shares in a bucket of market volume V pays the mid x (1 + half spread (1 bp) +
  temporary impact eta sigma (n / V)^beta) and moves the mid by gamma sigma n / ADV for later
  children (the power law of raytrade.execution.impact, Almgren et al. 2005 coefficients);
- shortfall (bps) = (average price paid / mid at arrival - 1) x 1e4.

The schedules are the engine's own algorithms (``make_algorithm``): TWAP and VWAP in 78 slices,
POV at min(25%, 1.25 x parent / ADV) of the realised volume (the rest swept in the last bucket),
Almgren-Chriss at urgency 0.2, 0.5 and 0.9 in 78 slices, and a market order (all in the first
bucket). The tape: the XRP/ETH trade prints bundled from freqtrade (every trade, aggressor side):
a buy parent of 1% of the tape's volume over its 59 hours, VWAP-scheduled in 120 slices along the
bundled crypto profile; each slice takes the next buy-aggressor prints at their prices until filled
(never more than a print's amount); its slippage is against the market VWAP of all prints over the
same hours. A market order at the start walks the same prints.
"""

from __future__ import annotations

import argparse
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd

from raytrade.data.loaders import load_crypto_trades, load_prices
from raytrade.execution.algorithms import ParentSpec, make_algorithm, u_shape_profile
from raytrade.execution.impact import ImpactModel

BUCKETS = 78
ADV = 1_000_000
HALF_SPREAD = 1e-4
OPEN = datetime(2024, 3, 4, 14, 30, tzinfo=UTC)
CLOSE = OPEN + timedelta(hours=6, minutes=30)


def bucket_slices(name: str, params: dict, qty: int) -> np.ndarray:
    """The algorithm's planned shares per bucket."""
    algo = make_algorithm(name, ParentSpec(qty, 1.0, OPEN, CLOSE), params)
    out = np.zeros(BUCKETS)
    step = (CLOSE - OPEN) / BUCKETS
    for t, q in algo.schedule():
        out[min(int((t - OPEN) / step), BUCKETS - 1)] += q
    return out


def simulate(qty: int, sigma: float, paths: int, seed: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    model = ImpactModel()
    volume = ADV * u_shape_profile(BUCKETS) * rng.lognormal(-0.045, 0.3, (paths, BUCKETS))
    moves = np.cumsum(sigma / np.sqrt(BUCKETS) * rng.standard_normal((paths, BUCKETS)), axis=1)
    walk = np.exp(np.concatenate([np.zeros((paths, 1)), moves[:, :-1]], axis=1))  # mid before each bucket's trade

    def shortfall(n: np.ndarray) -> np.ndarray:
        n = np.broadcast_to(n, (paths, BUCKETS))
        permanent = np.concatenate([np.zeros((paths, 1)), np.cumsum(model.permanent(n / ADV, sigma), axis=1)[:, :-1]],
                                   axis=1)
        mid = walk + permanent
        price = mid * (1 + HALF_SPREAD + model.temporary(n / volume, sigma))
        return ((n * price).sum(axis=1) / qty - 1.0) * 1e4

    out = {"market order": shortfall(np.eye(BUCKETS)[0] * qty),
           "TWAP": shortfall(bucket_slices("twap", {"slices": BUCKETS}, qty)),
           "VWAP": shortfall(bucket_slices("vwap", {"slices": BUCKETS}, qty))}
    rate = min(0.25, 1.25 * qty / ADV)
    pov = np.minimum(np.floor(rate * volume), qty)
    done = np.minimum(np.cumsum(pov, axis=1), qty)
    n = np.diff(np.concatenate([np.zeros((paths, 1)), done], axis=1))
    n[:, -1] += qty - done[:, -1]  # the rest swept at the end
    out[f"POV {rate:.0%}"] = shortfall(n)
    for u in (0.2, 0.5, 0.9):
        out[f"Almgren-Chriss u={u}"] = shortfall(bucket_slices("almgren_chriss", {"slices": BUCKETS, "urgency": u},
                                                               qty))
    return out


def tape_vwap(seed: int) -> dict[str, float]:
    trades = load_crypto_trades()
    start, end = trades.index[0].to_pydatetime(), trades.index[-1].to_pydatetime()
    qty = float(np.floor(trades["amount"].sum() * 0.01))
    market_vwap = float((trades["price"] * trades["amount"]).sum() / trades["amount"].sum())
    buys = trades[trades["side"] == "buy"]
    times, prices, amounts = buys.index, buys["price"].to_numpy(), buys["amount"].to_numpy().copy()

    def walk(slices: list[tuple[datetime, float]]) -> tuple[float, float]:
        left = amounts.copy()
        cost = filled = 0.0
        for t, q in slices:
            i = int(times.searchsorted(pd.Timestamp(t), side="left"))
            while q > 1e-9 and i < len(left):
                take = min(q, left[i])
                cost += take * prices[i]
                filled += take
                left[i] -= take
                q -= take
                i += 1
        return cost / filled, filled

    vwap_algo = make_algorithm("vwap", ParentSpec(qty, 1.0, start, end), {"slices": 120, "day": "utc"})
    vwap_px, vwap_filled = walk(vwap_algo.schedule())
    mkt_px, _ = walk([(start, qty)])
    return {"parent": qty, "market_vwap": market_vwap, "vwap_price": vwap_px, "vwap_filled": vwap_filled,
            "vwap_slippage_bps": (vwap_px / market_vwap - 1) * 1e4,
            "market_order_slippage_bps": (mkt_px / market_vwap - 1) * 1e4}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--paths", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--plot", type=Path, default=Path("runs/execution_costs.png"))
    args = ap.parse_args()

    ko = load_prices(["KO"], start="2018-01-01")["KO"].to_numpy()
    sigma = float(np.std(np.diff(np.log(ko)), ddof=1))
    print(f"KO daily volatility 2018-2022: {sigma:.4%}; {args.paths:,} paths per row, seed {args.seed}")
    rows = []
    for pct in (0.01, 0.05, 0.10, 0.20):
        res = simulate(int(pct * ADV), sigma, args.paths, args.seed)
        for name, s in res.items():
            rows.append({"parent % ADV": f"{pct:.0%}", "schedule": name, "mean bps": s.mean(),
                         "p95 bps": np.percentile(s, 95), "sd bps": s.std(ddof=1)})
    table = pd.DataFrame(rows)
    with pd.option_context("display.width", 140, "display.float_format", "{:,.2f}".format):
        print(table.to_string(index=False))
    best = table[table["schedule"] != "market order"].groupby("parent % ADV", sort=False)["mean bps"].min()
    mkt = table[table["schedule"] == "market order"].set_index("parent % ADV")["mean bps"]
    print("best schedule's mean shortfall against the market order's:",
          ", ".join(f"{k}: {1 - best[k] / mkt[k]:.0%} lower" for k in best.index))

    tape = tape_vwap(args.seed)
    print(f"XRP/ETH tape: parent {tape['parent']:,.0f} XRP (1% of the tape), market VWAP {tape['market_vwap']:.8f} ETH; "
          f"VWAP schedule {tape['vwap_slippage_bps']:+.1f} bps against it ({tape['vwap_filled']:,.0f} filled), "
          f"a market order at the start {tape['market_order_slippage_bps']:+.1f} bps")

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 4, figsize=(16, 4), sharey=False)
    for ax, (pct, grp) in zip(axes, table.groupby("parent % ADV", sort=False), strict=True):
        ax.scatter(grp["sd bps"], grp["mean bps"])
        for _, r in grp.iterrows():
            ax.annotate(r["schedule"], (r["sd bps"], r["mean bps"]), fontsize=7)
        ax.set_title(f"parent {pct} of ADV")
        ax.set_xlabel("shortfall sd (bps)")
    axes[0].set_ylabel("mean shortfall (bps)")
    fig.suptitle("Cost-risk frontier, impact-simulated market (synthetic, seeded)")
    args.plot.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(args.plot, dpi=100, bbox_inches="tight")
    print(f"plot: {args.plot}")


if __name__ == "__main__":
    main()
