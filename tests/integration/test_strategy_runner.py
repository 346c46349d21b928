"""Strategies running in the engine: a runner actor trades a registered strategy on the bars the
order manager takes, equal to the in-process replay of the trading core; it survives SIGKILL of
itself and of the order manager without a duplicate order; parameters change through the log;
stopping cancels its open orders; reconciliation records a position the log does not hold."""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import pandas as pd
import pytest
import ray

from raytrade.backtest.costs import CostModel, Sizing
from raytrade.backtest.kernel import sizing_scale
from raytrade.core import EventType
from raytrade.data.feeds import session_stamps
from raytrade.data.loaders import load_prices
from raytrade.execution.simulate import replay_targets
from raytrade.strategies.registry import get_strategy
from tests.integration.test_engine import engine_factory, read_log, wait_restarted  # noqa: F401

pytestmark = [pytest.mark.integration]

COSTS = {"commission_bps": 5.0, "half_spread_bps": 2.0}
SPEC = {"strategy": "ma_crossover", "params": {"fast": 5, "slow": 20}, "symbols": ["KO", "JPM"],
        "sizing": {"whole_shares": True, "fraction": 0.9}, "capital": 200_000.0}


def closes(n: int) -> pd.DataFrame:
    return load_prices(["KO", "JPM"], start="2019-01-02").iloc[:n]


def feed(eng: Any, frame: pd.DataFrame, runner: Any, start: int = 0, stop: int | None = None) -> None:
    """Send bars ``start:stop`` to the order manager and wait until the runner has traded each."""
    stamps = session_stamps(pd.DatetimeIndex(frame.index))
    for t in range(start, len(frame) if stop is None else stop):
        ts = stamps[t].isoformat()
        ray.get(eng.orders.on_bars.remote([{"symbol": s, "timestamp": ts, "open": p, "high": p, "low": p,
                                            "close": p, "volume": 0.0} for s, p in frame.iloc[t].items()], True))
        deadline = time.monotonic() + 60
        while ray.get(runner.status.remote())["processed_bar"] != ts:
            assert time.monotonic() < deadline, f"the runner did not take the bar {ts}"
            time.sleep(0.01)
        ray.get(eng.orders.sync.remote())


def runner_of(eng: Any, name: str) -> Any:
    from raytrade.cluster import NAMESPACE

    return ray.get_actor(eng.config.actor_name(f"runner-{name}"), namespace=NAMESPACE)


def fills_of(cfg: Any, strategy: str) -> list[dict[str, Any]]:
    log, ok = read_log(cfg)
    assert ok
    tags = {r.event.payload["order"]["client_order_id"]: r.event.payload["order"]["strategy"]
            for r in log if r.event.type is EventType.ORDER_ACCEPTED}
    return [r.event.payload["fill"] for r in log if r.event.type is EventType.FILL
            and tags.get(r.event.payload["fill"]["client_order_id"]) == strategy]


def expected(frame: pd.DataFrame) -> Any:
    strategy = get_strategy("ma_crossover", allow_short=False)
    block = strategy.space.block(SPEC["params"])
    c = frame.to_numpy(np.float64)
    sig = np.column_stack([strategy.signals(strategy.prepare(c[:, j], block), block)[:, 0] for j in range(2)])
    sizing = Sizing(**SPEC["sizing"])
    return replay_targets(frame, sig, sizing_scale(c, sizing), costs=CostModel(**COSTS), sizing=sizing,
                          initial_capital=SPEC["capital"])


def test_a_runner_trades_like_the_in_process_core_and_survives_sigkills(engine_factory: Any) -> None:  # noqa: F811
    eng = engine_factory(equities=("KO", "JPM"), broker={"participation_rate": None, "costs": COSTS},
                         risk={"max_orders_per_second": 100_000, "max_symbol_weight": 1.0, "max_sector_weight": 1.0})
    row = ray.get(eng.orders.set_strategy.remote("ma", True, "admin", "go", SPEC))
    assert row["running"] and row["spec"]["params"] == {"fast": 5, "slow": 20}
    runner = runner_of(eng, "ma")
    ray.get(runner.ready.remote(), timeout=120)
    frame = closes(160)
    feed(eng, frame, runner, 0, 70)
    pid = ray.get(runner.ready.remote())["pid"]
    ray.kill(runner, no_restart=False)                     # SIGKILL the runner between bars
    assert wait_restarted(runner, pid)["pid"] != pid
    assert ray.get(runner.status.remote())["resumed_from"] == "snapshot"
    feed(eng, frame, runner, 70, 110)
    om_pid = ray.get(eng.orders.ready.remote())["pid"]
    ray.kill(eng.orders, no_restart=False)                 # and the order manager
    wait_restarted(eng.orders, om_pid)
    feed(eng, frame, runner, 110)

    want = expected(frame)
    got = fills_of(eng.config, "ma")
    assert len(got) == len(want.fills) > 4
    for g, w in zip(got, want.fills, strict=True):
        assert (g["symbol"], g["side"], g["quantity"]) == (w.symbol, w.side.value, w.quantity)
        assert g["price"] == pytest.approx(w.price, rel=1e-12) and g["commission"] == pytest.approx(w.commission)
    log, _ = read_log(eng.config)
    cids = [r.event.payload["order"]["client_order_id"] for r in log if r.event.type is EventType.ORDER_ACCEPTED]
    assert len(cids) == len(set(cids))                     # no order twice
    status = ray.get(eng.orders.strategy_status.remote())["ma"]
    book = want.simulator.core.portfolio
    assert status["positions"] == {s: p.quantity for s, p in book.positions.items() if p.quantity}
    assert status["runner"]["last_signal"].keys() == {"KO", "JPM"} and status["runner"]["orders_rejected"] == 0


def test_parameters_change_through_the_log_and_stopping_cancels_the_open_orders(engine_factory: Any) -> None:  # noqa: F811
    eng = engine_factory(equities=("KO", "JPM"), broker={"participation_rate": None},
                         risk={"max_orders_per_second": 100_000, "max_symbol_weight": 1.0, "max_sector_weight": 1.0})
    ray.get(eng.orders.set_strategy.remote("ma", True, "admin", "go", SPEC))
    ray.get(runner_of(eng, "ma").ready.remote(), timeout=120)  # a new process: started, then asked
    with pytest.raises(ray.exceptions.RayTaskError, match="params"):
        ray.get(eng.orders.update_strategy_params.remote("ma", {"fast": 30}, "admin", "bad"))  # fast < slow
    row = ray.get(eng.orders.update_strategy_params.remote("ma", {"fast": 3}, "admin", "faster"))
    assert row["spec"]["params"] == {"fast": 3, "slow": 20}
    deadline = time.monotonic() + 30
    while ray.get(runner_of(eng, "ma").status.remote())["params"] != {"fast": 3, "slow": 20}:
        assert time.monotonic() < deadline, "the runner did not take the new parameters"
        time.sleep(0.1)
    log, _ = read_log(eng.config)
    changed = [r.event.payload for r in log if r.event.type is EventType.PARAMETER_CHANGED]
    assert changed == [{"component": "strategy", "strategy": "ma", "params": {"fast": 3, "slow": 20}}]
    # a resting order tagged with the strategy, then stop: the order is cancelled, the runner gone
    ray.get(eng.orders.on_bars.remote([{"symbol": "KO", "timestamp": "2024-03-04T15:00:00+00:00", "open": 50.0,
                                        "high": 50.0, "low": 50.0, "close": 50.0, "volume": 0.0}], True))
    view = eng.submit({"symbol": "KO", "side": "buy", "quantity": 1, "order_type": "limit", "limit_price": 49.0,
                       "strategy": "ma", "time_in_force": "gtc"})
    assert view["status"] == "accepted"
    row = ray.get(eng.orders.set_strategy.remote("ma", False, "admin", "stop"))
    assert not row["running"] and row["open_orders"] == 0 and "runner" not in row
    assert ray.get(eng.orders.get_order.remote(view["client_order_id"]))["status"] == "cancelled"
    deadline = time.monotonic() + 30
    while True:  # the runner actor is killed for good (its name is released once it is gone)
        try:
            runner_of(eng, "ma")
        except ValueError:
            break
        assert time.monotonic() < deadline, "the runner outlived its strategy's stop"
        time.sleep(0.1)


def test_unknown_strategies_and_symbols_are_refused_in_one_line(engine_factory: Any) -> None:  # noqa: F811
    eng = engine_factory(equities=("KO",))
    for spec, match in (({**SPEC, "strategy": "nope"}, "unknown strategy 'nope'"),
                        ({**SPEC, "strategy": "collections:OrderedDict"}, "does not follow the Strategy protocol"),
                        ({**SPEC, "strategy": "no_such_module_x:Cls"}, "cannot import 'no_such_module_x'"),
                        ({**SPEC, "symbols": ["KO", "ZZZ"]}, "'ZZZ' is not an instrument"),
                        ({**SPEC, "capital": -1}, "capital")):
        with pytest.raises(ray.exceptions.RayTaskError, match=match):
            ray.get(eng.orders.set_strategy.remote("x", True, "admin", "go", spec))
    assert "x" not in ray.get(eng.orders.strategy_status.remote())


def test_reconciliation_records_a_position_the_broker_holds_and_the_log_does_not(engine_factory: Any) -> None:  # noqa: F811
    eng = engine_factory(equities=("KO", "JPM"), broker={"participation_rate": None, "positions": {"KO": 100.0}})
    log, ok = read_log(eng.config)
    diffs = [r.event.payload for r in log if r.event.type is EventType.BROKER_RECONCILED]
    assert ok and diffs == [{"kind": "position", "symbol": "KO", "log": 0.0, "broker": 100.0}]
    assert ray.get(eng.orders.stats.remote())["reconciliation_differences"] == 1
