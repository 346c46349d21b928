"""Declared parameter spaces and the parameter blocks a grid expands into."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from raytrade.core.errors import ConfigError


@dataclass(frozen=True, slots=True)
class Parameter:
    """One strategy parameter: ``kind`` int or float, allowed range [low, high]."""

    name: str
    kind: type
    low: float
    high: float
    doc: str = ""

    def check(self, value: Any, where: str) -> int | float:
        if isinstance(value, bool) or not isinstance(value, int | float | np.integer | np.floating):
            raise ConfigError(f"{where}.{self.name}: expected a number, got {value!r}")
        if self.kind is int and float(value) != int(value):
            raise ConfigError(f"{where}.{self.name}: expected an integer, got {value!r}")
        v = self.kind(value)
        if not (self.low <= v <= self.high) or v != v:
            raise ConfigError(f"{where}.{self.name}: {v} is outside [{self.low}, {self.high}]")
        return v


class ParamBlock:
    """K parameter sets as one array per parameter (all of length K), row i = set i."""

    def __init__(self, columns: Mapping[str, np.ndarray]) -> None:
        lengths = {len(v) for v in columns.values()}
        if len(lengths) > 1:
            raise ConfigError(f"parameter arrays differ in length: { {k: len(v) for k, v in columns.items()} }")
        self.columns: dict[str, np.ndarray] = {k: np.asarray(v) for k, v in columns.items()}
        self._len = lengths.pop() if lengths else 0

    def __len__(self) -> int:
        return self._len

    def __getitem__(self, name: str) -> np.ndarray:
        return self.columns[name]

    def row(self, i: int) -> dict[str, int | float]:
        return {k: v[i].item() for k, v in self.columns.items()}

    def rows(self) -> list[dict[str, int | float]]:
        return [self.row(i) for i in range(len(self))]

    def take(self, idx: slice | np.ndarray) -> ParamBlock:
        return ParamBlock({k: v[idx] for k, v in self.columns.items()})

    def chunks(self, size: int) -> Iterator[tuple[int, ParamBlock]]:
        """(offset, block) pieces of at most ``size`` sets, in order."""
        for start in range(0, len(self), size):
            yield start, self.take(slice(start, start + size))

    @classmethod
    def from_rows(cls, rows: Sequence[Mapping[str, Any]], names: Sequence[str]) -> ParamBlock:
        return cls({n: np.array([r[n] for r in rows]) for n in names})


@dataclass(frozen=True, slots=True)
class ParameterSpace:
    """The parameters a strategy declares, and an optional joint constraint (e.g. fast < slow)."""

    params: tuple[Parameter, ...]
    constraint: Callable[[Mapping[str, np.ndarray]], np.ndarray] | None = None
    constraint_doc: str = ""
    defaults: Mapping[str, int | float] = field(default_factory=dict)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(p.name for p in self.params)

    def validate(self, values: Mapping[str, Any], where: str = "params") -> dict[str, int | float]:
        """One parameter set, with defaults filled in, every value checked."""
        unknown = sorted(set(values) - set(self.names))
        if unknown:
            raise ConfigError(f"{where}: unknown parameter {unknown[0]!r} (known: {', '.join(self.names)})")
        out = {}
        for p in self.params:
            if p.name not in values and p.name not in self.defaults:
                raise ConfigError(f"{where}: missing parameter {p.name!r}")
            out[p.name] = p.check(values.get(p.name, self.defaults.get(p.name)), where)
        if self.constraint is not None and not bool(self.constraint({k: np.array([v]) for k, v in out.items()})[0]):
            raise ConfigError(f"{where}: {out} violates the constraint {self.constraint_doc}")
        return out

    def block(self, values: Mapping[str, Any], where: str = "params") -> ParamBlock:
        """A block holding the single set ``values``."""
        row = self.validate(values, where)
        return ParamBlock({k: np.array([v]) for k, v in row.items()})

    def grid(self, spec: Mapping[str, Any], where: str = "grid") -> ParamBlock:
        """The Cartesian product of per-parameter values, filtered by the constraint.

        Each entry of ``spec`` is a list of values, a single value, or a range
        ``{start, stop, step}`` (``stop`` inclusive) / ``{start, stop, num}`` (evenly spaced).
        Parameters left out take their default. The result is ordered lexicographically in the
        declared parameter order.
        """
        unknown = sorted(set(spec) - set(self.names))
        if unknown:
            raise ConfigError(f"{where}: unknown parameter {unknown[0]!r} (known: {', '.join(self.names)})")
        axes = []
        for p in self.params:
            if p.name in spec:
                raw = _expand(spec[p.name], f"{where}.{p.name}")
            elif p.name in self.defaults:
                raw = [self.defaults[p.name]]
            else:
                raise ConfigError(f"{where}: missing parameter {p.name!r}")
            if not raw:
                raise ConfigError(f"{where}.{p.name}: no values")
            axes.append(sorted({p.check(v, where) for v in raw}))
        n = int(np.prod([len(a) for a in axes]))
        if n > 50_000_000:
            raise ConfigError(f"{where}: {n:,} combinations before constraints is too many (limit 50,000,000)")
        mesh = np.array(list(itertools.product(*axes)), dtype=np.float64).reshape(n, len(axes))
        cols = {p.name: mesh[:, i].astype(np.int64 if p.kind is int else np.float64)
                for i, p in enumerate(self.params)}
        if self.constraint is not None:
            keep = np.asarray(self.constraint(cols), dtype=bool)
            cols = {k: v[keep] for k, v in cols.items()}
        block = ParamBlock(cols)
        if len(block) == 0:
            raise ConfigError(f"{where}: the grid is empty after the constraint {self.constraint_doc}")
        return block


def _expand(value: Any, where: str) -> list[Any]:
    if isinstance(value, Mapping):
        keys = set(value)
        if not {"start", "stop"} <= keys or not keys <= {"start", "stop", "step", "num"}:
            raise ConfigError(f"{where}: a range needs start and stop, and step or num (got {sorted(keys)})")
        start, stop = value["start"], value["stop"]
        if "num" in value:
            num = value["num"]
            if not isinstance(num, int) or num < 1:
                raise ConfigError(f"{where}.num must be a positive integer, got {num!r}")
            return list(np.linspace(start, stop, num))
        step = value.get("step", 1)
        if not isinstance(step, int | float) or step <= 0:
            raise ConfigError(f"{where}.step must be > 0, got {step!r}")
        if stop < start:
            raise ConfigError(f"{where}: stop {stop} is below start {start}")
        count = int(np.floor((stop - start) / step + 1e-9)) + 1
        return [start + i * step for i in range(count)]
    if isinstance(value, list | tuple):
        return list(value)
    return [value]
