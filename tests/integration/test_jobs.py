"""Research jobs submitted through the Ray Jobs API of a running (token-authenticated) instance."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from raytrade.cluster import jobs

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def cli(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "RAY_ADDRESS"}
    return subprocess.run([sys.executable, "-m", "raytrade.cli", *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=300)


def project(tmp_path: Path, grid: dict) -> Path:
    root = tmp_path / "project"
    root.mkdir(parents=True)
    (root / "wf.yaml").write_text(yaml.safe_dump({
        "name": "wf_job",
        "data": {"dataset": "us_equities_20", "symbols": ["KO", "XOM"], "start": "2005-01-01"},
        "strategy": {"name": "ma_crossover", "allow_short": False, "grid": grid},
        "walkforward": {"window": 1500},
        "pbo_blocks": 8,
        "montecarlo": {"paths": 200},
        "output_dir": str(tmp_path / "runs"),
    }))
    return root


def submitted_id(stdout: str) -> str:
    match = re.search(r"submitted (raysubmit_\w+)", stdout)
    assert match, stdout
    return match.group(1)


def test_submit_follow_and_stop(ray_session, tmp_path):
    address = ray_session["dashboard"]
    assert address and address.startswith("http")
    root = project(tmp_path, {"fast": [5, 10, 20], "slow": [60, 120]})
    res = cli("research", "walkforward", "--config", "wf.yaml", "--address", address, "--storage",
              str(tmp_path / "store"), cwd=root)
    assert res.returncode == 0, res.stderr
    job = submitted_id(res.stdout)
    final = jobs.wait(address, job, timeout_s=240)
    assert final["status"] == "SUCCEEDED", jobs.logs(address, job)[-3000:]
    status = cli("research", "status", job, "--address", address, cwd=root)
    assert status.returncode == 0 and "SUCCEEDED" in status.stdout
    logs = cli("research", "logs", job, "--address", address, cwd=root)
    assert "stitched out of sample" in logs.stdout
    (folder,) = (tmp_path / "runs").glob("wf_job-*")
    assert json.loads((folder / "summary.json").read_text())["n_trials"] == 6
    # the job stored its run folder (--storage), and fetch brings it home: read directly (this
    # machine sees the storage), then through a helper job's logs (as from a laptop that does not)
    assert f"stored in {tmp_path / 'store'}" in res.stdout and f"research fetch {job}" in res.stdout
    stored = tmp_path / "store" / folder.name
    assert sorted(p.name for p in stored.iterdir()) == sorted(p.name for p in folder.iterdir())
    for how, into in (([], "home"), (["--through-logs"], "laptop")):
        got = cli("research", "fetch", job, "--address", address, "--into", str(tmp_path / into), *how, cwd=root)
        assert got.returncode == 0, got.stderr
        fetched = tmp_path / into / folder.name
        assert f"fetched {stored}" in got.stdout.replace("\n", "")
        assert (fetched / "report.html").read_bytes() == (folder / "report.html").read_bytes()
        assert sorted(p.name for p in fetched.iterdir()) == sorted(p.name for p in folder.iterdir())

    big = project(tmp_path / "second", {"fast": {"start": 2, "stop": 60}, "slow": {"start": 61, "stop": 200}})
    res = cli("research", "walkforward", "--config", "wf.yaml", "--address", address, cwd=big)
    job2 = submitted_id(res.stdout)
    deadline = time.time() + 60
    while jobs.status(address, job2)["status"] == "PENDING" and time.time() < deadline:
        time.sleep(0.5)
    stop = cli("research", "stop", job2, "--address", address, cwd=big)
    assert stop.returncode == 0 and "stop requested" in stop.stdout
    assert jobs.wait(address, job2, timeout_s=60)["status"] == "STOPPED"


def test_fetch_refuses_what_it_cannot_fetch(ray_session, tmp_path):
    address = ray_session["dashboard"]
    helper = jobs.submit_entrypoint(address, "echo no run folder here")
    jobs.wait(address, helper, timeout_s=60)
    res = cli("research", "fetch", helper, "--address", address, cwd=tmp_path)
    assert res.returncode == 2 and "printed no stored run folder" in res.stderr and "Traceback" not in res.stderr
    failed = jobs.submit_entrypoint(address, "exit 3")
    jobs.wait(address, failed, timeout_s=60)
    res = cli("research", "fetch", failed, "--address", address, cwd=tmp_path)
    assert res.returncode == 2 and "is FAILED: only a job that succeeded" in res.stderr


def test_a_helper_job_that_finds_nothing_says_so(ray_session, tmp_path):
    from raytrade.cluster.storage import sender_entrypoint, unpack

    address = ray_session["dashboard"]
    helper = jobs.submit_entrypoint(address, sender_entrypoint(str(tmp_path / "gone")))
    assert jobs.wait(address, helper, timeout_s=60)["status"] == "FAILED"
    with pytest.raises(Exception, match=r"no run folder at .*gone on the cluster"):
        unpack(jobs.logs(address, helper), tmp_path / "into", str(tmp_path / "gone"))


def test_unknown_job_and_wrong_address(ray_session, tmp_path):
    res = cli("research", "status", "raysubmit_doesnotexist", "--address", ray_session["dashboard"], cwd=tmp_path)
    assert res.returncode == 2 and "no job 'raysubmit_doesnotexist'" in res.stderr
    res = cli("research", "status", "x", "--address", "127.0.0.1:6379", cwd=tmp_path)
    assert res.returncode == 2 and "Jobs API address" in res.stderr


def test_config_outside_the_working_dir_is_refused(ray_session, tmp_path):
    root = project(tmp_path, {"fast": [5], "slow": [60]})
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    res = cli("research", "walkforward", "--config", str(root / "wf.yaml"), "--address", ray_session["dashboard"],
              cwd=elsewhere)
    assert res.returncode == 2 and "must lie inside the working directory" in res.stderr
