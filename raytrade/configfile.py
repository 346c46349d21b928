"""YAML configuration files read into pydantic models; every mistake becomes one ConfigError line."""

from __future__ import annotations

from pathlib import Path
from typing import TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from raytrade.core.errors import ConfigError

M = TypeVar("M", bound=BaseModel)


def describe_validation_error(exc: ValidationError, source: str) -> str:
    """The first error of a pydantic ValidationError as 'source: field.path: message'."""
    first = exc.errors()[0]
    loc = ".".join(str(p) for p in first["loc"]) or "(top level)"
    msg = first["msg"]
    if first["type"] == "extra_forbidden":
        msg = "unknown field"
    extra = f" (+{exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
    return f"{source}: {loc}: {msg}{extra}"


def parse_model(data: object, model: type[M], source: str) -> M:
    """Validate ``data`` into ``model``; a ConfigError names the source and the first bad field."""
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: expected a mapping of settings, got {type(data).__name__}")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(describe_validation_error(exc, source)) from None
    except ConfigError as exc:
        raise ConfigError(f"{source}: {exc}") from None


def load_yaml(path: str | Path, model: type[M]) -> M:
    """Read the YAML file at ``path`` into ``model``."""
    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"{p}: config file not found")
    try:
        data = yaml.safe_load(p.read_text())
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        raise ConfigError(f"{p}: not valid YAML{where}") from None
    return parse_model(data, model, str(p))
