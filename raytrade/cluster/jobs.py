"""Research jobs submitted to a Ray cluster through the Ray Jobs API.

An address that starts with ``http://`` or ``https://`` is a cluster's dashboard (Jobs API):
raytrade submits the command there as a Ray job, with the repository as its ``working_dir``.
Any other address (``host:6379``, ``ray://...``, ``auto``) is connected to directly. Inside a
submitted job Ray sets ``RAY_ADDRESS`` to the cluster's GCS address, so the job's own
``raytrade`` connects instead of submitting again.

Token authentication: the Jobs client sends the token Ray finds in ``RAY_AUTH_TOKEN``, the file
named by ``RAY_AUTH_TOKEN_PATH``, or Ray's default token file; nothing is passed on the command
line, so the token never lands in a log or in shell history.
"""

from __future__ import annotations

import shlex
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from raytrade.cluster import runtime_env as job_runtime_env
from raytrade.core.errors import ClusterError

# What a working_dir upload leaves behind: environments, results, caches, VCS data.
EXCLUDES = [".venv", "runs", ".git", "**/__pycache__", ".pytest_cache", ".ruff_cache", ".hypothesis",
            "*.egg-info"]


def is_jobs_address(address: str | None) -> bool:
    return address is not None and address.startswith(("http://", "https://"))


AUTH_HINT = ("the cluster uses token authentication: set RAY_AUTH_MODE=token and RAY_AUTH_TOKEN (or "
             "RAY_AUTH_TOKEN_PATH, a file holding it); `ray get-auth-token` on the head node prints the token")
BUSY = "No available agent to submit job"


def is_auth_error(exc: BaseException) -> bool:
    """Whether ``exc`` is Ray refusing us for want of a (right) token."""
    text = f"{type(exc).__name__} {exc}".lower()
    return "authentication" in text or "unauthenticated" in text or "401" in text.split()


def _client(address: str):
    from ray.job_submission import JobSubmissionClient

    try:
        return JobSubmissionClient(address)
    except Exception as exc:  # Ray raises its own AuthenticationError besides the connection errors
        if is_auth_error(exc):
            raise ClusterError(f"the Ray Jobs API at {address} refused us: {AUTH_HINT}") from None
        if isinstance(exc, ConnectionError | RuntimeError | ValueError):
            raise ClusterError(f"cannot reach the Ray Jobs API at {address}: {exc}") from None
        raise


def submit(address: str, argv: Sequence[str], *, working_dir: Path, extra_runtime_env: dict[str, Any] | None = None,
           submission_id: str | None = None) -> str:
    """Submit ``raytrade ARGV...`` as a job running in ``working_dir`` (uploaded); return its id."""
    runtime_env = job_runtime_env({"working_dir": str(working_dir), "excludes": EXCLUDES, **(extra_runtime_env or {})},
                                  job=True)
    entrypoint = "python -m raytrade.cli " + " ".join(shlex.quote(a) for a in argv)
    return submit_entrypoint(address, entrypoint, runtime_env, submission_id=submission_id)


def submit_entrypoint(address: str, entrypoint: str, runtime_env: dict[str, Any] | None = None, *,
                      submission_id: str | None = None) -> str:
    """Submit a shell ``entrypoint`` as a job (retried while the cluster's job agent starts); its id."""
    client = _client(address)
    for delay in (*RETRY_DELAYS_S, None):
        try:
            return client.submit_job(entrypoint=entrypoint, runtime_env=runtime_env, submission_id=submission_id,
                                     metadata={"submitted_by": "raytrade"})
        except Exception as exc:
            if is_auth_error(exc):
                raise ClusterError(f"job submission to {address} refused: {AUTH_HINT}") from None
            if not isinstance(exc, RuntimeError):
                raise
            if BUSY in str(exc) and delay is not None:  # a cluster just started: its job agent is not up yet
                time.sleep(delay)
                continue
            raise ClusterError(f"job submission to {address} failed: {exc}") from None
    raise AssertionError("unreachable")


# Waits between submissions the cluster's job agent was not ready for (seconds, about a minute in all).
RETRY_DELAYS_S = (0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 30.0)


def _call(address: str, method: str, job_id: str) -> Any:
    try:
        return getattr(_client(address), method)(job_id)
    except Exception as exc:
        if is_auth_error(exc):
            raise ClusterError(f"{method} of job {job_id!r} on {address} refused: {AUTH_HINT}") from None
        if not isinstance(exc, RuntimeError):
            raise
        message = str(exc)
        if "does not exist" in message or "404" in message:
            raise ClusterError(f"no job {job_id!r} on {address}") from None
        raise ClusterError(f"{method} of job {job_id!r} on {address} failed: {message}") from None


def status(address: str, job_id: str) -> dict[str, Any]:
    info = _call(address, "get_job_info", job_id)
    return {"job": job_id, "status": str(info.status.value if hasattr(info.status, "value") else info.status),
            "entrypoint": info.entrypoint, "message": info.message,
            "start_time_ms": info.start_time, "end_time_ms": info.end_time}


def logs(address: str, job_id: str) -> str:
    return _call(address, "get_job_logs", job_id)


def stop(address: str, job_id: str) -> bool:
    return bool(_call(address, "stop_job", job_id))


def wait(address: str, job_id: str, *, timeout_s: float = 3600.0, poll_s: float = 1.0) -> dict[str, Any]:
    """Poll until the job ends (or ``timeout_s`` passes); return its final status."""
    import time

    deadline = time.monotonic() + timeout_s
    while True:
        info = status(address, job_id)
        if info["status"] in ("SUCCEEDED", "FAILED", "STOPPED") or time.monotonic() > deadline:
            return info
        time.sleep(poll_s)
