"""A strategy running in the engine: its specification and the plain logic of its runner.

A runner feeds a strategy (a registered one or ``module:Class``) the bars as they come and turns
its target weights into orders through the engine's normal order path (risk, compliance, audit,
the strategy's tag on every order). Per bar, in this order (the kernel's timing, rules 1-4 of
:mod:`raytrade.backtest.kernel`): the targets set at the previous close are executed at this bar's
close (:class:`~raytrade.execution.targets.TargetTrader`), then this bar's signals, computed from
the closes up to and including it, set the next targets. Sizing is the kernel's too
(:func:`~raytrade.backtest.kernel.sizing_scale`): fixed fraction, volatility target, or Kelly from
the returns the strategy's own signals earned over the lookback (the runner keeps the bars that
takes).

The runner trades ``capital`` of the account: its equity is capital + the cash flow of its own
fills + its positions at the bar's closes (:class:`~raytrade.execution.core.StrategyBook`, rebuilt
from the log), so two runners on one account do not size from each other's money. Client order
ids are ``<runner>-<symbol>-<bar time>``: a bar processed again after a restart sends the same ids,
which the engine answers with the orders already placed (never a second order).

A portfolio strategy (:class:`~raytrade.strategies.base.PortfolioStrategy`) runs as one book over
the runner's symbols: at each close where every symbol has a bar, its target weights are computed
from the closes since the runner's first bar (it keeps them all, so re-balance and selection
schedules count from that bar as a backtest's count from its first), and executed at the next bar
by :class:`~raytrade.execution.targets.BookTargetTrader`, the portfolio kernel's rules, sized from
the runner's whole equity. Its sizing is the book's (fixed fraction 1; ``max_leverage`` caps the
gross exposure); ``threshold`` rebalancing stays in backtests.

After a restart the runner rebuilds its positions and cash flow from the log, and its signal
state from the snapshot it saves after every bar (:meth:`StrategyRunnerCore.snapshot`; the
store's snapshot table, a cache beside the log). Without a snapshot it replays the market data
actor's recent closes through the signal step without orders (:meth:`StrategyRunnerCore.warm`),
or warms up on live bars. A bar that arrives while the runner is down is missed: the targets it
would have set are set at the next bar the runner sees.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from raytrade.backtest.costs import CostModel, Sizing, SizingMode
from raytrade.core.errors import ConfigError
from raytrade.execution.targets import BookTargetTrader, TargetOrder, TargetTrader
from raytrade.strategies.base import is_overlay, is_portfolio

# The strategies, the kernel's sizing and the portfolio kernel (numba) are imported where a spec is
# checked or a runner built, not with this module: the order manager reads RunnerSpec on every start.

RUNNER_NAME = r"^[A-Za-z0-9_.:-]{1,64}$"


class RunnerSpec(BaseModel):
    """What ``POST /api/strategies/start`` takes (and a config may list): ``name`` tags the
    runner's orders and names it; ``strategy`` is a registered name or ``module:Class``;
    ``params`` one parameter set of its space; ``capital`` the account currency it trades."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(pattern=RUNNER_NAME)
    strategy: str = Field(min_length=1, max_length=200)
    params: dict[str, Any] = Field(default_factory=dict)
    symbols: tuple[str, ...] = Field(min_length=1, max_length=100)
    sizing: Sizing = Sizing(whole_shares=True)
    capital: float = Field(100_000.0, gt=0, allow_inf_nan=False)
    allow_short: bool = Field(False, description="shorting is off unless asked for")

    @field_validator("symbols")
    @classmethod
    def _distinct(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        if len(set(v)) != len(v):
            raise ValueError("symbols must be distinct")
        return v

    @model_validator(mode="after")
    def _params_fit(self) -> RunnerSpec:
        """The parameters, checked by the strategy's space, with its defaults filled in; a
        portfolio strategy's sizing read as a book's (fixed fraction 1, max_leverage the gross cap)."""
        from raytrade.backtest.portfolio_runner import portfolio_sizing
        from raytrade.strategies.registry import check_shorts, get_strategy

        strategy = get_strategy(self.strategy, allow_short=self.allow_short)
        if is_overlay(strategy):
            raise ValueError(f"{self.strategy} writes options, and the engine holds no option positions yet: "
                             "backtest and walk it forward (raytrade backtest / research walkforward)")
        object.__setattr__(self, "params", strategy.space.validate(self.params, "params"))
        if is_portfolio(strategy):
            check_shorts(self.strategy, self.allow_short)
            BookTargetTrader(self.symbols, portfolio_sizing(self.sizing))
        return self


def parse_runner_spec(data: Mapping[str, Any], source: str = "strategy spec") -> RunnerSpec:
    """``data`` as a RunnerSpec; ConfigError naming the source and the first bad field."""
    from raytrade.configfile import parse_model

    return parse_model(dict(data), RunnerSpec, source)


class StrategyRunnerCore:
    """The runner's state and steps (no I/O): history, signals, targets (see the module)."""

    def __init__(self, spec: RunnerSpec, costs: CostModel) -> None:
        from raytrade.backtest.portfolio_runner import portfolio_sizing
        from raytrade.strategies.registry import get_strategy

        self.spec = spec
        self.costs = costs
        self.strategy = get_strategy(spec.strategy, allow_short=spec.allow_short)
        self.book = is_portfolio(self.strategy)
        self._set_params(spec.params)
        self.trader: TargetTrader | BookTargetTrader = (
            BookTargetTrader(spec.symbols, portfolio_sizing(spec.sizing)) if self.book
            else TargetTrader(spec.symbols, spec.sizing, costs))
        self.history: dict[str, list[float]] = {s: [] for s in spec.symbols}
        self.last_bar: datetime | None = None
        self.last_signal: dict[str, float] = {}
        self.last_weight: dict[str, float] = {}

    def _set_params(self, params: Mapping[str, Any]) -> None:
        self.block = self.strategy.space.block(dict(params), "params")
        need = self.strategy.warmup(self.block) + 2
        if self.spec.sizing.mode is SizingMode.VOL_TARGET:
            need = max(need, self.spec.sizing.vol_lookback + 2)
        elif self.spec.sizing.mode is SizingMode.KELLY:   # the signals of the whole lookback, each warmed up
            need += self.spec.sizing.kelly_lookback + 1
        # a book keeps every bar since the runner started: its re-balance and selection schedules
        # count from its first bar, as a backtest's count from the first bar of its data
        self.keep = 10**9 if self.book else max(need, 2)

    def update_params(self, params: Mapping[str, Any]) -> None:
        """New parameters (validated by the strategy's space; ConfigError naming the field)."""
        self._set_params(params)
        self.spec = self.spec.model_copy(update={"params": dict(params)})

    def warm(self, history: Mapping[str, Sequence[tuple[datetime, float]]]) -> int:
        """Replay past closes (per symbol, oldest first) through the signal step without orders;
        a target set at the last of them stays pending. Returns the bars replayed."""
        stamps = sorted({t for rows in history.values() for t, _ in rows})
        by_time = {s: dict(rows) for s, rows in history.items()}
        for i, t in enumerate(stamps):
            closes = {s: by_time.get(s, {}).get(t) for s in self.spec.symbols}
            self._observe(t, {s: p for s, p in closes.items() if p is not None})
            if i < len(stamps) - 1:
                self.trader.clear_pending()  # executed (or not) back then
        return len(stamps)

    def on_bar(self, at: datetime, closes: Mapping[str, float], positions: Mapping[str, float],
               cash_flow: float) -> list[TargetOrder]:
        """A bar of closes at ``at``: the orders executing the targets set at the previous close
        (sized from this runner's equity at these closes), then this bar's signals. A bar not
        newer than the last one is ignored (returns no orders)."""
        if self.last_bar is not None and at <= self.last_bar:
            return []
        mine = {s: float(p) for s, p in closes.items() if s in self.history and math.isfinite(p) and p > 0}
        equity = self.spec.capital + cash_flow + sum(q * mine.get(s, 0.0) for s, q in positions.items())
        orders = self.trader.orders(mine, positions, equity) if self.trader.any_pending and equity > 0 else []
        self._observe(at, mine)
        return orders

    def _observe(self, at: datetime, closes: Mapping[str, float]) -> None:
        for s, p in closes.items():
            h = self.history[s]
            h.append(p)
            del h[:-self.keep]
        self.last_bar = at
        if self.book:
            self._observe_book(at, closes)
            return
        assert isinstance(self.trader, TargetTrader)
        from raytrade.backtest.kernel import sizing_scale

        sig = np.zeros(len(self.spec.symbols))
        scl = np.zeros(len(self.spec.symbols))
        for j, s in enumerate(self.spec.symbols):
            h = self.history[s]
            if s not in closes or len(h) < 2:
                sig[j] = self.trader.prev_signal[j]  # no new bar for it: nothing changes
                continue
            arr = np.asarray(h, dtype=np.float64)
            full = self.strategy.signals(self.strategy.prepare(arr, self.block), self.block)
            sig[j] = float(full[-1, 0])
            # Kelly reads the returns the strategy's own signals earned (the kernel's rule, same function)
            kelly = self.spec.sizing.mode is SizingMode.KELLY
            scl[j] = float(sizing_scale(arr[:, None], self.spec.sizing, full if kelly else None)[-1, 0])
            self.last_signal[s] = sig[j]
            self.last_weight[s] = sig[j] * scl[j]
        self.trader.observe(sig, scl)

    def _observe_book(self, at: datetime, closes: Mapping[str, float]) -> None:
        """A portfolio strategy's weights at this close, from the aligned histories of all its
        symbols (a bar missing for one of them sets no new targets)."""
        assert isinstance(self.trader, BookTargetTrader)
        if any(s not in closes for s in self.spec.symbols):
            return
        from raytrade.backtest.portfolio_runner import portfolio_weights

        n = min(len(h) for h in self.history.values())
        matrix = np.column_stack([np.asarray(self.history[s][-n:], dtype=np.float64) for s in self.spec.symbols])
        row = portfolio_weights(self.strategy, matrix, self.block, list(self.spec.symbols))[-1, 0]  # type: ignore[arg-type]
        self.trader.observe(row, at)
        self.last_signal = {s: float(w) for s, w in zip(self.spec.symbols, row, strict=True)}
        self.last_weight = dict(self.last_signal)

    def snapshot(self) -> dict[str, Any]:
        """JSON-ready state after a bar (the runner saves it; :meth:`restore` reads it back)."""
        return {"strategy": self.spec.strategy, "symbols": list(self.spec.symbols), "params": self.spec.params,
                "history": self.history, "last_bar": self.last_bar.isoformat() if self.last_bar else None,
                "trader": self.trader.state(), "last_signal": self.last_signal, "target_weight": self.last_weight}

    def restore(self, state: Mapping[str, Any]) -> bool:
        """Resume from :meth:`snapshot` (False, nothing changed, when it is another strategy's or
        another universe's)."""
        if state.get("strategy") != self.spec.strategy or list(state.get("symbols", ())) != list(self.spec.symbols):
            return False
        self.history = {s: [float(x) for x in state["history"].get(s, [])][-self.keep:] for s in self.spec.symbols}
        self.last_bar = datetime.fromisoformat(state["last_bar"]) if state.get("last_bar") else None
        self.trader.restore(state["trader"])
        self.last_signal = dict(state.get("last_signal") or {})
        self.last_weight = dict(state.get("target_weight") or {})
        return True

    def client_order_id(self, order: TargetOrder, at: datetime) -> str:
        """``<runner>-<symbol>-<bar time as yyyymmddHHMMSS>``, at most 64 characters."""
        cid = f"{self.spec.name}-{order.symbol}-{at.strftime('%Y%m%d%H%M%S')}"
        if len(cid) > 64:
            raise ConfigError(f"runner {self.spec.name!r}: the client order id {cid!r} is longer than 64 characters; "
                              "use a shorter runner name")
        return cid

    def request(self, order: TargetOrder, at: datetime) -> dict[str, Any]:
        """The engine order request for ``order`` (a market day order tagged with the runner)."""
        return {"symbol": order.symbol, "side": "buy" if order.quantity > 0 else "sell",
                "quantity": abs(order.quantity), "client_order_id": self.client_order_id(order, at),
                "strategy": self.spec.name, "reason": f"{self.spec.strategy}: target {order.weight:+.4f} of capital"}

    def status(self) -> dict[str, Any]:
        return {"name": self.spec.name, "strategy": self.spec.strategy, "params": self.spec.params,
                "symbols": list(self.spec.symbols), "capital": self.spec.capital,
                "last_bar": self.last_bar.isoformat() if self.last_bar else None,
                "last_signal": dict(self.last_signal), "target_weight": dict(self.last_weight),
                "warm": all(len(h) >= self.keep - 1 for h in self.history.values())}
