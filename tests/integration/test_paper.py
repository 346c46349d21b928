"""Paper trading on history through the actors: parity with the vectorised backtest, and the CLI."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml

from raytrade.actors.replay import PaperConfig, run_paper
from raytrade.configfile import load_yaml

pytestmark = [pytest.mark.integration, pytest.mark.slow]
ROOT = Path(__file__).resolve().parents[2]


def short_config(tmp_path: Path, **data: object) -> PaperConfig:
    cfg = load_yaml(ROOT / "configs/paper/ma_crossover_ko.yaml", PaperConfig)
    return cfg.model_copy(update={"output_dir": tmp_path, "data": cfg.data.model_copy(update=data)})


def test_a_refused_order_is_recorded_and_breaks_parity_where_it_happens(ray_session: dict, tmp_path: Path) -> None:
    cfg = short_config(tmp_path, start=pd.Timestamp("2007-01-01").date(), end=pd.Timestamp("2008-12-31").date())
    cfg = cfg.model_copy(update={"engine": cfg.engine.model_copy(update={
        "risk": cfg.engine.risk.model_copy(update={"max_symbol_weight": 0.5})})})
    run = run_paper(cfg)
    assert len(run.rejections) >= 1 and set(run.rejections["code"]) == {"SYMBOL_LIMIT"}
    assert not run.parity["trades_equal"]


def test_kelly_sizing_in_the_paper_replay_matches_the_backtest(ray_session: dict, tmp_path: Path) -> None:
    """Half-Kelly from the signal's own 60-day record (10/30-day crossover, KO 2011): the actors
    trade what the backtest's kernel trades, whole shares, costs and all."""
    cfg = short_config(tmp_path, start=pd.Timestamp("2011-01-01").date(), end=pd.Timestamp("2011-12-31").date())
    cfg = cfg.model_copy(update={
        "strategy": cfg.strategy.model_copy(update={"params": {"fast": 10, "slow": 30}}),
        "sizing": type(cfg.sizing).model_validate({**cfg.sizing.model_dump(), "mode": "kelly", "fraction": 0.5,
                                                   "kelly_lookback": 60, "max_leverage": 0.95})})
    run = run_paper(cfg)
    p = run.parity
    assert p["trades_backtest"] >= 2 and p["trades_equal"], (run.fills, p)
    assert p["max_abs_equity_diff"] < 1e-6 * p["final_equity_backtest"] and p["rejections"] == 0


def test_paper_cli_refuses_a_bad_config_in_one_line(tmp_path: Path) -> None:
    """The run itself, as the README writes it, is tests/test_readme.py's."""
    cfg = yaml.safe_load((ROOT / "configs/paper/ma_crossover_ko.yaml").read_text())
    path = tmp_path / "paper.yaml"
    env = {k: v for k, v in os.environ.items() if k != "RAY_ADDRESS"}
    bad = cfg | {"strategy": {"name": "nope", "params": {}}}
    path.write_text(yaml.safe_dump(bad))
    r = subprocess.run([sys.executable, "-m", "raytrade.cli", "paper", "--config", str(path)], capture_output=True,
                       text=True, timeout=120, cwd=ROOT, env=env)
    assert r.returncode == 2 and "strategy" in r.stderr and "Traceback" not in r.stderr
