"""YAML configuration files read into pydantic models; every mistake becomes one ConfigError line."""

from __future__ import annotations

from pathlib import Path
from typing import TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from raytrade.core.errors import ConfigError

M = TypeVar("M", bound=BaseModel)


def describe_validation_error(exc: ValidationError, source: str) -> str:
    """Every error of a pydantic ValidationError (up to five) as 'source: field.path: message;
    other.field: message', in plain words (no "Value error," prefix)."""
    parts = []
    for err in exc.errors()[:5]:
        loc = ".".join(str(p) for p in err["loc"]) or "(top level)"
        msg = "unknown field" if err["type"] == "extra_forbidden" else str(err["msg"])
        for prefix in ("Value error, ", "Assertion failed, "):
            msg = msg.removeprefix(prefix)
        parts.append(f"{loc}: {msg}")
    more = f" (and {exc.error_count() - 5} more)" if exc.error_count() > 5 else ""
    return f"{source}: {'; '.join(parts)}{more}"


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


class _Loader(yaml.SafeLoader):
    """yaml's safe loader, with an impossible date (2015-02-30) a YAML error at its line rather
    than a bare ValueError."""


def _timestamp(loader: _Loader, node: yaml.Node) -> object:
    try:
        return yaml.constructor.SafeConstructor.construct_yaml_timestamp(loader, node)  # type: ignore[arg-type]
    except ValueError as exc:
        raise yaml.constructor.ConstructorError(None, None, f"{node.value!r} is not a date ({exc})",
                                                node.start_mark) from None


_Loader.add_constructor("tag:yaml.org,2002:timestamp", _timestamp)


def read_yaml_text(text: str, source: str) -> object:
    """Parse YAML text; a mistake is one ConfigError line with the line number and the problem."""
    try:
        return yaml.load(text, Loader=_Loader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None)
        raise ConfigError(f"{source}: not valid YAML{where}" + (f": {problem}" if problem else "")) from None


def load_yaml(path: str | Path, model: type[M]) -> M:
    """Read the YAML file at ``path`` into ``model``."""
    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"{p}: config file not found")
    return parse_model(read_yaml_text(p.read_text(), str(p)), model, str(p))
