"""Every code block of README.md is accounted for, and run.

A ledger names, for each fenced block (by its first line), where it is run as written: here (bash
blocks as a bash script in a temporary directory that links the repository's configs and
examples, with the virtualenv on PATH and the local services; Python blocks in a fresh
interpreter there; YAML blocks validated by the model that reads them), in another test that
runs it as written (named, and checked to exist), or nowhere, with the reason. A block added to
the README without an entry, an entry whose block is gone, or a block that fails fails this
test, so the README cannot drift from what works.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Block:
    kind: str
    line: int
    text: str

    @property
    def key(self) -> str:
        return next(ln.strip() for ln in self.text.splitlines() if ln.strip())


def readme_blocks() -> list[Block]:
    out, lines = [], (ROOT / "README.md").read_text().splitlines()
    i = 0
    while i < len(lines):
        m = re.match(r"^```(\w*)\s*$", lines[i])
        if m:
            j = next(k for k in range(i + 1, len(lines)) if lines[k].startswith("```"))
            out.append(Block(m.group(1) or "text", i + 1, "\n".join(lines[i + 1:j]) + "\n"))
            i = j
        i += 1
    return out


HERE = "here"
HERE_SLOW = "here, slow"


def elsewhere(test: str) -> str:
    return f"elsewhere: {test}"


def nowhere(reason: str) -> str:
    return f"nowhere: {reason}"


LEDGER: dict[str, str] = {
    "make demo   # installs into .venv, starts a local Ray instance, runs the demo research job on the bundled data":
        nowhere("make builds a virtualenv and installs (minutes, and CI's own install does it); `raytrade demo`, "
                "what it runs then, is run by test_the_demo_command_runs"),
    ". .venv/bin/activate": HERE_SLOW,
    "name: ma_crossover_aapl_msft": HERE,
    "from raytrade.backtest import CostModel, backtest, run_grid":
        elsewhere("tests/backtest/test_quick_start.py::test_the_python_quick_start_runs_as_written"),
    "from raytrade.data import load_prices":
        elsewhere("tests/backtest/test_quick_start.py::test_the_python_quick_start_runs_as_written"),
    "from raytrade.backtest import Sizing, backtest":
        elsewhere("tests/backtest/test_readme_portfolio.py::test_the_python_examples_run_as_written"),
    "import numpy as np":
        elsewhere("tests/backtest/test_readme_portfolio.py::test_the_python_examples_run_as_written"),
    "raytrade backtest -c configs/backtests/pairs_us20.yaml":
        elsewhere("tests/backtest/test_readme_portfolio.py::test_the_commands_run_as_written (walk-forward --local)"),
    "raytrade research walkforward -c configs/research/walkforward_residual_reversion.yaml":
        elsewhere("tests/backtest/test_readme_portfolio.py::test_the_commands_run_as_written (--local)"),
    "from raytrade.backtest import Sizing, backtest\n#crypto":
        elsewhere("tests/backtest/test_readme_portfolio.py::test_the_crypto_section_runs_as_written"),
    "raytrade backtest -c configs/backtests/crypto_eth_trend_vol.yaml":
        elsewhere("tests/backtest/test_readme_portfolio.py::test_the_crypto_section_runs_as_written"),
    "from raytrade.backtest.overlays import OverlayConfig, run_overlay":
        elsewhere("tests/backtest/test_readme_portfolio.py::test_the_overlay_section_runs_as_written_and_its_figures_hold"),
    "from raytrade.backtest import backtest":
        elsewhere("tests/backtest/test_readme_portfolio.py::test_the_overlay_section_runs_as_written_and_its_figures_hold"),
    "raytrade research compare -c configs/research/compare.yaml":
        elsewhere("tests/integration/test_compare.py::test_compare_runs_the_catalogue_cut_down (the catalogue "
                  "cut down: the full run takes about an hour on 2 cores)"),
    "raytrade paper --config configs/paper/ma_crossover_ko.yaml   # history bar by bar through the actors and the "
    "paper broker": HERE_SLOW,
    "from raytrade import cluster": HERE_SLOW,
    'curl -H "Authorization: Bearer $ADMIN_TOKEN" -H "Content-Type: application/json" \\':
        elsewhere("tests/integration/test_serve_cli.py::test_raytrade_serve_behind_haproxy_answers_rest_and_websocket"),
    "name: spx-impact":
        elsewhere("tests/execution/test_readme_execution.py::test_the_backtest_with_impact_runs_as_written"),
    "broker:": elsewhere("tests/execution/test_readme_execution.py::test_the_routed_broker_config_loads_and_builds_as_written"),
    "raytrade tca report --from 2024-03-01 --market market.csv -o runs/tca":
        elsewhere("tests/integration/test_parent_orders.py::test_a_parent_on_the_routed_broker_records_every_fills_venue "
                  "(against a live engine's log and its market bars)"),
    "from datetime import date": elsewhere("tests/risk/test_greeks.py::test_the_readme_example_runs_as_written"),
    "from raytrade.analytics.plots import hedging_error_figure":
        elsewhere("tests/risk/test_hedging.py::test_the_readme_hedging_example_runs_as_written"),
    "raytrade backtest --config configs/backtests/ma_crossover_aapl_msft.yaml --output-dir runs":
        elsewhere("tests/analytics/test_readme_analytics.py::test_the_commands_run_as_written"),
    "import pandas as pd": elsewhere("tests/analytics/test_readme_analytics.py::test_the_python_examples_run_as_written"),
    "from raytrade.analytics.harvest import harvest_overlay":
        elsewhere("tests/analytics/test_readme_analytics.py::test_the_python_examples_run_as_written"),
    "raytrade keys create --name desk-bot --role trader     # prints rtk_<id>.<secret> once; only its hash is kept":
        elsewhere("tests/integration/test_serve_cli.py::test_raytrade_serve_behind_haproxy_answers_rest_and_websocket"),
    "raytrade models train --config configs/models/ensemble.yaml   # folds as Ray tasks; a new registry version":
        elsewhere("tests/integration/test_models_job.py::test_train_on_ray_save_reload_and_list (not as written: "
                  "the shipped config cut to 3 epochs; `python benchmarks/ensemble_eval.py` is a benchmark, not "
                  "run by the tests)"),
    "signals: {model_path: runs/models/ensemble_us20/v0001}   # checked at load: a folder with model.json": HERE,
    "applications:": elsewhere("tests/serve/test_signals.py::test_config_deploy_reloads_the_version_in_place (not as "
                               "written: the same Serve config with the test's model versions)"),
    "raytrade/core         domain types (instruments, bars, orders, fills, positions, events), errors": nowhere("the repository's layout"),
}


def block_key(b: Block, blocks: list[Block]) -> str:
    """The ledger's key of ``b``: its first line, told apart when two blocks share it."""
    same = [x for x in blocks if x.key == b.key]
    if len(same) > 1 and same.index(b) > 0 and b.key == "from raytrade.backtest import Sizing, backtest":
        return b.key + "\n#crypto"
    return b.key


def test_every_block_has_an_entry_and_every_entry_a_block() -> None:
    blocks = readme_blocks()
    keys = [block_key(b, blocks) for b in blocks]
    assert len(set(keys)) == len(keys), [k for k in keys if keys.count(k) > 1]
    missing = [f"README.md:{b.line}: {k!r}" for b, k in zip(blocks, keys, strict=True) if k not in LEDGER]
    assert not missing, "blocks without a ledger entry (say where they run):\n" + "\n".join(missing)
    stale = sorted(set(LEDGER) - set(keys))
    assert not stale, f"ledger entries whose block is gone: {stale}"


def test_the_tests_named_elsewhere_exist_and_read_the_readme() -> None:
    for where in LEDGER.values():
        if not where.startswith("elsewhere: "):
            continue
        path, name = where.removeprefix("elsewhere: ").split(" ")[0].split("::")
        source = (ROOT / path).read_text()
        assert re.search(rf"^def {name}\(", source, flags=re.M), where
        assert "README" in source or "not as written" in where, f"{path} does not read README.md"


def _workdir(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    """A temporary working directory with the repository's configs and examples and the virtualenv,
    a home of its own (for ~), the local data directory inside it, and no Ray address."""
    for name in ("configs", "examples"):
        (tmp_path / name).symlink_to(ROOT / name)
    (tmp_path / ".venv").symlink_to(Path(sys.prefix))
    env = {k: v for k, v in os.environ.items() if k not in ("RAY_ADDRESS", "RAYTRADE_DATABASE_URL")}
    env.update(HOME=str(tmp_path / "home"), RAYTRADE_DATA_DIR=str(tmp_path / "data"), COLUMNS="200",
               PATH=f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}")
    (tmp_path / "home").mkdir()
    return tmp_path, env


def _run_bash(text: str, cwd: Path, env: dict[str, str], timeout: int) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["bash", "-c", "set -eo pipefail\n" + text], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=timeout)


def _block(key: str) -> Block:
    blocks = readme_blocks()
    (b,) = [b for b in blocks if block_key(b, blocks) == key]
    return b


def test_the_yaml_blocks_marked_here_validate(tmp_path: Path) -> None:
    from raytrade.backtest.config import BacktestConfig
    from raytrade.serve.api import ServeFile

    cfg = BacktestConfig.model_validate(yaml.safe_load(_block("name: ma_crossover_aapl_msft").text))
    shipped = BacktestConfig.model_validate(yaml.safe_load(
        (ROOT / "configs/backtests/ma_crossover_aapl_msft.yaml").read_text()))
    assert cfg.model_dump(exclude={"output_dir"}) == shipped.model_dump(exclude={"output_dir"})
    text = _block("signals: {model_path: runs/models/ensemble_us20/v0001}   # checked at load: a folder with "
                  "model.json").text
    folder = tmp_path / "runs/models/ensemble_us20/v0001"
    folder.mkdir(parents=True)
    (folder / "model.json").write_text("{}")
    cwd = Path.cwd()
    try:
        os.chdir(tmp_path)
        served = ServeFile.model_validate(yaml.safe_load(text))
    finally:
        os.chdir(cwd)
    assert served.signals is not None


@pytest.mark.slow
def test_the_command_line_tour_runs_as_written(tmp_path: Path) -> None:
    cwd, env = _workdir(tmp_path)
    r = _run_bash(_block(". .venv/bin/activate").text, cwd, env, timeout=900)
    assert r.returncode == 0, (r.stdout[-3000:], r.stderr[-3000:])
    runs = sorted(p.name.rsplit("-", 1)[0] for p in (cwd / "runs").iterdir())
    assert runs == ["demo_ma_grid", "ma_crossover_aapl_msft", "ma_crossover_risk-montecarlo", "ma_crossover_risk-stress",
                    "walkforward_ma"], runs
    assert "Traceback" not in r.stdout + r.stderr
    # the walk-forward shows its progress bar, not Tune's experiment box or a line per checkpoint
    assert "Configuration for experiment" not in r.stdout and "Checkpoint successfully created" not in r.stderr
    assert "COVID crash" in r.stdout and "Black Monday" in r.stdout                       # stress
    (mc,) = (cwd / "runs").glob("*-montecarlo-*")
    summary = json.loads((mc / "summary.json").read_text())
    assert summary["paths"] == 2000 and 0.0 <= summary["probability_of_loss"] <= 1.0
    assert "<img" in (mc / "report.html").read_text()
    (grid,) = (cwd / "runs").glob("demo_ma_grid-*")                                        # grid on Ray
    assert "hold Sharpe" in r.stdout and "Token authentication is enabled" not in r.stdout + r.stderr
    summary = json.loads((grid / "summary.json").read_text())
    assert len(pd.read_parquet(grid / "results.parquet")) == len(summary["best"]) * summary["parameter_sets"]
    assert "<img" in (grid / "report.html").read_text()
    # `make demo` then runs `raytrade demo`: the same walk-forward as walkforward_ma.yaml, so here it
    # finds that run complete in its folder and reports it (a fresh clone runs it, about a minute)
    demo = _run_bash("raytrade demo", cwd, env, timeout=900)
    assert demo.returncode == 0 and "run folder: runs/walkforward_ma-" in demo.stdout, demo.stderr[-3000:]
    assert "already finished" in demo.stdout and "Ray:" not in demo.stdout   # answered without starting Ray


@pytest.mark.slow
def test_the_paper_replay_and_its_audit_run_as_written(tmp_path: Path) -> None:
    cwd, env = _workdir(tmp_path)
    text = _block("raytrade paper --config configs/paper/ma_crossover_ko.yaml   # history bar by bar through the "
                  "actors and the paper broker").text
    r = _run_bash(text, cwd, env, timeout=900)
    assert r.returncode == 0, (r.stdout[-3000:], r.stderr[-3000:])
    assert "trades identical" in r.stdout and r.stdout.count("audit chain intact") == 3   # paper, verify x 2
    assert (cwd / "home/raytrade-audit/checkpoints.jsonl").read_text().count("\n") == 1
    # the replay equals the backtest, 2005-2012 through the 2008 crash (exits and entries)
    (run,) = (cwd / "runs").glob("ma_crossover_ko_paper-*")
    p = json.loads((run / "parity.json").read_text())
    assert p["trades_backtest"] >= 4 and p["trades_equal"] and abs(p["pnl_diff_bp_per_year"]) < 1.0
    assert p["max_abs_equity_diff"] < 1e-6 * p["final_equity_backtest"]
    assert p["audit_chain_ok"] and p["rejections"] == 0 and (run / "events.sqlite").is_file()
    assert (cwd / "jan.jsonl").read_text().count("\n") > 10


@pytest.mark.slow
def test_the_engine_in_python_runs_as_written(tmp_path: Path) -> None:
    """In a fresh interpreter (its own local Ray, as a user's script would start): the order fills
    at the replayed close, at any hour of the real day (the replay's clock is the engine's)."""
    cwd, env = _workdir(tmp_path)
    r = subprocess.run([sys.executable, "-c", _block("from raytrade import cluster").text], cwd=cwd, env=env,
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, (r.stdout[-3000:], r.stderr[-3000:])
    filled, updated = r.stdout.strip().splitlines()[-2:]
    assert filled.split()[:2] == ["filled", "100.0"] and float(filled.split()[2]) > 0, r.stdout
    assert updated.startswith("2015-01-"), r.stdout    # the replay's time, not the wall clock
