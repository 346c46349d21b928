"""TWAP: equal slices at equal intervals over the horizon, optionally randomised (seeded)."""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from raytrade.core.errors import ConfigError
from raytrade.execution.algorithms.base import (
    ParentSpec,
    PlannedSchedule,
    register,
    slice_times,
    whole_lot_slices,
)


@register
class TWAP(PlannedSchedule):
    """``slices`` equal slices, one at the start of each of ``slices`` equal intervals. With
    ``randomize`` r in [0, 1) each slice's weight is 1 + r x u, u uniform in [-1, 1] drawn from
    ``seed`` (the same seed, the same plan: a restart plans the same slices), so the pattern is
    harder to detect; the slices still sum exactly to the parent in whole lots."""

    name: ClassVar[str] = "twap"

    def __init__(self, parent: ParentSpec, slices: int = 10, randomize: float = 0.0, seed: int = 0) -> None:
        if not isinstance(slices, int) or not 1 <= slices <= 10_000:
            raise ConfigError(f"twap.slices must be an integer in [1, 10000], got {slices!r}")
        if not 0.0 <= randomize < 1.0:
            raise ConfigError(f"twap.randomize must be in [0, 1), got {randomize!r}")
        self.parent = parent
        weights = np.ones(slices)
        if randomize:
            weights = 1.0 + randomize * np.random.default_rng(seed).uniform(-1.0, 1.0, slices)
        self.times = slice_times(parent, slices)
        self.lots = whole_lot_slices(np.cumsum(weights) / weights.sum(), parent.lots)
