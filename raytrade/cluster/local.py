"""A local Ray cluster that outlives one command: ``raytrade cluster up`` / ``down``.

``up`` runs ``ray start --head`` with its own temporary directory, ports and dashboard on
127.0.0.1, and records them in ``<data dir>/cluster.json``; commands then join it through
``RAY_ADDRESS`` (the GCS address: commands run there; the dashboard URL: research commands are
submitted as jobs). ``down`` stops that cluster's processes only (found by its temporary
directory), where ``ray stop`` would stop every Ray on the machine.

Ray 2.60's ``ray start`` turns token authentication on: a client of the cluster needs
``RAY_AUTH_MODE=token`` and the token, which ``ray get-auth-token`` prints (``up`` says so).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from raytrade.core.errors import ClusterError


def _state_file() -> Path:
    from raytrade.storage.factory import data_dir

    return data_dir() / "cluster.json"


def _ray() -> str:
    exe = Path(sys.executable).with_name("ray")
    return str(exe) if exe.exists() else "ray"


def running() -> dict[str, Any] | None:
    """The cluster ``up`` recorded, when its processes still run; else None (a stale record goes)."""
    path = _state_file()
    if not path.exists():
        return None
    state = json.loads(path.read_text())
    if not _processes(state["temp_dir"]):
        path.unlink()
        return None
    return state


def up(*, cpus: int | None = None, port: int = 6380, dashboard_port: int = 8265,
       temp_dir: Path | None = None, timeout_s: float = 120.0) -> dict[str, Any]:
    """Start the head node; return ``{gcs, dashboard, temp_dir, cpus}``."""
    if (state := running()) is not None:
        raise ClusterError(f"a cluster started by raytrade is already up (GCS {state['gcs']}, dashboard "
                           f"{state['dashboard']}): `raytrade cluster down` first")
    tmp = (temp_dir or Path("/tmp") / f"raytrade-cluster-{port}").resolve()
    cmd = [_ray(), "start", "--head", f"--port={port}", "--node-ip-address=127.0.0.1",
           "--dashboard-host=127.0.0.1", f"--dashboard-port={dashboard_port}", f"--temp-dir={tmp}",
           "--disable-usage-stats"]
    if cpus is not None:
        cmd.append(f"--num-cpus={cpus}")
    env = {k: v for k, v in os.environ.items() if k != "RAY_ADDRESS"}
    try:
        res = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout_s, env=env)
    except subprocess.TimeoutExpired:
        raise ClusterError(f"`ray start` did not finish in {timeout_s:g} s") from None
    if res.returncode != 0:
        said = [ln for ln in (res.stderr + res.stdout).splitlines() if ln.strip()]
        raise ClusterError(f"`ray start` failed: {said[-1] if said else 'no output'} (ports {port} and "
                           f"{dashboard_port} must be free)")
    state = {"gcs": f"127.0.0.1:{port}", "dashboard": f"http://127.0.0.1:{dashboard_port}", "temp_dir": str(tmp),
             "cpus": cpus}
    path = _state_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(state))
    return state


def _psutil() -> Any:
    """psutil, as Ray bundles it (``import ray`` puts its third-party folder on the path)."""
    import importlib

    importlib.import_module("ray")   # first: it puts the bundled psutil on the path
    return importlib.import_module("psutil")


def _processes(temp_dir: str) -> list[Any]:
    psutil = _psutil()

    found = []
    for p in psutil.process_iter(["cmdline"]):
        try:
            if any(temp_dir in part for part in (p.info["cmdline"] or [])):
                found.append(p)
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
    return found


def down(grace_s: float = 10.0) -> dict[str, Any]:
    """Stop the cluster ``up`` started (SIGTERM, then SIGKILL after ``grace_s``); return its record."""
    psutil = _psutil()

    path = _state_file()
    if not path.exists():
        raise ClusterError("no cluster started by `raytrade cluster up` is recorded here")
    state = json.loads(path.read_text())
    procs = _processes(state["temp_dir"])
    for p in procs:
        try:
            p.terminate()
        except psutil.NoSuchProcess:
            continue
    _, alive = psutil.wait_procs(procs, timeout=grace_s)
    for p in alive:
        try:
            p.kill()
        except psutil.NoSuchProcess:
            continue
    psutil.wait_procs(alive, timeout=grace_s)
    deadline = time.monotonic() + grace_s
    while _processes(state["temp_dir"]) and time.monotonic() < deadline:  # children started late
        for p in _processes(state["temp_dir"]):
            try:
                p.kill()
            except psutil.NoSuchProcess:
                continue
        time.sleep(0.2)
    path.unlink()
    state["stopped"] = len(procs)
    return state
