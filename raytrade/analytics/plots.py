"""Figures for reports (matplotlib, Agg backend: no display needed)."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import pandas as pd

from raytrade.analytics.metrics import drawdown


def equity_drawdown_figure(equity: pd.Series | pd.DataFrame, path: Path, title: str) -> Path:
    """Equity (log scale) above its drawdown, saved as PNG at ``path``."""
    frame = equity.to_frame() if isinstance(equity, pd.Series) else equity
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(10, 6), sharex=True,
                                      gridspec_kw={"height_ratios": [3, 1]})
    for col in frame.columns:
        top.plot(frame.index, frame[col], lw=1.2 if col == "PORTFOLIO" else 0.6, label=str(col))
    top.set_yscale("log")
    top.set_ylabel("equity")
    top.set_title(title)
    if len(frame.columns) <= 12:
        top.legend(fontsize=7, ncol=4)
    dd = drawdown(frame.to_numpy())
    main = list(frame.columns).index("PORTFOLIO") if "PORTFOLIO" in frame.columns else 0
    bottom.fill_between(frame.index, dd[:, main] * 100, 0, color="tab:red", alpha=0.4)
    bottom.set_ylabel("drawdown %")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def hedging_error_figure(table: pd.DataFrame, path: Path, title: str, example: pd.DataFrame | None = None) -> Path:
    """The delta-hedging study (:func:`raytrade.risk.hedging.hedging_error_study`): the standard
    deviation of the hedging error as a fraction of the premium against the bars between
    rebalances (with the sqrt(interval) line through the daily point, what a diffusion gives), and,
    given one hedged option's ``example`` path, its book value against the option's value."""
    n = 2 if example is not None else 1
    fig, axes = plt.subplots(1, n, figsize=(5.5 * n, 4))
    ax = axes[0] if n == 2 else axes
    x = table.index.to_numpy(dtype=float)
    y = table["std_error_of_premium"].to_numpy(dtype=float)
    ax.plot(x, y * 100, marker="o", label="hedging error (std, % of premium)")
    ax.plot(x, y[0] * (x / x[0]) ** 0.5 * 100, ls="--", color="grey", label="sqrt(bars between hedges)")
    ax.set_xlabel("bars between rebalances")
    ax.set_ylabel("% of the premium")
    ax.set_title(title, fontsize=9)
    ax.legend(fontsize=7)
    if example is not None:
        right = axes[1]
        right.plot(example.index, example["option_value"], label="option value (Black-Scholes)")
        right.plot(example.index, example["cash"] + example["shares"] * example["spot"], label="hedge: cash + shares")
        right.set_title("one written call, hedged daily", fontsize=9)
        right.legend(fontsize=7)
        right.tick_params(axis="x", labelrotation=30, labelsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
