"""The Jobs API's faults as a cluster produces them, through a proxy in front of the real
dashboard: a job agent not up yet (503 "No available agent to submit job") is waited out with
backoff; a cluster with token authentication (401) is one line naming the fix."""

from __future__ import annotations

import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from raytrade.cluster import jobs
from raytrade.core.errors import ClusterError

pytestmark = [pytest.mark.integration, pytest.mark.slow]


class Proxy:
    """Forwards every request to ``upstream``; answers the first ``busy`` job submissions 503 as a
    just-started head does, and everything 401 while ``locked``."""

    def __init__(self, upstream: str) -> None:
        self.upstream, self.busy, self.locked, self.refused = upstream.rstrip("/"), 0, False, 0
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def _answer(self, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
                self.send_response(status)
                for k, v in (headers or {"Content-Type": "text/plain"}).items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def _forward(self) -> None:
                data = self.rfile.read(int(self.headers.get("Content-Length") or 0)) or None
                if proxy.locked:
                    return self._answer(401, b"Unauthorized: missing or invalid authentication token")
                if self.command == "POST" and self.path.rstrip("/") == "/api/jobs" and proxy.busy > 0:
                    proxy.busy -= 1
                    proxy.refused += 1
                    return self._answer(503, b"No available agent to submit job, please try again later.")
                req = urllib.request.Request(proxy.upstream + self.path, data=data, method=self.command,
                                             headers={k: v for k, v in self.headers.items() if k.lower() != "host"})
                try:
                    with urllib.request.urlopen(req, timeout=60) as r:
                        self._answer(r.status, r.read(), {"Content-Type": r.headers.get("Content-Type", "")})
                except urllib.error.HTTPError as e:
                    self._answer(e.code, e.read())

            do_GET = do_POST = do_PUT = do_DELETE = _forward

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.address = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture
def proxy(ray_session: dict) -> Iterator[Proxy]:
    p = Proxy(ray_session["dashboard"])
    yield p
    p.server.shutdown()


def test_a_busy_job_agent_is_waited_out(proxy: Proxy, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "x.txt").write_text("x")
    proxy.busy = 2  # (a head started moments ago answers the same itself, as a 500, until its agent is up)
    job = jobs.submit(proxy.address, ["--help"], working_dir=tmp_path)
    assert proxy.refused == 2
    assert jobs.wait(proxy.address, job, timeout_s=120)["status"] == "SUCCEEDED"
    monkeypatch.setattr(jobs, "RETRY_DELAYS_S", (0.1, 0.2, 0.4))
    proxy.busy = 10  # more refusals than waits: the last one is the error, in one line
    with pytest.raises(ClusterError, match="No available agent to submit job"):
        jobs.submit(proxy.address, ["--help"], working_dir=tmp_path)


def test_token_authentication_names_the_fix(proxy: Proxy, tmp_path: Path) -> None:
    proxy.locked = True
    with pytest.raises(ClusterError) as info:
        jobs.submit(proxy.address, ["--help"], working_dir=tmp_path)
    assert "RAY_AUTH_MODE=token" in str(info.value) and "ray get-auth-token" in str(info.value)
    assert "\n" not in str(info.value)
    with pytest.raises(ClusterError, match="RAY_AUTH_MODE=token"):
        jobs.status(proxy.address, "raysubmit_x")
