"""StrategyAdaptor: a strategy's parameters and exposure chosen by the market regime.

A config (``configs/regimes/*.yaml``) names a strategy, its base parameters, and per regime the
parameters that override the base (merged over it) and an exposure in [0, 1] that scales the
signal (1 when not given). Every regime's merged set is validated against the strategy's
parameter space when the config loads, and the error names the regime.

At bar t the adapted signal is the signal of the parameter set of bar t's regime, times that
regime's exposure. The regime of bar t is computed from data up to t (see
:class:`~raytrade.signals.regime.RegimeDetector`), and every set's signal at t uses bars up to t,
so the adapted signal has no look-ahead. Bars without a regime (warm-up) use the base set with
exposure 1.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field

from raytrade.configfile import load_yaml
from raytrade.core.errors import ConfigError, DataError
from raytrade.signals.regime import MarketRegime
from raytrade.strategies.registry import get_strategy
from raytrade.strategies.space import ParamBlock


class AdaptorConfig(BaseModel):
    """``configs/regimes/*.yaml``."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    strategy: str
    allow_short: bool = False  # long only unless the config says otherwise
    params: dict[str, Any] = Field(default_factory=dict)
    overrides: dict[MarketRegime, dict[str, Any]] = Field(default_factory=dict)
    exposure: dict[MarketRegime, float] = Field(default_factory=dict)


class StrategyAdaptor:
    """Per-regime parameters and exposure of one strategy (rules in the module docstring)."""

    def __init__(self, config: AdaptorConfig) -> None:
        self.config = config
        self.strategy = get_strategy(config.strategy, allow_short=config.allow_short)
        space = self.strategy.space
        self.base = space.validate(config.params, "params")
        self._sets = {r: space.validate({**self.base, **config.overrides.get(r, {})}, f"overrides.{r.value}")
                      for r in MarketRegime}
        for regime, e in config.exposure.items():
            if not 0.0 <= e <= 1.0 or not np.isfinite(e):
                raise ConfigError(f"exposure.{regime.value}: must be in [0, 1], got {e}")

    @classmethod
    def from_yaml(cls, path: str | Path) -> StrategyAdaptor:
        return cls(load_yaml(path, AdaptorConfig))

    def params_for(self, regime: MarketRegime | str | None) -> dict[str, int | float]:
        """The parameter set in force in ``regime`` (the base set when None)."""
        return dict(self.base) if regime is None else dict(self._sets[_regime(regime)])

    def exposure_for(self, regime: MarketRegime | str | None) -> float:
        return 1.0 if regime is None else float(self.config.exposure.get(_regime(regime), 1.0))

    def schedule(self, regimes: pd.Series) -> pd.DataFrame:
        """Per bar of ``regimes`` (values: regime names or None): the parameters and the exposure."""
        rows = [{**self.params_for(r), "exposure": self.exposure_for(r)} for r in _regimes(regimes)]
        return pd.DataFrame(rows, index=regimes.index)

    def signals(self, close: pd.Series, regimes: pd.Series) -> pd.Series:
        """The adapted signal of one asset's closes, bar by bar (same index as ``close``)."""
        if not close.index.equals(regimes.index):
            raise ConfigError("close and regimes must have the same bars")
        names = self.strategy.space.names
        sets = [self.base, *self._sets.values()]
        unique = list(dict.fromkeys(tuple(s[n] for n in names) for s in sets))
        block = ParamBlock({n: np.array([u[i] for u in unique]) for i, n in enumerate(names)})
        all_signals = self.strategy.signals(self.strategy.prepare(close.to_numpy(np.float64), block), block)
        column = {u: j for j, u in enumerate(unique)}
        pick = np.array([column[tuple(self.params_for(r)[n] for n in names)] for r in _regimes(regimes)])
        scale = np.array([self.exposure_for(r) for r in _regimes(regimes)])
        return pd.Series(all_signals[np.arange(len(close)), pick].astype(np.float64) * scale, index=close.index,
                         name="signal")


def _regime(value: MarketRegime | str) -> MarketRegime:
    try:
        return MarketRegime(value)
    except ValueError:
        raise DataError(f"unknown regime {value!r} (known: {', '.join(r.value for r in MarketRegime)})",
                        source="regime") from None


def _regimes(regimes: pd.Series) -> list[str | None]:
    return [None if (r is None or (isinstance(r, float) and np.isnan(r))) else str(r) for r in regimes]
