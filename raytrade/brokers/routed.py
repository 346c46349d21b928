"""A simulated market of several venues behind a smart order router: the paper broker's fill rules
(participation cap, limits, impact, commission, events) with each fill split over venues by a
routing policy (:mod:`raytrade.execution.routing`), and every fill recording its venue.

``broker: {kind: routed, venues: [...], routing: {policy: cost}, seed: 7, ...}``. Per venue:

- ``lit``: ``fee_bps`` (negative = rebate), ``latency_ms``, ``share`` of the market's volume it
  trades; it shows ``share`` x the fill's quantity at the touch (at least one lot).
- ``dark``: midpoint fills, ``fee_bps``, ``latency_ms``, ``fill_prob`` (the chance an order sent
  there meets hidden liquidity), ``min_size`` (shares), and hidden liquidity ``share`` x the
  fill's quantity.

Prices. The mid is the paper broker's reference (the bar's close, or the quote's mid; moved by the
simulated permanent impact); with bars the touch is mid x (1 +/- half_spread_bps / 1e4), with quotes
the quoted bid and ask. A lit part fills at the venue's all-in price (touch x (1 + side x fee /
1e4)) worse by slippage_bps and the temporary impact; a dark part at the mid x (1 + side x fee /
1e4), no slippage or impact (hidden). Commission as the paper broker's.

A limit order uses only the venues whose fill price meets its limit; with no lit venue left
it waits, as a limit not reached.

Whether a dark part fills is drawn from a generator seeded by (``seed``, client order id, fill
number): the same order routes the same way after a restart. A dark miss goes lit at once
(routed again with the dark venues excluded), so the quantity of a fill is never lost to the
router.
"""

from __future__ import annotations

import random
from dataclasses import replace
from typing import Literal, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from raytrade.brokers.paper import PaperBroker, PaperBrokerConfig, _Market, _Working
from raytrade.execution.routing import RouteSlice, RoutingConfig, RoutingPolicy, VenueQuote


class VenueConfig(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)

    name: str = Field(pattern=r"^[A-Za-z0-9_.-]{1,40}$")
    kind: Literal["lit", "dark"] = "lit"
    fee_bps: float = Field(0.0, ge=-50, le=50)
    latency_ms: float = Field(0.0, ge=0, le=60_000)
    share: float = Field(1.0, gt=0, le=1)
    fill_prob: float = Field(1.0, ge=0, le=1)
    min_size: float = Field(0.0, ge=0)

    @model_validator(mode="after")
    def _lit_fills(self) -> Self:
        if self.kind == "lit" and (self.fill_prob != 1.0 or self.min_size != 0.0):
            raise ValueError(f"venue {self.name}: fill_prob and min_size are for dark pools")
        return self


class RoutedBrokerConfig(PaperBrokerConfig):
    kind: Literal["routed"] = "routed"  # type: ignore[assignment]
    venues: list[VenueConfig] = Field(default_factory=lambda: [
        VenueConfig(name="PRIMARY", fee_bps=0.3, latency_ms=1.0, share=0.5),
        VenueConfig(name="SECONDARY", fee_bps=-0.2, latency_ms=2.0, share=0.3),
        VenueConfig(name="DARK", kind="dark", fee_bps=0.1, latency_ms=5.0, share=0.3, fill_prob=0.35, min_size=100),
    ])
    routing: RoutingConfig = RoutingConfig()
    seed: int = 0

    @model_validator(mode="after")
    def _venues(self) -> Self:
        names = [v.name for v in self.venues]
        if len(set(names)) != len(names):
            raise ValueError(f"venues: names must be unique, got {names}")
        if not any(v.kind == "lit" for v in self.venues):
            raise ValueError("venues: at least one lit venue is needed (a dark pool's misses go lit)")
        self.routing.build()  # an unknown policy or bad params fail at load time
        return self


class RoutedBroker(PaperBroker):
    name = "routed"
    venue_limits = True

    def __init__(self, config: RoutedBrokerConfig | None = None) -> None:
        super().__init__(config or RoutedBrokerConfig())
        self.config: RoutedBrokerConfig
        self.policy: RoutingPolicy = self.config.routing.build()

    def quotes(self, mid: float, half_spread: float, quantity: float, lot: float,
               bid: float | None = None, ask: float | None = None) -> list[VenueQuote]:
        """The venues' quotes around ``mid`` for a fill of ``quantity`` (see the module)."""
        b = bid if bid is not None else mid * (1 - half_spread)
        a = ask if ask is not None else mid * (1 + half_spread)
        return [VenueQuote(v.name, v.kind, b, a, max(lot, v.share * quantity), v.fee_bps, v.latency_ms,
                           v.fill_prob, v.min_size) for v in self.config.venues]

    def _venues(self, w: _Working, qty: float, price: float, m: _Market,
                temporary: float) -> list[tuple[float, float, str | None]]:
        side = w.order.side.sign
        costs = self.config.costs
        shift = self.simulated_shift(w.order.symbol)
        if m.bid is not None and m.ask is not None:
            quotes = self.quotes((m.bid + m.ask) / 2 * (1 + shift), 0.0, qty, w.lot,
                                 m.bid * (1 + shift), m.ask * (1 + shift))
        else:
            quotes = self.quotes(m.last * (1 + shift), costs.half_spread_bps / 1e4, qty, w.lot)
        limit = w.order.limit_price
        if limit is not None:  # only venues whose all-in price meets the limit
            quotes = [q for q in quotes if side * (self._price(q, side, temporary) - limit) <= 1e-12]
            if not any(q.kind == "lit" for q in quotes):
                return []
        n0 = self._seen.get(w.order.client_order_id, 0)
        plan = self.policy.route(side, qty, quotes, w.lot)
        out: list[tuple[float, float, str | None]] = []
        missed = 0.0
        for k, s in enumerate(plan):
            if s.kind == "dark":
                draw = random.Random(f"{self.config.seed}:{w.order.client_order_id}:{n0}:{k}").random()
                if draw < s.fill_prob:
                    out.append((s.quantity, s.price, s.venue))
                else:
                    missed += s.quantity
            else:
                out.append(self._lit_part(s, side, temporary))
        if missed > 0:  # lit again, on what the plan left of each venue's displayed size
            darks = {v.name for v in self.config.venues if v.kind == "dark"}
            used = {s.venue: s.quantity for s in plan if s.kind == "lit"}
            left = [replace(q, size=max(0.0, q.size - used.get(q.venue, 0.0))) for q in quotes]
            for s in self.policy.route(side, missed, left, w.lot, exclude=darks):
                out.append(self._lit_part(s, side, temporary))
        merged: dict[tuple[str | None, float], float] = {}
        for q, px, venue in out:  # a venue's lit part and its share of a dark miss are one fill
            merged[(venue, px)] = merged.get((venue, px), 0.0) + q
        return [(q, px, venue) for (venue, px), q in merged.items()]

    def _price(self, q: VenueQuote, side: int, temporary: float) -> float:
        """The price a fill on ``q``'s venue gets (see the module)."""
        if q.kind == "dark":
            return q.all_in(side)
        return q.all_in(side) * (1 + side * (self.config.costs.slippage_bps / 1e4 + temporary))

    def _lit_part(self, s: RouteSlice, side: int, temporary: float) -> tuple[float, float, str | None]:
        return s.quantity, s.price * (1 + side * (self.config.costs.slippage_bps / 1e4 + temporary)), s.venue
