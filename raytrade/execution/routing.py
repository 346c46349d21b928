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

import numpy as np
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


class CostPolicy:
    """Dark first where the expected saving is positive, then lit by all-in price (the module).
    The ranking of a set of quotes is kept for the next child routed over the same quotes (a
    parent's children usually are): routing a child is then a walk over two or three venues."""

    def __init__(self, delay_bps_per_ms: float = 0.01) -> None:
        if not (math.isfinite(delay_bps_per_ms) and delay_bps_per_ms >= 0):
            raise ConfigError(f"routing.params.delay_bps_per_ms must be finite and >= 0, got {delay_bps_per_ms!r}")
        self.delay_bps_per_ms = float(delay_bps_per_ms)
        self._ranked: dict[Any, tuple[list[VenueQuote], list[VenueQuote]]] = {}

    @property
    def name(self) -> str:
        return "cost"

    def dark_saving(self, side: int, dark: VenueQuote, best_lit: float) -> float:
        """s of the module: the expected saving per share (currency) of sending to ``dark``."""
        miss = best_lit * self.delay_bps_per_ms * dark.latency_ms / 1e4
        return dark.fill_prob * side * (best_lit - dark.all_in(side)) - (1.0 - dark.fill_prob) * miss

    def _rank(self, side: int, quotes: Sequence[VenueQuote],
              exclude: Collection[str]) -> tuple[list[VenueQuote], list[VenueQuote]]:
        """(dark venues that pay, best saving first; lit venues, cheapest first)."""
        key = (side, tuple(quotes), frozenset(exclude))
        hit = self._ranked.get(key)
        if hit is not None:
            return hit
        usable = [q for q in quotes if q.venue not in exclude]
        lit = sorted((q for q in usable if q.kind == "lit"), key=lambda q: (q.all_in(side) * side, q.latency_ms))
        if not lit:
            raise ConfigError("routing: no lit venue to route to")
        best = lit[0].all_in(side)
        scored = [(self.dark_saving(side, q, best), q) for q in usable if q.kind == "dark"]
        darks = [q for s, q in sorted(scored, key=lambda t: -t[0]) if s > 0]
        if len(self._ranked) >= 4096:  # quotes change all the time live: keep the recent ones
            self._ranked.clear()
        self._ranked[key] = (darks, lit)
        return darks, lit

    def route(self, side: int, quantity: float, quotes: Sequence[VenueQuote], lot: float = 1.0,
              exclude: Collection[str] = ()) -> list[RouteSlice]:
        darks, lit = self._rank(side, quotes, exclude)
        out: list[RouteSlice] = []
        left = quantity
        for q in darks:
            if left <= 0 or left < q.min_size:
                continue
            take = _floor(min(left, q.size), lot)
            if take <= 0 or take < q.min_size:
                continue
            out.append(RouteSlice(q.venue, "dark", take, q.all_in(side), q.fill_prob))
            left -= take
        return out + _ranked_lit(side, left, lit, lot)


    def allocate(self, side: int, quantities: Sequence[float] | np.ndarray, quotes: Sequence[VenueQuote],
                 lot: float = 1.0, exclude: Collection[str] = ()) -> tuple[list[str], np.ndarray]:
        """:meth:`route` for many children at once (a parent's schedule): (venue names, an
        array of shape (children, venues) of the quantities planned on each), row by row what
        :meth:`route` plans for that child, in one pass of array operations."""
        darks, lit = self._rank(side, quotes, exclude)
        venues = [q.venue for q in darks] + [q.venue for q in lit]
        left = np.asarray(quantities, dtype=np.float64).copy()
        out = np.zeros((len(left), len(venues)))
        for j, q in enumerate(darks):
            take = _floor_array(np.minimum(left, q.size), lot)
            ok = (left > 0) & (left >= q.min_size) & (take > 0) & (take >= q.min_size)
            out[:, j] = np.where(ok, take, 0.0)
            left -= out[:, j]
        for j, q in enumerate(lit, start=len(darks)):
            take = np.maximum(_floor_array(np.minimum(left, q.size), lot), 0.0)
            out[:, j] = take
            left -= take
        rest = left > 1e-12
        out[rest, len(darks)] += left[rest]  # to the cheapest lit venue
        return venues, out


def _floor_array(q: np.ndarray, lot: float) -> np.ndarray:
    return np.floor(q / lot + 1e-9) * lot if lot > 0 else q


def _lit(side: int, quantity: float, lit: Sequence[VenueQuote], lot: float) -> list[RouteSlice]:
    if not lit:
        raise ConfigError("routing: no lit venue to route to")
    return _ranked_lit(side, quantity, sorted(lit, key=lambda q: (q.all_in(side) * side, q.latency_ms)), lot)


def _ranked_lit(side: int, quantity: float, ranked: Sequence[VenueQuote], lot: float) -> list[RouteSlice]:
    """Step 2 of the module over lit venues already ranked cheapest first."""
    if quantity <= 0:
        return []
    takes = []
    left = quantity
    for q in ranked:
        take = _floor(min(left, q.size), lot)
        if take > 0:
            takes.append([q, take])
            left -= take
    if left > 1e-12:
        for t in takes:
            if t[0] is ranked[0]:
                t[1] += left
                break
        else:
            takes.insert(0, [ranked[0], left])
    return [RouteSlice(q.venue, "lit", n, q.all_in(side), 1.0) for q, n in takes]


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
