"""What every Ray worker process of raytrade runs once at start (Ray's ``worker_process_setup_hook``).

Ray stops a worker with SIGTERM (a finished Tune trial, the end of a job, ``ray.shutdown``); its
handler raises ``SystemExit`` on the worker's main thread wherever that thread is. When it lands
inside a weakref callback or a ``__del__`` run by the garbage collector, Python cannot raise it:
it prints "Exception ignored in ..." with a traceback and goes on, so the exit is lost and the
traceback reaches the user's terminal through the driver's log stream (a walk-forward printed one
for a trial that had finished). :func:`quiet_unraisable_sigterm` keeps that exit instead: it prints
nothing for that one case and, from a thread a moment later, sends the process SIGTERM again, which
Ray's handler then raises at an ordinary line of the main thread, as Ray intended (sent at once, the
signal would be handled inside the hook itself, still in the callback). Every other unraisable exception is reported as before.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
from typing import Any

# what Ray's handler puts on its SystemExit (ray._private.worker main_loop's sigterm_handler)
_RAY_SIGTERM_MESSAGE = "The process receives a SIGTERM"
_RESEND_AFTER_S = 0.05


def is_lost_sigterm_exit(unraisable: Any) -> bool:
    """True for Ray's SIGTERM ``SystemExit`` raised where Python could only report it."""
    exc = getattr(unraisable, "exc_value", None)
    return isinstance(exc, SystemExit) and _RAY_SIGTERM_MESSAGE in str(getattr(exc, "ray_terminate_msg", ""))


def quiet_unraisable_sigterm() -> None:
    """Install the hook (idempotent); the previous ``sys.unraisablehook`` handles everything else."""
    previous = sys.unraisablehook
    if getattr(previous, "_raytrade", False):
        return

    def hook(unraisable: Any) -> None:
        if is_lost_sigterm_exit(unraisable):
            # no new thread while the interpreter shuts down (RuntimeError): it is exiting anyway
            with contextlib.suppress(RuntimeError):
                threading.Timer(_RESEND_AFTER_S, os.kill, args=(os.getpid(), signal.SIGTERM)).start()
            return
        previous(unraisable)

    hook._raytrade = True  # type: ignore[attr-defined]
    sys.unraisablehook = hook


__all__ = ["is_lost_sigterm_exit", "quiet_unraisable_sigterm"]
