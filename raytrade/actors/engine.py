"""TradingEngine: starts the actors by name in the raytrade namespace, wires them, and offers
start, stop, halt and resume.

Every actor restarts on failure (``max_restarts=-1``) and rebuilds from the log; a call that was
in flight when an actor died fails rather than being retried blindly (``max_task_retries=0``):
clients resubmit with the same client order id, which is idempotent. Actors take no CPU slot
(``num_cpus=0``): they wait on I/O, and research jobs on the same cluster keep every core.
"""

from __future__ import annotations

import contextlib
from typing import Any

from raytrade.actors.compliance import ComplianceActor
from raytrade.actors.config import EngineConfig
from raytrade.actors.market_data import MarketDataActor
from raytrade.actors.order_manager import OrderManager
from raytrade.actors.portfolio import PortfolioActor
from raytrade.actors.risk import RiskActor
from raytrade.cluster import NAMESPACE
from raytrade.core.errors import ClusterError, RaytradeError

# Start order matters: the order manager looks the portfolio up by name when it rebuilds (and the
# risk and compliance fronts look the order manager up at their first call).
ROLES: dict[str, type] = {"portfolio": PortfolioActor, "risk": RiskActor, "compliance": ComplianceActor,
                          "orders": OrderManager}


class TradingEngine:
    """Driver-side handle of one engine (``config.name`` prefixes its actor names)."""

    def __init__(self, config: EngineConfig, *, detached: bool = False) -> None:
        self.config = config
        self.detached = detached
        self.handles: dict[str, Any] = {}

    def start(self, principal: str = "engine", timeout_s: float = 120.0) -> dict[str, Any]:
        """Create (or find) the actors, wait until each has rebuilt its state, fund a new book
        with ``initial_cash``, and accept orders.

        The actors start together (their processes import and rebuild in parallel): each finds
        the others by name, which is registered when it is created, not when it is ready."""
        import ray

        roles = dict(ROLES)
        if self.config.market_data is not None:  # after the order manager, whose market time it continues
            roles["market_data"] = MarketDataActor
        for role, cls in roles.items():
            options: dict[str, Any] = {"name": self.config.actor_name(role), "namespace": NAMESPACE,
                                       "get_if_exists": True, "max_restarts": -1, "max_task_retries": 0,
                                       "num_cpus": 0}
            if self.detached:
                options["lifetime"] = "detached"
            self.handles[role] = ray.remote(cls).options(**options).remote(self.config)
        try:
            ray.get([h.ready.remote() for h in self.handles.values()], timeout=timeout_s)
        except (ray.exceptions.RayTaskError, ray.exceptions.GetTimeoutError) as exc:
            # One sentence for the user (an unreachable database, a bad config), not a remote traceback.
            cause = exc.cause if isinstance(exc, ray.exceptions.RayTaskError) else exc
            if not self.detached:
                self.shutdown()
            if isinstance(cause, RaytradeError):
                raise cause from None
            raise ClusterError(f"the engine {self.config.name!r} did not become ready in {timeout_s:g} s: "
                               f"{type(cause).__name__}: {cause}") from None
        state = ray.get(self.portfolio.state.remote())
        if state["cash"] == 0 and not state["positions"]:
            ray.get(self.portfolio.deposit.remote(self.config.initial_cash, principal, "initial capital"))
        ray.get(self.orders.set_running.remote(True, principal, "engine started"))
        return self.status()

    @property
    def orders(self) -> Any:
        return self.handles["orders"]

    @property
    def portfolio(self) -> Any:
        return self.handles["portfolio"]

    @property
    def risk(self) -> Any:
        return self.handles["risk"]

    @property
    def compliance(self) -> Any:
        return self.handles["compliance"]

    def status(self) -> dict[str, Any]:
        import ray

        return {"running": ray.get(self.orders.stats.remote())["running"],
                "halted": ray.get(self.risk.status.remote())["halted"],
                "actors": {r: ray.get(h.ready.remote()) for r, h in self.handles.items()}}

    def stop(self, principal: str = "engine", reason: str = "engine stopped") -> None:
        """Refuse new orders (ENGINE_STOPPED) until :meth:`resume_trading`; state is kept."""
        import ray

        ray.get(self.orders.set_running.remote(False, principal, reason))

    def resume_trading(self, principal: str = "engine", reason: str = "engine started") -> None:
        import ray

        ray.get(self.orders.set_running.remote(True, principal, reason))

    def halt(self, principal: str, reason: str) -> dict[str, Any]:
        """Risk halt: only position-reducing orders pass until :meth:`resume`."""
        import ray

        return ray.get(self.risk.halt.remote(principal, reason))

    def resume(self, principal: str, reason: str) -> dict[str, Any]:
        import ray

        return ray.get(self.risk.resume.remote(principal, reason))

    def submit(self, request: dict[str, Any], principal: str = "client") -> dict[str, Any]:
        import ray

        return ray.get(self.orders.submit.remote(request, principal))

    def order(self, client_order_id: str) -> dict[str, Any] | None:
        """The order's view (status, filled quantity, average price, reject code); None when unknown."""
        import ray

        return ray.get(self.orders.get_order.remote(client_order_id))

    def wait_for_prices(self, symbols: list[str] | tuple[str, ...] | None = None, timeout_s: float = 60.0) -> dict[str, float]:
        """Wait until the engine has a price for each of ``symbols`` (default: every instrument),
        as a feed's first bars arrive; return the marks. An order for a symbol without a price is
        refused (NO_MARKET_PRICE), so a script that starts a feed waits here before it trades."""
        import time

        import ray

        wanted = list(symbols) if symbols is not None else list(self.config.instrument_map())
        deadline = time.monotonic() + timeout_s
        while True:
            marks = ray.get(self.orders.stats.remote())["marks"]
            missing = [s for s in wanted if s not in marks]
            if not missing:
                return {s: float(marks[s]) for s in wanted}
            if time.monotonic() > deadline:
                feed = "" if self.config.market_data is not None else " (the engine has no market_data feed)"
                raise ClusterError(f"no price for {', '.join(missing)} after {timeout_s:g} s{feed}")
            time.sleep(0.1)

    def shutdown(self, *, clear_cache: bool = False) -> None:
        """Kill the actors for good (the log keeps everything; a new start rebuilds from it).
        With ``clear_cache`` the engine's Redis keys go too (they are derived from the log)."""
        import asyncio

        import ray

        from raytrade.actors.strategy_runner import runner_actor_name

        if "orders" in self.handles:  # the strategy runners (detached) go first: they call the order manager
            try:
                names = ray.get(self.orders.runner_names.remote(), timeout=30)
            except Exception:  # a dead order manager: nothing to ask; runners it started stay findable by name
                names = []
            for n in names:
                with contextlib.suppress(ValueError):
                    ray.kill(ray.get_actor(runner_actor_name(self.config, n), namespace=NAMESPACE), no_restart=True)
        for h in self.handles.values():
            ray.kill(h, no_restart=True)
        self.handles = {}
        if clear_cache and self.config.resolved_redis_url():
            from raytrade.storage import RedisCache

            async def flush() -> None:
                cache = RedisCache(self.config.resolved_redis_url(), prefix=f"raytrade:{self.config.name}:")
                await cache.flush()
                await cache.close()

            asyncio.run(flush())
