"""`raytrade serve` end to end: the command starts Ray, the engine, a trained signal model and the
API behind Serve's HAProxy ingress (the default of configs/serve), on SQLite in a temporary data
folder; a real HTTP client and a real WebSocket client talk to it; Ctrl-C stops it."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import httpx
import pytest
import yaml
from websockets.sync.client import connect

from raytrade.tune.train_models import ModelConfig, train_models

ROOT = Path(__file__).resolve().parents[2]
pytestmark = [pytest.mark.integration, pytest.mark.slow]


def readme_curl_commands() -> list[str]:
    """The curl commands of README.md's API section, continuation lines joined."""
    text = (ROOT / "README.md").read_text()
    block = text[text.index("## The API (Ray Serve)"):]
    block = block[block.index("```bash"):block.index("```", block.index("```bash") + 3)]
    joined = block.replace("\\\n", " ")
    out = [line.strip() for line in joined.splitlines() if line.strip().startswith("curl ")]
    assert len(out) == 2, out
    return out


def readme_strategy_commands() -> list[str]:
    """The curl commands of README.md's "Strategies in the engine" block, continuation lines joined."""
    text = (ROOT / "README.md").read_text()
    block = text[text.index("### Strategies in the engine"):]
    block = block[block.index("```bash"):block.index("```", block.index("```bash") + 3)]
    out = [line.strip() for line in block.replace("\\\n", " ").splitlines() if line.strip().startswith("curl ")]
    assert len(out) == 3, out
    return out


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_raytrade_serve_behind_haproxy_answers_rest_and_websocket(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items()
           if k not in ("RAY_ADDRESS", "RAYTRADE_DATABASE_URL", "RAYTRADE_REDIS_URL", "RAYTRADE_DATABASE_SCHEMA")}
    env.update(RAYTRADE_DATA_DIR=str(tmp_path / "data"), COLUMNS="200", PYTHONUNBUFFERED="1")
    version, _ = train_models(ModelConfig(name="tiny", symbols=["AAPL", "KO", "JPM", "XOM"], start="2008-01-01",
                                          end="2014-12-31", folds=2, registry=tmp_path / "models",
                                          xgboost={"n_estimators": 20}, neural_net={"epochs": 2}), use_ray=False)
    # The README's configuration (configs/serve/local.yaml: a replay feed prices the engine), under a
    # fresh engine name, with the trained model served beside it.
    config = tmp_path / "serve.yaml"
    readme_cfg = yaml.safe_load((ROOT / "configs" / "serve" / "local.yaml").read_text())
    readme_cfg["api"]["engine"]["name"] = f"cli{uuid.uuid4().hex[:6]}"
    readme_cfg["signals"] = {"model_path": str(version)}
    config.write_text(yaml.safe_dump(readme_cfg))
    key = subprocess.run([sys.executable, "-m", "raytrade.cli", "keys", "create", "--name", "test", "--role", "trader"],
                         cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert key.returncode == 0, key.stderr
    token = key.stdout.strip().splitlines()[-1]
    admin = subprocess.run([sys.executable, "-m", "raytrade.cli", "keys", "create", "--name", "ops", "--role", "admin"],
                           cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert admin.returncode == 0, admin.stderr
    admin_token = admin.stdout.strip().splitlines()[-1]
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "raytrade.cli", "serve", "--config", str(config), "--port", str(port),
                             "--cpus", "2"], cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True)
    base = f"http://127.0.0.1:{port}"
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(proc.stdout or ()), daemon=True)
    reader.start()
    try:
        # HAProxy answers as soon as the API replica runs, which can be before `serve` has finished
        # starting: wait for the line that says it has (the prompt to press Ctrl-C).
        deadline = time.monotonic() + 180
        while not any("Ctrl-C stops" in line for line in lines):
            assert proc.poll() is None, "serve exited:\n" + "".join(lines)[-3000:]
            assert time.monotonic() < deadline, "serve did not finish starting within 180 s"
            time.sleep(0.5)
        assert httpx.get(f"{base}/api/health", timeout=10).status_code == 200
        headers = {"Authorization": f"Bearer {token}"}
        with httpx.Client(base_url=base, headers=headers, timeout=30) as client:
            portfolio = client.get("/api/portfolio")
            assert portfolio.status_code == 200 and portfolio.json()["cash"] == 1_000_000.0, portfolio.text
            assert client.get("/api/portfolio", headers={"Authorization": "Bearer nope"}).status_code == 401
            # The README's curl lines, as written there, at any hour of the real day: the order fills
            # against the replayed market within two seconds of being sent.
            for command in readme_curl_commands():
                sent = time.monotonic()
                run = subprocess.run(["bash", "-c", command.replace("localhost:8000", f"127.0.0.1:{port}")],
                                     env={**env, "TOKEN": token}, capture_output=True, text=True, timeout=60)
                took = time.monotonic() - sent
                answer = json.loads(run.stdout)
                if "/api/orders" in command:
                    assert answer["status"] == "filled" and answer["filled_quantity"] == 10, answer
                    assert took < 2.0, f"the order took {took:.2f} s"
                else:
                    assert answer["cash"] == 1_000_000.0, answer
            # The README's strategy lines, as written: a runner starts, its parameters change, its status shows.
            answers = []
            for command in readme_strategy_commands():
                run = subprocess.run(["bash", "-c", command.replace("localhost:8000", f"127.0.0.1:{port}")],
                                     env={**env, "ADMIN_TOKEN": admin_token}, capture_output=True, text=True, timeout=60)
                answers.append(json.loads(run.stdout))
            started, changed, status = answers
            assert "running" in started, answers
            deadline = time.monotonic() + 60
            while ("params" not in status.get("strategies", {}).get("ma-ko", {}).get("runner", {})
                   and time.monotonic() < deadline):
                time.sleep(0.5)  # the runner is a new process: its status shows once it has started
                status = client.get("/api/strategies/status", headers={"Authorization": f"Bearer {admin_token}"}).json()
            assert started["running"] and started["spec"]["params"] == {"fast": 5, "slow": 20}, started
            assert changed["spec"]["params"] == {"fast": 10, "slow": 20}, changed
            row = status["strategies"]["ma-ko"]
            assert row["running"] and row.get("runner", {}).get("params") == {"fast": 10, "slow": 20}, row
            assert row["runner"]["resumed_from"] == "market data history", row  # warmed on the feed's recent closes
            signals = client.post("/api/signals", json={"symbols": ["KO"], "as_of": "2014-06-30"})
            assert signals.status_code == 200, signals.text
            assert signals.json()["signals"][0]["model_path"] == str(version)
            with connect(f"ws://127.0.0.1:{port}/ws?token={token}&events=order_update", open_timeout=30) as ws:
                hello = json.loads(ws.recv(timeout=30))
                assert hello["type"] == "subscribed", hello
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=120)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        reader.join(timeout=30)
    out = "".join(lines)
    assert "haproxy ingress" in out and "Traceback" not in out, out[-3000:]


def test_raytrade_serve_with_an_unreachable_database_says_so_in_one_line(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("RAY_ADDRESS", "RAYTRADE_REDIS_URL")}
    env.update(RAYTRADE_DATA_DIR=str(tmp_path / "data"), COLUMNS="200",
               RAYTRADE_DATABASE_URL="postgresql://postgres@127.0.0.1:1/test")
    config = tmp_path / "serve.yaml"
    config.write_text(yaml.safe_dump({"host": "127.0.0.1", "port": free_port(), "ingress": "proxy",
                                      "api": {"engine": {"name": f"down{uuid.uuid4().hex[:6]}", "equities": ["KO"],
                                                         "store_timeout_s": 1}}}))
    r = subprocess.run([sys.executable, "-m", "raytrade.cli", "serve", "--config", str(config), "--cpus", "1"],
                       cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert r.returncode == 2, r.stdout + r.stderr
    assert "cannot connect" in r.stderr and "Traceback" not in r.stderr + r.stdout, r.stderr
    assert [line for line in r.stderr.splitlines() if line.startswith("error:")], r.stderr
