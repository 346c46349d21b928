"""The README's market-impact and routing examples, run as written."""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
SECTION = "### Market impact, venues and cost analysis"


def blocks(kind: str) -> list[str]:
    text = (ROOT / "README.md").read_text()
    part = text[text.index(SECTION):]
    part = part[:part.index("\n## ")]
    return re.findall(rf"```{kind}\n(.*?)```", part, flags=re.S)


def tca_command() -> list[str]:
    (line,) = [ln for b in blocks("bash") for ln in b.splitlines() if ln.startswith("raytrade tca report")]
    return shlex.split(line)[1:]


def test_the_backtest_with_impact_runs_as_written(tmp_path: Path) -> None:
    from raytrade.backtest.config import BacktestConfig
    from raytrade.backtest.job import run_backtest_job

    backtest_yaml, _ = blocks("yaml")
    cfg = yaml.safe_load(backtest_yaml)
    run = run_backtest_job(BacktestConfig.model_validate({**cfg, "output_dir": str(tmp_path)}))
    metrics = json.loads((run.folder / "metrics.json").read_text())
    (symbol,) = [k for k in metrics if k != "PORTFOLIO"]
    assert metrics[symbol]["impact_costs_paid"] > 0
    assert metrics[symbol]["costs_paid"] > metrics[symbol]["impact_costs_paid"]


def test_the_routed_broker_config_loads_and_builds_as_written() -> None:
    from raytrade.actors.config import EngineConfig
    from raytrade.brokers import RoutedBroker, make_broker

    _, broker_yaml = blocks("yaml")
    cfg = EngineConfig.model_validate(yaml.safe_load(broker_yaml))
    broker = make_broker(cfg.broker)
    assert isinstance(broker, RoutedBroker)
    assert [v.name for v in cfg.broker.venues] == ["PRIMARY", "SECONDARY", "DARK"]  # type: ignore[union-attr]


def test_the_tca_command_parses() -> None:
    assert tca_command()[:2] == ["tca", "report"]  # run against a live engine's log in test_parent_orders
