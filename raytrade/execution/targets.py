"""The strategy-to-order step, written once for the in-process replay, the engine's paper replay
and the strategy runner: signals at each bar's close set target weights; a target set at bar t's
close is executed at bar t+1 as the order that moves the position to
:func:`~raytrade.execution.formulas.target_shares` at that bar's reference price.

Conventions (the kernel's, :mod:`raytrade.backtest.kernel`, rules 1-4): weight = signal x scale, a
fraction of equity, negative for short; when to set a target is
:func:`~raytrade.execution.formulas.rebalance_due`. One account holds every symbol: symbol j's
share of it is equity / N (so with one symbol it is the kernel's backtest; with several the cash
mixes, where the kernel's sleeves are funded apart), of which position x ref is in shares, the rest
its cash.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from raytrade.backtest.costs import CostModel, Rebalance, Sizing
from raytrade.core.errors import ConfigError
from raytrade.execution.formulas import (
    book_target_shares,
    rebalance_due,
    sized_after,
    target_shares,
)


@dataclass(frozen=True, slots=True)
class TargetOrder:
    """An order the step asks for: ``quantity`` signed (+ buy), to reach ``target`` shares at
    ``weight`` of the symbol's share of equity."""

    symbol: str
    quantity: float
    target: float
    weight: float


class TargetTrader:
    """Per-symbol target state: the previous signal, a pending target weight and whether the
    last target was sized (see the module)."""

    def __init__(self, symbols: Sequence[str], sizing: Sizing, costs: CostModel) -> None:
        self.symbols = list(symbols)
        self.sizing = sizing
        self.costs = costs
        n = len(self.symbols)
        # Python lists, not arrays: read one element at a time on every bar, where numpy's
        # scalar access costs more than the rule itself.
        self.prev_signal = [0.0] * n
        self.pending = [False] * n
        self.pending_weight = [0.0] * n
        self.sized = [True] * n
        if sizing.rebalance not in (Rebalance.ON_CHANGE, Rebalance.EVERY_BAR):
            raise ConfigError(f"sizing.rebalance {sizing.rebalance.value} applies to portfolio backtests; the "
                              "engine's runner rebalances on_change or every_bar")
        self._every_bar = sizing.rebalance is Rebalance.EVERY_BAR
        self._impact = costs.price_impact_bps / 1e4
        self._comm = costs.commission_bps / 1e4

    def orders(self, refs: Mapping[str, float], positions: Mapping[str, float], equity: float) -> list[TargetOrder]:
        """Execute the pending targets at the reference prices ``refs`` (a symbol without one
        waits); ``positions`` signed shares now, ``equity`` the account's (cash + positions at
        ``refs``). Returns the orders to send (zero-quantity ones left out)."""
        out = []
        n = len(self.symbols)
        for j in [i for i, p in enumerate(self.pending) if p]:
            sym = self.symbols[j]
            ref = refs.get(sym)
            if ref is None:
                continue
            self.pending[j] = False
            pos = positions.get(sym, 0.0)
            w = self.pending_weight[j]
            target = target_shares(w, equity / n - pos * ref, pos, ref, self._impact, self._comm,
                                   self.costs.commission_per_share, self.sizing.whole_shares, self.sizing.lot_size)
            if target != pos:
                out.append(TargetOrder(sym, target - pos, target, w))
        return out

    @property
    def any_pending(self) -> bool:
        return any(self.pending)

    def clear_pending(self) -> None:
        """Forget the pending targets (a warm-up replay's were executed, or not, back then)."""
        self.pending = [False] * len(self.symbols)

    def observe(self, signals: Sequence[float] | np.ndarray, scale: Sequence[float] | np.ndarray) -> list[str]:
        """Bar close: ``signals`` and ``scale`` (N,) set new targets where a rebalance is due;
        returns the symbols that got one (executed by the next :meth:`orders`)."""
        due = []
        sig = signals.tolist() if isinstance(signals, np.ndarray) else list(signals)
        scl = scale.tolist() if isinstance(scale, np.ndarray) else list(scale)
        for j in range(len(self.symbols)):
            sg, sc = sig[j], scl[j]
            if rebalance_due(self._every_bar, sg, self.prev_signal[j], self.sized[j], sc):
                self.pending[j], self.pending_weight[j] = True, sg * sc
                self.sized[j] = sized_after(sg, sc)
                due.append(self.symbols[j])
            self.prev_signal[j] = sg
        return due

    def state(self) -> dict[str, Any]:
        """JSON-ready state (a runner saves it with its last bar; :meth:`restore` reads it)."""
        return {"symbols": self.symbols, "prev_signal": list(self.prev_signal), "pending": list(self.pending),
                "pending_weight": list(self.pending_weight), "sized": list(self.sized)}

    def restore(self, state: Mapping[str, Any]) -> None:
        if list(state["symbols"]) != self.symbols:
            return  # another universe: start afresh
        self.prev_signal = [float(x) for x in state["prev_signal"]]
        self.pending = [bool(x) for x in state["pending"]]
        self.pending_weight = [float(x) for x in state["pending_weight"]]
        self.sized = [bool(x) for x in state["sized"]]


class BookTargetTrader:
    """The portfolio kernel's rules 1-3 (:mod:`raytrade.backtest.portfolio`) for a book traded
    through the engine: a row of target weights at each close (capped at ``max_gross``), set as
    the pending target when a rebalance is due (``on_change``, ``every_bar`` or ``calendar``: the
    first bar of each period); executed at the next bar as one order per leg to
    :func:`~raytrade.execution.formulas.book_target_shares` of the whole equity. ``threshold``
    rebalancing needs the book at the close and is left to backtests."""

    def __init__(self, symbols: Sequence[str], sizing: Any) -> None:  # sizing: PortfolioSizing
        if sizing.rebalance is Rebalance.THRESHOLD:
            raise ConfigError("sizing.rebalance threshold is for portfolio backtests; the engine's runner "
                              "rebalances a book on_change, every_bar or on a calendar")
        self.symbols = list(symbols)
        self.sizing = sizing
        self.prev_row = [0.0] * len(self.symbols)
        self.pending: list[float] | None = None
        self.last_period: int | None = None

    @property
    def any_pending(self) -> bool:
        return self.pending is not None

    def clear_pending(self) -> None:
        self.pending = None

    def observe(self, weights: Sequence[float] | np.ndarray, at: Any = None) -> bool:
        """Bar close: the weight row (N,) at ``at`` (a timestamp, for calendar rebalancing); True
        when it became the pending target."""
        row = [float(x) for x in (weights.tolist() if isinstance(weights, np.ndarray) else weights)]
        gross = sum(abs(x) for x in row)
        capped = [x * self.sizing.max_gross / gross for x in row] if gross > self.sizing.max_gross else row
        mode = self.sizing.rebalance
        if mode is Rebalance.EVERY_BAR:
            due = True
        elif mode is Rebalance.ON_CHANGE:
            due = row != self.prev_row
        else:
            freq = {"week": "W", "month": "M", "quarter": "Q", "year": "Y"}[str(self.sizing.calendar)]
            stamp = pd.Timestamp(at)
            period = int((stamp.tz_convert(None) if stamp.tzinfo else stamp).to_period(freq).ordinal)
            due = self.last_period is None or period != self.last_period
            self.last_period = period
        if due:
            self.pending = capped
        self.prev_row = row
        return due

    def orders(self, refs: Mapping[str, float], positions: Mapping[str, float], equity: float) -> list[TargetOrder]:
        """Execute the pending row at the reference prices (all legs at once; the row waits while a
        leg has no price)."""
        if self.pending is None or any(s not in refs for s in self.symbols):
            return []
        row, self.pending = self.pending, None
        out = []
        for sym, w in zip(self.symbols, row, strict=True):
            pos = positions.get(sym, 0.0)
            target = book_target_shares(w, equity, refs[sym], self.sizing.whole_shares, self.sizing.lot_size)
            if target != pos:
                out.append(TargetOrder(sym, target - pos, target, w))
        return out

    def state(self) -> dict[str, Any]:
        return {"symbols": self.symbols, "prev_row": list(self.prev_row), "pending": self.pending,
                "last_period": self.last_period}

    def restore(self, state: Mapping[str, Any]) -> None:
        if list(state["symbols"]) != self.symbols or "prev_row" not in state:
            return
        self.prev_row = [float(x) for x in state["prev_row"]]
        self.pending = None if state.get("pending") is None else [float(x) for x in state["pending"]]
        self.last_period = state.get("last_period")
