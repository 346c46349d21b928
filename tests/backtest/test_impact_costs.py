"""A size-dependent cost in a backtest run from a config, on real data (ETH-BTC 5-minute bars)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from raytrade.backtest.config import BacktestConfig
from raytrade.backtest.job import run_backtest_job
from raytrade.core.errors import ConfigError
from raytrade.data.loaders import load_crypto


def _eth_btc_csv(tmp_path: Path) -> Path:
    frame = pd.DataFrame({f: load_crypto(["ETH-BTC"], field=f).iloc[:, 0]
                          for f in ("open", "high", "low", "close", "volume")}).dropna().iloc[:3000]
    path = tmp_path / "eth_btc.csv"
    frame.to_csv(path, index_label="timestamp")
    return path


def _config(path: Path, tmp_path: Path, impact: dict | None, kind: str = "ohlcv") -> BacktestConfig:
    return BacktestConfig.model_validate({
        "name": "impact", "output_dir": str(tmp_path / "runs"),
        "data": {"path": str(path), "kind": kind, "symbol": "ETHBTC"},
        "strategy": {"name": "ma_crossover", "params": {"fast": 12, "slow": 48}},
        # 500 BTC of capital against ETH-BTC's 5-minute volumes: trades of a few % of a bar's volume
        "initial_capital": 500.0, "costs": {"half_spread_bps": 1.0, "impact": impact},
    })


def test_impact_costs_are_paid_and_the_trades_file_carries_them(tmp_path: Path) -> None:
    path = _eth_btc_csv(tmp_path)
    with_impact = run_backtest_job(_config(path, tmp_path, {"kind": "power_law", "lookback": 48}))
    without = run_backtest_job(_config(path, tmp_path, None))
    m1 = json.loads((with_impact.folder / "metrics.json").read_text())["ETHBTC"]
    m0 = json.loads((without.folder / "metrics.json").read_text())["ETHBTC"]
    assert m1["impact_costs_paid"] > 0 and m0["impact_costs_paid"] == 0
    assert m1["total_return"] < m0["total_return"]
    # the fills file prices every fill with the impact: its cash flows rebuild the kernel's equity
    trades = pd.read_csv(with_impact.folder / "fills.csv")
    sign = np.where(trades["side"] == "buy", 1.0, -1.0)
    cash = 500.0 - float((sign * trades["quantity"] * trades["price"] + trades["commission"]).sum())
    res = with_impact.result
    last = res.shares.iloc[-1, 0] * _close(path).iloc[-1]
    assert cash + last == pytest.approx(res.equity["ETHBTC"].iloc[-1], rel=1e-10)


def _close(path: Path) -> pd.Series:
    return pd.read_csv(path, index_col=0)["close"]


def test_impact_on_a_table_without_volumes_is_a_config_error(tmp_path: Path) -> None:
    path = tmp_path / "closes.csv"
    pd.read_csv(_eth_btc_csv(tmp_path), index_col=0)[["close"]].rename(columns={"close": "ETHBTC"}).to_csv(path)
    with pytest.raises(ConfigError, match=r"costs\.impact needs volumes: data must be an OHLCV table"):
        run_backtest_job(_config(path, tmp_path, {"kind": "square_root"}, kind="prices"))
