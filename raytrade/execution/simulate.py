"""Replay through the trading core in process: the engine's decisions (the same
:class:`~raytrade.execution.core.TradingCore` the order manager hosts), the paper broker and the
strategy-to-order step (:class:`~raytrade.execution.targets.TargetTrader`), with the log kept in
memory and no Ray, store or network. It is what the parity property test holds equal to the
vectorised kernel, and what ``benchmarks/replay_throughput.py`` times.

Rules: each daily bar is stamped one minute before its session close (so the market is open) and
marks the book, starts a session and fills resting orders before anything else; then the targets
set at the previous close are executed as market orders through the core (risk, compliance), the
paper broker filling them at this bar's close with the cost model; then equity is marked at the
close and the bar's signals set the next targets. Every event is appended to :attr:`SimLog.events`
and applied to the core, as the order manager commits and applies them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd

from raytrade.backtest.costs import CostModel, Sizing
from raytrade.brokers.paper import PaperBroker, PaperBrokerConfig
from raytrade.compliance.rules import ComplianceRules
from raytrade.core.enums import AssetClass, EventType
from raytrade.core.errors import BacktestError
from raytrade.core.events import Event
from raytrade.core.instruments import Instrument
from raytrade.core.market import Bar
from raytrade.core.orders import Fill
from raytrade.data.feeds import session_stamps
from raytrade.execution.core import TradingCore
from raytrade.execution.targets import BookTargetTrader, TargetTrader
from raytrade.risk.limits import RiskLimits

# Limits that never bind a replay of a strategy meant to be held equal to the kernel (the kernel
# has no pre-trade checks): weights and leverage up to the caps the limits allow.
FRACTIONAL_LOT = 1e-8  # the share step of fractional sizing: orders are whole multiples of it, as at a broker
NO_LIMITS = RiskLimits(max_symbol_weight=10, max_sector_weight=10, max_gross_leverage=100, max_daily_loss=1,
                       max_order_notional=1e15, max_orders_per_second=1e9, max_limit_deviation=10)


@dataclass(slots=True)
class SimLog:
    """The in-memory log: events numbered as a store would number them."""

    events: list[Event] = field(default_factory=list)

    def append(self, events: Sequence[Event]) -> list[Event]:
        out = [e.numbered(len(self.events) + i + 1) for i, e in enumerate(events)]
        self.events.extend(out)
        return out


class CoreSimulator:
    """A trading core, a paper broker and an in-memory log wired as the order manager wires them."""

    def __init__(self, symbols: Sequence[str], *, costs: CostModel | None = None, limits: RiskLimits | None = None,
                 rules: ComplianceRules | None = None, initial_cash: float = 100_000.0, lot_size: float = 1.0) -> None:
        self.instruments = {s: Instrument(s, AssetClass.EQUITY, lot_size=lot_size) for s in symbols}
        self.core = TradingCore(self.instruments, limits=limits or NO_LIMITS, rules=rules or ComplianceRules(),
                                clock="market")
        self.broker = PaperBroker(PaperBrokerConfig(costs=costs or CostModel(), participation_rate=None))
        self.log = SimLog()
        self.commit([Event(EventType.CASH_CHANGED, "sim", "initial capital", {"amount": float(initial_cash)})])

    def commit(self, events: Sequence[Event]) -> None:
        for e in self.log.append(events):
            self.core.apply(e)

    def on_bars(self, bars: Sequence[Bar]) -> None:
        """New bars, as the order manager takes them (then the parents' children go out)."""
        self.core.note_volume(bars)
        first, expire = self.core.on_bars(bars)
        for cid in expire:
            self.broker.cancel_now(cid)
        self.broker.take_events()
        for b in bars:
            self.broker.on_bar(b)
        self.commit(first + self.core.from_broker(self.broker.take_events()))
        self.core.mark({b.symbol: b.close for b in bars})
        if self.core.parents:
            self.work_parents()

    def on_prices(self, ts: datetime, prices: dict[str, float]) -> None:
        """Closes of many symbols at ``ts`` (checked finite and > 0 by the caller): the same
        steps as :meth:`on_bars` without a Bar object per symbol."""
        first, expire = self.core.on_time(ts)
        for cid in expire:
            self.broker.cancel_now(cid)
        self.broker.take_events()
        self.broker.on_prices(ts, prices)
        reports = self.broker.take_events()
        if first or reports:
            self.commit(first + self.core.from_broker(reports))
        self.core.mark_checked(prices)

    def submit(self, request: dict[str, object], principal: str = "sim") -> str:
        """Decide and route one order; returns its status ("rejected" when refused)."""
        cid = str(request["client_order_id"])
        v = self.core.submit(cid, request, principal)
        if v.order is None:
            self.commit(v.events)
            return "rejected"
        if not v.route:  # a parent: its first child goes now, the others as the bars come (work_parents)
            self.commit([*v.events, v.accept])  # type: ignore[list-item]
            self.core.release(v.order)
            self.work_parents()
            return self.core.book.get(cid).status.value
        try:
            self.broker.submit_now(v.order, self.instruments[v.order.symbol])
            after = self.core.from_broker(self.broker.take_events(cid), (v.order, principal))
            self.commit([*v.events, v.accept, *after])  # type: ignore[list-item]
        finally:
            self.core.release(v.order)
        return self.core.book.get(cid).status.value

    def work_parents(self) -> int:
        """Send the children the working parents' algorithms ask for now; returns how many."""
        asks = self.core.child_requests()
        for request, principal in asks:
            self.submit(request, principal)
        return len(asks)

    def cancel(self, cid: str, principal: str = "sim") -> None:
        """Cancel an order (a parent's open children first), as the order manager does."""
        for child in self.core.children_of(cid):
            self.cancel(child, principal)
        requested = self.core.cancel_request(cid, principal)
        if requested is not None:
            self.commit([requested])
        self.broker.cancel_now(cid)
        self.commit(self.core.from_broker(self.broker.take_events(cid)))

    def fills(self) -> list[Fill]:
        return [Fill.from_dict(e.payload["fill"]) for e in self.log.events if e.type is EventType.FILL]


@dataclass(frozen=True, slots=True)
class SimResult:
    equity: np.ndarray        # (T,) account equity at each bar's close, after its fills
    fills: list[Fill]
    rejected: int
    simulator: CoreSimulator


def replay_targets(close: pd.DataFrame, signals: np.ndarray, scale: np.ndarray, *, costs: CostModel,
                   sizing: Sizing, initial_capital: float = 100_000.0, strategy: str = "sim",
                   limits: RiskLimits | None = None) -> SimResult:
    """Replay daily ``close`` (dates x symbols) with ``signals`` and ``scale`` (T, N) through the
    core in process (rules in the module docstring). Whole-share sizing trades the sizing's lot;
    fractional sizing trades multiples of :data:`FRACTIONAL_LOT` shares (each order rounded to
    it, as a broker would)."""
    trader = TargetTrader([str(s) for s in close.columns], sizing, costs)
    return _replay(close, trader, lambda t: trader.observe(signals[t], scale[t]), costs=costs, sizing=sizing,
                   initial_capital=initial_capital, strategy=strategy, limits=limits)


def replay_weights(close: pd.DataFrame, weights: np.ndarray, *, costs: CostModel, sizing: Any,
                   initial_capital: float = 100_000.0, strategy: str = "sim",
                   limits: RiskLimits | None = None) -> SimResult:
    """Replay daily ``close`` (dates x symbols) with a book's target ``weights`` (T, N) through the
    core in process, as :func:`replay_targets` does for per-asset signals: the rows go through
    :class:`~raytrade.execution.targets.BookTargetTrader` (``sizing`` a
    :class:`~raytrade.backtest.portfolio.PortfolioSizing`), so what the portfolio kernel computes
    is what the engine's runner orders. Fractional books trade multiples of :data:`FRACTIONAL_LOT`."""
    trader = BookTargetTrader([str(s) for s in close.columns], sizing)
    return _replay(close, trader, lambda t: trader.observe(weights[t], close.index[t]), costs=costs, sizing=sizing,
                   initial_capital=initial_capital, strategy=strategy, limits=limits)


def _replay(close: pd.DataFrame, trader: TargetTrader | BookTargetTrader, observe: Callable[[int], object], *,
            costs: CostModel, sizing: Any, initial_capital: float, strategy: str,
            limits: RiskLimits | None) -> SimResult:
    """The bar loop both replays share: prices, the pending targets' orders through the core,
    equity at the close, then ``observe(t)`` sets the next targets."""
    symbols = [str(s) for s in close.columns]
    c = close.to_numpy(np.float64)
    stamps = [t.to_pydatetime() for t in session_stamps(pd.DatetimeIndex(close.index))]
    lot = sizing.lot_size if sizing.whole_shares else FRACTIONAL_LOT
    sim = CoreSimulator(symbols, costs=costs, limits=limits, initial_cash=initial_capital, lot_size=lot)
    core = sim.core
    equity = np.empty(len(c))
    rejected = 0
    if not (np.isfinite(c) & (c > 0)).all():
        t, j = np.argwhere(~(np.isfinite(c) & (c > 0)))[0]
        raise BacktestError(f"close at bar {t}, symbol {symbols[j]} is {c[t, j]}: prices must be finite and > 0")
    for t in range(len(c)):
        refs = dict(zip(symbols, c[t].tolist(), strict=True))
        sim.on_prices(stamps[t], refs)
        if trader.any_pending:
            positions = {s: p.quantity for s, p in core.portfolio.positions.items()}
            for o in trader.orders(refs, positions, core.portfolio.equity):
                qty = round(abs(o.quantity) / lot) * lot
                if qty == 0:
                    continue
                status = sim.submit({"symbol": o.symbol, "side": "buy" if o.quantity > 0 else "sell",
                                     "quantity": qty, "client_order_id": f"{o.symbol}-{t}",
                                     "strategy": strategy, "reason": f"target {o.weight:+.4f} of equity"})
                rejected += status == "rejected"
        equity[t] = core.portfolio.equity
        observe(t)
    return SimResult(equity, sim.fills(), rejected, sim)
