"""Out-of-sample quality of the signal models on the 20 bundled stocks, against two baselines
measured in the same run: the momentum analyzer's score alone, and always long (the base rate).

The same code path as `raytrade models train` then `raytrade models evaluate`, in one process:
purged walk-forward folds (21-bar labels, 21-bar embargo; the first 30% of the history only
trains); each fold fits XGBoost and the MLP on the rows before it; the 60/40 ensemble and the
walk-forward stacked blend are scored on each fold. Prints IC, rank IC, hit rate, AUC, Brier and
ECE per model (mean over folds), fit seconds per fold, the seed's ensembling claim as measured,
and each signal's long-short book after costs (and before) next to the equal-weight long-only book.

    python benchmarks/ensemble_eval.py [--folds 4] [--horizon 21]
"""

from __future__ import annotations

import argparse

import numpy as np

from raytrade.backtest.costs import CostModel
from raytrade.data import load_index_close, load_prices
from raytrade.signals import build_dataset
from raytrade.signals.report import BOOK, evaluate
from raytrade.tune.train_models import ModelConfig, fold_table, out_of_sample


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--folds", type=int, default=4)
    ap.add_argument("--horizon", type=int, default=21)
    args = ap.parse_args()
    close = load_prices()
    ds = build_dataset(close, args.horizon, load_index_close())
    config = ModelConfig(name="bench", horizon=args.horizon, folds=args.folds, embargo=args.horizon)
    oos, fits = out_of_sample(config, ds, use_ray=False)
    ev = evaluate(oos, fold_table(oos, fits), close, rebalance_every=args.horizon)
    print(f"{len(ds.X):,} rows (20 stocks x bars; {ds.dropped:,} dropped for warm-up or no label), "
          f"{args.folds} purged walk-forward folds, {args.horizon}-bar labels; fit {np.mean(fits):.1f} s per fold")
    print(ev.quality.to_string(float_format=lambda v: f"{v:.4f}"))
    hit = ev.quality["hit_rate"]
    c = ev.claim
    print(f"hit rate: ensemble {hit['ensemble']:.1%}, stacked {hit['stacked']:.1%}, XGBoost {hit['xgboost']:.1%}, "
          f"MLP {hit['neural_net']:.1%}, momentum {hit['momentum']:.1%}, always long {hit['always_long']:.1%}")
    print(f"ensembling vs the better single model: 60/40 {c['ensemble_minus_best_single_pts']:+.2f} pts, stacked "
          f"{c['stacked_minus_best_single_pts']:+.2f} pts (the seed's claim: +2 to +5 pts)")
    print(f"\nlong-short books (top/bottom 20%, rebalanced every {args.horizon} bars, 5 bps + 0.5 bps a fill):")
    print(ev.book_table()[BOOK].to_string(float_format=lambda v: f"{v:.3f}"))
    gross = evaluate(oos, fold_table(oos, fits), close, costs=CostModel(), rebalance_every=args.horizon).book_table()
    print("\nthe same books before costs (no spread, slippage or commission):")
    print(gross[["annual_return", "sharpe", "max_drawdown"]].to_string(float_format=lambda v: f"{v:.3f}"))


if __name__ == "__main__":
    main()
