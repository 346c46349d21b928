"""Walk-forward on Ray Tune: one trial scores one (window, chunk of the grid).

Prices and the grid go into Ray's object store once (``tune.with_parameters``). Each trial writes
its scores as a checkpoint (NumPy ``.npz``) in the run folder, so an interrupted run restores with
``Tuner.restore`` and only the unfinished trials run again. Trials reuse their actors (Tune's
per-trial cost drops from about 2 s to about 0.13 s here) and a trial whose worker dies is retried.
"""

from __future__ import annotations

import contextlib
import logging
import os
import tempfile
import threading
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import numpy as np
from ray import tune

from raytrade.backtest.walkforward import (
    ChunkScore,
    Inputs,
    Task,
    WalkForwardResult,
    Window,
    assemble,
    resolve_objective,
    run_task,
)
from raytrade.core.errors import RaytradeError
from raytrade.strategies.registry import get_strategy
from raytrade.strategies.space import ParamBlock

EXPERIMENT = "walkforward"
PAYLOAD = "scores.npz"


class TrialFailed(RaytradeError):
    """A walk-forward trial failed after its retries."""


class RunInterrupted(RaytradeError):
    """The run stopped before every trial finished (Ctrl-C); running it again resumes it."""


def _trial(config: dict, *, inputs: Inputs, block: dict[str, np.ndarray], tasks: list[Task],
           windows: list[Window], strategy_name: str, allow_short: bool, objective: str,
           sample_ids: np.ndarray) -> None:
    # one INFO line per trial naming its checkpoint folder: the run folder and Tune's own state have it
    logging.getLogger("ray.train._internal.storage").setLevel(logging.WARNING)
    task = tasks[config["task"]]
    strategy = get_strategy(strategy_name, allow_short=allow_short)
    score = run_task(strategy, inputs, ParamBlock(block), task, windows, resolve_objective(objective), sample_ids)
    with tempfile.TemporaryDirectory() as tmp:
        np.savez(os.path.join(tmp, PAYLOAD), **score.to_arrays())
        tune.report({"window": task.window, "offset": task.offset, "sets": task.size,
                     "best_param_id": score.best, "best_score": float(score.is_score.max())},
                    checkpoint=tune.Checkpoint.from_directory(tmp))


@contextlib.contextmanager
def _environ(values: dict[str, str]) -> Iterator[None]:
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def run_on_tune(
    *,
    storage: Path,
    inputs: Inputs,
    block: ParamBlock,
    tasks: Sequence[Task],
    windows: Sequence[Window],
    strategy_name: str,
    allow_short: bool,
    objective: str,
    sample_ids: np.ndarray,
    max_concurrent: int | None = None,
    max_failures: int = 3,
    verbose: int = 1,
    on_progress: Callable[[int, int], None] | None = None,
) -> WalkForwardResult:
    """Run (or resume, when ``storage`` holds an interrupted run) every task as a Tune trial;
    ``on_progress(done, total)`` hears the finished trials (resumed ones included) about twice a
    second, from the checkpoints Tune writes."""
    trainable = tune.with_parameters(
        _trial, inputs=inputs, block=block.columns, tasks=list(tasks), windows=list(windows),
        strategy_name=strategy_name, allow_short=allow_short, objective=objective, sample_ids=sample_ids)
    trainable = tune.with_resources(trainable, {"cpu": 1})
    path = storage / EXPERIMENT
    if tune.Tuner.can_restore(str(path)):
        tuner = tune.Tuner.restore(str(path), trainable=trainable, resume_unfinished=True, resume_errored=True)
    else:
        tuner = tune.Tuner(
            trainable,
            param_space={"task": tune.grid_search(list(range(len(tasks))))},
            tune_config=tune.TuneConfig(reuse_actors=True, max_concurrent_trials=max_concurrent),
            run_config=tune.RunConfig(
                name=EXPERIMENT, storage_path=str(storage), verbose=verbose,
                # No CheckpointConfig(num_to_keep): each trial reports one checkpoint, and
                # num_to_keep makes Tune snapshot the whole experiment after every trial's checkpoint
                # (driver CPU taken from the trials). Tune snapshots periodically and on Ctrl-C.
                failure_config=tune.FailureConfig(max_failures=max_failures),
            ),
        )
    stop = threading.Event()
    if on_progress is not None:
        def watch() -> None:
            while True:
                done = _finished_trials(path)
                on_progress(done, len(tasks))
                if stop.wait(0.5):
                    on_progress(_finished_trials(path), len(tasks))
                    return

        threading.Thread(target=watch, name="walkforward-progress", daemon=True).start()
    # Tune's newer console output prints its experiment box and TensorBoard hint even when silent;
    # its older reporter honours verbose=0
    quiet = {"RAY_AIR_NEW_OUTPUT": "0"} if verbose == 0 else {}
    try:
        with _environ(quiet):
            grid = tuner.fit()
    finally:
        stop.set()
    errors = [r for r in grid if r.error is not None]
    if errors:
        raise TrialFailed(f"walk-forward trial {errors[0].config} failed after {max_failures} retries: "
                          f"{errors[0].error}")
    # An interrupted grid holds only the trials Tune had started: count against all of them.
    unfinished = len(tasks) - sum(r.checkpoint is not None and r.error is None for r in grid)
    if unfinished:
        raise RunInterrupted(f"interrupted with {unfinished} of {len(tasks)} trials unfinished; run the same "
                             f"command again to resume (finished trials are kept in {path})")
    scores: list[ChunkScore] = []
    for result in grid:
        with result.checkpoint.as_directory() as d, np.load(os.path.join(d, PAYLOAD)) as data:
            scores.append(ChunkScore.from_arrays({k: data[k] for k in data.files}))
    if len(scores) != len(tasks):
        raise TrialFailed(f"expected {len(tasks)} trial results, got {len(scores)}")
    return assemble(scores, block, windows)


def _finished_trials(experiment: Path) -> int:
    """Trials of the experiment folder that reported their (single, final) checkpoint."""
    try:
        return sum(1 for d in experiment.iterdir() if d.is_dir() and any(d.glob("checkpoint_*")))
    except OSError:  # not created yet
        return 0
