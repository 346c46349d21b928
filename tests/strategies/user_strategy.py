"""A user's own strategy, outside raytrade, loaded as ``tests.strategies.user_strategy:PriceAboveMean``
(what the docs tell users to write): long while the close is above its mean over ``window`` bars."""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from raytrade.strategies.base import rolling_mean
from raytrade.strategies.space import ParamBlock, Parameter, ParameterSpace


class PriceAboveMean:
    name: ClassVar[str] = "price_above_mean"
    space: ClassVar[ParameterSpace] = ParameterSpace(params=(Parameter("window", int, 2, 500, "bars in the mean"),))

    def __init__(self, allow_short: bool = True) -> None:
        self.allow_short = allow_short

    def prepare(self, close: np.ndarray, block: ParamBlock) -> Any:
        return np.asarray(close, dtype=np.float64)

    def signals(self, prepared: np.ndarray, block: ParamBlock) -> np.ndarray:
        out = np.zeros((len(prepared), len(block)))
        for k, w in enumerate(block["window"]):
            mean = rolling_mean(prepared, int(w))
            out[:, k] = np.where(np.isnan(mean), 0.0, np.where(prepared > mean, 1.0, -1.0 if self.allow_short else 0.0))
        return out

    def warmup(self, block: ParamBlock) -> int:
        return int(np.max(block["window"])) - 1


class NotAStrategy:
    name = "nope"

    def prepare(self, close: np.ndarray) -> None:
        return None
