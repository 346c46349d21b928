"""StrategyRunner: one actor per running strategy, the I/O shell of
:class:`~raytrade.execution.runner.StrategyRunnerCore`.

The order manager starts it when a strategy is started with a specification (``set_strategy``
with ``spec``; ``POST /api/strategies/start``), restarts it when the engine rebuilds and the
strategy is still running, forwards it every bar it takes (after committing what the bar did),
and kills it when the strategy stops. The runner sends its orders through the order manager
(principal ``strategy:<name>``), so they pass risk and compliance and are audited like any
other. It is a detached, restartable actor: killed or restarted, it rebuilds from the log (its
positions and cash flow, through the order manager) and the market data actor's history.
"""

from __future__ import annotations

import asyncio
import os
import sys
from datetime import datetime
from typing import Any

from raytrade.actors.config import EngineConfig
from raytrade.execution.runner import RunnerSpec, StrategyRunnerCore
from raytrade.storage import EventStore


def runner_actor_name(config: EngineConfig, strategy: str) -> str:
    return config.actor_name(f"runner-{strategy}")


class StrategyRunner:
    def __init__(self, config: EngineConfig, strategy: str) -> None:
        self.config = config
        self.name = strategy
        self.core: StrategyRunnerCore | None = None
        self._lock = asyncio.Lock()
        self._start: asyncio.Future[None] | None = None
        self.sent = 0
        self.rejected = 0
        self.last_error: str | None = None
        self.store: EventStore | None = None
        self.resumed_from: str | None = None
        self.processed_bar: str | None = None  # the newest bar whose orders are sent and state saved
        self._snapshot_name = f"runner:{strategy}"
        import ray

        ray.get_runtime_context().current_actor.ready.remote()  # rebuild at once after a restart

    def _actor(self, role: str) -> Any:
        import ray

        return ray.get_actor(self.config.actor_name(role))

    async def ready(self) -> dict[str, Any]:
        if self._start is None:
            self._start = asyncio.ensure_future(self._begin())
        await asyncio.shield(self._start)
        return {"pid": os.getpid(), "strategy": self.name}

    async def _begin(self) -> None:
        specs = await self._actor("orders").strategy_specs.remote()
        if self.name not in specs:
            raise ValueError(f"strategy {self.name!r} is not running with a specification")
        spec = RunnerSpec.model_validate(specs[self.name])
        core = StrategyRunnerCore(spec, self.config.broker.costs)
        if self.store is None:
            store = self.config.open_store()
            await store.open()
            self.store = store
        saved = await self.store.load_snapshot(self._snapshot_name)
        self.resumed_from = "snapshot" if saved and core.restore(saved[1]) else None
        if self.resumed_from is None and self.config.market_data is not None:
            rows = await self._actor("market_data").history.remote(list(spec.symbols), core.keep)
            if core.warm({s: [(datetime.fromisoformat(t), p) for t, p in r] for s, r in rows.items()}):
                self.resumed_from = "market data history"
        self.core = core

    async def on_bars(self, bars: list[dict[str, Any]]) -> int:
        """Bars the order manager took (``Bar`` fields, ISO times): trade them. Returns the
        number of orders sent."""
        await self.ready()
        assert self.core is not None
        async with self._lock:
            closes = {b["symbol"]: float(b["close"]) for b in bars}
            if not closes.keys() & set(self.core.spec.symbols):
                return 0
            at = max(datetime.fromisoformat(b["timestamp"]) if isinstance(b["timestamp"], str) else b["timestamp"]
                     for b in bars)
            book = await self._actor("orders").strategy_book.remote(self.name)
            orders = self.core.on_bar(at, closes, book["positions"], book["cash_flow"])
            if orders:
                await self._send(orders, at)
            assert self.store is not None
            await self.store.save_snapshot(self._snapshot_name, 0, self.core.snapshot())
            self.processed_bar = at.isoformat()
            return len(orders)

    async def _send(self, orders: list[Any], at: datetime) -> None:
        """Send the bar's orders in one batch (each answered on its own); count the refusals."""
        assert self.core is not None
        answers = await self._actor("orders").submit_batch.remote(
            [(self.core.request(o, at), f"strategy:{self.name}") for o in orders])
        for a in answers:
            self.sent += 1
            error = None
            if isinstance(a, Exception):
                error = f"{type(a).__name__}: {a}"
            elif a.get("status") == "rejected":
                self.rejected += 1
                error = f"{a.get('reject_code')}: {a.get('reject_detail')}"
            if error:
                self.last_error = error
                print(f"raytrade runner {self.name}: {error}", file=sys.stderr, flush=True)

    async def update_params(self, params: dict[str, Any]) -> dict[str, Any]:
        await self.ready()
        assert self.core is not None
        async with self._lock:
            self.core.update_params(params)
        return self.core.status()

    async def status(self) -> dict[str, Any]:
        await self.ready()
        assert self.core is not None
        return {**self.core.status(), "orders_sent": self.sent, "orders_rejected": self.rejected,
                "last_error": self.last_error, "resumed_from": self.resumed_from,
                "processed_bar": self.processed_bar, "pid": os.getpid()}
