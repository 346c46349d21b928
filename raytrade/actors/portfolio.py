"""PortfolioActor: positions, cash, average cost, realised and unrealised P&L, marks, leverage and
daily P&L, rebuilt from the log. With Redis configured, its snapshot goes to Redis after every
batch of fills and marks it applies, and at least every second (with a TTL), for readers that
should not queue behind the trading path (the API's GET /api/portfolio)."""

from __future__ import annotations

import asyncio
from typing import Any

from raytrade.actors.base import Note, PortfolioMirror
from raytrade.actors.config import EngineConfig
from raytrade.actors.metrics import metrics, tags
from raytrade.core.clock import utc_now
from raytrade.core.orders import Fill

SNAPSHOT = "portfolio"
SNAPSHOT_REFRESH_S = 1.0  # the cached snapshot is rewritten at least this often ...
SNAPSHOT_TTL_S = 3.0      # ... and expires after this long unwritten (a reader then asks the actor)


class PortfolioActor(PortfolioMirror):
    def __init__(self, config: EngineConfig) -> None:
        super().__init__(config)
        self._refresher: asyncio.Task[None] | None = None

    async def deposit(self, amount: float, principal: str, reason: str) -> dict[str, Any]:
        """Add cash (negative: withdraw); committed to the log before it counts. The order manager
        writes it (the risk gate must see it before the next order) and has applied it here when
        this returns."""
        import ray

        await self.ensure_ready()
        await ray.get_actor(self.config.actor_name("orders")).deposit.remote(amount, principal, reason)
        return self.summary()

    async def step(self, items: list[tuple[str, tuple[Any, ...]]]) -> list[Any]:
        """As every mirror, then the snapshot goes to the cache for readers (the API)."""
        out = await super().step(items)
        batch: list[tuple[dict[str, float], list[Note]]] = [args for kind, args in items if kind == "market"]
        snap = await self._publish_snapshot()
        m, engine = metrics(), tags(self.config.name)
        m.portfolio_equity.set(snap["equity"], engine)
        m.portfolio_pnl.set(snap["realized_pnl"] + snap["unrealized_pnl"], engine)
        m.portfolio_daily_pnl.set(snap["daily_pnl"], engine)
        m.cache_degraded.set(float(self.cache.degraded), tags(self.config.name, actor="portfolio"))
        fills = [(seq, payload["fill"]["symbol"]) for _, notes in batch for seq, t, payload in notes if t == "fill"]
        if fills:
            last = max(seq for seq, _ in fills)
            by_symbol = {p["symbol"]: p for p in snap["positions"]}
            updates = [{"type": "position_update", "sequence": last, "symbol": sym, "position": by_symbol.get(sym)}
                       for sym in dict.fromkeys(sym for _, sym in fills)]
            keys = ("equity", "cash", "realized_pnl", "unrealized_pnl", "daily_pnl", "gross_leverage")
            updates.append({"type": "performance_update", "sequence": last, **{k: snap[k] for k in keys}})
            self.publish(updates)
        return out

    async def rebuild(self) -> None:
        await super().rebuild()
        if self.cache.url and (self._refresher is None or self._refresher.done()):
            self._refresher = asyncio.create_task(self._refresh_snapshot())

    async def _publish_snapshot(self) -> dict[str, Any]:
        """The snapshot, written to the cache for readers (with a TTL: a snapshot this actor
        failed to rewrite, Redis having been down, expires instead of being read as current)."""
        snap = await self.snapshot()
        await self.cache.set(SNAPSHOT, snap, ttl_seconds=SNAPSHOT_TTL_S)
        return snap

    async def _refresh_snapshot(self) -> None:
        while True:
            await asyncio.sleep(SNAPSHOT_REFRESH_S)
            await self._publish_snapshot()

    def on_fill(self, fill: Fill, realized: float) -> None:
        if realized and self._ready:  # live fills only, not the replay of the log at a restart
            metrics().trade_pnl_distribution.observe(abs(realized), tags(self.config.name, outcome="win" if realized > 0
                                                                         else "loss"))

    def summary(self) -> dict[str, Any]:
        return self.book.summary()

    async def snapshot(self) -> dict[str, Any]:
        """Summary, positions and marks (currency units; quantities signed)."""
        await self.ensure_ready()
        b = self.book
        positions = [{"symbol": s, "quantity": p.quantity, "avg_cost": p.avg_cost, "mark": b.marks.get(s),
                      "market_value": b.market_value(s), "realized_pnl": p.realized_pnl,
                      "unrealized_pnl": p.unrealized_pnl(b.marks[s]) if p.quantity else 0.0}
                     for s, p in sorted(b.positions.items())]
        return {**self.summary(), "positions": positions, "marks": dict(b.marks),
                "day": b.day.isoformat() if b.day else None, "as_of": utc_now().isoformat()}

    async def state(self) -> dict[str, Any]:
        """The exact book state (what a restart must reproduce)."""
        await self.ensure_ready()
        return self.book.to_state()
