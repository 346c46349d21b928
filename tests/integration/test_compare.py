"""`raytrade research compare`: the catalogue config as written is valid (every entry read and its
data loaded), and the command runs it end to end on a cut-down copy (each entry's grid reduced to
its first values and five of its eleven entries, so the suite stays within its time budget; every
entry is loaded as written; the full run is the README's)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from raytrade.cli import app
from raytrade.configfile import load_yaml
from raytrade.core.errors import ConfigError
from raytrade.tune.compare import CompareConfig, run_compare, survives
from raytrade.tune.walkforward_job import prepare

ROOT = Path(__file__).resolve().parents[2]


def test_the_verdict():
    assert survives(0.5, 0.2, 0.96) and not survives(0.5, 0.2, 0.94) and not survives(0.5, 0.5, 0.99)
    assert not survives(-0.1, 0.1, 0.99) and not survives(None, 0.1, 0.99)


def test_the_catalogue_config_is_valid_as_written(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.chdir(ROOT)
    config = load_yaml("configs/research/compare.yaml", CompareConfig)
    entries = config.configs()
    assert len(entries) >= 11
    names = {e.strategy.name for e in entries}
    assert {"ma_crossover", "pairs", "residual_reversion", "momentum_divergence", "equal_weight", "covered_call",
            "cash_secured_put", "crypto_trend", "ensemble_long_short"} <= names
    for entry in entries:
        prepare(entry, 1)


@pytest.mark.slow
def test_compare_runs_the_catalogue_cut_down(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.chdir(ROOT)
    source = yaml.safe_load((ROOT / "configs/research/compare.yaml").read_text())
    cut = []
    for path in [p for p in source["runs"] if any(k in p for k in ("_ma.", "equal_weight", "residual", "crypto", "covered_call"))]:
        wf = yaml.safe_load((ROOT / path).read_text())
        wf["strategy"]["grid"] = {k: (v[:2] if isinstance(v, list) else v) for k, v in wf["strategy"]["grid"].items()}
        if wf["strategy"]["name"] == "ma_crossover":
            wf["strategy"]["grid"] = {"fast": [10, 20], "slow": [100]}
        wf.pop("montecarlo", None)
        if wf["data"]["dataset"] == "us_equities_20":   # six stocks: 15 pairs instead of 190
            wf["data"]["symbols"] = ["KO", "PEP", "XOM", "CVX", "JPM", "BAC"]
        out = tmp_path / Path(path).name
        out.write_text(yaml.safe_dump(wf))
        cut.append(str(out))
    cfg_path = tmp_path / "compare.yaml"
    cfg_path.write_text(yaml.safe_dump({"name": "cut", "runs": cut, "output_dir": str(tmp_path / "runs")}))
    res = CliRunner().invoke(app, ["research", "compare", "-c", str(cfg_path), "--local"])
    assert res.exit_code == 0, res.output
    assert "survive the overfitting statistics" in res.output
    assert "covered_call: synthetic option prices" in res.output      # said in every report
    (folder,) = (tmp_path / "runs").glob("cut-*")
    rows = json.loads((folder / "compare.json").read_text())["rows"]
    assert len(rows) == len(cut) and all(r["windows"] >= 5 for r in rows)
    html = (folder / "compare.html").read_text()
    assert "deflated" in html and "synthetic option prices" in html
    # run again: every walk-forward is read back, the table is the same
    again = run_compare(load_yaml(cfg_path, CompareConfig), use_ray=False)
    assert again.table["oos_sharpe"].tolist() == [r["oos_sharpe"] for r in rows]


def test_a_missing_entry_is_named_before_any_work(tmp_path: Path):
    cfg_path = tmp_path / "compare.yaml"
    cfg_path.write_text(yaml.safe_dump({"name": "bad", "runs": [str(tmp_path / "nope.yaml")]}))
    res = CliRunner().invoke(app, ["research", "compare", "-c", str(cfg_path), "--local"])
    assert res.exit_code != 0 and "nope.yaml: config file not found" in res.output
    with pytest.raises(ConfigError, match="runs"):
        load_yaml(_write(tmp_path / "empty.yaml", {"name": "e", "runs": []}), CompareConfig)


def _write(path: Path, data: dict) -> Path:
    path.write_text(yaml.safe_dump(data))
    return path
