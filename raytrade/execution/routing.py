"""Smart order routing: how a child order is split across venues (pure; the routed broker and any
live router call it).

Conventions: prices in currency per share; ``fee_bps`` is what a venue charges a liquidity taker in
basis points of the notional, negative for a rebate, folded into the venue's all-in price;
``side`` is +1 for a buy and -1 for a sell; quantities are shares, whole lots.

A venue's quote (:class:`VenueQuote`): bid, ask, the size it shows (lit) or is expected to hide
(dark), its fee, latency, and for a dark pool the probability that an order resting at the
midpoint finds a counterparty and the minimum size it accepts.

All-in price per share of taking on venue v, for a buy (mirror for a sell):
- lit: ask x (1 + fee_bps / 1e4);
- dark: mid x (1 + fee_bps / 1e4), mid = (bid + ask) / 2, filled with probability ``fill_prob``.

The ``cost`` policy (:class:`CostPolicy`, the default):

1. Dark first where it pays. The best lit all-in price L is the cheapest lit venue's. A dark
   venue's expected saving per share sent there is
   s = fill_prob x (L - D) - (1 - fill_prob) x L x delay_bps_per_ms x latency_ms / 1e4
   (buy; D its all-in price): a miss costs the price drift over the venue's latency before the
   order can go lit. Dark venues with s > 0 and the quantity >= their ``min_size`` get, best s
   first, up to their expected hidden size each.
2. Lit, cheapest all-in price first (lower latency on a tie), each up to its displayed size; what
   is left goes to the cheapest lit venue (it takes the next levels there).
3. A caller executes the dark slices first and routes what they did not fill again with the
   dark venues excluded (:meth:`RoutingPolicy.route` with ``exclude``).

``lit_only`` (:class:`LitOnlyPolicy`) skips step 1. A new policy is a class with ``route`` and a
line in :data:`ROUTING_POLICIES`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from raytrade.core.errors import ConfigError


@dataclass(frozen=True, slots=True)
class VenueQuote:
    """What the router knows of a venue now (see the module)."""

    venue: str
    kind: Literal["lit", "dark"]
    bid: float
    ask: float
    size: float  # lit: displayed at the touch; dark: expected hidden liquidity
    fee_bps: float = 0.0
    latency_ms: float = 0.0
    fill_prob: float = 1.0
    min_size: float = 0.0

    @property
    def mid(self) -> float:
        return (self.bid + self.ask) / 2.0

    def all_in(self, side: int) -> float:
        """The all-in price per share of taking here on ``side`` (+1 buy, -1 sell)."""
        touch = (self.ask if side > 0 else self.bid) if self.kind == "lit" else self.mid
        return touch * (1.0 + side * self.fee_bps / 1e4)


@dataclass(frozen=True, slots=True)
class RouteSlice:
    """A share of a child for one venue: ``quantity`` shares at an expected ``price`` (all-in),
    expected to fill with probability ``fill_prob``."""

    venue: str
    kind: Literal["lit", "dark"]
    quantity: float
    price: float
    fill_prob: float


class RoutingPolicy(Protocol):
    @property
    def name(self) -> str: ...

    def route(self, side: int, quantity: float, quotes: Sequence[VenueQuote], lot: float = 1.0,
              exclude: Collection[str] = ()) -> list[RouteSlice]:
        """Split ``quantity`` (whole ``lot``s) over ``quotes``' venues, none of ``exclude``; the
        slices sum to ``quantity`` exactly."""
        ...


def _floor(q: float, lot: float) -> float:
    return math.floor(q / lot + 1e-9) * lot if lot > 0 else q


class LitOnlyPolicy:
    """Lit venues only, cheapest all-in price first (steps 2 of the module)."""

    name = "lit_only"

    def route(self, side: int, quantity: float, quotes: Sequence[VenueQuote], lot: float = 1.0,
              exclude: Collection[str] = ()) -> list[RouteSlice]:
        return _lit(side, quantity, [q for q in quotes if q.kind == "lit" and q.venue not in exclude], lot)


@dataclass(frozen=True, slots=True)
class CostPolicy:
    """Dark first where the expected saving is positive, then lit by all-in price (the module)."""

    delay_bps_per_ms: float = 0.01

    @property
    def name(self) -> str:
        return "cost"

    def dark_saving(self, side: int, dark: VenueQuote, best_lit: float) -> float:
        """s of the module: the expected saving per share (currency) of sending to ``dark``."""
        miss = best_lit * self.delay_bps_per_ms * dark.latency_ms / 1e4
        return dark.fill_prob * side * (best_lit - dark.all_in(side)) - (1.0 - dark.fill_prob) * miss

    def route(self, side: int, quantity: float, quotes: Sequence[VenueQuote], lot: float = 1.0,
              exclude: Collection[str] = ()) -> list[RouteSlice]:
        usable = [q for q in quotes if q.venue not in exclude]
        lit = [q for q in usable if q.kind == "lit"]
        if not lit:
            raise ConfigError("routing: no lit venue to route to")
        best = min(q.all_in(side) * side for q in lit) * side
        out: list[RouteSlice] = []
        left = quantity
        darks = sorted(((self.dark_saving(side, q, best), q) for q in usable if q.kind == "dark"),
                       key=lambda t: -t[0])
        for saving, q in darks:
            if saving <= 0 or left < q.min_size or left <= 0:
                continue
            take = _floor(min(left, q.size), lot)
            if take <= 0 or take < q.min_size:
                continue
            out.append(RouteSlice(q.venue, "dark", take, q.all_in(side), q.fill_prob))
            left -= take
        return out + _lit(side, left, lit, lot)


def _lit(side: int, quantity: float, lit: Sequence[VenueQuote], lot: float) -> list[RouteSlice]:
    if quantity <= 0:
        return []
    if not lit:
        raise ConfigError("routing: no lit venue to route to")
    ranked = sorted(lit, key=lambda q: (q.all_in(side) * side, q.latency_ms))
    out: dict[str, float] = {}
    left = quantity
    for q in ranked:
        take = _floor(min(left, q.size), lot)
        if take > 0:
            out[q.venue] = take
            left -= take
    if left > 1e-12:
        out[ranked[0].venue] = out.get(ranked[0].venue, 0.0) + left
    by = {q.venue: q for q in ranked}
    return [RouteSlice(v, "lit", n, by[v].all_in(side), 1.0) for v, n in out.items()]


class RoutingConfig(BaseModel):
    """``routing: {policy, params}`` of a routed broker."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    policy: str = "cost"
    params: dict[str, Any] = Field(default_factory=dict)

    def build(self) -> RoutingPolicy:
        return make_policy(self.policy, self.params)


ROUTING_POLICIES: dict[str, Callable[..., RoutingPolicy]] = {
    "cost": CostPolicy,
    "lit_only": LitOnlyPolicy,
}


def make_policy(name: str, params: dict[str, Any] | None = None) -> RoutingPolicy:
    """The routing policy registered as ``name`` with ``params`` (ConfigError naming what is wrong)."""
    try:
        factory = ROUTING_POLICIES[name]
    except KeyError:
        raise ConfigError(f"routing.policy: unknown policy {name!r} (known: {', '.join(sorted(ROUTING_POLICIES))})") \
            from None
    try:
        return factory(**(params or {}))
    except (TypeError, ValidationError) as e:
        raise ConfigError(f"routing.params: {e}") from None
