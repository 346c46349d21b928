"""The ensemble on Serve: POST /api/signals through the API, batching, hot reload with no dropped
request, clear 4xx for unknown symbols and missing history."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import httpx
import pytest

from raytrade.serve import ApiConfig, Role, build
from raytrade.serve.signals import build_signal_model
from raytrade.tune.train_models import ModelConfig, train_models
from tests.serve.conftest import Api

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def small_model(registry: Path, seed: int) -> Path:
    cfg = ModelConfig(name="tiny", symbols=["AAPL", "KO", "JPM", "XOM"], start="2008-01-01", end="2014-12-31",
                      folds=2, registry=registry, xgboost={"n_estimators": 20, "seed": seed},
                      neural_net={"epochs": 2, "seed": seed})
    folder, _ = train_models(cfg, use_ray=False)
    return folder


@pytest.fixture(scope="module")
def versions(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    registry = tmp_path_factory.mktemp("registry")
    return small_model(registry, 1), small_model(registry, 2)


def test_signals_endpoint_hot_reload_and_refusals(api: Api, versions: tuple[Path, Path]) -> None:
    from ray import serve

    v1, v2 = versions
    serve.run(build_signal_model(str(v1)), name="signals-test", route_prefix=None)
    serve.run(build(ApiConfig(engine=api.cfg, signals_app="signals-test", rate_per_s=1000, burst=1000)),
              name="api-signals", route_prefix="/sig")
    headers = {"Authorization": f"Bearer {api.tokens[Role.VIEWER][0]}"}
    base = api.base + "/sig"
    try:
        with httpx.Client(base_url=base, headers=headers, timeout=60) as c:
            r = c.post("/api/signals", json={"symbols": ["KO", "AAPL"], "as_of": "2020-03-20"})
            assert r.status_code == 200, r.text
            sig = r.json()["signals"]
            assert [s["symbol"] for s in sig] == ["KO", "AAPL"]
            assert all(-1 <= s["signal"] <= 1 and s["confidence"] == abs(s["signal"]) for s in sig)
            assert sig[0]["regime"] == "crisis" and sig[0]["model_path"] == str(v1)
            assert set(sig[0]["parts"]) == {"xgboost", "neural_net"}
            twice = c.post("/api/signals", json={"symbols": ["KO", "KO"]})
            assert twice.status_code == 200 and [s["symbol"] for s in twice.json()["signals"]] == ["KO", "KO"]
            bad = c.post("/api/signals", json={"symbols": ["NOPE"]})
            assert bad.status_code == 422 and "unknown symbol" in bad.json()["detail"]
            early = c.post("/api/signals", json={"symbols": ["KO"], "as_of": "1990-02-01"})
            assert early.status_code == 422 and "NaN" in early.json()["detail"]
            assert c.post("/api/signals", json={"symbols": []}).status_code == 422

        async def load(n: int) -> list[int]:
            async with httpx.AsyncClient(base_url=base, headers=headers, timeout=60) as c:
                async def one(i: int) -> int:
                    r = await c.post("/api/signals", json={"symbols": ["KO", "JPM"][: 1 + i % 2]})
                    return r.status_code
                return list(await asyncio.gather(*[one(i) for i in range(n)]))

        async def during_reload() -> list[int]:
            task = asyncio.create_task(load(60))
            await asyncio.to_thread(serve.run, build_signal_model(str(v2)), name="signals-test", route_prefix=None)
            return await task

        handle = serve.get_app_handle("signals-test")
        before = handle.batch_stats.remote().result()

        async def burst() -> None:
            await asyncio.gather(*[handle.signals.remote(["KO"]) for _ in range(40)])

        asyncio.run(burst())
        stats = handle.batch_stats.remote().result()
        assert stats["requests"] - before["requests"] == 40
        assert stats["calls"] - before["calls"] < 40 and stats["max_batch"] > 1   # concurrent requests batched

        codes = asyncio.run(during_reload())
        assert codes == [200] * 60
        with httpx.Client(base_url=base, headers=headers, timeout=60) as c:
            after = c.post("/api/signals", json={"symbols": ["KO"]}).json()["signals"][0]
        assert after["model_path"] == str(v2)
    finally:
        serve.delete("api-signals")
        serve.delete("signals-test")


def _signal_app_config(name: str, model_path: Path | str) -> dict:
    """A Serve config file's content (what `serve deploy` and a RayService send) for the model."""
    return {"applications": [{"name": name, "route_prefix": None, "import_path": "raytrade.serve.signals:app_builder",
                              "deployments": [{"name": "SignalModel", "user_config": {"model_path": str(model_path)}}]}]}


def _wait_running(name: str, timeout: float = 120) -> None:
    from ray import serve

    deadline = time.time() + timeout
    while time.time() < deadline:
        app = serve.status().applications.get(name)
        if app is not None and app.status == "RUNNING":
            return
        if app is not None and app.status == "DEPLOY_FAILED":
            raise AssertionError(f"{name}: {app.message}")
        time.sleep(0.5)
    raise AssertionError(f"{name} not running after {timeout} s")


def test_config_deploy_reloads_the_version_in_place(api: Api, ray_session: dict, versions: tuple[Path, Path]) -> None:
    """Deployed from a config file through the dashboard's REST API (as `serve deploy` and KubeRay
    do), a new user_config.model_path reaches the running replica's reconfigure: the same replica
    answers with the new version, and every request sent meanwhile is answered."""
    from ray import serve
    from ray.dashboard.modules.serve.sdk import ServeSubmissionClient

    v1, v2 = versions
    client = ServeSubmissionClient(ray_session["dashboard"])
    client.deploy_applications(_signal_app_config("signals-cfg", v1))
    serve.run(build(ApiConfig(engine=api.cfg, signals_app="signals-cfg", rate_per_s=1000, burst=1000)),
              name="api-cfg", route_prefix="/cfg")
    headers = {"Authorization": f"Bearer {api.tokens[Role.VIEWER][0]}"}
    try:
        _wait_running("signals-cfg")
        handle = serve.get_app_handle("signals-cfg")
        before = handle.version.remote().result()
        assert before["path"] == str(v1)

        async def load_during_reload() -> list[tuple[int, str | None]]:
            async with httpx.AsyncClient(base_url=api.base + "/cfg", headers=headers, timeout=60) as c:
                async def one() -> tuple[int, str | None]:
                    r = await c.post("/api/signals", json={"symbols": ["KO"]})
                    return r.status_code, r.json()["signals"][0]["model_path"] if r.status_code == 200 else None

                answers: list[tuple[int, str | None]] = []
                reload = asyncio.create_task(asyncio.to_thread(client.deploy_applications,
                                                               _signal_app_config("signals-cfg", v2)))
                deadline = time.time() + 120
                while time.time() < deadline:
                    answers += await asyncio.gather(*[one() for _ in range(5)])
                    if reload.done() and answers[-1][1] == str(v2):
                        break
                await reload
                return answers

        answers = asyncio.run(load_during_reload())
        assert {code for code, _ in answers} == {200}, answers
        paths = [path for _, path in answers]
        assert paths[-1] == str(v2) and set(paths) <= {str(v1), str(v2)}
        after = handle.version.remote().result()
        assert after["path"] == str(v2)
        assert (after["replica"], after["pid"]) == (before["replica"], before["pid"])   # reconfigured, not replaced
    finally:
        serve.delete("api-cfg")
        client.deploy_applications({"applications": []})   # removes the config-deployed app only
