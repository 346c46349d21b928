"""The README's portfolio, pairs and crypto sections, run as written: their Python blocks and commands."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
from typer.testing import CliRunner

from raytrade.cli import app

ROOT = Path(__file__).resolve().parents[2]
SECTION = "## Portfolio strategies and pairs trading"
CRYPTO = "## Crypto around the clock"


def blocks(kind: str, section: str = SECTION) -> list[str]:
    text = (ROOT / "README.md").read_text()
    part = text[text.index(section) + len(section):]
    part = part[:part.index("\n## ")]
    return re.findall(rf"```{kind}\n(.*?)```", part, flags=re.S)


def test_the_python_examples_run_as_written() -> None:
    code = blocks("python")
    assert len(code) == 2
    for block in code:
        exec(compile(block, "README.md", "exec"), {})


@pytest.mark.slow
def test_the_commands_run_as_written(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "configs").symlink_to(ROOT / "configs")
    monkeypatch.chdir(tmp_path)
    bash, stat_arb = blocks("bash")
    lines = [ln for ln in bash.splitlines() if ln.strip()]
    assert len(lines) == 2
    backtest = CliRunner().invoke(app, shlex.split(lines[0])[1:])
    assert backtest.exit_code == 0, backtest.output
    assert "PORTFOLIO" in backtest.output and "long and short" in backtest.output
    # the walk-forward as written, in one process (--local: the same summary as on Tune, see
    # tests/integration/test_walkforward_tune.py), to keep the suite's Ray time down
    wf = CliRunner().invoke(app, [*shlex.split(lines[1])[1:], "--local"])
    assert wf.exit_code == 0, wf.output
    assert "stitched out of sample" in wf.output and "PBO" in wf.output
    quoted = {"walkforward_residual_reversion": "Sharpe 0.14, CAGR 1.0%", "walkforward_momentum_divergence":
              "Sharpe -0.16, CAGR -2.6%"}
    for line in filter(str.strip, stat_arb.splitlines()):
        res = CliRunner().invoke(app, [*shlex.split(line)[1:], "--local"])
        assert res.exit_code == 0, res.output
        name = shlex.split(line)[-1].split("/")[-1].removesuffix(".yaml")
        assert f"stitched out of sample: {quoted[name]}" in res.output   # the figures the README quotes


def test_the_crypto_section_runs_as_written(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (code,) = blocks("python", CRYPTO)
    exec(compile(code, "README.md", "exec"), {})
    (tmp_path / "configs").symlink_to(ROOT / "configs")
    monkeypatch.chdir(tmp_path)
    (bash,) = blocks("bash", CRYPTO)
    res = CliRunner().invoke(app, shlex.split(bash.strip())[1:])
    assert res.exit_code == 0, res.output
    assert "ETH-BTC" in res.output and "long and short" in res.output
    import json

    (run,) = (tmp_path / "runs").glob("crypto_eth_trend_vol-*")
    book = json.loads((run / "metrics.json").read_text())["PORTFOLIO"]
    assert 0.28 < book["annual_volatility"] < 0.34 and book["round_trips"] == 634   # the figures the README quotes


def test_the_overlay_section_runs_as_written_and_its_figures_hold() -> None:
    code, strategy = blocks("python", "## Options overlays: covered calls and cash-secured puts")
    scope: dict = {}
    exec(compile(code, "README.md", "exec"), scope)
    calls: dict = {}
    exec(compile(strategy, "README.md", "exec"), calls)
    options, stats = calls["options"], calls["calls"].stats()
    assert (len(options), round(options["pnl"].sum()), round(options["pnl"].gt(0).mean(), 2)) == (616, -48470, 0.75)
    assert [round(v, 3) for v in stats.loc["annual_return"]] == [0.087, 0.098]
    assert [round(v, 2) for v in stats.loc["sharpe"]] == [0.70, 0.73]
    s, p = scope["result"].summary, scope["puts"].summary
    assert (s["sales"], s["assignments"], round(s["premium_income"])) == (154, 47, 21062)
    assert round(s["annualised_premium_yield"], 3) == 0.090 and round(s["total_return"], 3) == 2.465
    assert round(s["benchmark_total_return"], 3) == 2.463
    assert p["assignments"] == 23 and round(p["annualised_premium_yield"], 3) == 0.095 and round(p["total_return"], 2) == 0.60
