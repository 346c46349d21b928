"""The `raytrade` command end to end, in a subprocess, on the bundled data."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]


def raytrade(*args: str, cwd: Path = ROOT, timeout: int = 300) -> subprocess.CompletedProcess:
    env = {**os.environ, "COLUMNS": "200"}
    env.pop("RAY_ADDRESS", None)
    return subprocess.run([sys.executable, "-m", "raytrade.cli", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=timeout)


def write_config(tmp_path: Path, config: dict, name: str = "bt.yaml") -> Path:
    path = tmp_path / name
    path.write_text(yaml.safe_dump(config))
    return path


BASE = {
    "name": "cli_test",
    "data": {"dataset": "us_equities_20", "symbols": ["KO", "PEP"], "start": "2015-01-01"},
    "strategy": {"name": "ma_crossover", "params": {"fast": 10, "slow": 50}},
    "costs": {"commission_bps": 1.0, "half_spread_bps": 2.0},
}


def test_help_reads_well():
    res = raytrade("--help")
    assert res.returncode == 0
    for word in ("backtest", "data", "research", "demo"):
        assert word in res.stdout


def test_data_list_and_show():
    res = raytrade("data", "list")
    assert res.returncode == 0, res.stderr
    assert "us_equities_20" in res.stdout and "fama_french_3" in res.stdout
    res = raytrade("data", "show", "JPM", "--start", "2008-09-01", "--end", "2009-03-31", "--rows", "3")
    assert res.returncode == 0, res.stderr
    assert "Financials" in res.stdout and "2009-03-3" in res.stdout


def test_backtest_writes_a_complete_run_folder(tmp_path):
    config = write_config(tmp_path, {**BASE, "output_dir": str(tmp_path / "runs")})
    res = raytrade("backtest", "--config", str(config))
    assert res.returncode == 0, res.stderr
    assert "PORTFOLIO" in res.stdout and "Traceback" not in res.stderr
    (folder,) = (tmp_path / "runs").iterdir()
    names = {p.name for p in folder.iterdir()}
    assert names == {"config.yaml", "manifest.json", "metrics.json", "equity.csv", "fills.csv", "trades.csv",
                     "equity_drawdown.png", "report.html"}
    assert "long only" in res.stdout
    metrics = json.loads((folder / "metrics.json").read_text())
    assert set(metrics) == {"KO", "PEP", "PORTFOLIO"}
    equity = pd.read_csv(folder / "equity.csv", index_col=0)
    assert equity["PORTFOLIO"].iloc[0] == pytest.approx(100_000)
    assert metrics["PORTFOLIO"]["total_return"] == pytest.approx(equity["PORTFOLIO"].iloc[-1] / 100_000 - 1)
    fills = pd.read_csv(folder / "fills.csv")
    assert len(fills) > 10 and set(fills["side"]) == {"buy", "sell"}
    trips = pd.read_csv(folder / "trades.csv")   # the round trips those fills make
    assert len(trips[~trips["open"]]) == metrics["PORTFOLIO"]["round_trips"] and set(trips["direction"]) == {"long"}
    assert "buy and hold" in (folder / "report.html").read_text()
    assert (folder / "equity_drawdown.png").read_bytes()[:4] == b"\x89PNG"
    manifest = json.loads((folder / "manifest.json").read_text())
    assert len(manifest["data_sha256"]) == 64 and manifest["synthetic"] is False


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"strategy": {"name": "ma_crossover", "params": {"fast": 50, "slow": 10}}}, "fast < slow"),
        ({"strategy": {"name": "nope", "params": {}}}, "unknown strategy 'nope'"),
        ({"data": {"dataset": "us_equities_20", "symbols": ["TSLA"]}}, "unknown symbol 'TSLA'"),
        ({"data": {"dataset": "nope"}}, "unknown dataset 'nope'"),
        ({"costs": {"commission_bps": -1}}, "costs.commission_bps"),
        ({"sizing": {"mode": "martingale"}}, "sizing.mode"),
        ({"sizing": {"mode": "kelly", "fraction": 2}}, "Kelly multiplier"),
        ({"initial_capital": 0}, "initial_capital"),
        ({"colour": "blue"}, "colour: unknown field"),
        ({"data": {"dataset": "us_equities_20", "start": "2030-01-01"}}, "fewer than 2 bars"),
    ],
)
def test_user_mistakes_print_one_line(tmp_path, change, message):
    """The command's own app in this process (typer's runner): the same code path as the
    subprocess runs below, without a new interpreter per case."""
    from typer.testing import CliRunner

    from raytrade.cli import app

    config = write_config(tmp_path, {**BASE, **change, "output_dir": str(tmp_path / "runs")})
    res = CliRunner().invoke(app, ["backtest", "--config", str(config)], env={"COLUMNS": "200"})
    assert res.exit_code == 2, res.output
    lines = [line for line in res.stderr.splitlines() if line.strip() and "WARNING" not in line]
    assert len(lines) == 1, res.stderr
    assert message in lines[0] and "Traceback" not in res.stderr
    assert not (tmp_path / "runs").exists()


def test_bad_data_file_and_missing_config(tmp_path):
    bad = tmp_path / "prices.csv"
    bad.write_text("timestamp,XYZ\n2024-01-02,10\n2024-01-03,-1\n")
    config = write_config(tmp_path, {**BASE, "data": {"path": str(bad)}})
    res = raytrade("backtest", "--config", str(config))
    assert res.returncode == 2
    assert "prices.csv, column 'XYZ', row 3" in res.stderr and "price must be > 0" in res.stderr
    res = raytrade("backtest", "--config", str(tmp_path / "missing.yaml"))
    assert res.returncode == 2 and "config file not found" in res.stderr
    (tmp_path / "broken.yaml").write_text("name: [unclosed\n")
    res = raytrade("backtest", "--config", str(tmp_path / "broken.yaml"))
    assert res.returncode == 2 and "not valid YAML at line" in res.stderr


def test_user_csv_backtest(tmp_path):
    from raytrade.data import gbm_prices

    frame = gbm_prices(600, 2, seed=4)
    path = tmp_path / "mine.csv"
    frame.to_csv(path, index_label="timestamp")
    config = write_config(tmp_path, {**BASE, "data": {"path": str(path)}, "output_dir": str(tmp_path / "runs")})
    res = raytrade("backtest", "--config", str(config))
    assert res.returncode == 0, res.stderr
    assert "SYN000" in res.stdout


@pytest.mark.parametrize("path", sorted((ROOT / "configs" / "backtests").glob("*.yaml")), ids=lambda p: p.name)
def test_shipped_backtest_configs_run(tmp_path, path):
    res = raytrade("backtest", "--config", str(path), "--output-dir", str(tmp_path))
    assert res.returncode == 0, res.stderr
    if "covered_call" in path.name:   # an options overlay says its prices are synthetic, in the CLI and the report
        assert "note: synthetic option prices" in res.stdout
        (folder,) = tmp_path.iterdir()
        assert "synthetic option prices" in (folder / "report.html").read_text()


@pytest.mark.slow
def test_research_walkforward_bad_config_is_one_line(tmp_path):
    config = {
        "name": "wf_bad", "data": {"dataset": "us_equities_20", "symbols": ["KO"]},
        "strategy": {"name": "ma_crossover", "grid": {"fast": [5], "slow": [50]}},
        "walkforward": {"window": 50000}, "output_dir": str(tmp_path / "runs"),
    }
    res = raytrade("research", "walkforward", "--config", str(write_config(tmp_path, config)), "--local")
    assert res.returncode == 2
    assert "walkforward.window: 50000 bars is longer than the data (8313 bars)" in res.stderr
    assert "Traceback" not in res.stderr and not (tmp_path / "runs").exists()


def test_analytics_report_of_a_log_with_options_needs_their_multiplier(tmp_path):
    """A log whose book bought 2 KO calls: without the engine's config the report is refused (a call
    valued at 1 share would be 100 times too small); with it, the calls' P&L is 2 x 100 x (2.50 - 1.50)."""
    import asyncio
    from datetime import UTC, date, datetime, timedelta

    from raytrade.core import Event, EventType, Fill, Order
    from raytrade.core.instruments import option
    from raytrade.storage import store_from_url

    call = option("KO", date(2024, 4, 19), 60.0, "call").symbol
    t = datetime(2024, 3, 4, 15, tzinfo=UTC)
    o = Order(call, "buy", 2, client_order_id="c1", created_at=t, strategy="overlay")
    events = [Event(EventType.CASH_CHANGED, "admin", "in", {"amount": 10_000.0}, t),
              Event(EventType.ORDER_ACCEPTED, "t", "x", {"order": o.to_dict()}, t),
              Event(EventType.FILL, "broker", "fill", {"fill": Fill("c1", call, "buy", 2, 1.5, 0.0, t,
                                                                    fill_id="f1").to_dict()}, t),
              Event(EventType.SESSION_STARTED, "clock", "open", {"day": "2024-03-05", "marks": {call: 2.5}},
                    t + timedelta(days=1))]
    url = f"sqlite:///{tmp_path / 'log.db'}"

    async def write() -> None:
        async with store_from_url(url) as store:
            await store.append(events)

    asyncio.run(write())
    r = raytrade("analytics", "report", "--log", "--database-url", url, "-o", str(tmp_path / "a"))
    assert r.returncode == 2 and "the log holds options (KO    240419C00060000) whose contract multiplier is not " \
        "known: give the engine's config with --config" in r.stderr + r.stdout
    cfg = write_config(tmp_path, {"api": {"engine": {"options": [{"underlying": "KO", "expiry": "2024-04-19",
                                                                  "strike": 60, "right": "call"}]}}}, "serve.yaml")
    r = raytrade("analytics", "report", "--log", "-c", str(cfg), "--database-url", url, "-o", str(tmp_path / "a"))
    assert r.returncode == 0, r.stderr
    html = (tmp_path / "a" / "analytics.html").read_text()
    assert "10,200" in html and "200" in html    # equity 10,000 - 300 + 500; the calls' P&L
    # the tax lot in currency: basis 2 x 1.50 x 100 = 300, valued at the last mark 2.50 x 100 a contract
    head, body = html.split("Open lots at the last close")[1].split("</thead>")
    row = dict(zip(re.findall(r"<th>([^<]*)</th>", head)[1:], re.findall(r"<td>([^<]*)</td>", body), strict=True))
    assert (row["basis"], row["basis per unit"], row["price"], row["unrealized"]) == (
        "300.00", "150.00", "250.00", "200.00"), row
