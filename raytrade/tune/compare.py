"""`raytrade research compare`: the strategy catalogue walked forward side by side.

Each entry of a compare config is a walk-forward config (``configs/research/walkforward_*.yaml``);
each is run on Tune (or in this process) exactly as `raytrade research walkforward` runs it (a
finished run with the same config and data is read back, not recomputed) and summarised in one
row: stitched out-of-sample Sharpe, CAGR and maximum drawdown, the mean out-of-sample annual
turnover, PBO, the deflated Sharpe ratio of the full-history best set, and a verdict. A strategy
*survives* only when all three hold: stitched out-of-sample Sharpe > 0, PBO < 50 % and deflated
Sharpe >= 0.95 (its best set beats the best of as many unskilled trials at 95 %).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
from pydantic import BaseModel, ConfigDict, Field

from raytrade.analytics.report import table_html, write_report
from raytrade.backtest.runfolder import new_run_folder, write_json, write_yaml
from raytrade.configfile import load_yaml
from raytrade.core.errors import ConfigError
from raytrade.tune.walkforward_job import WalkForwardConfig, run_walkforward_job

COLUMNS = ("entry", "strategy", "sets", "windows", "oos_sharpe", "oos_cagr", "oos_max_drawdown", "oos_turnover", "pbo",
           "deflated_sharpe", "survives", "note", "run")


class CompareConfig(BaseModel):
    """A name, the walk-forward configs to run (paths, relative to the working directory) and where
    run folders go."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(pattern=r"^[A-Za-z0-9_.-]{1,80}$")
    runs: list[Path] = Field(min_length=1)
    output_dir: Path = Path("runs")

    def configs(self) -> list[WalkForwardConfig]:
        """Every walk-forward config, read and checked before any runs (ConfigError naming the file)."""
        out = []
        for path in self.runs:
            cfg = load_yaml(path, WalkForwardConfig)
            out.append(cfg.model_copy(update={"output_dir": self.output_dir}))
        names = [c.name for c in out]
        if len(set(names)) != len(names):
            raise ConfigError(f"runs: two walk-forward configs share the name {next(n for n in names if names.count(n) > 1)!r}")
        return out


@dataclass(frozen=True, slots=True)
class CompareRun:
    folder: Path
    table: pd.DataFrame


def survives(sharpe: float | None, pbo: float | None, dsr: float | None) -> bool:
    """The verdict of the module docstring (a missing figure fails it)."""
    return sharpe is not None and pbo is not None and dsr is not None and sharpe > 0 and pbo < 0.5 and dsr >= 0.95


def summary_row(config: WalkForwardConfig, summary: dict, folder: Path) -> dict:
    """One row of the table from a walk-forward summary."""
    oos, pbo, dsr = summary["oos"], summary["pbo"]["pbo"], summary["dsr"]["probability"]
    return {"entry": config.name.removeprefix("walkforward_"), "strategy": config.strategy.name, "sets": summary["n_trials"], "windows": len(summary["windows"]),
            "oos_sharpe": oos["sharpe"], "oos_cagr": oos["annual_return"], "oos_max_drawdown": oos["max_drawdown"],
            "oos_turnover": oos.get("turnover"), "pbo": pbo, "deflated_sharpe": dsr,
            "survives": survives(oos["sharpe"], pbo, dsr), "note": summary.get("note", ""), "run": str(folder)}


def run_compare(config: CompareConfig, *, cpus: int = 1, use_ray: bool = True, rerun: bool = False,
                on_run: Callable[[str, int, int], None] | None = None) -> CompareRun:
    """Run every walk-forward of ``config`` and write ``compare.html``, ``compare.csv`` and
    ``compare.json`` into a new run folder. ``on_run(name, done, total)`` hears each finish."""
    configs = config.configs()
    rows = []
    for i, wf in enumerate(configs):
        run = run_walkforward_job(wf, cpus=cpus, use_ray=use_ray, rerun=rerun, verbose=0)
        rows.append(summary_row(wf, run.summary, run.folder))
        if on_run is not None:
            on_run(wf.name, i + 1, len(configs))
    table = pd.DataFrame(rows, columns=list(COLUMNS))
    folder = new_run_folder(config.output_dir, config.name)
    write_yaml(folder / "config.yaml", config.model_dump(mode="json"))
    table.to_csv(folder / "compare.csv", index=False)
    write_json(folder / "compare.json", {"rows": rows})
    shown = table.drop(columns=["run", "note"]).set_index("entry")
    kept = int(shown["survives"].sum())
    noted = table[table["note"].astype(bool)]
    notes = "".join(f"<p><strong>{row.entry}</strong>: {row.note}.</p>" for row in noted.itertuples())
    write_report(folder / "compare.html", f"{config.name}: the catalogue walked forward", [
        ("Out of sample, after the overfitting statistics", (
            f"<p>{len(shown)} strategies, each walked forward on its own grid; {kept} survive (stitched "
            "out-of-sample Sharpe &gt; 0, PBO &lt; 50 % and deflated Sharpe &ge; 0.95). CAGR and drawdown "
            "are fractions; turnover is the mean out-of-sample traded notional over equity a year.</p>"
            + table_html(shown) + notes)),
    ])
    return CompareRun(folder, table)
