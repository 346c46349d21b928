"""Run folders: where a run writes its config, data hash, versions, metrics, curves and plots."""

from __future__ import annotations

import json
import math
import platform
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from raytrade.core.errors import ConfigError

LIBRARIES = ("raytrade", "ray", "numpy", "pandas", "numba", "scipy", "pydantic")


def library_versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for name in LIBRARIES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out


def new_run_folder(output_dir: Path, name: str) -> Path:
    """A fresh folder ``output_dir/name-YYYYmmddTHHMMSSZ`` (suffixed -2, -3... if taken)."""
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    base = Path(output_dir) / f"{name}-{stamp}"
    folder, n = base, 1
    while folder.exists():
        n += 1
        folder = base.with_name(f"{base.name}-{n}")
    try:
        folder.mkdir(parents=True)
    except OSError as exc:
        raise ConfigError(f"output_dir: cannot create {folder}: {exc.strerror}") from None
    return folder


def to_jsonable(value: Any) -> Any:
    """Numbers and containers as strict JSON: NaN and infinities become null."""
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [to_jsonable(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, Path):
        return str(value)
    return value


def write_json(path: Path, payload: Any) -> Path:
    path.write_text(json.dumps(to_jsonable(payload), indent=2, sort_keys=True, allow_nan=False) + "\n")
    return path


def write_yaml(path: Path, payload: Any) -> Path:
    path.write_text(yaml.safe_dump(to_jsonable(payload), sort_keys=False))
    return path
