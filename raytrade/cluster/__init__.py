"""One place that connects to Ray: a cluster when ``RAY_ADDRESS`` (or an address) is given, else a
local instance; always in the raytrade namespace, with the runtime_env the platform uses.

Token authentication (Ray >= 2.52; on by default for clusters started with ``ray start`` in Ray
2.60): the cluster runs with ``RAY_AUTH_MODE=token``; a client reaching it must have the same
token, from ``RAY_AUTH_TOKEN``, from the file named by ``RAY_AUTH_TOKEN_PATH``, or from Ray's
default token file (``ray get-auth-token`` prints it on the head node). raytrade passes nothing
itself: Ray reads these from the environment. A local ``ray.init()`` makes its own token.
"""

from __future__ import annotations

import logging
import os
from typing import Any

from raytrade.core.errors import ClusterError

NAMESPACE = "raytrade"
# Each Ray worker process runs one single-threaded kernel; numba and BLAS must not each spawn a
# thread per core on top of Ray's own parallelism.
WORKER_ENV_VARS = {"NUMBA_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1",
                   "MKL_NUM_THREADS": "1"}


# Run by every worker process at start (a job-level runtime_env key only; see worker_setup.py).
WORKER_SETUP_HOOK = "raytrade.cluster.worker_setup.quiet_unraisable_sigterm"


def runtime_env(extra: dict[str, Any] | None = None, *, job: bool = False) -> dict[str, Any]:
    """The runtime_env raytrade's tasks and actors run with (``extra`` merged on top); ``job`` for
    a driver's or a job submission's, which also names the worker setup hook."""
    env: dict[str, Any] = {"env_vars": dict(WORKER_ENV_VARS)}
    if job:
        env["worker_process_setup_hook"] = WORKER_SETUP_HOOK
    for key, value in (extra or {}).items():
        if key == "env_vars":
            env["env_vars"].update(value)
        else:
            env[key] = value
    return env


def in_submitted_job() -> bool:
    """True in the driver of a job submitted through the Ray Jobs API."""
    return "RAY_JOB_CONFIG_JSON_ENV_VAR" in os.environ


def connect(
    address: str | None = None,
    *,
    num_cpus: int | None = None,
    extra_runtime_env: dict[str, Any] | None = None,
    include_dashboard: bool | None = None,
    dashboard_port: int | None = None,
) -> dict[str, Any]:
    """Connect to (or start) Ray once per process; return a description of what was reached.

    ``address`` wins over ``RAY_ADDRESS``; with neither, a local instance is started with
    ``num_cpus`` (default: all cores) and its dashboard on ``dashboard_port`` (default:
    ``RAYTRADE_DASHBOARD_PORT``, else Ray's 8265 or the next free port). Calling again when Ray is
    up returns the current one.
    """
    import ray

    target = address or os.environ.get("RAY_ADDRESS") or None
    if not ray.is_initialized():
        kwargs: dict[str, Any] = {
            "namespace": NAMESPACE,
            # Inside a submitted job the submission's runtime_env applies; Ray refuses a second one.
            "runtime_env": None if in_submitted_job() else runtime_env(extra_runtime_env, job=True),
            "log_to_driver": True,
            "configure_logging": True,
            "logging_level": "WARNING",
        }
        if target:
            kwargs["address"] = target
        else:
            kwargs["num_cpus"] = num_cpus
            # a local instance makes its own token: Ray's notice that token auth is on says nothing to do
            logging.getLogger(_TOKEN_SETUP_LOGGER).addFilter(_local_token_notice)
            if include_dashboard is not None:
                kwargs["include_dashboard"] = include_dashboard
            port = dashboard_port or (int(os.environ["RAYTRADE_DASHBOARD_PORT"])
                                      if os.environ.get("RAYTRADE_DASHBOARD_PORT") else None)
            if port is not None:
                kwargs["dashboard_port"] = port
        try:
            context = ray.init(**kwargs)
            _state["dashboard"] = _as_url(getattr(context, "dashboard_url", None))
        except Exception as exc:  # Ray raises its own AuthenticationError besides the connection errors
            from raytrade.cluster.jobs import AUTH_HINT, is_auth_error

            where = target or "a local instance"
            if is_auth_error(exc):
                raise ClusterError(f"Ray at {where} refused us: {AUTH_HINT}") from None
            if isinstance(exc, ConnectionError | RuntimeError | ValueError):
                raise ClusterError(f"cannot start or reach Ray at {where}: {exc}") from None
            raise
    ctx = ray.get_runtime_context()
    return {
        "address": target or "local",
        "namespace": ctx.namespace,
        "cpus": int(ray.cluster_resources().get("CPU", 0)),
        "dashboard": _state.get("dashboard"),
    }


_state: dict[str, str | None] = {}
_TOKEN_SETUP_LOGGER = "ray._private.authentication.authentication_token_setup"


def _local_token_notice(record: logging.LogRecord) -> bool:
    """Drop Ray's "Token authentication is enabled for this Ray cluster" notice (a local start)."""
    return "Token authentication is enabled for this Ray cluster" not in record.getMessage()


def _as_url(address: str | None) -> str | None:
    if not address:
        return None
    return address if address.startswith("http") else f"http://{address}"


def shutdown() -> None:
    import ray

    if ray.is_initialized():
        ray.shutdown()


__all__ = ["NAMESPACE", "WORKER_ENV_VARS", "WORKER_SETUP_HOOK", "connect", "in_submitted_job", "runtime_env", "shutdown"]
