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
