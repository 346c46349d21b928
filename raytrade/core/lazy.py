"""Lazy re-exports for package ``__init__`` modules (PEP 562).

A package keeps its public names in ``__init__`` while importing the module that defines one only
when the name is first used. ``raytrade.backtest`` re-exports the kernel and the runners (numba,
scipy), but the paper broker in every engine actor needs only its cost model: importing the
package eagerly cost each actor process seconds of start-up before it could rebuild its state.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any


def lazy_exports(package: str, exports: Mapping[str, str]) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """``__getattr__`` and ``__dir__`` for ``package`` whose public ``name`` lives in module
    ``exports[name]`` (relative to the package, without the leading dot). A resolved name is
    cached in the package's namespace, so each is looked up once."""

    def __getattr__(name: str) -> Any:
        module = exports.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(f"{package}.{module}"), name)
        setattr(importlib.import_module(package), name, value)
        return value

    def __dir__() -> list[str]:
        return sorted(exports)

    return __getattr__, __dir__
