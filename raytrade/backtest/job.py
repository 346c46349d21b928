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


@dataclass(frozen=True, slots=True)
class BacktestRun:
    config: BacktestConfig
    result: BacktestResult
    folder: Path


def run_backtest_job(config: BacktestConfig) -> BacktestRun:
    """Load the data, run the backtest and write the run folder.

    The folder holds ``config.yaml``, ``manifest.json`` (data hash, library versions, span),
    ``metrics.json`` (per symbol and PORTFOLIO), ``equity.csv``, ``trades.csv`` and
    ``equity_drawdown.png``.
    """
    close, open_ = config.data.load()
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
        "versions": library_versions(),
    })
    write_json(folder / "metrics.json", {sym: row.to_dict() for sym, row in result.metrics.iterrows()})
    result.equity.to_csv(folder / "equity.csv", index_label="timestamp")
    result.trades.to_csv(folder / "trades.csv", index=False)
    equity_drawdown_figure(result.equity, folder / "equity_drawdown.png",
                           f"{config.name}: {strategy.name} {result.params}")
    return BacktestRun(config, result, folder)
