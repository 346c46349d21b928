"""Transaction-cost analysis of one parent order's execution.

Conventions: ``side`` +1 for a buy, -1 for a sell; prices in currency per share; a cost is positive
when it hurt the trader (a buy paid more); basis points are of the benchmark price named.

Given the parent's intended quantity X, its decision price P_d (when the decision was made), the
arrival price P_a (the mid when the parent reached the market), its fills (q_i at p_i, commission
c_i), the price P_end at the end of the horizon and the market's bars or trade prints over it:

- average price p = sum q_i p_i / sum q_i; filled F = sum q_i; fill rate F / X;
- slippage against arrival: side (p / P_a - 1) x 1e4 bps;
- interval VWAP: sum over the bars (or prints) in [start, end] of price x volume / sum volume;
  slippage against it: side (p / VWAP - 1) x 1e4 bps;
- participation: F / the market volume in [start, end];
- implementation shortfall (Perold 1988) in currency, split:
  delay = side F (P_a - P_d); trading (impact) = side sum q_i (p_i - P_a);
  opportunity = side (X - F) (P_end - P_d); fees = sum c_i; total = their sum, and in bps of
  X P_d;
- post-trade reversion: -side (P_after / P_end - 1) x 1e4 bps, where P_after is the price a given
  time after the end: positive when the price came back after the trading (a sign of temporary
  impact).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd

from raytrade.core.enums import EventType
from raytrade.core.errors import DataError
from raytrade.core.events import Event


@dataclass(frozen=True, slots=True)
class ExecFill:
    time: datetime
    quantity: float
    price: float
    commission: float = 0.0
    venue: str | None = None


@dataclass(frozen=True, slots=True)
class TCAResult:
    filled: float
    fill_rate: float
    avg_price: float
    slippage_vs_arrival_bps: float
    interval_vwap: float | None
    slippage_vs_vwap_bps: float | None
    participation: float | None
    delay_cost: float
    trading_cost: float
    opportunity_cost: float
    fees: float
    shortfall: float
    shortfall_bps: float
    reversion_bps: float | None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def interval_vwap(market: pd.DataFrame, start: datetime, end: datetime) -> tuple[float | None, float]:
    """(VWAP, volume) of ``market`` (a frame indexed by time with ``price`` and ``volume`` columns:
    bar closes and volumes, or trade prints and amounts) over [start, end]; (None, 0) when no volume."""
    if not {"price", "volume"} <= set(market.columns):
        raise DataError("the market frame needs price and volume columns", source="tca")
    m = market.loc[(market.index >= pd.Timestamp(start)) & (market.index <= pd.Timestamp(end))]
    vol = float(m["volume"].sum())
    if vol <= 0:
        return None, 0.0
    return float((m["price"] * m["volume"]).sum() / vol), vol


def analyse(side: int, quantity: float, decision_price: float, arrival_price: float, fills: Sequence[ExecFill],
            end_price: float, *, start: datetime, end: datetime, market: pd.DataFrame | None = None,
            price_after: float | None = None) -> TCAResult:
    """The figures of the module docstring for one parent."""
    if side not in (1, -1):
        raise DataError(f"side must be +1 (buy) or -1 (sell), got {side!r}", source="tca")
    for name, v in (("quantity", quantity), ("decision_price", decision_price), ("arrival_price", arrival_price),
                    ("end_price", end_price)):
        if not (math.isfinite(v) and v > 0):
            raise DataError(f"{name} must be finite and > 0, got {v!r}", source="tca")
    filled = sum(f.quantity for f in fills)
    if filled > quantity * (1 + 1e-12):
        raise DataError(f"fills of {filled:g} exceed the parent's {quantity:g}", source="tca")
    avg = sum(f.quantity * f.price for f in fills) / filled if filled else math.nan
    vwap, volume = interval_vwap(market, start, end) if market is not None else (None, 0.0)
    delay = side * filled * (arrival_price - decision_price)
    trading = side * sum(f.quantity * (f.price - arrival_price) for f in fills)
    opportunity = side * (quantity - filled) * (end_price - decision_price)
    fees = sum(f.commission for f in fills)
    total = delay + trading + opportunity + fees
    return TCAResult(
        filled=filled, fill_rate=filled / quantity, avg_price=avg,
        slippage_vs_arrival_bps=side * (avg / arrival_price - 1) * 1e4 if filled else math.nan,
        interval_vwap=vwap,
        slippage_vs_vwap_bps=side * (avg / vwap - 1) * 1e4 if (vwap and filled) else None,
        participation=filled / volume if volume > 0 else None,
        delay_cost=delay, trading_cost=trading, opportunity_cost=opportunity, fees=fees, shortfall=total,
        shortfall_bps=total / (quantity * decision_price) * 1e4,
        reversion_bps=-side * (price_after / end_price - 1) * 1e4 if price_after is not None else None)


# --- parents of the engine's log -----------------------------------------------------------------

TCA_TYPES = (EventType.ORDER_ACCEPTED, EventType.ORDER_SUBMITTED, EventType.FILL, EventType.ORDER_CANCELLED,
             EventType.ORDER_EXPIRED)  # the events a cost analysis reads

@dataclass(slots=True)
class ParentExecution:
    """A parent order as the log tells it: accepted with an execution algorithm, worked by its
    children (``<parent>-c<n>``), their fills. ``arrival`` is the symbol's mark when it was
    accepted (None in logs written before it was recorded); ``status`` filled, cancelled (or
    expired) or working; ``done`` the time of its last fill or of its cancellation."""

    client_order_id: str
    symbol: str
    side: int
    quantity: float
    algorithm: str
    urgency: float
    start: datetime
    horizon_end: datetime
    arrival: float | None
    status: str = "working"
    done: datetime | None = None
    children: int = 0
    fills: list[ExecFill] = field(default_factory=list)

    @property
    def filled(self) -> float:
        return sum(f.quantity for f in self.fills)


def parents_from_events(events: Iterable[Event]) -> list[ParentExecution]:
    """The parent orders of an event log, in the order they were accepted."""
    parents: dict[str, ParentExecution] = {}
    child_of: dict[str, str] = {}
    for e in events:
        p = e.payload
        if e.type is EventType.ORDER_ACCEPTED and p.get("exec") is not None:
            o, ex = p["order"], p["exec"]
            parents[o["client_order_id"]] = ParentExecution(
                o["client_order_id"], o["symbol"], 1 if o["side"] == "buy" else -1, float(o["quantity"]),
                str(ex["name"]), float(ex["urgency"]), datetime.fromisoformat(ex["start"]),
                datetime.fromisoformat(ex["end"]), ex.get("arrival"))
        elif e.type in (EventType.ORDER_ACCEPTED, EventType.ORDER_SUBMITTED) and p.get("parent") in parents:
            child_of[p["order"]["client_order_id"]] = p["parent"]
            parents[p["parent"]].children += 1
        elif e.type is EventType.FILL and p["fill"]["client_order_id"] in child_of:
            f = p["fill"]
            par = parents[child_of[f["client_order_id"]]]
            t = datetime.fromisoformat(f["timestamp"])
            par.fills.append(ExecFill(t, float(f["quantity"]), float(f["price"]), float(f["commission"]),
                                      f.get("venue")))
            par.done = t
            if par.filled >= par.quantity * (1 - 1e-12):
                par.status = "filled"
        elif e.type in (EventType.ORDER_CANCELLED, EventType.ORDER_EXPIRED) and p.get("client_order_id") in parents:
            par = parents[p["client_order_id"]]
            par.status = "cancelled" if e.type is EventType.ORDER_CANCELLED else "expired"
            par.done = e.timestamp
    return list(parents.values())


def _price_at(market: pd.DataFrame | None, t: datetime, after: bool = False) -> float | None:
    """The last market price at or before ``t`` (the first at or after, with ``after``)."""
    if market is None or market.empty:
        return None
    ts = pd.Timestamp(t)
    if after:
        m = market.loc[market.index >= ts, "price"]
        return float(m.iloc[0]) if len(m) else None
    m = market.loc[market.index <= ts, "price"]
    return float(m.iloc[-1]) if len(m) else None


def tca_table(parents: Sequence[ParentExecution], market: Mapping[str, pd.DataFrame] | None = None, *,
              reversion_after: timedelta = timedelta(minutes=5)) -> pd.DataFrame:
    """One row per parent with an arrival price: :func:`analyse` with decision = arrival price (the
    engine knows no earlier decision: delay cost 0), end price = the market price at its end (its
    last fill or cancellation; the last fill's price without market data), the interval VWAP and
    participation over [start, end] and the reversion ``reversion_after`` the end, from
    ``market[symbol]`` (a frame of ``price`` and ``volume`` indexed by UTC time: bars or trade
    prints; leave out for none). Parents still working are analysed up to now (their fill rate
    so far); parents without an arrival price (no mark when accepted) or without a fill are
    listed with NaN figures."""
    rows = []
    for p in parents:
        frame = (market or {}).get(p.symbol)
        end = p.done or p.start
        base: dict[str, Any] = {"parent": p.client_order_id, "symbol": p.symbol, "side": "buy" if p.side > 0 else "sell",
                                "algorithm": p.algorithm, "urgency": p.urgency, "quantity": p.quantity,
                                "status": p.status, "children": p.children, "start": p.start, "end": end,
                                "arrival_price": p.arrival}
        if p.arrival is None or not p.fills:
            rows.append(base)
            continue
        end_price = _price_at(frame, end) or p.fills[-1].price
        r = analyse(p.side, p.quantity, p.arrival, p.arrival, p.fills, end_price, start=p.start, end=end,
                    market=frame, price_after=_price_at(frame, end + reversion_after, after=True))
        rows.append({**base, **r.to_dict()})
    return pd.DataFrame(rows)


def algorithm_summary(table: pd.DataFrame) -> pd.DataFrame:
    """Per algorithm: parents, fill rate, mean / median / 95th percentile / standard deviation of
    the shortfall (bps of the arrival notional), mean slippage to arrival and to interval VWAP (bps)."""
    t = table.dropna(subset=["shortfall_bps"]) if "shortfall_bps" in table else table.iloc[0:0]
    if t.empty:
        return pd.DataFrame(columns=["algorithm", "parents", "fill_rate", "shortfall_bps_mean", "shortfall_bps_median",
                                     "shortfall_bps_p95", "shortfall_bps_std", "slippage_vs_arrival_bps",
                                     "slippage_vs_vwap_bps"])
    g = t.groupby("algorithm")
    out = pd.DataFrame({
        "parents": g.size(), "fill_rate": g["fill_rate"].mean(),
        "shortfall_bps_mean": g["shortfall_bps"].mean(), "shortfall_bps_median": g["shortfall_bps"].median(),
        "shortfall_bps_p95": g["shortfall_bps"].quantile(0.95), "shortfall_bps_std": g["shortfall_bps"].std(ddof=1),
        "slippage_vs_arrival_bps": g["slippage_vs_arrival_bps"].mean(),
        "slippage_vs_vwap_bps": g["slippage_vs_vwap_bps"].apply(lambda s: s.dropna().mean() if s.notna().any()
                                                               else np.nan),
    })
    return out.reset_index()


def venue_summary(parents: Sequence[ParentExecution]) -> pd.DataFrame:
    """Per venue (``-`` for fills that name none): fills, quantity, share of the quantity and the
    quantity-weighted slippage against the parent's arrival price (bps; positive = paid more)."""
    rows = [(f.venue or "-", f.quantity, p.side * (f.price / p.arrival - 1) * 1e4)
            for p in parents if p.arrival for f in p.fills]
    if not rows:
        return pd.DataFrame(columns=["venue", "fills", "quantity", "share", "slippage_vs_arrival_bps"])
    df = pd.DataFrame(rows, columns=["venue", "quantity", "bps"])
    df["wq"] = df["quantity"] * df["bps"]
    g = df.groupby("venue")
    out = pd.DataFrame({"fills": g.size(), "quantity": g["quantity"].sum()})
    out["share"] = out["quantity"] / out["quantity"].sum()
    out["slippage_vs_arrival_bps"] = g["wq"].sum() / out["quantity"]
    return out.reset_index()


def _records(df: pd.DataFrame) -> list[dict[str, Any]]:
    """JSON-safe rows: NaN as None, times as ISO strings."""
    out = []
    for row in df.to_dict(orient="records"):
        clean: dict[str, Any] = {}
        for k, v in row.items():
            if isinstance(v, (pd.Timestamp, datetime)):
                clean[k] = v.isoformat()
            elif isinstance(v, (float, np.floating)):
                clean[k] = None if not math.isfinite(v) else float(v)
            elif isinstance(v, np.integer):
                clean[k] = int(v)
            else:
                clean[k] = v
        out.append(clean)
    return out


def tca_document(parents: Sequence[ParentExecution], market: Mapping[str, pd.DataFrame] | None = None) -> dict[str, Any]:
    """The analysis as JSON: ``parents`` (:func:`tca_table` rows), ``algorithms``
    (:func:`algorithm_summary`) and ``venues`` (:func:`venue_summary`)."""
    table = tca_table(parents, market)
    return {"parents": _records(table), "algorithms": _records(algorithm_summary(table)),
            "venues": _records(venue_summary(parents))}


# --- report ---------------------------------------------------------------------------------------

def read_market_file(path: Any) -> dict[str, pd.DataFrame]:
    """A CSV of market prices for the benchmarks: columns ``timestamp`` (ISO, UTC if no offset),
    ``symbol``, ``price`` (a bar's close or a trade's price) and ``volume`` (the bar's or the
    trade's amount); one frame per symbol for :func:`tca_table`."""
    from pathlib import Path

    p = Path(path)
    try:
        df = pd.read_csv(p)
    except (OSError, ValueError) as exc:
        raise DataError(f"cannot read the market file: {exc}", source=str(p)) from None
    missing = {"timestamp", "symbol", "price", "volume"} - set(df.columns)
    if missing:
        raise DataError(f"the market file lacks column(s) {', '.join(sorted(missing))} (found: "
                        f"{', '.join(map(str, df.columns))})", source=str(p))
    try:
        df["timestamp"] = pd.to_datetime(df["timestamp"], utc=True)
    except (ValueError, TypeError) as exc:
        raise DataError(f"timestamp: {exc}", source=str(p)) from None
    bad = ~(np.isfinite(pd.to_numeric(df["price"], errors="coerce")) & (pd.to_numeric(df["price"], errors="coerce") > 0))
    if bad.any():
        raise DataError(f"row {int(np.argmax(bad.to_numpy())) + 2}: price must be a number > 0", source=str(p))
    return {str(sym): g.set_index("timestamp")[["price", "volume"]].astype(float).sort_index()
            for sym, g in df.groupby("symbol")}


def write_tca_report(folder: Any, parents: Sequence[ParentExecution],
                     market: Mapping[str, pd.DataFrame] | None = None) -> Any:
    """Write ``tca.html`` (tables and figures: shortfall per algorithm, slippage against
    participation, quantity per venue) and ``tca_parents.csv`` into ``folder``; returns the HTML path."""
    from pathlib import Path

    import matplotlib.pyplot as plt

    from raytrade.analytics.report import figure_html, table_html, write_report

    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    table = tca_table(parents, market)
    table.to_csv(out / "tca_parents.csv", index=False)
    algos, venues = algorithm_summary(table), venue_summary(parents)
    sections: list[tuple[str, str]] = [(
        "What this is",
        "<p>Per parent order (an order with an execution algorithm): slippage of its average price to the "
        "arrival price (the mark when it was accepted) and to the interval VWAP of the market, in basis points "
        "(positive = paid more); implementation shortfall (Perold) in account currency split into trading "
        "(impact) cost, the opportunity cost of the unfilled part and fees, and in bps of the arrival notional. "
        f"{len(table)} parents.</p>")]
    sections.append(("By algorithm", table_html(algos.set_index("algorithm")) if len(algos) else "<p>none</p>"))
    sections.append(("By venue", table_html(venues.set_index("venue")) if len(venues) else "<p>none</p>"))
    done = table.dropna(subset=["shortfall_bps"]) if "shortfall_bps" in table else table.iloc[0:0]
    if len(done):
        fig, (a, b) = plt.subplots(1, 2, figsize=(11, 4))
        groups = [g["shortfall_bps"].to_numpy() for _, g in done.groupby("algorithm")]
        a.boxplot(groups, tick_labels=[str(k) for k, _ in done.groupby("algorithm")])
        a.set_ylabel("shortfall, bps of arrival notional")
        a.set_title("Shortfall per algorithm")
        part = done.dropna(subset=["participation"])
        if len(part):
            b.scatter(part["participation"] * 100, part["slippage_vs_arrival_bps"], s=12)
        b.set_xlabel("participation, % of market volume")
        b.set_ylabel("slippage to arrival, bps")
        b.set_title("Slippage against participation")
        fig.tight_layout()
        sections.append(("Figures", figure_html(fig, "shortfall per algorithm; slippage against participation")))
    cols = [c for c in ("parent", "symbol", "side", "algorithm", "quantity", "status", "fill_rate", "arrival_price",
                        "avg_price", "slippage_vs_arrival_bps", "slippage_vs_vwap_bps", "participation",
                        "shortfall_bps", "reversion_bps") if c in table]
    sections.append(("Parents", table_html(table[cols].set_index("parent")) if len(table) else "<p>none</p>"))
    return write_report(out / "tca.html", "Transaction-cost analysis", sections)
