"""Paper trading on history: bundled bars replayed through a strategy, the engine's actors and the
paper broker, and compared with the vectorised backtest of the same config.

Rules (they mirror the kernel's, :mod:`raytrade.backtest.kernel`, so the two can be compared):

- Each daily bar is stamped one minute before its XNYS session close (so the market is open) and
  sent to the order manager; marks, fills and the session start are applied before anything else.
- The strategy's signals and the sizing scale are computed once over the whole history. That is
  equivalent to computing them bar by bar because a signal at bar t reads only bars up to t
  (``tests/backtest/test_no_lookahead.py`` holds every strategy to it).
- A target set at bar t's close (signal x scale, a fraction of equity) is executed at bar t+1:
  the order is sized with bar t+1's reference price and filled by the paper broker against that
  bar's close, exactly as the kernel executes at the next close. The strategy-to-order step is
  :class:`~raytrade.execution.targets.TargetTrader` (the in-process replay's and the strategy
  runner's too), and the share count, the fill price, the commission and the rebalance trigger
  are the kernel's own functions (:mod:`raytrade.execution.formulas`), not copies.
- One account holds every symbol: symbol j's target is w_j x equity / N. With one symbol this is
  the kernel's backtest; with several it differs from the kernel's independent, equally funded
  sleeves (their cash does not mix), which the parity report then shows.
- Orders go through risk and compliance like any other: a refusal is recorded in the log and in
  ``rejections.csv`` and the position stays as it was (the kernel never refuses, so parity breaks
  exactly there). Configure limits the strategy is meant to respect.
"""

from __future__ import annotations

import asyncio
import math
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field

from raytrade.actors.config import EngineConfig
from raytrade.actors.engine import TradingEngine
from raytrade.backtest.config import BacktestConfig
from raytrade.backtest.costs import SizingMode
from raytrade.backtest.kernel import sizing_scale
from raytrade.backtest.runfolder import library_versions, new_run_folder, write_json, write_yaml
from raytrade.backtest.runner import backtest
from raytrade.brokers.paper import PaperBrokerConfig
from raytrade.compliance.rules import ComplianceRules
from raytrade.core.calendars import periods_per_year
from raytrade.core.errors import ConfigError
from raytrade.data.feeds import session_stamps
from raytrade.data.loaders import frame_digest
from raytrade.execution.targets import TargetTrader
from raytrade.risk.limits import RiskLimits
from raytrade.storage import store_from_url


class PaperEngineSettings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    risk: RiskLimits = RiskLimits()
    compliance: ComplianceRules = ComplianceRules()
    store_url: str | None = None  # default: events.sqlite in the run folder
    store_schema: str | None = None


class PaperConfig(BacktestConfig):
    """A backtest config plus how to replay it (``configs/paper/*.yaml``)."""

    speed: float | None = Field(None, gt=0, description="bars per second; none: as fast as possible")
    engine: PaperEngineSettings = PaperEngineSettings()


@dataclass(frozen=True, slots=True)
class PaperRun:
    folder: Path
    equity: pd.DataFrame          # replay and backtest equity per bar
    fills: pd.DataFrame
    rejections: pd.DataFrame
    parity: dict[str, Any]


def run_paper(config: PaperConfig, *, on_progress: Callable[[int, int], None] | None = None) -> PaperRun:
    """Replay ``config`` through a fresh engine on the connected Ray instance; write a run folder."""
    import ray

    close, open_ = config.data.load()
    if open_ is not None:
        raise ConfigError("data: the paper replay takes close-only price data for now (OHLCV sources trade at "
                          "the next open in the backtest, which the replay does not model yet)")
    strategy = config.strategy.build()
    block = strategy.space.block(config.strategy.params, "strategy.params")
    symbols = [str(s) for s in close.columns]
    c = close.to_numpy(np.float64)
    n_bars, n_sym = c.shape
    signals = np.column_stack([strategy.signals(strategy.prepare(c[:, j], block), block)[:, 0]
                               for j in range(n_sym)]).astype(np.float64)
    # Kelly reads the returns each symbol's own signals earned (the kernel's rule, same function)
    scale = sizing_scale(c, config.sizing, signals if config.sizing.mode is SizingMode.KELLY else None)
    stamps = session_stamps(pd.DatetimeIndex(close.index))

    folder = new_run_folder(config.output_dir, config.name)
    write_yaml(folder / "config.yaml", config.model_dump(mode="json"))
    settings = config.engine
    store_url = settings.store_url or f"sqlite:///{(folder / 'events.sqlite').resolve()}"
    engine_cfg = EngineConfig(
        name=f"paper-{uuid.uuid4().hex[:10]}", initial_cash=config.initial_capital, equities=tuple(symbols),
        clock="market", risk=settings.risk, compliance=settings.compliance,
        broker=PaperBrokerConfig(costs=config.costs, participation_rate=None, fill_at="last"),
        store_url=store_url, store_schema=settings.store_schema)
    engine = TradingEngine(engine_cfg)
    engine.start(principal="paper")
    om, portfolio = engine.orders, engine.portfolio

    trader = TargetTrader(symbols, config.sizing, config.costs)
    equity = np.empty(n_bars)
    rejections: list[dict[str, Any]] = []
    started = time.perf_counter()
    try:
        for t in range(n_bars):
            ts = stamps[t].isoformat()
            bars = [{"symbol": s, "timestamp": ts, "open": c[t, j], "high": c[t, j], "low": c[t, j],
                     "close": c[t, j], "volume": 0.0} for j, s in enumerate(symbols)]
            ray.get(om.on_bars.remote(bars, True))
            state = ray.get(portfolio.state.remote())
            positions = {s: state["positions"].get(s, [0.0])[0] for s in symbols}
            total = state["cash"] + sum(positions[s] * c[t, j] for j, s in enumerate(symbols))
            orders = trader.orders(dict(zip(symbols, c[t].tolist(), strict=True)), positions, total)
            for o in orders:
                view = engine.submit({"symbol": o.symbol, "side": "buy" if o.quantity > 0 else "sell",
                                      "quantity": abs(o.quantity), "client_order_id": f"{o.symbol}-{t}",
                                      "reason": f"target {o.weight:+.4f} of equity", "strategy": strategy.name},
                                     principal=f"strategy:{strategy.name}")
                if view["status"] == "rejected":
                    rejections.append({"timestamp": close.index[t], "symbol": o.symbol, "quantity": o.quantity,
                                       "code": view["reject_code"], "detail": view["reject_detail"]})
            if orders:
                ray.get(om.sync.remote())
                state = ray.get(portfolio.state.remote())
            equity[t] = state["cash"] + sum(state["positions"].get(s, [0.0])[0] * c[t, j]
                                            for j, s in enumerate(symbols))
            trader.observe(signals[t], scale[t])
            if on_progress is not None:
                on_progress(t + 1, n_bars)
            if config.speed:
                delay = (t + 1) / config.speed - (time.perf_counter() - started)
                if delay > 0:
                    time.sleep(delay)
        fills, verified = asyncio.run(_read_fills(store_url, settings.store_schema))
    finally:
        engine.shutdown()
    seconds = time.perf_counter() - started
    kernel = backtest(strategy, config.strategy.params, close, costs=config.costs, sizing=config.sizing,
                      initial_capital=config.initial_capital)
    curves = pd.DataFrame({"replay": equity, "backtest": kernel.equity["PORTFOLIO"].to_numpy()}, index=close.index)
    fills_df = pd.DataFrame(fills, columns=["timestamp", "symbol", "side", "quantity", "price", "commission"])
    rej_df = pd.DataFrame(rejections, columns=["timestamp", "symbol", "quantity", "code", "detail"])
    parity = compare(curves, fills_df, kernel.fills, n_sym)
    parity.update({"bars": n_bars, "symbols": symbols, "seconds": seconds, "bars_per_second": n_bars / seconds,
                   "rejections": len(rej_df), "audit_chain_ok": verified})
    write_json(folder / "manifest.json", {
        "kind": "paper", "data_sha256": frame_digest(close), "bars": n_bars, "symbols": symbols,
        "start": close.index[0].isoformat(), "end": close.index[-1].isoformat(), "store": _safe(store_url),
        "versions": library_versions()})
    write_json(folder / "parity.json", parity)
    curves.to_csv(folder / "equity.csv", index_label="timestamp")
    fills_df.to_csv(folder / "fills.csv", index=False)
    rej_df.to_csv(folder / "rejections.csv", index=False)
    return PaperRun(folder, curves, fills_df, rej_df, parity)


def _safe(url: str) -> str:
    """A store URL without credentials, for the manifest."""
    if "@" in url and "://" in url:
        scheme, rest = url.split("://", 1)
        return f"{scheme}://{rest.split('@', 1)[1]}"
    return url


async def _read_fills(url: str, schema: str | None) -> tuple[list[dict[str, Any]], bool]:
    from raytrade.core.enums import EventType

    async with store_from_url(url, schema=schema) as store:
        records = await store.read(types=[EventType.FILL])
        ok = (await store.verify()).ok
    rows = []
    for r in records:
        f = r.event.payload["fill"]
        rows.append({"timestamp": pd.Timestamp(f["timestamp"]).normalize(), "symbol": f["symbol"],
                     "side": f["side"], "quantity": f["quantity"], "price": f["price"],
                     "commission": f["commission"]})
    return rows, ok


def compare(curves: pd.DataFrame, replay_fills: pd.DataFrame, kernel_fills: pd.DataFrame,
            n_symbols: int) -> dict[str, Any]:
    """Trades and P&L of the replay against the backtest.

    ``pnl_diff_bp_per_year`` = ((E_replay / E_backtest) ** (1 / years) - 1) x 1e4 on the final
    equities, years = bars / 252; ``trades_equal``: same count, and for each trade the same day,
    symbol and side, quantities within 1e-6 and prices within 1e-9 relative.
    """
    k = kernel_fills.copy()
    k["timestamp"] = pd.to_datetime(k["timestamp"]).dt.normalize()
    r = replay_fills.sort_values(["timestamp", "symbol"]).reset_index(drop=True)
    k = k.sort_values(["timestamp", "symbol"]).reset_index(drop=True)
    same = len(r) == len(k)
    if same and len(r):
        same = bool((r["timestamp"].dt.tz_convert("UTC").to_numpy() == k["timestamp"].dt.tz_convert("UTC").to_numpy()).all()
                    and (r["symbol"].to_numpy() == k["symbol"].to_numpy()).all()
                    and (r["side"].to_numpy() == k["side"].to_numpy()).all()
                    and np.allclose(r["quantity"], k["quantity"], rtol=0, atol=1e-6)
                    and np.allclose(r["price"], k["price"], rtol=1e-9, atol=0))
    years = len(curves) / periods_per_year()
    e_r, e_k = float(curves["replay"].iloc[-1]), float(curves["backtest"].iloc[-1])
    diff = ((e_r / e_k) ** (1 / years) - 1) * 1e4 if e_r > 0 and e_k > 0 else math.inf
    return {"trades_replay": len(r), "trades_backtest": len(k), "trades_equal": same,
            "final_equity_replay": e_r, "final_equity_backtest": e_k, "pnl_diff_bp_per_year": diff,
            "max_abs_equity_diff": float((curves["replay"] - curves["backtest"]).abs().max()),
            "one_account": n_symbols > 1}
