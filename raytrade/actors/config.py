"""The trading engine's configuration (``configs/engine.yaml`` or the ``engine`` part of a paper config)."""

from __future__ import annotations

import os
from datetime import date
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    field_validator,
    model_validator,
)

from raytrade.brokers.paper import PaperBrokerConfig
from raytrade.brokers.routed import RoutedBrokerConfig
from raytrade.compliance.rules import ComplianceRules
from raytrade.core.enums import AssetClass, OptionRight
from raytrade.core.instruments import Instrument
from raytrade.data.feeds import FeedConfig
from raytrade.risk.limits import RiskLimits
from raytrade.storage import EventStore, store_from_url


def _broker_kind(v: Any) -> str:
    """The broker config's ``kind`` (``paper`` when left out, as configs written before there
    was a choice)."""
    return str(v.get("kind", "paper") if isinstance(v, dict) else getattr(v, "kind", "paper"))


class InstrumentSpec(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    symbol: str
    asset_class: AssetClass = AssetClass.EQUITY
    venue: str | None = None
    sector: str | None = None
    tick_size: float = Field(0.01, gt=0)
    lot_size: float | None = Field(None, gt=0)

    def build(self) -> Instrument:
        crypto = self.asset_class is AssetClass.CRYPTO
        return Instrument(self.symbol, self.asset_class, venue=self.venue or ("CRYPTO" if crypto else "XNYS"),
                          sector=self.sector, tick_size=self.tick_size,
                          lot_size=self.lot_size or (1e-8 if crypto else 1.0))


class OptionSpec(BaseModel):
    """A listed European option the engine may trade (OCC-style symbol, multiplier 100 by default):
    its symbol is built from these fields (``raytrade.core.instruments.option``)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    underlying: str = Field(min_length=1, max_length=6)
    expiry: date
    strike: float = Field(gt=0, allow_inf_nan=False)
    right: OptionRight
    multiplier: float = Field(100.0, gt=0, allow_inf_nan=False)

    def build(self) -> Instrument:
        from dataclasses import replace

        from raytrade.core.instruments import option

        built = option(self.underlying.upper(), self.expiry, self.strike, self.right)
        return built if self.multiplier == 100.0 else replace(built, multiplier=self.multiplier)


class HedgerConfig(BaseModel):
    """The engine's delta hedger (:class:`raytrade.risk.hedging.DeltaHedger`): after each
    computation of the risk figures, each underlying the book holds options on whose net delta
    (stock + options, in shares) is worth more than ``band`` of equity is traded back to ``target``
    shares of net delta with a market order in the underlying, tagged ``hedger``, through the
    normal order path (risk, compliance, audit)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    band: float = Field(0.01, gt=0, le=1, description="|net delta x spot| / equity that triggers a hedge")
    target: float = Field(0.0, allow_inf_nan=False, description="net delta in shares the hedge aims at")


class EngineConfig(BaseModel):
    """Everything the engine's actors need; each actor gets a copy at creation.

    ``equities`` is a shortcut for US stocks (sectors from the bundled sector table when known);
    ``instruments`` lists any others. ``clock="market"`` makes "now" the time of the latest bar
    (replay); ``"wall"`` the real UTC time. ``store_url``/``store_schema``/``redis_url`` default to
    ``RAYTRADE_DATABASE_URL``, ``RAYTRADE_DATABASE_SCHEMA`` and ``RAYTRADE_REDIS_URL``.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field("raytrade", pattern=r"^[a-z][a-z0-9_-]{0,40}$")
    initial_cash: float = Field(1_000_000.0, gt=0)
    equities: tuple[str, ...] = ()
    instruments: tuple[InstrumentSpec, ...] = ()
    options: tuple[OptionSpec, ...] = Field((), description="listed options the engine may trade")
    hedger: HedgerConfig | None = Field(None, description="delta-hedge the book's options (off by default)")
    calendar_venue: str = "XNYS"
    risk: RiskLimits = RiskLimits()
    compliance: ComplianceRules = ComplianceRules()
    broker: Annotated[Annotated[PaperBrokerConfig, Tag("paper")] | Annotated[RoutedBrokerConfig, Tag("routed")],
                      Discriminator(_broker_kind)] = PaperBrokerConfig()
    clock: Literal["wall", "market"] = "wall"
    store_url: str | None = None
    store_schema: str | None = None
    redis_url: str | None = None
    call_timeout_s: float = Field(5.0, gt=0, le=120)
    store_timeout_s: float = Field(5.0, gt=0, le=120, description="PostgreSQL: seconds a connection or a "
                                                                  "statement may take before it counts as lost")
    market_data: FeedConfig | None = Field(None, description="a price feed the engine starts with it (a replay "
                                           "of bundled or CSV closes; see raytrade.data.feeds)")
    audit_checkpoints: str | None = Field(None, description="a file (apart from the database) where the order "
                                          "manager appends signed checkpoints of its newest commit; needs "
                                          "RAYTRADE_AUDIT_KEY (raytrade audit verify --checkpoint)")
    audit_checkpoint_s: float = Field(5.0, gt=0, le=3600, description="seconds between checkpoints")
    store_resolve_s: float = Field(30.0, gt=0, le=600, description="PostgreSQL: seconds to settle a commit whose "
                                   "reply was lost before the order manager restarts and rebuilds from the log")
    risk_figures_s: float = Field(10.0, gt=0, le=3600, description="seconds between computations of the book's "
                                  "VaR, CVaR, leverage, correlation risk and Greeks (also soon after a fill)")
    risk_lookback: int = Field(252, ge=20, le=5000, description="daily returns the VaR figures read")

    @field_validator("equities")
    @classmethod
    def _upper(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(s.strip().upper() for s in v)

    @model_validator(mode="after")
    def _volume_for_the_cap(self) -> EngineConfig:
        # the feeds replay closes without volume: a share-of-volume cap would leave every order working
        rate = getattr(self.broker, "participation_rate", None)
        if self.market_data is not None and rate is not None:
            raise ValueError(f"broker.participation_rate is {rate:g} but the {self.market_data.source} market_data "
                             "feed has no volume, so no order would ever fill: set broker.participation_rate: null")
        return self

    def instrument_map(self) -> dict[str, Instrument]:
        from raytrade.data import load_sectors

        sectors = load_sectors()["gics_sector"].to_dict() if self.equities else {}
        out = {s: InstrumentSpec(symbol=s, sector=sectors.get(s)).build() for s in self.equities}
        out.update({i.symbol: i.build() for i in self.instruments})
        out.update({o.build().symbol: o.build() for o in self.options})
        return out

    def resolved_store_url(self) -> str | None:
        return self.store_url or os.environ.get("RAYTRADE_DATABASE_URL") or None

    def open_store(self) -> EventStore:
        """The engine's event store (unopened), with this config's timeouts."""
        return store_from_url(self.resolved_store_url(), schema=self.store_schema, timeout_s=self.store_timeout_s,
                              resolve_timeout_s=self.store_resolve_s)

    def resolved_redis_url(self) -> str | None:
        return self.redis_url or os.environ.get("RAYTRADE_REDIS_URL") or None

    def actor_name(self, role: str) -> str:
        return f"{self.name}-{role}"
