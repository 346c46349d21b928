"""configs/prometheus: the alert rules pass promtool's check and their unit tests, and name only
metrics that raytrade exports."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
RULES = ROOT / "configs" / "prometheus"


def promtool() -> str:
    path = shutil.which("promtool")
    if path is None:
        if os.environ.get("CI"):
            pytest.fail("promtool is missing: .ci/run installs Debian's prometheus package")
        pytest.skip("promtool not installed (apt-get install prometheus); CI runs this test")
    return path


def test_rules_check_and_unit_tests_pass() -> None:
    tool = promtool()
    check = subprocess.run([tool, "check", "rules", str(RULES / "alerts.yml")], capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr
    tests = subprocess.run([tool, "test", "rules", "alerts_test.yml"], cwd=RULES, capture_output=True, text=True)
    assert tests.returncode == 0, tests.stdout + tests.stderr


def test_rules_use_only_exported_metric_names() -> None:
    source = (ROOT / "raytrade" / "actors" / "metrics.py").read_text()
    exported = set(re.findall(r'(?:Counter|Gauge|Histogram)\("([a-z_]+)"', source))
    used = set(re.findall(r"\bray_([a-z_]+)", (RULES / "alerts.yml").read_text()))
    base = {re.sub(r"_(total|bucket|count|sum)$", "", name) for name in used}
    assert base and base <= exported, base - exported


def test_grafana_dashboards_query_only_exported_metrics() -> None:
    import json

    source = (ROOT / "raytrade" / "actors" / "metrics.py").read_text()
    exported = set(re.findall(r'(?:Counter|Gauge|Histogram)\("([a-z_]+)"', source))
    boards = sorted((ROOT / "configs" / "grafana").glob("*.json"))
    assert {b.stem for b in boards} == {"performance-summary", "system-health", "trade-analytics", "risk-monitor"}
    for board in boards:
        spec = json.loads(board.read_text())
        exprs = [t["expr"] for p in spec["panels"] for t in p["targets"]]
        assert exprs, board.name
        used = {re.sub(r"_(total|bucket|count|sum)$", "", n) for e in exprs for n in re.findall(r"\bray_([a-z_]+)", e)}
        assert used and used <= exported, (board.name, used - exported)
