"""Equal weight: the simplest portfolio strategy, and the benchmark of the others."""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from raytrade.strategies.space import ParamBlock, Parameter, ParameterSpace


class EqualWeight:
    """``gross`` of equity split equally over the assets that have a price at the bar (an asset
    listed late joins at its first close). Long only; rebalanced as the portfolio sizing says
    (``every_bar`` for a daily equal-weight book, ``calendar`` for a monthly one)."""

    name: ClassVar[str] = "equal_weight"
    space: ClassVar[ParameterSpace] = ParameterSpace(
        params=(Parameter("gross", float, 0.01, 10.0, "fraction of equity invested, split equally"),),
        defaults={"gross": 1.0},
    )

    def __init__(self, allow_short: bool = False) -> None:
        self.allow_short = allow_short

    def prepare(self, close: np.ndarray, block: ParamBlock) -> np.ndarray:
        listed = np.isfinite(np.asarray(close, dtype=np.float64))
        count = listed.sum(axis=1, keepdims=True)
        return np.where(listed, 1.0 / np.maximum(count, 1), 0.0)

    def weights(self, prepared: np.ndarray, block: ParamBlock) -> np.ndarray:
        gross = np.asarray(block["gross"], dtype=np.float64)
        return prepared[:, None, :] * gross[None, :, None]

    def warmup(self, block: ParamBlock) -> int:
        return 0
