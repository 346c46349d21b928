"""The README's analytics and tax section, run as written: its Python blocks, and its three
commands (a backtest, the report of its run folder, the report of an engine's log)."""

from __future__ import annotations

import asyncio
import re
import shlex
from pathlib import Path

import pytest
from typer.testing import CliRunner

from raytrade.cli import app
from raytrade.storage import store_from_url
from tests.analytics.test_book import script

ROOT = Path(__file__).resolve().parents[2]
SECTION = "## Analytics and tax"


def blocks(kind: str) -> list[str]:
    text = (ROOT / "README.md").read_text()
    part = text[text.index(SECTION) + len(SECTION):]
    part = part[:part.index("\n## ")]
    return re.findall(rf"```{kind}\n(.*?)```", part, flags=re.S)


def test_the_python_examples_run_as_written() -> None:
    for code in blocks("python"):
        exec(compile(code, "README.md", "exec"), {})


@pytest.mark.slow
def test_the_commands_run_as_written(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "configs").symlink_to(ROOT / "configs")
    monkeypatch.chdir(tmp_path)
    url = f"sqlite:///{tmp_path / 'events.sqlite'}"

    async def fill_log() -> None:
        async with store_from_url(url) as store:
            await store.append(script())

    asyncio.run(fill_log())
    monkeypatch.setenv("RAYTRADE_DATABASE_URL", url)
    (bash,) = blocks("bash")
    lines = [ln for ln in bash.splitlines() if ln.strip()]
    assert len(lines) == 3
    for line in lines:
        args = []
        for a in shlex.split(line, comments=True)[1:]:  # the shell's glob, done here
            args += sorted(str(p) for p in Path(".").glob(a)) if "*" in a else [a]
        res = CliRunner().invoke(app, args)
        assert res.exit_code == 0, (line, res.output)
    (run,) = (tmp_path / "runs").glob("ma_crossover_aapl_msft-*")
    page = (run / "analytics.html").read_text()
    for heading in ("P&amp;L by sector", "Brinson-Fachler by sector", "P&amp;L by market regime", "Fama-French",
                    "Correlation clusters", "Drawdowns of 5% or more", "closed lot pieces"):
        assert heading in page, heading
    assert "Information Technology: +$" in page and "data:image/png;base64" in page and "not available" not in page
    live = (tmp_path / "runs" / "analytics" / "analytics.html").read_text()
    assert "P&amp;L by strategy" in live and "trend: -$11 (100% of returns" in live and "manual: +$0 (0% of" in live
    bad = CliRunner().invoke(app, ["analytics", "report", str(tmp_path / "nowhere")])
    assert bad.exit_code == 2 and "not a backtest run folder" in bad.output and "Traceback" not in bad.output
