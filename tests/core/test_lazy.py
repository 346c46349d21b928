"""Packages that re-export lazily: the public names resolve, match __all__, and stay lazy."""

from __future__ import annotations

import importlib
import subprocess
import sys

import pytest

LAZY = ["raytrade.backtest", "raytrade.analytics", "raytrade.strategies"]


@pytest.mark.parametrize("package", LAZY)
def test_every_public_name_resolves_and_is_in_all(package: str) -> None:
    module = importlib.import_module(package)
    assert sorted(module.__all__) == sorted(module._EXPORTS) == dir(module)
    for name in module.__all__:
        assert getattr(module, name) is getattr(importlib.import_module(f"{package}.{module._EXPORTS[name]}"), name)
    with pytest.raises(AttributeError, match="has no attribute 'nope'"):
        module.nope  # noqa: B018


def test_the_cost_model_does_not_load_the_kernel_or_scipy() -> None:
    code = ("import sys; from raytrade.backtest import CostModel; import raytrade.analytics.metrics; "
            "print(sorted(m for m in ('raytrade.backtest.kernel', 'raytrade.backtest.runner', 'scipy.stats') "
            "if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
