"""`raytrade cluster up|status|down` with a real `ray start`, beside the test session's own Ray:
its own ports and temporary directory; `down` stops its processes and no other Ray's."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.integration, pytest.mark.slow]

PORT, DASHBOARD = 6391, 8291


def cli(*args: str, env: dict[str, str], timeout: int = 300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "raytrade.cli", *args], env=env, capture_output=True, text=True,
                          timeout=timeout)


def test_a_cluster_comes_up_takes_a_command_with_its_token_and_goes_down(ray_session, tmp_path: Path) -> None:
    import ray

    env = {k: v for k, v in os.environ.items() if k not in ("RAY_ADDRESS", "RAY_AUTH_TOKEN", "RAY_AUTH_MODE")}
    env["RAYTRADE_DATA_DIR"] = str(tmp_path / "data")
    up = cli("cluster", "up", "--cpus", "1", "--port", str(PORT), "--dashboard-port", str(DASHBOARD), env=env)
    try:
        assert up.returncode == 0, up.stderr
        assert f"GCS 127.0.0.1:{PORT}" in up.stdout and f"http://127.0.0.1:{DASHBOARD}" in up.stdout
        assert "RAY_AUTH_MODE=token" in up.stdout
        again = cli("cluster", "up", "--port", str(PORT + 1), env=env)
        assert again.returncode == 2 and "already up" in again.stderr
        assert cli("cluster", "status", env=env).returncode == 0
        # a driver joins it with the token, as `up` says
        token = subprocess.run([str(Path(sys.executable).with_name("ray")), "get-auth-token"], capture_output=True,
                               text=True, env=env, timeout=60).stdout.strip().splitlines()[-1]
        probe = subprocess.run([sys.executable, "-c", "import ray; ray.init(); "
                                "print('CPUS', ray.cluster_resources()['CPU'])"],
                               env={**env, "RAY_ADDRESS": f"127.0.0.1:{PORT}", "RAY_AUTH_MODE": "token",
                                    "RAY_AUTH_TOKEN": token}, capture_output=True, text=True, timeout=120)
        assert "CPUS 1.0" in probe.stdout, probe.stderr[-2000:]
    finally:
        down = cli("cluster", "down", env=env)
    assert down.returncode == 0 and "stopped the cluster at 127.0.0.1:" in down.stdout, down.stderr
    assert cli("cluster", "status", env=env).returncode == 1
    assert ray.is_initialized() and ray.cluster_resources().get("CPU", 0) >= 1   # the session's Ray is untouched
    gone = cli("cluster", "down", env=env)
    assert gone.returncode == 2 and "no cluster started" in gone.stderr

