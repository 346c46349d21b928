"""The platform's Prometheus metrics, exported the Ray way (``ray.util.metrics``).

Every actor and Serve replica records into these; Ray's metrics agent on each node serves them on
its metrics export port with a ``ray_`` prefix, aggregated across replicas and nodes by the
Prometheus that scrapes the cluster. Counters are named without ``_total``: Ray adds it
(``trades`` is scraped as ``ray_trades_total``). Units: money in the account currency, slippage
in basis points against the mark when the order was filled, latency in ms.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from functools import cache
from typing import Any

# Ray histograms take positive boundaries only: signed quantities are observed as magnitudes with
# a label for the sign (``outcome`` win/loss for trade P&L, ``direction`` adverse/favourable for
# slippage).
MONEY_BOUNDS = [1, 10, 100, 1_000, 10_000, 100_000, 1_000_000]
BPS_BOUNDS = [0.5, 1, 2, 5, 10, 20, 50, 100, 200]
MS_BOUNDS = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1_000, 2_000, 5_000]


class Metrics:
    def __init__(self) -> None:
        from ray.util.metrics import Counter, Gauge, Histogram

        e = ("engine",)
        self.trades = Counter("trades", "fills recorded in the log", tag_keys=(*e, "symbol"))
        self.orders_submitted = Counter("orders_submitted", "orders received by the order manager", tag_keys=e)
        self.orders_rejected = Counter("orders_rejected", "orders refused, by reason code", tag_keys=(*e, "reason"))
        self.order_slippage_bps = Histogram("order_slippage_bps", "|fill price / mark - 1| in bps; direction "
                                            "adverse = worse than the mark", boundaries=BPS_BOUNDS,
                                            tag_keys=(*e, "direction"))
        self.execution_shortfall_bps = Histogram("execution_shortfall_bps", "|average price / arrival price - 1| "
                                                 "in bps of each parent order when its children have filled it, "
                                                 "by execution algorithm; direction adverse = paid more",
                                                 boundaries=BPS_BOUNDS, tag_keys=(*e, "algorithm", "direction"))
        self.portfolio_equity = Gauge("portfolio_equity", "cash + market value of positions", tag_keys=e)
        self.portfolio_pnl = Gauge("portfolio_pnl", "realised + unrealised P&L", tag_keys=e)
        self.portfolio_daily_pnl = Gauge("portfolio_daily_pnl", "equity minus the session's starting equity",
                                         tag_keys=e)
        self.trade_pnl_distribution = Histogram("trade_pnl_distribution", "|P&L| realised by each reducing fill, "
                                                "outcome win or loss", boundaries=MONEY_BOUNDS,
                                                tag_keys=(*e, "outcome"))
        self.risk_halt = Gauge("risk_halt", "1 while risk-increasing orders are halted", tag_keys=e)
        self.risk_var = Gauge("risk_var", "the book's historical VaR at 99 %, a fraction of equity (positive = "
                              "loss), by horizon (1d, 10d)", tag_keys=(*e, "horizon"))
        self.risk_cvar = Gauge("risk_cvar", "the book's historical CVaR at 99 %, a fraction of equity, by horizon",
                               tag_keys=(*e, "horizon"))
        self.risk_figure = Gauge("risk_figure", "the book's gross_leverage and correlation_risk (fractions) and "
                                 "Greeks (dollar_delta, dollar_gamma, vega, theta, rho: currency)",
                                 tag_keys=(*e, "figure"))
        self.risk_figures_time = Gauge("risk_figures_time", "Unix time of the last risk figures (staleness = "
                                       "time() - this)", tag_keys=e)
        self.actor_restarts = Counter("actor_restarts", "engine actor restarts", tag_keys=(*e, "actor"))
        self.cache_degraded = Gauge("cache_degraded", "1 while a configured Redis is unreachable",
                                    tag_keys=(*e, "actor"))
        self.api_latency_ms = Histogram("api_latency_ms", "REST request latency in the API replica, ms",
                                        boundaries=MS_BOUNDS, tag_keys=("route", "method", "status"))
        self.ws_clients = Gauge("ws_clients", "WebSocket clients connected to this replica", tag_keys=("replica",))


@cache
def metrics() -> Metrics:
    """The process's metric instruments (created once, on first use, inside a Ray worker)."""
    return Metrics()


def tags(engine: str, **more: Any) -> dict[str, str]:
    return {"engine": engine, **{k: str(v) for k, v in more.items()}}


class Tally:
    """Counter increments summed over one turn of the event loop and recorded once per counter and
    tag set: an actor handling a batch of orders records a handful of increments, not one each
    (recording a Ray metric showed up in the order manager's profile)."""

    def __init__(self) -> None:
        self._counts: Counter[tuple[Any, tuple[tuple[str, str], ...]]] = Counter()
        self._scheduled = False

    def inc(self, counter: Any, tag_set: dict[str, str], n: int = 1) -> None:
        self._counts[(counter, tuple(sorted(tag_set.items())))] += n
        if not self._scheduled:
            self._scheduled = True
            asyncio.get_running_loop().call_soon(self.flush)

    def flush(self) -> None:
        counts, self._counts, self._scheduled = self._counts, Counter(), False
        for (counter, tag_items), n in counts.items():
            counter.inc(n, dict(tag_items))
