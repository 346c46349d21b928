"""`raytrade backtest`: one configured backtest, written to a run folder."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from raytrade.analytics.plots import equity_drawdown_figure
from raytrade.backtest.config import BacktestConfig
from raytrade.backtest.runfolder import library_versions, new_run_folder, write_json, write_yaml
from raytrade.backtest.runner import BacktestResult, backtest
from raytrade.data.loaders import frame_digest
from raytrade.strategies.base import is_overlay, is_portfolio
from raytrade.strategies.options import SYNTHETIC_NOTE


@dataclass(frozen=True, slots=True)
class BacktestRun:
    config: BacktestConfig
    result: BacktestResult
    folder: Path
    note: str | None = None   # said with the results (an options overlay's synthetic prices)


def run_backtest_job(config: BacktestConfig) -> BacktestRun:
    """Load the data, run the backtest and write the run folder.

    The folder holds ``config.yaml``, ``manifest.json`` (data hash, library versions, span),
    ``metrics.json`` (per symbol and PORTFOLIO), ``equity.csv``, ``fills.csv`` (every fill),
    ``trades.csv`` (the round trips), ``equity_drawdown.png`` and ``report.html`` (equity against
    buy and hold with the trades marked, the headline figures beside buy and hold's, the trips).
    A portfolio strategy's ``equity.csv`` holds each symbol's position value and the book.
    """
    close, open_ = config.data.load(allow_late_listing=True)
    volume = config.data.load_volume() if config.costs.impact is not None else None
    strategy = config.strategy.build()
    result = backtest(strategy, config.strategy.params, close, open_=open_, costs=config.costs,
                      sizing=config.sizing, initial_capital=config.initial_capital,
                      risk_free=config.risk_free, volume=volume)
    folder = new_run_folder(config.output_dir, config.name)
    write_yaml(folder / "config.yaml", config.model_dump(mode="json"))
    write_json(folder / "manifest.json", {
        "kind": "backtest",
        "data_sha256": frame_digest(close if open_ is None else pd.concat([close, open_], axis=1)),
        "bars": len(close), "symbols": list(close.columns),
        "start": close.index[0].isoformat(), "end": close.index[-1].isoformat(),
        "synthetic": bool(close.attrs.get("synthetic", False)),
        **({"note": SYNTHETIC_NOTE} if is_overlay(strategy) else {}),
        "versions": library_versions(),
    })
    write_json(folder / "metrics.json", {sym: row.to_dict() for sym, row in result.metrics.iterrows()})
    result.equity.to_csv(folder / "equity.csv", index_label="timestamp")
    result.fills.to_csv(folder / "fills.csv", index=False)
    trips = result.trades
    trips.to_csv(folder / "trades.csv", index=False)
    title = f"{config.name}: {strategy.name} {result.params}, {'long and short' if config.strategy.allow_short else 'long only'}"
    # a portfolio strategy's symbol columns are position values (short ones negative): the book alone
    curves = result.equity[["PORTFOLIO"]] if is_portfolio(strategy) else result.equity
    equity_drawdown_figure(curves, folder / "equity_drawdown.png", title)
    note = SYNTHETIC_NOTE if is_overlay(strategy) else None
    write_backtest_report(folder / "report.html", result, title, note=note)
    return BacktestRun(config, result, folder, note)


def write_backtest_report(path: Path, result: BacktestResult, title: str, note: str | None = None) -> Path:
    """One page: the plot of :meth:`BacktestResult.plot`, :meth:`BacktestResult.stats` as a
    formatted table, the metrics per symbol and the round trips; ``note`` first when given (an
    options overlay's synthetic prices)."""
    from raytrade.analytics.report import figure_html, table_html, write_report

    stats = result.stats()
    pct = ["total_return", "annual_return", "annual_volatility", "max_drawdown", "win_rate", "exposure"]
    shown = stats.apply(lambda col: [("–" if pd.isna(v) else f"{v:.1%}" if k in pct
                                      else f"{v:,.0f}" if k == "round_trips" else f"{v:,.2f}")
                                     for k, v in col.items()])
    shown.index = [k.replace("_", " ") for k in shown.index]
    shown.columns = [c.replace("_", " ") for c in shown.columns]
    trips = result.trades.copy()
    for c in ("entry_time", "exit_time"):
        trips[c] = pd.to_datetime(trips[c], utc=True).dt.strftime("%Y-%m-%d")
    trips["return"] = trips["return"].map(lambda v: "–" if pd.isna(v) else f"{v:.1%}")
    trips["duration"] = trips["duration"].map(lambda v: "–" if pd.isna(v) else f"{v.days} d")
    trips.columns = [c.replace("_", " ") for c in trips.columns]
    return write_report(path, title, ([("Note", f"<p><strong>{note}</strong></p>")] if note else []) + [
        ("Equity against buy and hold", figure_html(result.plot(title), "equity, buy and hold, trades")),
        ("Headline figures", shown.to_html(border=0)),
        (f"Round trips ({len(trips)})", table_html(trips, "{:,.2f}")),
    ])
