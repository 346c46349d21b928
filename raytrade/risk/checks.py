"""Limits on the book's risk figures: VaR, dollar delta, dollar gamma and vega, as a typed list in
the risk config (``checks: [{kind: var, max: 0.02}, {kind: vega, max: 0.01}]``) and a named registry.

Each check reads the figures the engine last computed (:mod:`raytrade.risk.live`), never computes
them on the order path, and only refuses orders that add risk (as the weight limits do). Figures
as fractions of equity: VaR (positive loss, 99 %, ``horizon`` 1d or 10d), |dollar delta| / equity,
|dollar gamma| / equity (the P&L of a 1.00 relative move squared, halved), |vega| / equity (per 1.00
of volatility). A figure the engine could not compute (too little history) refuses like a breach:
fail closed. Staleness is the pre-trade risk's (``figures_max_age_s``).
"""

from __future__ import annotations

from typing import Annotated, Any, ClassVar, Literal, Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict, Field

from raytrade.core.enums import RejectReason
from raytrade.risk.decision import OK, RiskDecision


@runtime_checkable
class FigureCheck(Protocol):
    """A limit on one of the book's risk figures: ``kind`` names it in configs; ``decide`` reads
    the figures (a :class:`~raytrade.risk.live.RiskFigures`) and accepts or refuses."""

    kind: Any

    def decide(self, figures: Any) -> RiskDecision: ...


class _Check(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)
    label: ClassVar[str] = ""
    max: float

    def _label(self) -> str:
        return self.label

    def _value(self, figures: Any) -> float | None:
        raise NotImplementedError

    def decide(self, figures: Any) -> RiskDecision:
        value = self._value(figures)
        if value is None:
            return RiskDecision.reject(RejectReason.RISK_FIGURE_LIMIT, f"{self._label()} is not known ("
                                       f"{figures.note or 'not computed'}): orders that add risk wait for it",
                                       limit=self.max)
        if value > self.max + 1e-12:
            return RiskDecision.reject(RejectReason.RISK_FIGURE_LIMIT, f"{self._label()} is {value:.2%} of equity "
                                       f"(max {self.max:.2%}): only orders that reduce a position are accepted",
                                       value=value, limit=self.max)
        return OK


def _of_equity(figures: Any, name: str) -> float | None:
    v = figures.greeks.get(name)
    return abs(v) / figures.equity if v is not None and figures.equity > 0 else None


class VarCheck(_Check):
    kind: Literal["var"] = "var"
    max: float = Field(gt=0, le=1, description="99 % historical VaR over the horizon, a fraction of equity")
    horizon: Literal["1d", "10d"] = "1d"

    def _label(self) -> str:
        return f"the {self.horizon} 99% VaR"

    def _value(self, figures: Any) -> float | None:
        return figures.var_1d if self.horizon == "1d" else figures.var_10d


class DeltaCheck(_Check):
    kind: Literal["delta"] = "delta"
    max: float = Field(gt=0, le=100, description="|dollar delta| / equity")
    label: ClassVar[str] = "the book's |dollar delta|"

    def _value(self, figures: Any) -> float | None:
        return _of_equity(figures, "dollar_delta")


class GammaCheck(_Check):
    kind: Literal["gamma"] = "gamma"
    max: float = Field(gt=0, le=1000, description="|dollar gamma| / equity")
    label: ClassVar[str] = "the book's |dollar gamma|"

    def _value(self, figures: Any) -> float | None:
        return _of_equity(figures, "dollar_gamma")


class VegaCheck(_Check):
    kind: Literal["vega"] = "vega"
    max: float = Field(gt=0, le=100, description="|vega| / equity, per 1.00 of volatility")
    label: ClassVar[str] = "the book's |vega|"

    def _value(self, figures: Any) -> float | None:
        return _of_equity(figures, "vega")


FIGURE_CHECKS: dict[str, type[_Check]] = {c.model_fields["kind"].default: c
                                         for c in (VarCheck, DeltaCheck, GammaCheck, VegaCheck)}
CheckSpec = Annotated[VarCheck | DeltaCheck | GammaCheck | VegaCheck, Field(discriminator="kind")]
