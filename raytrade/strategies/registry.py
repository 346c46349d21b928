"""Strategies by name, as configs refer to them: a registered name (:data:`STRATEGIES`), or a
user's own class as ``module:Class`` (importable where the code runs: the driver, Ray workers,
the engine's strategy runner), which must follow the :class:`~raytrade.strategies.base.Strategy`
protocol (``name``, ``space``, ``prepare``, ``signals``, ``warmup``), or the portfolio protocol
(:class:`~raytrade.strategies.base.PortfolioStrategy`: ``weights`` instead of ``signals``), or the
options-overlay protocol (:class:`~raytrade.strategies.base.OverlayStrategy`: ``overlay`` and
``warmup``), and take ``allow_short``."""

from __future__ import annotations

import importlib
import inspect

from raytrade.core.errors import ConfigError
from raytrade.strategies.base import OverlayStrategy, PortfolioStrategy, Strategy
from raytrade.strategies.equal_weight import EqualWeight
from raytrade.strategies.ma_crossover import MovingAverageCrossover
from raytrade.strategies.mean_reversion import BollingerMeanReversion
from raytrade.strategies.momentum import TimeSeriesMomentum
from raytrade.strategies.options import CashSecuredPut, CoveredCall
from raytrade.strategies.pairs import PairsTrading
from raytrade.strategies.space import ParameterSpace
from raytrade.strategies.stat_arb import MomentumDivergence, ResidualReversion
from raytrade.strategies.trend import CryptoTrend

STRATEGIES: dict[str, type] = {
    cls.name: cls for cls in (MovingAverageCrossover, TimeSeriesMomentum, BollingerMeanReversion, EqualWeight,
                          PairsTrading, ResidualReversion, MomentumDivergence, CoveredCall, CashSecuredPut,
                          CryptoTrend)
}
# registered by name but defined in a package above this one (signals imports strategies), so
# imported when asked for
ELSEWHERE: dict[str, str] = {"ensemble_long_short": "raytrade.signals.book:EnsembleLongShort"}


def strategy_names() -> list[str]:
    """Every registered strategy name, sorted."""
    return sorted([*STRATEGIES, *ELSEWHERE])

PROTOCOL = ("prepare", "warmup")


def strategy_class(name: str) -> type:
    """The class registered as ``name``, or imported from ``module:Class`` (ConfigError naming
    what is missing when it cannot be found or does not follow the protocol)."""
    if ":" not in name:
        if name in ELSEWHERE:
            module_name, _, attr = ELSEWHERE[name].partition(":")
            return getattr(importlib.import_module(module_name), attr)
        try:
            return STRATEGIES[name]
        except KeyError:
            raise ConfigError(f"strategy.name: unknown strategy {name!r} (known: {', '.join(strategy_names())}; "
                              "or a class of your own as module:Class)") from None
    module_name, _, attr = name.partition(":")
    try:
        module = importlib.import_module(module_name)
    except Exception as exc:  # a user's module: any import failure is theirs to read, in one line
        raise ConfigError(f"strategy.name: cannot import {module_name!r} for {name!r}: "
                          f"{type(exc).__name__}: {exc}") from None
    cls = getattr(module, attr, None)
    if not inspect.isclass(cls):
        raise ConfigError(f"strategy.name: {module_name!r} has no class {attr!r}")
    overlay = callable(getattr(cls, "overlay", None))   # an options overlay prepares nothing
    missing = [m for m in PROTOCOL if not callable(getattr(cls, m, None)) and not (overlay and m == "prepare")]
    if not any(callable(getattr(cls, m, None)) for m in ("signals", "weights", "overlay")):
        missing.insert(1 if "prepare" in missing else 0, "signals (or weights, for a portfolio strategy)")
    if not isinstance(getattr(cls, "space", None), ParameterSpace):
        missing.append("space (a ParameterSpace)")
    if not isinstance(getattr(cls, "name", None), str):
        missing.append("name (a str)")
    if missing:
        raise ConfigError(f"strategy.name: {name} does not follow the Strategy protocol: it lacks "
                          f"{', '.join(missing)} (see raytrade.strategies.base.Strategy)")
    return cls


def get_strategy(name: str, *, allow_short: bool = False) -> Strategy | PortfolioStrategy | OverlayStrategy:
    """An instance of the strategy ``name`` (registered, or ``module:Class``)."""
    cls = strategy_class(name)
    try:
        strategy = cls(allow_short=allow_short)
    except TypeError as exc:
        raise ConfigError(f"strategy.name: {name} must take allow_short as a keyword argument: {exc}") from None
    if not isinstance(strategy, Strategy | PortfolioStrategy | OverlayStrategy):
        raise ConfigError(f"strategy.name: {name} does not follow the Strategy protocol")
    return strategy


def check_shorts(name: str, allow_short: bool) -> None:
    """ConfigError when the strategy ``name`` cannot trade without shorts (its class says
    ``requires_short = True``, e.g. pairs) and the config does not allow them: said when the config
    is read, before any work."""
    if not allow_short and getattr(strategy_class(name), "requires_short", False):
        raise ConfigError(f"strategy.allow_short: {name} sells short by design (one leg of each pair): set "
                          "allow_short: true")
