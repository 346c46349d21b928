"""KubeRay manifests validate against the CRD schemas in ../shared/kuberay-crds when it exists."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
VALIDATE = ROOT.parent / "shared" / "kuberay-crds" / "validate.py"
MANIFESTS = sorted((ROOT / "k8s" / "kuberay").glob("*.yaml"))


@pytest.mark.skipif(not VALIDATE.exists(), reason="../shared/kuberay-crds is not beside this checkout")
@pytest.mark.parametrize("manifest", MANIFESTS, ids=lambda p: p.name)
def test_manifest_is_valid_against_the_crd(manifest):
    res = subprocess.run([sys.executable, str(VALIDATE), str(manifest)], capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stdout + res.stderr


def test_rayjob_runs_the_walkforward_on_ray_2_60_and_shuts_down():
    docs = list(yaml.safe_load_all((ROOT / "k8s" / "kuberay" / "rayjob-walkforward.yaml").read_text()))
    (job,) = [d for d in docs if d["kind"] == "RayJob"]
    spec = job["spec"]
    assert spec["shutdownAfterJobFinishes"] is True
    assert spec["rayClusterSpec"]["rayVersion"] == "2.60.0"
    workers = spec["rayClusterSpec"]["workerGroupSpecs"][0]
    assert workers["minReplicas"] == 0 and workers["maxReplicas"] >= 2
    assert spec["rayClusterSpec"]["enableInTreeAutoscaling"] is True
    assert "raytrade research walkforward" in spec["entrypoint"]
    config = spec["entrypoint"].split("--config")[1].split()[0].replace("/app/", "")
    assert (ROOT / config).is_file()


def _rayservice() -> dict:
    (svc,) = [d for d in yaml.safe_load_all((ROOT / "k8s" / "kuberay" / "rayservice.yaml").read_text())
              if d["kind"] == "RayService"]
    return svc


def test_rayservice_serves_the_api_config_the_code_accepts():
    import importlib

    from ray.serve.schema import ServeDeploySchema

    from raytrade.serve.api import ApiConfig

    svc = _rayservice()
    cluster = svc["spec"]["rayClusterConfig"]
    assert cluster["rayVersion"] == "2.60.0" and cluster["enableInTreeAutoscaling"] is True
    (workers,) = cluster["workerGroupSpecs"]
    assert (workers["minReplicas"], workers["maxReplicas"]) == (2, 10)
    serve_config = ServeDeploySchema.model_validate(yaml.safe_load(svc["spec"]["serveConfigV2"]))
    apps = {a.name: a for a in serve_config.applications}
    for application in apps.values():
        module, name = application.import_path.split(":")
        assert callable(getattr(importlib.import_module(module), name))
    api = apps["raytrade-api"]
    config = ApiConfig.model_validate(api.args)
    assert config.start_engine and config.engine.name == "desk"
    assert config.signals_app in apps and apps[config.signals_app].route_prefix is None
    (deployment,) = api.deployments
    scaling = deployment.autoscaling_config
    assert deployment.name == "ApiGateway" and (scaling["min_replicas"], scaling["max_replicas"]) == (2, 10)
    env = {e["name"] for e in cluster["headGroupSpec"]["template"]["spec"]["containers"][0]["env"]}
    assert {"RAYTRADE_DATABASE_URL", "RAYTRADE_REDIS_URL"} <= env


def _mounts(pod_template: dict) -> dict[str, str]:
    """mountPath -> claim name of a pod template's PersistentVolumeClaim mounts."""
    spec = pod_template["spec"]
    claims = {v["name"]: v["persistentVolumeClaim"]["claimName"] for v in spec.get("volumes", [])
              if "persistentVolumeClaim" in v}
    return {m["mountPath"]: claims[m["name"]] for m in spec["containers"][0].get("volumeMounts", [])
            if m["name"] in claims}


def test_the_service_serves_what_the_training_job_writes():
    """rayjob-train-models writes versions to a claim; the RayService mounts that claim on every
    pod and its SignalModel's user_config names a version under it (hot reload by changing it)."""
    docs = list(yaml.safe_load_all((ROOT / "k8s" / "kuberay" / "rayjob-train-models.yaml").read_text()))
    (claim,) = [d for d in docs if d["kind"] == "PersistentVolumeClaim"]
    (job,) = [d for d in docs if d["kind"] == "RayJob"]
    entry = job["spec"]["entrypoint"].split()
    assert entry[:3] == ["raytrade", "models", "train"] and job["spec"]["shutdownAfterJobFinishes"] is True
    assert (ROOT / entry[entry.index("--config") + 1].replace("/app/", "")).is_file()
    registry = entry[entry.index("--registry") + 1]
    cluster = job["spec"]["rayClusterSpec"]
    for template in [cluster["headGroupSpec"]["template"], cluster["workerGroupSpecs"][0]["template"]]:
        assert _mounts(template)[registry] == claim["metadata"]["name"]
    svc = _rayservice()
    apps = {a["name"]: a for a in yaml.safe_load(svc["spec"]["serveConfigV2"])["applications"]}
    (model,) = apps["signals"]["deployments"]
    assert model["name"] == "SignalModel" and model["user_config"]["model_path"].startswith(registry + "/")
    name = yaml.safe_load((ROOT / "configs" / "models" / "ensemble.yaml").read_text())["name"]
    assert model["user_config"]["model_path"] == f"{registry}/{name}/v0001"
    service = svc["spec"]["rayClusterConfig"]
    for template in [service["headGroupSpec"]["template"], service["workerGroupSpecs"][0]["template"]]:
        assert _mounts(template)[registry] == claim["metadata"]["name"]


def test_local_serve_config_loads():
    from raytrade.configfile import load_yaml
    from raytrade.serve.api import ServeFile

    cfg = load_yaml(ROOT / "configs" / "serve" / "local.yaml", ServeFile)
    assert cfg.port == 8000 and cfg.api.engine.equities


def test_the_database_and_cache_manifests_commit_no_secret_and_pin_their_images():
    docs = [d for f in ("postgres.yaml", "redis.yaml") for d in yaml.safe_load_all((ROOT / "k8s" / f).read_text()) if d]
    assert not [d for d in docs if d["kind"] == "Secret"]            # created by hand, referenced only
    for d in docs:
        if d["kind"] in ("StatefulSet", "Deployment"):
            (c,) = d["spec"]["template"]["spec"]["containers"]
            assert ":" in c["image"] and c["image"].count(".") >= 1, c["image"]   # a minor version, not :15
            assert c["resources"]["requests"]
    pg = next(d for d in docs if d["kind"] == "StatefulSet")
    env = {e["name"]: e for e in pg["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert env["PGDATA"]["value"].startswith("/var/lib/postgresql/data/") and "secretKeyRef" in str(env["POSTGRES_PASSWORD"])
    assert "whl/cpu" in (ROOT / "k8s" / "Dockerfile").read_text()


@pytest.mark.parametrize("name", ["rayjob-walkforward.yaml", "rayjob-train-models.yaml"])
def test_a_rayjob_runs_with_the_runtime_env_a_local_driver_uses(name):
    """The RayJob's runtimeEnvYAML is what raytrade.cluster gives a driver's job: the thread caps and
    the worker setup hook (a SIGTERM during garbage collection exits quietly)."""
    from raytrade.cluster import runtime_env

    docs = list(yaml.safe_load_all((ROOT / "k8s" / "kuberay" / name).read_text()))
    (job,) = [d for d in docs if d["kind"] == "RayJob"]
    assert yaml.safe_load(job["spec"]["runtimeEnvYAML"]) == runtime_env(job=True)
