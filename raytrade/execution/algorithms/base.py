"""The execution-algorithm protocol, its registry, and the one slicing rule every algorithm uses.

An algorithm works a parent order of ``quantity`` (> 0, unsigned; the side is the parent's) over
``[start, end]``. It answers one question, at any moment, from its parameters and what the market
did: how much of the parent should be done by now (:meth:`ExecutionAlgorithm.target`, a cumulative
quantity in [0, quantity], never decreasing, equal to ``quantity`` at ``end``). The engine sends the
difference between that target and what its children already hold, in whole lots. Asking for a
cumulative target, not for "the next slice", makes an algorithm restartable for free: after a
restart its state is its parameters plus the log's fills.

Lots: :func:`whole_lot_slices` turns cumulative fractions into whole-lot slices that sum exactly to
the parent (cumulative rounding: the rounding error never accumulates past half a lot).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, ClassVar, Protocol, runtime_checkable

import numpy as np

from raytrade.core.errors import ConfigError


@dataclass(frozen=True, slots=True)
class ParentSpec:
    """A parent order as an algorithm sees it: ``quantity`` (unsigned, > 0) in lots of ``lot``,
    to be done between ``start`` and ``end`` (UTC); ``urgency`` in [0, 1] (0: as patient as the
    algorithm goes, 1: as fast)."""

    quantity: float
    lot: float
    start: datetime
    end: datetime
    urgency: float = 0.5

    def __post_init__(self) -> None:
        if not (math.isfinite(self.quantity) and self.quantity > 0):
            raise ConfigError(f"parent quantity must be finite and > 0, got {self.quantity!r}")
        if not (math.isfinite(self.lot) and self.lot > 0):
            raise ConfigError(f"lot must be finite and > 0, got {self.lot!r}")
        lots = self.quantity / self.lot
        if abs(lots - round(lots)) > 1e-9 * max(1.0, lots):
            raise ConfigError(f"parent quantity {self.quantity:g} is not a whole number of lots of {self.lot:g}")
        if self.end <= self.start:
            raise ConfigError(f"the horizon must end after it starts: {self.start.isoformat()} .. {self.end.isoformat()}")
        if not 0.0 <= self.urgency <= 1.0:
            raise ConfigError(f"urgency must be in [0, 1], got {self.urgency!r}")

    @property
    def lots(self) -> int:
        return round(self.quantity / self.lot)

    def elapsed(self, now: datetime) -> float:
        """The fraction of the horizon gone by ``now``, clipped to [0, 1]."""
        span = (self.end - self.start).total_seconds()
        return min(max((now - self.start).total_seconds() / span, 0.0), 1.0)


@runtime_checkable
class ExecutionAlgorithm(Protocol):
    """See the module. ``params`` are the algorithm's own (validated by its constructor)."""

    name: ClassVar[str]

    def target(self, now: datetime, market_volume: float = 0.0) -> float:
        """The quantity that should be done by ``now`` (cumulative, whole lots). ``market_volume``:
        the market's volume traded since ``start`` (what POV follows; the others ignore it)."""
        ...

    def schedule(self) -> list[tuple[datetime, float]]:
        """The planned slices (time, quantity in whole lots) when the plan does not depend on the
        market as it trades; POV's is an estimate."""
        ...


def whole_lot_slices(cum_fractions: Sequence[float] | np.ndarray, total_lots: int) -> np.ndarray:
    """Slices (in lots, integers >= 0) whose running sums follow ``cum_fractions`` (non-decreasing,
    ending at 1) as closely as whole lots allow: slice_i = round(total x F_i) - round(total x F_{i-1})
    (round half to even). They sum exactly to ``total_lots``."""
    # a loop over a Python list: schedules have tens of slices, where NumPy's per-call cost dominates
    f = cum_fractions.tolist() if isinstance(cum_fractions, np.ndarray) else list(cum_fractions)
    if not f or not all(isinstance(x, (int, float)) for x in f):
        raise ConfigError("cumulative fractions must be a non-empty 1-D sequence")
    prev_f, prev_c, out = 0.0, 0, []
    for x in f:
        if not (math.isfinite(x) and x >= prev_f - 1e-12):
            raise ConfigError("cumulative fractions must be finite, non-decreasing, from >= 0 to 1")
        c = round(min(max(x, 0.0), 1.0) * total_lots)
        out.append(c - prev_c)
        prev_f, prev_c = x, c
    if abs(f[-1] - 1.0) > 1e-9:
        raise ConfigError("cumulative fractions must be finite, non-decreasing, from >= 0 to 1")
    out[-1] += total_lots - prev_c
    return np.array(out, dtype=np.int64)


def cumulative_target(parent: ParentSpec, times: Sequence[datetime], slices_lots: np.ndarray, now: datetime) -> float:
    """The quantity of the slices planned at or before ``now``."""
    done = sum(int(n) for t, n in zip(times, slices_lots, strict=True) if t <= now)
    return done * parent.lot


def slice_times(parent: ParentSpec, n: int) -> list[datetime]:
    """``n`` equally spaced slice times: the start of each of ``n`` equal intervals of the horizon
    (the first at ``start``, none at ``end``)."""
    step = (parent.end - parent.start) / n
    return [parent.start + i * step for i in range(n)]


class PlannedSchedule:
    """What the algorithms that plan their slices up front share (TWAP, VWAP, Almgren-Chriss):
    ``times`` and whole-lot ``lots`` per slice, set by the subclass's constructor."""

    parent: ParentSpec
    times: list[datetime]
    lots: np.ndarray

    def target(self, now: datetime, market_volume: float = 0.0) -> float:
        if now >= self.parent.end:
            return self.parent.quantity
        return cumulative_target(self.parent, self.times, self.lots, now)

    def schedule(self) -> list[tuple[datetime, float]]:
        return [(t, int(n) * self.parent.lot) for t, n in zip(self.times, self.lots, strict=True) if n]


ALGORITHMS: dict[str, Callable[..., ExecutionAlgorithm]] = {}


def register(cls: type) -> type:
    """Class decorator: add an algorithm to :data:`ALGORITHMS` under its ``name``."""
    ALGORITHMS[cls.name] = cls
    return cls


def make_algorithm(name: str, parent: ParentSpec, params: dict[str, Any] | None = None) -> ExecutionAlgorithm:
    """The algorithm ``name`` for ``parent`` with ``params`` (ConfigError naming what is wrong)."""
    try:
        cls = ALGORITHMS[name]
    except KeyError:
        raise ConfigError(f"exec_algorithm.name: unknown algorithm {name!r} (known: {', '.join(sorted(ALGORITHMS))})") from None
    try:
        return cls(parent, **(params or {}))
    except TypeError as exc:
        raise ConfigError(f"exec_algorithm.params: {exc}") from None
