"""The walk-forward on Ray Tune: same numbers as one plain process, on 1 or 2 CPUs, after a
killed worker, and after an interrupted run resumes."""

from __future__ import annotations

import json
import os
import re
import signal
import threading
import time
from pathlib import Path

import pytest

from raytrade.configfile import parse_model
from raytrade.core.errors import ConfigError
from raytrade.tune.walkforward_job import WalkForwardConfig, prepare, run_walkforward_job

pytestmark = pytest.mark.integration


def config(tmp_path: Path, name: str, **changes) -> WalkForwardConfig:
    raw = {
        "name": name,
        "data": {"dataset": "us_equities_20", "symbols": ["KO", "XOM", "MSFT", "JPM"], "start": "2002-01-01"},
        "strategy": {"name": "ma_crossover", "allow_short": False,
                     "grid": {"fast": [5, 10, 20, 40], "slow": [60, 120, 200]}},
        "walkforward": {"window": 1500},
        "costs": {"commission_bps": 1, "half_spread_bps": 2},
        "pbo_blocks": 8,
        "output_dir": str(tmp_path),
    }
    raw.update(changes)
    return parse_model(raw, WalkForwardConfig, "test")


def summary_bytes(run) -> bytes:
    return (run.folder / "summary.json").read_bytes()


def test_same_summary_bit_for_bit_local_one_and_two_cpus(ray_session, tmp_path):
    local = run_walkforward_job(config(tmp_path / "a", "wf"), use_ray=False)
    one = run_walkforward_job(config(tmp_path / "b", "wf"), cpus=1, verbose=0)
    heard: list[tuple[int, int]] = []
    two = run_walkforward_job(config(tmp_path / "c", "wf"), cpus=2, verbose=0,
                              on_progress=lambda done, total: heard.append((done, total)))
    assert summary_bytes(local) == summary_bytes(one) == summary_bytes(two)
    n_trials = heard[-1][1]   # the progress bar hears every trial finish, counted from Tune's checkpoints
    assert heard[-1] == (n_trials, n_trials) and n_trials > 1 and [d for d, _ in heard] == sorted(d for d, _ in heard)
    risk = [(r.folder / "risk.json").read_bytes() for r in (local, one, two)]
    assert risk[0] == risk[1] == risk[2]
    names = {p.name for p in two.folder.iterdir()}
    assert {"config.yaml", "manifest.json", "summary.json", "windows.csv", "oos_returns.parquet",
            "full_sample.parquet", "report.html", "tune"} <= names
    html = (two.folder / "report.html").read_text()
    assert html.count("<img") >= 4 and "Probability of Backtest Overfitting" in html
    assert "Monte Carlo" in html and "historical replays" in html


def test_finished_run_is_not_recomputed_silently(ray_session, tmp_path):
    cfg = config(tmp_path, "wf_once")
    first = run_walkforward_job(cfg, use_ray=False)
    stamp = (first.folder / "summary.json").stat().st_mtime_ns
    again = run_walkforward_job(cfg, use_ray=False)
    assert again.reused and again.folder == first.folder
    assert (first.folder / "summary.json").stat().st_mtime_ns == stamp
    rerun = run_walkforward_job(cfg, use_ray=False, rerun=True)
    assert not rerun.reused and summary_bytes(rerun) == summary_bytes(first)


def _trial_pids() -> list[int]:
    """PIDs of the Tune trial actors running a trial now, by the process title Ray gives them.

    Function trainables run in ``ImplicitFunc`` actors, titled ``ray::ImplicitFunc`` (idle) or
    ``ray::ImplicitFunc.train`` (running). Reading /proc needs neither the dashboard nor the
    state API, which can answer late or empty while the shared instance is busy.
    """
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            title = (entry / "cmdline").read_bytes().split(b"\0", 1)[0]
        except OSError:
            continue
        if title.startswith(b"ray::ImplicitFunc.train"):
            pids.append(int(entry.name))
    return pids


@pytest.mark.slow
def test_killed_worker_is_retried_and_result_unchanged(ray_session, tmp_path):
    big = {"fast": {"start": 2, "stop": 60, "step": 2}, "slow": {"start": 60, "stop": 200, "step": 5}}
    strategy = {"name": "ma_crossover", "allow_short": False, "grid": big}
    clean = run_walkforward_job(config(tmp_path / "clean", "wf_kill", strategy=strategy), use_ray=False)
    killed: list[int] = []
    failed: list[BaseException] = []

    def killer() -> None:
        deadline = time.time() + 120
        try:
            while time.time() < deadline and not killed:
                for pid in _trial_pids():
                    try:
                        os.kill(pid, signal.SIGKILL)
                        killed.append(pid)
                        return
                    except ProcessLookupError:
                        continue
                time.sleep(0.05)
        except BaseException as exc:  # reported by the assertion below
            failed.append(exc)

    thread = threading.Thread(target=killer, daemon=True)
    thread.start()
    run = run_walkforward_job(config(tmp_path / "killed", "wf_kill", strategy=strategy, chunk_size=100),
                              cpus=2, verbose=0)
    thread.join(timeout=1)
    assert not failed, f"the killer thread failed: {failed[0]!r}"
    assert killed, "no trial worker was found to kill"
    failures = [p.read_text() for p in run.folder.glob("tune/walkforward/*/error.txt")]
    assert any(f"pid: {killed[0]}" in text for text in failures), "Tune recorded no failure of the killed trial"
    assert summary_bytes(run) == summary_bytes(clean)


@pytest.mark.slow
def test_interrupted_run_resumes(tmp_path):
    """Ctrl-C on a running `raytrade research walkforward`, then the same command again: it resumes
    the Tune experiment and ends with the same summary as an uninterrupted run."""
    import subprocess
    import sys

    import yaml

    grid = {"fast": {"start": 2, "stop": 60, "step": 2}, "slow": {"start": 60, "stop": 200, "step": 5}}
    # 2010-2022: 6 units (5 windows + the full history) x 9 chunks = 54 trials, enough to stop mid-run
    data = {"dataset": "us_equities_20", "symbols": ["KO", "XOM", "MSFT", "JPM"], "start": "2010-01-01"}
    cfg = config(tmp_path / "runs", "wf_resume", chunk_size=100, data=data,
                 strategy={"name": "ma_crossover", "allow_short": False, "grid": grid})
    path = tmp_path / "wf.yaml"
    path.write_text(yaml.safe_dump(cfg.model_dump(mode="json")))
    expected = summary_bytes(run_walkforward_job(cfg.model_copy(update={"output_dir": tmp_path / "clean"}),
                                                 use_ray=False))
    env = {k: v for k, v in os.environ.items() if k != "RAY_ADDRESS"}
    cmd = [sys.executable, "-m", "raytrade.cli", "research", "walkforward", "--config", str(path), "--cpus", "2"]
    log = (tmp_path / "interrupted.txt").open("w")
    proc = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    deadline = time.time() + 240
    done = 0
    while time.time() < deadline and proc.poll() is None:
        done = len(list((tmp_path / "runs").glob("wf_resume-*/tune/walkforward/*/checkpoint_*")))
        if done >= 3:
            break
        time.sleep(0.2)
    assert proc.poll() is None, "the run finished before it could be interrupted"
    os.killpg(proc.pid, signal.SIGINT)
    proc.wait(timeout=120)
    (folder,) = (tmp_path / "runs").glob("wf_resume-*")
    assert not (folder / "summary.json").exists()
    before = {p: p.stat().st_mtime_ns for p in folder.glob("tune/walkforward/*/checkpoint_*/scores.npz")}
    assert before, "no finished trial survived the interruption"
    log.close()
    said = re.search(r"interrupted with (\d+) of 54 trials unfinished", (tmp_path / "interrupted.txt").read_text())
    assert said, (tmp_path / "interrupted.txt").read_text()[-2000:]
    # every trial not finished counts, not only the ones Tune had started (it said 2 of 54 before)
    assert abs(int(said.group(1)) - (54 - len(before))) <= 2
    resumed = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert (folder / "summary.json").read_bytes() == expected
    # Tune snapshots its experiment state every few seconds: trials that finished after the last
    # snapshot are run again (their checkpoint is rewritten or replaced), the others must be kept.
    kept = sum(p.exists() and p.stat().st_mtime_ns == t for p, t in before.items())
    assert kept >= max(1, len(before) // 2), f"only {kept} of {len(before)} finished trials were kept"
    total = len(list(folder.glob("tune/walkforward/*/checkpoint_*/scores.npz")))
    assert total > len(before)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"strategy": {"name": "nope", "grid": {}}}, "unknown strategy 'nope'"),
        ({"strategy": {"name": "ma_crossover", "grid": {"fast": [50], "slow": [10]}}}, "empty after the constraint"),
        ({"walkforward": {"window": 99999}}, "walkforward.window: 99999 bars is longer than the data"),
        ({"walkforward": {"window": 1500, "train_fraction": 1.5}}, "walkforward.train_fraction"),
        ({"objective": "alpha"}, "unknown objective 'alpha'"),
    ],
)
def test_bad_config_fails_before_any_work(tmp_path, changes, message):
    with pytest.raises(ConfigError, match=message):
        prepare(config(tmp_path, "bad", **changes), 1)
    assert not any(tmp_path.iterdir())


def test_random_search_samples_the_grid_reproducibly(tmp_path):
    grid = {"fast": {"start": 2, "stop": 40}, "slow": {"start": 50, "stop": 200, "step": 10}}
    strategy = {"name": "ma_crossover", "allow_short": False, "grid": grid}
    cfg = config(tmp_path, "wf_random", strategy=strategy, search={"mode": "random", "samples": 25, "seed": 3})
    block = cfg.block()
    assert len(block) == 25
    assert block.rows() == cfg.block().rows()
    other = config(tmp_path, "wf_random", strategy=strategy, search={"mode": "random", "samples": 25, "seed": 4})
    assert other.block().rows() != block.rows()
    run = run_walkforward_job(cfg.model_copy(update={"montecarlo": None, "stress": None}), use_ray=False)
    assert run.summary["n_trials"] == 25


def test_a_portfolio_strategy_walks_forward_on_tune(ray_session, tmp_path):
    """Pairs trading (a portfolio strategy: one book, one cash account) on Tune, the same numbers
    as in one process; the pairs are re-selected inside every window from its own past."""
    changes = {"data": {"dataset": "us_equities_20", "symbols": ["KO", "PEP", "XOM", "CVX", "JPM", "BAC"],
                        "start": "2011-01-01"},
               "strategy": {"name": "pairs", "allow_short": True,
                            "grid": {"entry_z": [1.5, 2.0], "lookback": [40, 60]}},
               "walkforward": {"window": 1260}}
    local = run_walkforward_job(config(tmp_path / "a", "pairs", **changes), use_ray=False)
    tuned = run_walkforward_job(config(tmp_path / "b", "pairs", **changes), cpus=2, verbose=0)
    assert summary_bytes(local) == summary_bytes(tuned)
    import json

    summary = json.loads(summary_bytes(tuned))
    assert summary["n_trials"] == 4 and len(summary["windows"]) >= 5
    assert {w["params"]["entry_z"] for w in summary["windows"]} <= {1.5, 2.0}
    with pytest.raises(ConfigError, match="allow_short"):
        bad = dict(changes, strategy={"name": "pairs", "grid": {"entry_z": [2.0]}})
        run_walkforward_job(config(tmp_path / "c", "pairs", **bad), use_ray=False)


def test_an_options_overlay_walks_forward_on_tune(ray_session, tmp_path):
    """Covered calls (the third kind: option expiries counted in calendar days, which the trials
    get with the prices) on Tune: the same numbers as in one process, the synthetic-price note in
    the summary."""
    changes = {"data": {"dataset": "us_equities_20", "symbols": ["KO", "XOM", "WMT"], "start": "2013-01-01"},
               "strategy": {"name": "covered_call", "grid": {"delta": [0.2, 0.3], "days_to_expiry": [30]}},
               "walkforward": {"window": 1260}}
    local = run_walkforward_job(config(tmp_path / "a", "cc", **changes), use_ray=False)
    tuned = run_walkforward_job(config(tmp_path / "b", "cc", **changes), cpus=2, verbose=0)
    assert summary_bytes(local) == summary_bytes(tuned)
    assert "synthetic option prices" in json.loads(summary_bytes(tuned))["note"]
