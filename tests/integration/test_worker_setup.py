"""Ray's SIGTERM reaching a worker inside a garbage-collector callback: quiet, and still an exit.

The fault is made for real: an actor's weakref callback is running (a sleep in it) when the test
sends the actor's process SIGTERM, as Ray's raylet does when it stops a worker.
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest

ray = pytest.importorskip("ray")


@ray.remote(num_cpus=0)
class Collected:
    """Drops an object whose weakref callback writes ``marker`` then runs ``action``."""

    def pid(self) -> int:
        return os.getpid()

    def collect(self, marker: str, action: str) -> str:
        import weakref

        class Box:
            pass

        def callback(_ref: object) -> None:
            Path(marker).write_text("in the callback")
            if action == "sleep":
                time.sleep(5)
            else:
                raise ValueError("a callback's own error is still reported")

        box = Box()
        ref = weakref.ref(box, callback)
        del box
        assert ref() is None
        time.sleep(20)
        return "still running"


def _err_log(pid: int) -> str:
    logs = Path(ray._private.worker._global_node.get_logs_dir_path())
    files = list(logs.glob(f"worker-*-{pid}.err"))
    assert files, f"no worker log for pid {pid} in {logs}"
    return "".join(f.read_text(errors="replace") for f in files)


def _in_callback(tmp_path: Path, action: str) -> tuple[object, int, object]:
    """An actor, its pid and its ``collect`` call, once the weakref callback is running."""
    actor = Collected.remote()
    pid = ray.get(actor.pid.remote())
    marker = tmp_path / "marker"
    running = actor.collect.remote(str(marker), action)
    deadline = time.monotonic() + 60
    while not marker.exists():
        assert time.monotonic() < deadline, f"{marker} never written"
        time.sleep(0.05)
    return actor, pid, running


def test_a_sigterm_inside_a_gc_callback_exits_without_a_traceback(ray_session, tmp_path: Path) -> None:
    _, pid, running = _in_callback(tmp_path, "sleep")
    os.kill(pid, signal.SIGTERM)
    # Python alone would report the exit as ignored and let the method run on to "still running"
    with pytest.raises(ray.exceptions.RayActorError):
        ray.get(running, timeout=60)
    text = _err_log(pid)
    assert "Traceback" not in text and "Exception ignored" not in text, text[-2000:]


def test_other_exceptions_in_callbacks_are_still_reported(ray_session, tmp_path: Path) -> None:
    actor, pid, running = _in_callback(tmp_path, "raise")
    deadline = time.monotonic() + 30
    while "a callback's own error is still reported" not in _err_log(pid):
        assert time.monotonic() < deadline, _err_log(pid)[-2000:]
        time.sleep(0.1)
    ray.kill(actor)
    with pytest.raises(ray.exceptions.RayActorError):
        ray.get(running, timeout=60)
