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


def test_rayservice_serves_the_api_config_the_code_accepts():
    import importlib

    from raytrade.serve.api import ApiConfig

    (svc,) = [d for d in yaml.safe_load_all((ROOT / "k8s" / "kuberay" / "rayservice.yaml").read_text())
              if d["kind"] == "RayService"]
    cluster = svc["spec"]["rayClusterConfig"]
    assert cluster["rayVersion"] == "2.60.0" and cluster["enableInTreeAutoscaling"] is True
    (workers,) = cluster["workerGroupSpecs"]
    assert (workers["minReplicas"], workers["maxReplicas"]) == (2, 10)
    (application,) = yaml.safe_load(svc["spec"]["serveConfigV2"])["applications"]
    module, name = application["import_path"].split(":")
    assert callable(getattr(importlib.import_module(module), name))
    config = ApiConfig.model_validate(application["args"])
    assert config.start_engine and config.engine.name == "desk"
    (deployment,) = application["deployments"]
    scaling = deployment["autoscaling_config"]
    assert deployment["name"] == "ApiGateway" and (scaling["min_replicas"], scaling["max_replicas"]) == (2, 10)
    env = {e["name"] for e in cluster["headGroupSpec"]["template"]["spec"]["containers"][0]["env"]}
    assert {"RAYTRADE_DATABASE_URL", "RAYTRADE_REDIS_URL"} <= env


def test_local_serve_config_loads():
    from raytrade.configfile import load_yaml
    from raytrade.serve.api import ServeFile

    cfg = load_yaml(ROOT / "configs" / "serve" / "local.yaml", ServeFile)
    assert cfg.port == 8000 and cfg.api.engine.equities
