"""POV (percentage of volume): follow the market's volume at a target share.

Done by now = min(parent, rate x the market volume traded since the start), in whole lots (rounded
down: never above the share); what is left at ``end`` is sent then when ``finish`` (the parent
completes), else left undone (the fill rate says so). ``rate`` is capped by ``max_rate``; left out, the cap is
:func:`raytrade.execution.impact.participation_cap` of the name's ``liquidity`` score when one is
given (5% for an illiquid name to 25%), else 25%.
"""

from __future__ import annotations

import math
from datetime import datetime
from typing import ClassVar

from raytrade.core.errors import ConfigError
from raytrade.execution.algorithms.base import ParentSpec, register, slice_times
from raytrade.execution.impact import participation_cap


@register
class POV:
    name: ClassVar[str] = "pov"

    def __init__(self, parent: ParentSpec, rate: float = 0.1, max_rate: float | None = None, finish: bool = True,
                 expected_volume: float | None = None, liquidity: float | None = None) -> None:
        if liquidity is not None and not (isinstance(liquidity, (int, float)) and 0.0 <= liquidity <= 1.0):
            raise ConfigError(f"pov.liquidity must be a score in [0, 1], got {liquidity!r}")
        if max_rate is None:
            max_rate = participation_cap(liquidity) if liquidity is not None else 0.25
        if not 0.0 < rate <= 1.0 or not 0.0 < max_rate <= 1.0:
            raise ConfigError(f"pov.rate and pov.max_rate must be in (0, 1], got {rate!r}, {max_rate!r}")
        self.parent = parent
        self.rate = min(rate, max_rate)
        self.finish = finish
        self.expected_volume = expected_volume  # market volume over the horizon, for schedule() only

    def target(self, now: datetime, market_volume: float = 0.0) -> float:
        if now >= self.parent.end and self.finish:
            return self.parent.quantity
        lots = math.floor(self.rate * max(market_volume, 0.0) / self.parent.lot + 1e-9)
        return min(lots, self.parent.lots) * self.parent.lot

    def schedule(self) -> list[tuple[datetime, float]]:
        """An estimate with the market volume spread evenly over 10 intervals (``expected_volume``;
        without one, the parent over the horizon as TWAP would)."""
        times = slice_times(self.parent, 10)
        if not self.expected_volume:
            per = self.parent.quantity / 10
            return [(t, per) for t in times]
        done, out = 0.0, []
        for i, t in enumerate(times, start=1):
            want = min(self.parent.quantity, math.floor(self.rate * self.expected_volume * i / 10 / self.parent.lot)
                       * self.parent.lot)
            out.append((t, want - done))
            done = want
        return out
