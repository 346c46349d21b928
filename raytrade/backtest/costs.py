"""Trading costs and position sizing of the backtest kernel (and of the paper broker later)."""

from __future__ import annotations

from enum import StrEnum
from typing import Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from raytrade.execution.impact import ImpactModel


class CostModel(BaseModel):
    """Per-fill costs.

    - ``half_spread_bps`` and ``slippage_bps``: the fill price is worse than the reference price by
      their sum, in basis points of the reference price (buys pay more, sells receive less);
    - ``commission_bps``: commission in basis points of the filled notional (fill price x shares);
    - ``commission_per_share``: commission in currency per share (or coin) filled;
    - ``impact`` (optional, :class:`~raytrade.execution.impact.ImpactModel`): a size-dependent
      cost on top, per share a fraction of the reference price
      (:func:`raytrade.execution.formulas.impact_cost` of the fill's size against the average
      volume and volatility of the ``impact.lookback`` bars before it): large trades pay more.
      Needs volumes (an OHLCV table).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    commission_bps: float = Field(0.0, ge=0, le=1000)
    commission_per_share: float = Field(0.0, ge=0)
    half_spread_bps: float = Field(0.0, ge=0, le=1000)
    slippage_bps: float = Field(0.0, ge=0, le=1000)
    impact: ImpactModel | None = None

    @property
    def price_impact_bps(self) -> float:
        """Half-spread plus slippage: how far the fill price is from the reference, in bps."""
        return self.half_spread_bps + self.slippage_bps


class SizingMode(StrEnum):
    FIXED_FRACTION = "fixed_fraction"
    VOL_TARGET = "vol_target"
    KELLY = "kelly"


class Rebalance(StrEnum):
    ON_CHANGE = "on_change"  # trade only when the strategy's signal (a portfolio's weight row) changes
    EVERY_BAR = "every_bar"  # re-target the weight at every bar
    CALENDAR = "calendar"    # portfolio strategies: at the first bar of each calendar period
    THRESHOLD = "threshold"  # portfolio strategies: when a weight drifts more than a threshold


class CalendarPeriod(StrEnum):
    WEEK = "week"
    MONTH = "month"
    QUARTER = "quarter"
    YEAR = "year"


class Sizing(BaseModel):
    """How a signal in [-1, 1] becomes a position.

    target weight w_t = signal_t x scale_t, a fraction of equity (negative = short):

    - ``fixed_fraction``: scale_t = ``fraction``;
    - ``vol_target``: scale_t = min(``max_leverage``, ``vol_target`` / sigma_t), sigma_t the
      annualised (sqrt 252) standard deviation (ddof=1) of the last ``vol_lookback`` close-to-close
      returns up to and including bar t; scale_t = 0 until ``vol_lookback`` returns exist.
    - ``kelly`` (per column: it reads the column's own signals): scale_t = min(``max_leverage``,
      max(0, ``fraction`` x m_t / v_t)), the continuous Kelly fraction (risk-free rate 0,
      :func:`raytrade.risk.kelly.kelly_continuous`) of the column's unit-exposure returns
      u_s = signal_{s-1} x (close_s / close_{s-1} - 1), the return its signal earned per unit of
      weight; m_t and v_t (ddof=1) their mean and variance over the last ``kelly_lookback`` bars up
      to and including t. ``fraction`` is the Kelly multiplier (0.5: half Kelly, at most 1). A
      history that favours the other side gives 0 (flat, never a flip); scale_t = 0 until
      ``kelly_lookback`` returns exist or while v_t = 0. A backtest and research sizing: the
      paper replay and the engine's runner refuse it.

    With ``whole_shares`` the share count is floored to ``lot_size`` using the cash that buys it
    (see :func:`raytrade.backtest.kernel.run_kernel`); otherwise positions are fractional.

    ``rebalance``: ``on_change`` or ``every_bar``; for portfolio strategies also ``calendar`` (at
    the first bar of each ``calendar`` period) and ``threshold`` (when a weight drifts more than
    ``threshold`` from its target), see :mod:`raytrade.backtest.portfolio`, where
    ``max_leverage`` caps the gross exposure.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    mode: SizingMode = SizingMode.FIXED_FRACTION
    fraction: float = Field(1.0, gt=0, le=10)
    vol_target: float = Field(0.15, gt=0, le=5)
    vol_lookback: int = Field(20, ge=2, le=2520)
    kelly_lookback: int = Field(252, ge=2, le=2520)
    max_leverage: float = Field(1.0, gt=0, le=10)
    whole_shares: bool = False
    lot_size: float = Field(1.0, gt=0)
    rebalance: Rebalance = Rebalance.ON_CHANGE
    calendar: CalendarPeriod = CalendarPeriod.MONTH
    threshold: float = Field(0.05, gt=0, le=1)

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if self.mode is SizingMode.KELLY and self.fraction > 1.0:
            raise ValueError("fraction is the Kelly multiplier for kelly sizing: at most 1 (0.5 = half Kelly)")
        return self
