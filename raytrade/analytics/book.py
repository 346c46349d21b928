"""The live book's history rebuilt from the engine's event log: equity, cash flows and P&L by
symbol and by strategy at every session start, for drawdowns, attribution and tax.

The log holds everything needed: fills (``fill``), cash in and out (``cash_changed``), the marks
each session started with (``session_started``) and each order's strategy tag
(``order_accepted``). Equity at a point = cash + sum(position x mark); a symbol's (a strategy's)
P&L = the cash flow of its fills + its position x mark (realised and unrealised together,
commissions included). Points are the session starts (marks of the previous close) plus, when
given, the current marks ``now``. ``wealth`` is the equity with cash flows taken out (a
time-weighted index starting at 1: a deposit is not a gain).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np
import pandas as pd

from raytrade.analytics.tax import LotLedger
from raytrade.core.enums import EventType
from raytrade.core.events import Event
from raytrade.core.orders import Fill

BOOK_TYPES = (EventType.ORDER_ACCEPTED, EventType.ORDER_SUBMITTED, EventType.FILL, EventType.CASH_CHANGED, EventType.SESSION_STARTED)
MANUAL = "manual"  # the group of orders sent without a strategy tag


@dataclass(frozen=True, slots=True)
class BookHistory:
    """``equity`` and ``flows`` (cash added since the previous point; + = deposit) per point;
    ``symbol_pnl`` and ``strategy_pnl``: P&L per period (the change since the previous point)
    by symbol and by strategy tag (untagged orders: ``manual``); ``fills``: every fill as rows
    (time, symbol, side, quantity, price (the quote), commission, strategy, multiplier: the
    instrument's contract multiplier) for the tax ledger; ``marks``: the last quote of every symbol
    (``now``'s, else the last session start's, else its first fill's price)."""

    equity: pd.Series
    flows: pd.Series
    symbol_pnl: pd.DataFrame
    strategy_pnl: pd.DataFrame
    fills: pd.DataFrame
    marks: dict[str, float] = field(default_factory=dict)   # the quotes at the last point

    @property
    def wealth(self) -> pd.Series:
        """Time-weighted wealth index: 1 at the first point with money, each period's return
        = (equity - flow) / previous equity - 1 (a flow counts at the end of its period)."""
        eq = self.equity
        if eq.empty:
            return eq
        prev = eq.shift(1)
        r = ((eq - self.flows) / prev - 1.0).where(prev > 0, 0.0).fillna(0.0)
        return (1.0 + r).cumprod()


def book_history(events: Iterable[Event], now: Mapping[str, float] | None = None,
                 at: datetime | None = None, multipliers: Mapping[str, float] | None = None) -> BookHistory:
    """Rebuild the book from ``events`` in log order (see the module); ``now``: the current
    marks, added as a last point at ``at``; ``multipliers``: the instruments' contract
    multipliers (absent: 1), applied to every value and cash flow."""
    mult = dict(multipliers or {})
    cash = 0.0
    flow = 0.0
    pos: dict[str, float] = defaultdict(float)
    marks: dict[str, float] = {}
    sym_cash: dict[str, float] = defaultdict(float)
    strat_cash: dict[str, float] = defaultdict(float)
    strat_pos: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    tag_of: dict[str, str] = {}
    times: list[datetime] = []
    equity: list[float] = []
    flows: list[float] = []
    sym_rows: list[dict[str, float]] = []
    strat_rows: list[dict[str, float]] = []
    fill_rows: list[tuple[object, ...]] = []

    def point(t: datetime) -> None:
        nonlocal flow
        times.append(t)
        equity.append(cash + sum(q * marks.get(s, 0.0) * mult.get(s, 1.0) for s, q in pos.items()))
        flows.append(flow)
        flow = 0.0
        sym_rows.append({s: sym_cash[s] + pos[s] * marks.get(s, 0.0) * mult.get(s, 1.0) for s in sym_cash})
        strat_rows.append({g: strat_cash[g] + sum(q * marks.get(s, 0.0) * mult.get(s, 1.0) for s, q in p.items())
                           for g, p in strat_pos.items()})

    for e in events:
        t, p = e.type, e.payload
        if t is EventType.ORDER_ACCEPTED or t is EventType.ORDER_SUBMITTED:
            o = p.get("order") or {}
            if o.get("client_order_id"):
                tag_of[o["client_order_id"]] = o.get("strategy") or MANUAL
        elif t is EventType.FILL:
            f = Fill.from_dict(p["fill"])
            g = tag_of.get(f.client_order_id, MANUAL)
            cf = f.cash_change(mult.get(f.symbol, 1.0))
            cash += cf
            pos[f.symbol] += f.signed_quantity
            sym_cash[f.symbol] += cf
            strat_cash[g] += cf
            strat_pos[g][f.symbol] += f.signed_quantity
            marks.setdefault(f.symbol, f.price)
            fill_rows.append((f.timestamp, f.symbol, f.side.value, f.quantity, f.price, f.commission, g,
                              mult.get(f.symbol, 1.0)))
        elif t is EventType.CASH_CHANGED:
            amount = float(p.get("amount", 0.0))
            cash += amount
            flow += amount
        elif t is EventType.SESSION_STARTED:
            marks.update({k: float(v) for k, v in (p.get("marks") or {}).items()})
            point(e.timestamp)
    if now is not None:
        marks.update(now)
        point(at or (times[-1] if times else datetime.now().astimezone()))
    idx = pd.DatetimeIndex(pd.to_datetime(times, utc=True), name="time")
    sym = pd.DataFrame(sym_rows, index=idx).fillna(0.0)
    strat = pd.DataFrame(strat_rows, index=idx).fillna(0.0)
    fills = pd.DataFrame(fill_rows, columns=["time", "symbol", "side", "quantity", "price", "commission", "strategy",
                                             "multiplier"])
    return BookHistory(pd.Series(np.asarray(equity, dtype=float), index=idx, name="equity"),
                       pd.Series(np.asarray(flows, dtype=float), index=idx, name="flows"),
                       sym.diff().fillna(sym.iloc[:1]) if len(sym) else sym,
                       strat.diff().fillna(strat.iloc[:1]) if len(strat) else strat, fills, dict(marks))


def _num(x: object) -> float | None:
    v = float(x)  # type: ignore[arg-type]
    return v if np.isfinite(v) else None


def _iso(x: object) -> str | None:
    return None if x is None or pd.isna(x) else pd.Timestamp(x).isoformat()  # type: ignore[arg-type]


def _groups(table: pd.DataFrame) -> list[dict[str, object]]:
    return [{"group": str(g), "pnl": float(r["pnl"]), "share": _num(r["share"]), "sharpe": _num(r["sharpe"])}
            for g, r in table.iterrows()]


def attribution_document(history: BookHistory, sectors: Mapping[str, str | None],
                         periods_per_year: int = 252) -> dict[str, object]:
    """P&L of the book by sector (symbols without one: ``Unclassified``), by strategy and by
    symbol (:func:`raytrade.analytics.attribution.group_pnl` over the periods between points;
    Sharpe annualised with ``periods_per_year``), the total, the time-weighted return of the
    whole history and the lines in the product's words."""
    from raytrade.analytics.attribution import describe, group_pnl

    sp = history.symbol_pnl
    if sp.empty or sp.shape[1] == 0:
        return {"points": len(history.equity), "start": None, "end": None, "pnl": 0.0, "time_weighted_return": None,
                "by_sector": [], "by_strategy": [], "by_symbol": [], "lines": []}
    sec = {s: sectors.get(s) or "Unclassified" for s in sp.columns}
    by_sector = group_pnl(sp, sec, periods_per_year=periods_per_year)
    by_strategy = group_pnl(history.strategy_pnl, periods_per_year=periods_per_year)
    by_symbol = group_pnl(sp, periods_per_year=periods_per_year)
    w = history.wealth
    return {"points": len(history.equity), "start": _iso(sp.index[0]), "end": _iso(sp.index[-1]),
            "pnl": float(sp.to_numpy().sum()), "time_weighted_return": _num(w.iloc[-1] - 1.0) if len(w) else None,
            "by_sector": _groups(by_sector), "by_strategy": _groups(by_strategy), "by_symbol": _groups(by_symbol),
            "lines": describe(by_sector) + describe(by_strategy)}


def drawdown_document(history: BookHistory, threshold: float) -> dict[str, object]:
    """The drawdown events of the book's time-weighted wealth (deposits are not recoveries)
    beyond ``threshold`` (:func:`raytrade.analytics.drawdowns.drawdown_events`)."""
    from raytrade.analytics.drawdowns import drawdown_events

    w = history.wealth
    w = w[history.equity > 0]
    rows = [] if len(w) < 2 else drawdown_events(w, threshold).to_dict("records")
    return {"threshold": threshold, "points": len(w),
            "events": [{"peak": _iso(r["peak"]), "trough": _iso(r["trough"]), "recovery": _iso(r["recovery"]),
                        "depth": float(r["depth"]), "days_to_trough": float(r["days_to_trough"]),
                        "days_to_recover": _num(r["days_to_recover"]), "days_total": _num(r["days_total"]),
                        "open": bool(r["open"])} for r in rows]}


def tax_lots_document(ledger: LotLedger, prices: Mapping[str, float], at: datetime,
                      year: int | None = None) -> dict[str, object]:
    """The ledger's open lots (with the mark, unrealised gain and the term a sale at ``at``
    would have; null without a mark) and its closed pieces (those sold in ``year`` when given),
    with totals of the recognised gains by term and of the disallowed losses."""
    from raytrade.analytics.tax import _one_year_later

    open_rows = []
    unrealized = 0.0
    for x in ledger.lots:
        if x.open_quantity <= 1e-12:
            continue
        px = prices.get(x.symbol)
        unrealized += 0.0 if px is None else x.open_quantity * (px - x.per_share())
        open_rows.append({"symbol": x.symbol, "lot_id": x.lot_id, "acquired": x.acquired.isoformat(),
                          "quantity": x.open_quantity, "basis": x.per_share() * x.open_quantity,
                          "basis_per_share": x.per_share(), "price": px,
                          "unrealized": None if px is None else x.open_quantity * (px - x.per_share()),
                          "term": "long" if at > _one_year_later(x.acquired) else "short"})
    real = ledger.realized()
    if year is not None and len(real):
        real = real[pd.to_datetime(real["sold"], utc=True).dt.year == year]
    sold = [{**r, "acquired": _iso(r["acquired"]), "sold": _iso(r["sold"])} for r in real.to_dict("records")]
    by_term = real.groupby("term")["recognized_gain"].sum() if len(real) else pd.Series(dtype=float)
    return {"method": ledger.method, "year": year, "open": open_rows, "realized": sold,
            "totals": {"short_term_gain": float(by_term.get("short", 0.0)),
                       "long_term_gain": float(by_term.get("long", 0.0)),
                       "wash_disallowed": float(real["wash_disallowed"].sum()) if len(real) else 0.0,
                       "unrealized": unrealized}}
