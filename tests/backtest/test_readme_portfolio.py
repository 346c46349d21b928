"""The README's portfolio and pairs section, run as written: its Python blocks and its commands."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
from typer.testing import CliRunner

from raytrade.cli import app

ROOT = Path(__file__).resolve().parents[2]
SECTION = "## Portfolio strategies and pairs trading"


def blocks(kind: str) -> list[str]:
    text = (ROOT / "README.md").read_text()
    part = text[text.index(SECTION) + len(SECTION):]
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
    (bash,) = blocks("bash")
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
