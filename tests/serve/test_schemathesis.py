"""Schemathesis against the running API's /openapi.json: generated requests (bounded in examples
and time) get no 5xx and no response that breaks the documented schema."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from raytrade.serve import Role
from tests.serve.conftest import Api, make_key

pytestmark = [pytest.mark.integration, pytest.mark.slow]
RATE = 40  # the admin key's own requests per second


def test_api_conforms_to_its_openapi(api: Api, tmp_path: Path) -> None:
    # An admin key reaches every operation (the role tests live in test_api.py), with a rate of its
    # own above the deployment's 5/s so the calls are not queued behind the limiter. Generated calls
    # also hit 401/404/409/422/429: documented error responses, checked against their schema.
    st = Path(sys.executable).with_name("schemathesis")
    try:
        r = _run(st, api, tmp_path, make_key(api.cfg, Role.ADMIN, rate_per_s=RATE)[0])
    finally:
        # Generated admin calls halt, stop and change limits: leave the shared engine as found
        # (with a fresh key: the run has used up its key's rate limit).
        admin = {"Authorization": f"Bearer {make_key(api.cfg, Role.ADMIN)[0]}"}
        time.sleep(1.1)  # the API reads new keys at most once a second
        for path, body in (("/api/strategies/start", {"reason": "after schemathesis"}),
                           ("/api/risk/resume", {"reason": "after schemathesis"}),
                           ("/api/parameters/update", {"component": "risk", "values": api.cfg.risk.model_dump(),
                                                       "reason": "after schemathesis"})):
            assert api("POST", path, headers=admin, json=body).status_code == 200, path
    assert r.returncode == 0, r.stdout[-6000:] + r.stderr[-2000:]
    selected = re.search(r"Selected: (\d+)/(\d+)", r.stdout)
    tested = re.search(r"Tested: (\d+)", r.stdout)
    assert selected and tested and tested.group(1) == selected.group(2) != "0", r.stdout[-3000:]


def _run(st: Path, api: Api, tmp_path: Path, token: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(st), "run", f"{api.base}/openapi.json", "--checks",
         "not_a_server_error,response_schema_conformance,content_type_conformance",
         "--max-examples", "10", "--phases", "examples,fuzzing", "--request-timeout", "30",
         "--rate-limit", f"{RATE - 5}/s",  # under the key's rate: the calls reach the logic
         "--header", f"Authorization: Bearer {token}",
         "--no-color"],
        capture_output=True, text=True, timeout=600, cwd=tmp_path, env={**os.environ, "NO_COLOR": "1"})
