"""The paper broker: fills orders against the latest bar or quote with the backtest's cost model.

Rules (the same :class:`~raytrade.backtest.costs.CostModel` as the backtest kernel):

- Reference price. After a bar: its close (``fill_at="last"``), or, for orders resting into the
  next bar, that bar's open (``fill_at="next_open"``: market orders wait for the next bar). After
  a quote: the ask for buys and the bid for sells, so the quoted spread replaces ``half_spread_bps``.
- Fill price = reference x (1 + side x impact / 1e4), side +1 buy / -1 sell, impact =
  half_spread_bps + slippage_bps (slippage_bps alone against a quote).
- A limit order fills only when that fill price is at or better than its limit, at the fill
  price; otherwise it rests and is tried at every later bar or quote.
- Participation. With ``participation_rate`` set, the quantity filled per bar across all orders
  of a symbol is capped at rate x bar volume (rounded down to the lot size); the rest stays
  working (partially filled). A bar with zero volume fills nothing. ``None`` means no cap (data
  without volume). Quotes cap at the displayed size when it is > 0.
- Market impact (``impact``: an :class:`~raytrade.execution.impact.ImpactModel`, off by
  default). A fill of q shares also pays the temporary impact eta sigma (q / adv)^beta (power
  law; y sigma sqrt(q / adv) for the square-root law) as a fraction of the reference price, and
  moves the symbol's simulated price by its permanent impact gamma sigma q / adv in the trade's
  direction for every later fill (a parent's later children pay for its earlier ones; a sale
  moves it back). adv and sigma are per bar: the mean volume and the sample deviation of the
  close-to-close returns of the last ``impact.lookback`` bars the broker saw (no impact before
  two returns; restarted empty after a restart of the order manager).
- Commission = |q| x fill x commission_bps / 1e4 + |q| x commission_per_share.
- IOC orders fill what they can at once and cancel the rest; FOK fill whole or are rejected.
- ``latency_ms`` delays every submission's answer (simulated round trip).
- Fills are stamped with the time of the bar or quote they fill against.
- Events (:mod:`raytrade.core.broker_events`): a submission reports ``Accepted`` then its fills
  at once (or ``Rejected``), an IOC remainder ``Cancelled``; bars and quotes report the fills of
  resting orders; a cancel reports ``Cancelled`` (also for an order no longer working: nothing
  of it is left to fill); a replace ``Replaced`` (``CancelRejected`` when nothing works).
- The account: ``positions`` of the config are held before the engine's log begins (an account
  opened elsewhere); fills move them. :meth:`reconcile` reports them with the working orders;
  the paper broker keeps no cash (the engine's log is the cash book).
"""

from __future__ import annotations

import asyncio
import math
import statistics
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from raytrade.backtest.costs import CostModel
from raytrade.brokers.base import Broker, BrokerReply
from raytrade.core.broker_events import (
    Accepted,
    BrokerAccount,
    Cancelled,
    CancelRejected,
    Filled,
    PartiallyFilled,
    Rejected,
    Replaced,
)
from raytrade.core.clock import utc_now
from raytrade.core.enums import OrderType, Side, TimeInForce
from raytrade.core.instruments import Instrument
from raytrade.core.market import Bar, Quote
from raytrade.core.orders import Fill, Order
from raytrade.execution import formulas
from raytrade.execution.formulas import fill_price
from raytrade.execution.impact import ImpactModel


class PaperBrokerConfig(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: Literal["paper"] = "paper"
    costs: CostModel = CostModel()
    participation_rate: float | None = Field(0.1, gt=0, le=1)
    latency_ms: float = Field(0.0, ge=0, le=60_000)
    fill_at: Literal["last", "next_open"] = "last"
    impact: ImpactModel | None = None
    positions: dict[str, float] = Field(default_factory=dict, description="signed quantities the paper "
                                        "account holds before the engine's log begins (reconciliation reports them)")


@dataclass(slots=True)
class _Market:
    last: float
    ts: datetime
    bid: float | None = None
    ask: float | None = None
    capacity: float = math.inf
    open_next: float | None = None  # the open of the newest bar, for orders waiting for a new bar


@dataclass(slots=True)
class _History:
    """The last bars' closes and volumes of a symbol, and its simulated permanent price move."""

    closes: deque[float]
    volumes: deque[float]
    shift: float = 0.0  # cumulated permanent impact, a fraction of the price (+ = up)

    def inputs(self) -> tuple[float, float]:
        """(adv, sigma) per bar; sigma 0 before two returns."""
        c = list(self.closes)
        rets = [c[i] / c[i - 1] - 1.0 for i in range(1, len(c))]
        sigma = statistics.stdev(rets) if len(rets) >= 2 else 0.0
        adv = sum(self.volumes) / len(self.volumes) if self.volumes else 0.0
        return adv, sigma


@dataclass(slots=True)
class _Working:
    order: Order
    lot: float
    remaining: float
    fills: int = 0
    waits_for_bar: bool = False


class PaperBroker(Broker):
    name = "paper"
    in_process = True
    venue_limits = False  # True: limits are checked per venue in _venues (the routed broker)

    def __init__(self, config: PaperBrokerConfig | None = None) -> None:
        self.config = config or PaperBrokerConfig()
        self._market: dict[str, _Market] = {}
        self._working: dict[str, _Working] = {}
        self._fills: list[Fill] = []
        self._seen: dict[str, int] = {}  # client order id -> fills issued, for stable fill ids
        self._positions: dict[str, float] = dict(self.config.positions)
        self._history: dict[str, _History] = {}
        self._moved: dict[str, float] = {}  # client order id -> permanent impact its fills added (recent orders)

    def _observe(self, symbol: str, close: float, volume: float) -> None:
        imp = self.config.impact
        if imp is None:
            return
        h = self._history.get(symbol)
        if h is None:
            h = self._history[symbol] = _History(deque(maxlen=imp.lookback + 1), deque(maxlen=imp.lookback))
        h.closes.append(close)
        h.volumes.append(volume)

    def simulated_shift(self, symbol: str) -> float:
        """The permanent impact the broker's own fills have added to ``symbol``'s price so far
        (a fraction; + = up)."""
        h = self._history.get(symbol)
        return h.shift if h else 0.0

    async def reconcile(self) -> BrokerAccount:
        return BrokerAccount({cid: w.order.side.sign * w.remaining for cid, w in self._working.items()},
                             {s: q for s, q in self._positions.items() if abs(q) > 1e-12})

    def restore_positions(self, fills_by_symbol: dict[str, float]) -> None:
        """After a restart of the order manager: add the net signed quantity its log's fills
        bought or sold per symbol (the broker's own holdings before the log stay)."""
        for sym, q in fills_by_symbol.items():
            self._positions[sym] = self._positions.get(sym, 0.0) + q

    async def ping(self) -> None:
        return None

    def price(self, symbol: str) -> float | None:
        m = self._market.get(symbol)
        return m.last if m else None

    def working(self) -> list[str]:
        return list(self._working)

    def on_bar(self, bar: Bar) -> list[Fill]:
        """A new bar: update the market, then fill working orders of its symbol (returned and kept
        for :meth:`take_fills`)."""
        rate = self.config.participation_rate
        cap = math.inf if rate is None else rate * bar.volume
        self._market[bar.symbol] = _Market(bar.close, bar.timestamp, capacity=cap, open_next=bar.open)
        self._observe(bar.symbol, bar.close, bar.volume)
        fills = self._sweep(bar.symbol, new_bar=True)
        self._fills.extend(fills)
        return fills

    def on_prices(self, ts: datetime, prices: Mapping[str, float], volumes: Mapping[str, float] | None = None) -> None:
        """Closes of many symbols at ``ts`` at once (a replay of close-only data: each a bar whose
        open, high, low and close are the price; the caller has checked the prices are finite and
        > 0): as :meth:`on_bar` for each, fills reported on the stream and kept for :meth:`take_fills`."""
        rate = self.config.participation_rate
        markets = self._market
        for sym, px in prices.items():
            cap = math.inf if rate is None else rate * (volumes or {}).get(sym, 0.0)
            m = markets.get(sym)
            if m is None or m.bid is not None:
                markets[sym] = _Market(px, ts, capacity=cap, open_next=px)
            else:  # the same fields a new bar sets, in place (a replay sets thousands a second)
                m.last, m.ts, m.capacity, m.open_next = px, ts, cap, px
            if self.config.impact is not None:
                self._observe(sym, px, (volumes or {}).get(sym, 0.0))
        if self._working:
            for sym in {w.order.symbol for w in self._working.values()} & prices.keys():
                self._fills.extend(self._sweep(sym, new_bar=True))

    def on_quote(self, quote: Quote) -> list[Fill]:
        self._market[quote.symbol] = _Market(quote.mid, quote.timestamp, quote.bid, quote.ask)
        fills = self._sweep(quote.symbol, new_bar=False)
        self._fills.extend(fills)
        return fills

    def take_fills(self) -> list[Fill]:
        out, self._fills = self._fills, []
        return out

    async def submit(self, order: Order, instrument: Instrument) -> BrokerReply:
        if self.config.latency_ms:
            await asyncio.sleep(self.config.latency_ms / 1000)
        return self.submit_now(order, instrument)

    def submit_now(self, order: Order, instrument: Instrument) -> BrokerReply:
        """:meth:`submit` without the simulated latency (the in-process replay calls it)."""
        if order.client_order_id in self._working or order.client_order_id in self._seen:
            return BrokerReply(True, "already working")  # resubmission after a restart: idempotent
        refusal = self.capabilities.refusal(order, instrument)
        if refusal is not None:
            return self._refuse(order, refusal)
        if order.symbol not in self._market:
            return self._refuse(order, f"no market data for {order.symbol} yet", "NO_MARKET_PRICE")
        self._seen[order.client_order_id] = 0
        w = _Working(order, instrument.lot_size, order.quantity,
                     waits_for_bar=self.config.fill_at == "next_open" and order.order_type is OrderType.MARKET)
        if order.time_in_force is TimeInForce.FOK:
            fills = self._try(w, dry_run=True)
            if sum(f.quantity for f in fills) + 1e-12 < order.quantity:
                del self._seen[order.client_order_id]
                return self._refuse(order, "fill-or-kill order cannot be filled in full now")
        self._working[order.client_order_id] = w
        self.emit(Accepted(order.client_order_id, self._market[order.symbol].ts))
        fills = [] if w.waits_for_bar else self._try(w)
        ioc = order.time_in_force in (TimeInForce.IOC, TimeInForce.FOK)
        rest_cancelled = ioc and w.remaining > 0
        if w.remaining <= 0 or ioc:
            self._working.pop(order.client_order_id, None)
        if rest_cancelled:
            self.emit(Cancelled(order.client_order_id, self._market[order.symbol].ts, "immediate-or-cancel remainder"))
        return BrokerReply(True, fills=tuple(fills), cancelled_remainder=rest_cancelled)

    def _refuse(self, order: Order, detail: str, code: str | None = None) -> BrokerReply:
        m = self._market.get(order.symbol)
        self.emit(Rejected(order.client_order_id, m.ts if m else order.created_at, detail, code))
        return BrokerReply(False, detail, code=code)

    async def restore(self, order: Order, instrument: Instrument, filled_quantity: float, fills_reported: int) -> None:
        self._seen[order.client_order_id] = fills_reported
        remaining = order.quantity - filled_quantity
        if remaining > 1e-12:
            self._working[order.client_order_id] = _Working(order, instrument.lot_size, remaining)

    def restore_market(self, symbol: str, last: float, ts: datetime, volume: float | None = None) -> None:
        """After a restart of the order manager: the market as of its saved marks (``last`` at
        ``ts``), so orders fill against the last known price before the next bar, not refused
        for want of one. With a participation cap, the bar's capacity is ``volume`` times the
        rate (what was already used of that bar before the restart is not known; none without a
        volume)."""
        if symbol in self._market:
            return
        rate = self.config.participation_rate
        cap = math.inf if rate is None else rate * (volume or 0.0)
        self._market[symbol] = _Market(last, ts, capacity=cap)

    async def cancel(self, client_order_id: str) -> bool:
        return self.cancel_now(client_order_id)

    def cancel_now(self, client_order_id: str) -> bool:
        """:meth:`cancel`, synchronously (the in-process replay calls it)."""
        w = self._working.pop(client_order_id, None)
        m = self._market.get(w.order.symbol) if w else None
        self.emit(Cancelled(client_order_id, m.ts if m else utc_now(),
                            "cancelled at the broker" if w else "nothing left working at the broker"))
        return w is not None

    def withdraw(self, client_order_id: str, fills: Sequence[Fill]) -> None:
        """Forget the order and give its ``fills`` back to the participation cap of the bar or
        quote they filled against (a newer bar has its own cap: nothing to give back there)."""
        self._working.pop(client_order_id, None)
        self._seen.pop(client_order_id, None)
        moved = self._moved.pop(client_order_id, 0.0)
        if fills and moved:
            self._history[fills[0].symbol].shift -= moved
        for f in fills:
            self._positions[f.symbol] = self._positions.get(f.symbol, 0.0) - f.signed_quantity
            m = self._market.get(f.symbol)
            if m is not None and m.ts == f.timestamp:
                m.capacity += f.quantity

    async def replace(self, order: Order) -> bool:
        w = self._working.get(order.client_order_id)
        m = self._market.get(order.symbol)
        at = m.ts if m else utc_now()
        if w is None:
            self.emit(CancelRejected(order.client_order_id, at, "nothing working at the broker to replace"))
            return False
        filled = w.order.quantity - w.remaining
        w.order, w.remaining = order, order.quantity - filled
        if w.remaining <= 1e-12:
            del self._working[order.client_order_id]
        self.emit(Replaced(order.client_order_id, at, order.quantity, order.limit_price))
        return True

    def _sweep(self, symbol: str, new_bar: bool) -> list[Fill]:
        fills: list[Fill] = []
        for cid, w in list(self._working.items()):
            if w.order.symbol != symbol:
                continue
            fills.extend(self._try(w, at_open=w.waits_for_bar and new_bar))
            w.waits_for_bar = False
            if w.remaining <= 1e-12:
                del self._working[cid]
        return fills

    def _try(self, w: _Working, at_open: bool = False, dry_run: bool = False) -> list[Fill]:
        m = self._market.get(w.order.symbol)
        if m is None or w.remaining <= 0:
            return []
        costs = self.config.costs
        side = w.order.side
        if at_open and m.open_next is not None:
            ref, impact = m.open_next, costs.price_impact_bps
        elif m.bid is not None and m.ask is not None:
            ref, impact = (m.ask if side is Side.BUY else m.bid), costs.slippage_bps
        else:
            ref, impact = m.last, costs.price_impact_bps
        h = self._history.get(w.order.symbol) if self.config.impact is not None else None
        temporary = permanent = 0.0
        qty = min(w.remaining, m.capacity)
        if w.lot > 0 and qty < w.remaining:
            qty = math.floor(qty / w.lot + 1e-9) * w.lot
        if h is not None:
            ref *= 1.0 + h.shift
            adv, sigma = h.inputs()
            if qty > 0 and sigma > 0:
                p = qty / adv if adv > 0 else 1.0  # no volume seen: as much as a whole bar's
                imp = self.config.impact
                assert imp is not None
                temporary, permanent = float(imp.temporary(p, sigma)), float(imp.permanent(p, sigma))
        price = fill_price(ref, float(side.sign), impact / 1e4 + temporary)
        if w.order.limit_price is not None and not self.venue_limits and side.sign * (price - w.order.limit_price) > 1e-12:
            return []
        if qty <= 0:
            return []
        if dry_run:
            return [Fill(w.order.client_order_id, w.order.symbol, side, qty, price, 0.0, m.ts)]
        parts = self._venues(w, qty, price, m, temporary)
        if not parts:
            return []
        m.capacity -= qty
        w.remaining -= qty
        if h is not None and permanent:
            h.shift += side.sign * permanent
            moved = self._moved.pop(w.order.client_order_id, 0.0) + side.sign * permanent
            self._moved[w.order.client_order_id] = moved
            if len(self._moved) > 10_000:  # only a submission's own fills are ever withdrawn
                del self._moved[next(iter(self._moved))]
        out = []
        for i, (q, px, venue) in enumerate(parts):
            commission = formulas.commission(q, px, costs.commission_bps / 1e4, costs.commission_per_share)
            n = self._seen.get(w.order.client_order_id, 0) + 1
            self._seen[w.order.client_order_id] = n
            w.fills += 1
            fill = Fill(w.order.client_order_id, w.order.symbol, side, q, px, commission, m.ts,
                        fill_id=f"{w.order.client_order_id}-{n}", venue=venue)
            self._positions[fill.symbol] = self._positions.get(fill.symbol, 0.0) + fill.signed_quantity
            last = i == len(parts) - 1 and w.remaining <= 1e-12
            self.emit((Filled if last else PartiallyFilled)(fill.client_order_id, m.ts, fill))
            out.append(fill)
        return out

    def _venues(self, w: _Working, qty: float, price: float, m: _Market,
                temporary: float) -> list[tuple[float, float, str | None]]:
        """How a fill of ``qty`` at ``price`` is executed: [(quantity, price, venue)] summing to
        ``qty`` (one venue, unnamed, here; the routed broker splits it), or [] when it cannot
        execute now (nothing is then filled)."""
        return [(qty, price, None)]
