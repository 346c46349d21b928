"""Shared fixtures: one Ray instance per test session, started only by the tests that need it."""

from __future__ import annotations

import os
import sys

import pytest


@pytest.fixture(scope="session")
def ray_session():
    """A local Ray instance with 2 CPUs, shared by every test that asks for it."""
    os.environ.setdefault("RAY_ENABLE_UV_RUN_RUNTIME_ENV", "0")
    # The actors inherit the environment Ray starts with: a test key for engines that sign
    # checkpoints of the audit chain (a real one comes from the deployment's secrets).
    os.environ.setdefault("RAYTRADE_AUDIT_KEY", "raytrade-test-audit-key-not-a-secret-0123456789")
    # As in an activated venv: job drivers started by this instance run the `python` on PATH.
    bindir = os.path.dirname(sys.executable)
    if not os.environ.get("PATH", "").startswith(bindir):
        os.environ["PATH"] = bindir + os.pathsep + os.environ.get("PATH", "")
    from raytrade import cluster

    info = cluster.connect(num_cpus=2, include_dashboard=True)
    yield info
    cluster.shutdown()
