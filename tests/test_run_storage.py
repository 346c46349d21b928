"""Run folders copied to a storage location (a path or a pyarrow filesystem URI) and back, and the
helper job's transfer through logs, without a cluster (the cluster paths: tests/integration/test_jobs.py)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from raytrade.cluster.storage import (
    BEGIN,
    END,
    MARKER,
    fetch_direct,
    reachable,
    sender_entrypoint,
    store,
    stored_location,
    unpack,
)
from raytrade.core.errors import ClusterError


def run_folder(root: Path) -> Path:
    folder = root / "wf-abc123"
    (folder / "tune").mkdir(parents=True)
    (folder / "report.html").write_text("<html>report</html>")
    (folder / "tune" / "trial.json").write_text('{"a": 1}')
    return folder


@pytest.mark.parametrize("as_uri", [False, True])
def test_store_and_fetch_back_by_path_and_by_uri(tmp_path: Path, as_uri: bool) -> None:
    folder = run_folder(tmp_path / "job")
    storage = f"file://{tmp_path / 'store'}" if as_uri else str(tmp_path / "store")
    location = store(folder, storage)
    assert location == f"{storage}/wf-abc123" and reachable(location)
    logs = f"noise\n{MARKER}{tmp_path}/old\nmore\n{MARKER}{location}\n"
    assert stored_location(logs) == location and stored_location("nothing") is None
    home = fetch_direct(location, tmp_path / "home")
    assert (home / "tune" / "trial.json").read_text() == '{"a": 1}' and (home / "report.html").exists()
    with pytest.raises(ClusterError, match="no run folder at"):
        fetch_direct(f"{storage}/missing", tmp_path / "home")


def test_the_helper_sends_the_folder_through_its_output(tmp_path: Path) -> None:
    """The helper job's command, run by a shell here as the cluster would: its output unpacks to
    the same files; a missing folder says so; a bad storage URI is one line."""
    folder = run_folder(tmp_path / "job")
    out = subprocess.run(["bash", "-c", sender_entrypoint(str(folder))], capture_output=True, text=True, check=True)
    echoed = f"Running entrypoint for job raysubmit_x: {sender_entrypoint(str(folder))}\n"   # as Ray logs it
    got = unpack(echoed + out.stdout, tmp_path / "laptop", str(folder))
    assert got == tmp_path / "laptop" / "wf-abc123" and (got / "tune" / "trial.json").read_text() == '{"a": 1}'
    # logs damaged between the markers (a line lost, a character changed): one line, and the copy
    # already fetched stays as it was
    lines = out.stdout.splitlines()
    body = [i for i, ln in enumerate(lines) if ln not in (BEGIN, END)]
    changed = lines.copy()
    changed[body[len(body) // 2]] = changed[body[len(body) // 2]][:-1] + "!"
    swapped = lines.copy()   # still base64: gzip's checksum finds it
    k = body[len(body) // 2]
    swapped[k] = swapped[k][:10] + ("A" if swapped[k][10] != "A" else "B") + swapped[k][11:]
    for damaged in (lines[:body[3]] + lines[body[3] + 1:], changed, swapped, [*lines[:body[-1]], END]):
        with pytest.raises(ClusterError, match="came back damaged in the helper job's logs"):
            unpack("\n".join(damaged), tmp_path / "laptop", str(folder))
    assert (got / "tune" / "trial.json").read_text() == '{"a": 1}'
    assert [p.name for p in (tmp_path / "laptop").iterdir()] == ["wf-abc123"]
    missing = subprocess.run(["bash", "-c", sender_entrypoint(str(tmp_path / "nope"))], capture_output=True,
                             text=True)
    assert missing.returncode == 3
    with pytest.raises(ClusterError, match=r"no run folder at .*nope on the cluster"):
        unpack(missing.stdout, tmp_path / "laptop", str(tmp_path / "nope"))
    assert not reachable(str(tmp_path / "nope")) and reachable("s3://bucket/runs/x")
    with pytest.raises(ClusterError, match="storage 'nosuch://x'"):
        store(folder, "nosuch://x")
