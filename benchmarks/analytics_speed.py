"""Analytics speed: attribution, clustering and drawdown events of a 20-asset, 8,313-day backtest
(target < 1 s), and the tax-lot ledger rebuilt from fills (target: 1,000,000 fills < 10 s).

    python benchmarks/analytics_speed.py [--fills 100000]

On this stream the ledger does not meet its target, and the reason is the rule, not the loop:
nearly every loss sale is a wash sale (the symbol was bought in the last hour), and each washed
piece splits the replacement lot it lands on (the replacing shares get their own basis and
holding period, Publication 550), so lots fragment and the pieces closed per sale grow with the
stream (about 17 per sale at 20,000 fills, 29 at 80,000). The run prints the pieces per sale; the
default is 100,000 fills because 1,000,000 of them make tens of millions of pieces.

The backtest: the bundled 20 US stocks 1990-2022, equal weights rebalanced daily (real data). The
fills (synthetic, seeded): 50 symbols, one fill a minute, buys and sells of 1-100 shares at a random
walk's price, never selling more than is held, so that losses and wash sales are frequent.
Baselines in the same run: reading the same returns and weights into arrays (what any analysis
pays first); and for the ledger, the position per symbol by a pandas groupby cumulative sum of the
same fills (the least work that reads every fill).
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd
from _timing import best

from raytrade.analytics.attribution import group_pnl, sector_attribution
from raytrade.analytics.correlation import analyse_correlation
from raytrade.analytics.drawdowns import drawdown_events
from raytrade.analytics.tax import LotLedger
from raytrade.data import load_prices, load_sectors


def synthetic_fills(n: int, seed: int = 5) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    syms = np.array([f"S{i:02d}" for i in range(50)])
    sym = rng.integers(0, 50, n)
    qty = rng.integers(1, 101, n).astype(float)
    price = 50 * np.exp(np.cumsum(rng.normal(0, 0.002, (n, 50)), axis=0)[np.arange(n), sym])
    buy = rng.random(n) < 0.55
    held = np.zeros(50)
    side = np.empty(n, dtype=object)
    for i in range(n):  # never sell more than is held
        s = sym[i]
        if buy[i] or held[s] < qty[i]:
            side[i] = "buy"
            held[s] += qty[i]
        else:
            side[i] = "sell"
            held[s] -= qty[i]
    t = pd.Timestamp("2020-01-01", tz="UTC") + pd.to_timedelta(np.arange(n), unit="min")
    return pd.DataFrame({"time": t, "symbol": syms[sym], "side": side, "quantity": qty, "price": price.round(2),
                         "commission": 0.5})


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--fills", type=int, default=100_000)
    args = ap.parse_args()
    prices = load_prices()
    sectors = load_sectors()["gics_sector"].to_dict()
    rets = prices.pct_change().iloc[1:]
    weights = pd.DataFrame(1 / 20, index=rets.index, columns=rets.columns)
    equity = (1 + (weights * rets).sum(axis=1)).cumprod() * 1e6
    pnl = weights * rets * 1e6

    def analyse() -> None:
        sector_attribution(weights, rets, sectors)
        group_pnl(pnl, sectors)
        analyse_correlation(rets, n_clusters=6, sectors=sectors)
        drawdown_events(equity, 0.05)

    t_base = best(lambda: (rets.to_numpy().copy(), weights.to_numpy().copy()), repeat=3)
    t_an = best(analyse, repeat=3)
    print(f"20 assets x {len(rets):,} days: attribution + clusters + drawdown events {t_an:.3f} s "
          f"(target < 1 s: {'met' if t_an < 1 else 'NOT met'}; reading the arrays {t_base * 1e3:.1f} ms)")
    f = synthetic_fills(args.fills)
    t_b = best(lambda: f.assign(q=np.where(f["side"] == "buy", f["quantity"], -f["quantity"]))
               .groupby("symbol")["q"].cumsum(), repeat=3)
    t0 = time.perf_counter()
    led = LotLedger.from_fills(f, "fifo")
    t_led = time.perf_counter() - t0
    r = led.realized()
    sales = int((f["side"] == "sell").sum())
    print(f"tax ledger from {args.fills:,} fills: {t_led:.2f} s, {args.fills / t_led:,.0f} fills/s (target 1,000,000 "
          f"fills < 10 s: {'met' if args.fills >= 1_000_000 and t_led < 10 else 'NOT met'}; "
          f"{t_led / t_b:.0f}x a groupby cumulative sum of the positions, {t_b:.3f} s); {sales:,} sales closed "
          f"{len(r):,} lot pieces ({len(r) / sales:.1f} per sale), {int((r['wash_disallowed'] > 0).sum()):,} washed")


if __name__ == "__main__":
    main()
