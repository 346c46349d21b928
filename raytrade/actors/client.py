"""OrderClient: how a process with many concurrent submitters (an API replica, a strategy runner,
the benchmark) talks to the order manager.

A Ray actor call costs a round trip and CPU on each side whatever it carries: one call per order
caps an engine at the rate of no-op actor calls before it does any work
(``benchmarks/engine_throughput.py`` prints that ceiling next to the order rates).
The client coalesces submissions that arrive while earlier ones are in flight into one
``submit_batch`` call (up to ``max_batch`` orders, ``max_inflight`` calls at once). Each caller
still gets its own order's view, acknowledged once that order is committed; a lone submission goes
at once, alone. Orders are independent, so several batches may be in flight together.
"""

from __future__ import annotations

from typing import Any

from raytrade.actors.base import CallBatcher


class OrderClient:
    """Submit orders to an order manager actor handle, coalescing concurrent submissions."""

    def __init__(self, orders: Any, max_batch: int = 64, max_inflight: int = 2) -> None:
        self.orders = orders
        self._batcher = CallBatcher(lambda items: orders.submit_batch.remote(items), max_batch, max_inflight)

    async def submit(self, request: dict[str, Any], principal: str) -> dict[str, Any]:
        """Submit one order (fields of :class:`~raytrade.core.orders.Order`); return its view, or
        raise what its submission raised (an order of the same batch that failed fails alone)."""
        view: dict[str, Any] | Exception = await self._batcher.submit((request, principal))
        if isinstance(view, Exception):
            raise view
        return view

    @property
    def calls(self) -> int:
        """Ray calls made so far (each carrying one or more orders)."""
        return self._batcher.batches
