"""Round trips from fills, by the kernel's rule (module :mod:`raytrade.backtest.kernel`, rule 7).

A round trip runs from the fill that opens a position from flat (or the opening part of a flip)
to the fill that brings it back to flat (or the closing part of a flip). Its P&L is the sum of
its fills' cash flows, commissions in; a flip's commission is split between the trip it closes
and the one it opens pro rata by shares. ``entry_price`` and ``exit_price`` are the
quantity-weighted prices of the fills that grew and that shrank the position; ``quantity`` the
shares opened; ``return`` = P&L / the entry notional (``quantity x entry_price``);
``direction`` long or short. A trip still open after the last fill is listed with ``open`` True,
no exit and no P&L.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

COLUMNS = ["symbol", "direction", "entry_time", "exit_time", "quantity", "entry_price", "exit_price", "pnl",
           "return", "duration", "fills", "open"]


@dataclass(slots=True)
class _Trip:
    symbol: str
    sign: float
    entry_time: object
    opened: float = 0.0
    entry_value: float = 0.0
    closed: float = 0.0
    exit_value: float = 0.0
    cash: float = 0.0
    fills: int = 0

    def row(self, exit_time: object, done: bool) -> dict[str, object]:
        entry = self.entry_value / self.opened
        pnl = self.cash if done else np.nan
        return {"symbol": self.symbol, "direction": "long" if self.sign > 0 else "short",
                "entry_time": self.entry_time, "exit_time": exit_time if done else pd.NaT, "quantity": self.opened,
                "entry_price": entry, "exit_price": self.exit_value / self.closed if done else np.nan,
                "pnl": pnl, "return": pnl / self.entry_value if done else np.nan,
                "duration": (exit_time - self.entry_time) if done else pd.NaT,  # type: ignore[operator]
                "fills": self.fills, "open": not done}


def round_trips(fills: pd.DataFrame) -> pd.DataFrame:
    """The round trips of ``fills`` (columns timestamp, symbol, side buy/sell, quantity > 0,
    price, commission), in time order per symbol; one row each (see the module)."""
    rows: list[dict[str, object]] = []
    trips: dict[str, _Trip] = {}
    pos: dict[str, float] = {}
    eps = 1e-9
    for t, sym, side, qty, px, fee in zip(fills["timestamp"], fills["symbol"], fills["side"], fills["quantity"],
                                          fills["price"], fills["commission"], strict=True):
        q = float(qty) if side == "buy" else -float(qty)
        p = pos.get(sym, 0.0)
        left, fee = abs(q), float(fee)
        if abs(p) > eps and np.sign(q) != np.sign(p):  # shrinks the position: closes (part of) the trip
            trip = trips[sym]
            part = min(left, abs(p))
            share = part / abs(q)
            trip.cash += -np.sign(q) * part * px - fee * share
            trip.closed += part
            trip.exit_value += part * px
            trip.fills += 1
            p += np.sign(q) * part
            left -= part
            fee *= 1.0 - share
            if abs(p) <= eps:
                p = 0.0
                rows.append(trip.row(t, True))
                del trips[sym]
        if left > eps:  # opens or grows the position
            trip = trips.get(sym) or trips.setdefault(sym, _Trip(sym, float(np.sign(q)), t))
            trip.opened += left
            trip.entry_value += left * px
            trip.cash += -np.sign(q) * left * px - fee
            trip.fills += 1
            p += np.sign(q) * left
        pos[sym] = p
    rows += [trip.row(None, False) for trip in trips.values()]
    return pd.DataFrame(rows, columns=COLUMNS)
