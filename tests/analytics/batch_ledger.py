"""The first tax-lot ledger (batch: every purchase registered as a lot first, then each sale in
time order matching replacements among all purchases within 30 days either side), kept as an
independent formulation of the rules that the incremental raytrade.analytics.tax.LotLedger must
agree with (tests/analytics/test_tax.py). The rules are those of raytrade.analytics.tax's module
docstring."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Literal

import pandas as pd

from raytrade.core.errors import DataError

WINDOW = timedelta(days=30)
Method = Literal["fifo", "lifo", "hifo", "specific"]


@dataclass(slots=True)
class Lot:
    lot_id: str
    symbol: str
    bought: datetime            # when the shares were bought (the wash window looks at this)
    acquired: datetime          # the holding period's start (moved back by a wash sale)
    quantity: float
    basis: float                # total basis of ``quantity``, commission and wash adjustments in
    open_quantity: float = field(default=0.0)
    replaceable: float = field(default=0.0)  # shares not yet used to replace a washed sale

    def per_share(self) -> float:
        return self.basis / self.quantity


def _one_year_later(t: datetime) -> datetime:
    try:
        return t.replace(year=t.year + 1)
    except ValueError:  # 29 February
        return t.replace(year=t.year + 1, day=28)


class LotLedger:
    """The lots and the closed pieces of one account (see the module)."""

    def __init__(self, method: Method = "fifo") -> None:
        if method not in ("fifo", "lifo", "hifo", "specific"):
            raise DataError(f"method must be fifo, lifo, hifo or specific, got {method!r}", source="tax")
        self.method = method
        self.lots: list[Lot] = []
        self.rows: list[dict[str, object]] = []

    @classmethod
    def from_fills(cls, fills: pd.DataFrame, method: Method = "fifo") -> LotLedger:
        """The ledger of ``fills`` (columns time, symbol, side buy/sell, quantity > 0, price > 0,
        commission >= 0; for ``specific`` also ``lots``), processed in time order (buys before
        sells at the same time)."""
        need = {"time", "symbol", "side", "quantity", "price", "commission"}
        missing = sorted(need - set(fills.columns))
        if missing:
            raise DataError(f"fills lack column(s) {', '.join(missing)} (found {', '.join(map(str, fills.columns))})",
                            source="tax")
        f = fills.copy()
        f["time"] = pd.to_datetime(f["time"], utc=True)
        bad = ~f["side"].isin(["buy", "sell"]) | ~(f["quantity"] > 0) | ~(f["price"] > 0) | ~(f["commission"] >= 0)
        if bad.any():
            i = int(bad.to_numpy().argmax())
            raise DataError(f"fill {i}: side must be buy or sell, quantity and price > 0, commission >= 0",
                            source="tax", row=i)
        f["_order"] = (f["side"] == "sell").astype(int)
        f = f.sort_values(["time", "_order"], kind="stable")
        ledger = cls(method)
        rows = list(f.itertuples(index=False))
        # Every purchase is a lot from the start (a sale may be washed by a purchase after it);
        # a sale matches only lots bought by its time.
        for i, row in enumerate(rows):
            if row.side == "buy":
                t = row.time.to_pydatetime()
                basis = row.quantity * row.price + row.commission
                ledger.lots.append(Lot(f"{row.symbol}-{i}", row.symbol, t, t, float(row.quantity), float(basis),
                                       float(row.quantity), float(row.quantity)))
        for row in rows:
            if row.side == "sell":
                ledger._sell(row.symbol, row.time.to_pydatetime(), float(row.quantity), float(row.price),
                             float(row.commission), getattr(row, "lots", None))
        return ledger

    def _sell(self, symbol: str, t: datetime, qty: float, price: float, commission: float, named: object) -> None:
        held = [lot for lot in self.lots if lot.symbol == symbol and lot.open_quantity > 1e-12 and lot.bought <= t]
        if sum(lot.open_quantity for lot in held) < qty - 1e-9:
            raise DataError(f"sale of {qty:g} {symbol} at {t.isoformat()} exceeds the {sum(x.open_quantity for x in held):g} "
                            "held (short sales are not kept in this ledger)", source="tax")
        if self.method == "fifo":
            held.sort(key=lambda x: x.bought)
        elif self.method == "lifo":
            held.sort(key=lambda x: x.bought, reverse=True)
        elif self.method == "hifo":
            held.sort(key=lambda x: x.per_share(), reverse=True)
        else:
            ids = list(named) if isinstance(named, list | tuple) else []
            by_id = {x.lot_id: x for x in held}
            if not ids or any(i not in by_id for i in ids):
                raise DataError(f"specific identification: the sale of {symbol} at {t.isoformat()} must name open lots "
                                f"(open: {', '.join(by_id)})", source="tax")
            held = [by_id[i] for i in ids]
        left = qty
        pieces: list[tuple[Lot, float]] = []
        for lot in held:
            if left <= 1e-12:
                break
            take = min(left, lot.open_quantity)
            pieces.append((lot, take))
            left -= take
        for lot, take in pieces:  # the shares sold are gone before replacements are looked for
            lot.open_quantity -= take
            lot.replaceable = min(lot.replaceable, lot.open_quantity)
        for lot, take in pieces:
            basis = lot.per_share() * take
            proceeds = take * price - commission * take / qty
            gain = proceeds - basis
            term = "long" if t > _one_year_later(lot.acquired) else "short"
            disallowed = 0.0
            if gain < 0:
                disallowed = self._wash(lot, take, -gain, t)
            self.rows.append({"symbol": symbol, "lot_id": lot.lot_id, "acquired": lot.acquired, "sold": t,
                              "quantity": take, "proceeds": proceeds, "basis": basis, "gain": gain, "term": term,
                              "wash_disallowed": disallowed, "recognized_gain": gain + disallowed})

    def _wash(self, sold: Lot, qty: float, loss: float, t: datetime) -> float:
        """Disallow the part of ``loss`` on ``qty`` shares of ``sold`` that replacement shares
        cover; adjust the replacements; return the disallowed amount."""
        held_for = t - sold.acquired
        candidates = sorted((x for x in self.lots if x.symbol == sold.symbol and x is not sold
                             and t - WINDOW <= x.bought <= t + WINDOW and x.replaceable > 1e-12),
                            key=lambda x: x.bought)
        need, disallowed = qty, 0.0
        for lot in candidates:
            if need <= 1e-12:
                break
            use = min(need, lot.replaceable)
            if abs(lot.quantity - use) > 1e-12:  # the adjustment belongs to exactly the replacing shares
                lot = self._split(lot, use)
            part = loss * use / qty
            lot.basis += part
            lot.acquired = lot.acquired - held_for
            lot.replaceable -= use
            disallowed += part
            need -= use
        return disallowed

    def _split(self, lot: Lot, q: float) -> Lot:
        """Split ``q`` shares (open and replaceable) off ``lot`` into a new lot; return the new one."""
        share = q / lot.quantity
        new = Lot(f"{lot.lot_id}.{sum(1 for x in self.lots if x.lot_id.startswith(lot.lot_id + '.')) + 1}",
                  lot.symbol, lot.bought, lot.acquired, q, lot.basis * share, min(q, lot.open_quantity), q)
        lot.quantity -= q
        lot.basis -= new.basis
        lot.open_quantity -= new.open_quantity
        lot.replaceable -= q
        self.lots.insert(self.lots.index(lot) + 1, new)
        return new

    def realized(self) -> pd.DataFrame:
        """One row per closed lot piece: symbol, lot_id, acquired (after any wash adjustment),
        sold, quantity, proceeds, basis, gain, term, wash_disallowed (>= 0) and recognized_gain
        (gain + wash_disallowed: what counts this year)."""
        cols = ["symbol", "lot_id", "acquired", "sold", "quantity", "proceeds", "basis", "gain", "term",
                "wash_disallowed", "recognized_gain"]
        return pd.DataFrame(self.rows, columns=cols)

    def open_lots(self) -> pd.DataFrame:
        """The open lots: symbol, lot_id, acquired (the holding period's start), quantity, basis
        (adjusted, of the open quantity) and basis per share."""
        rows = [{"symbol": x.symbol, "lot_id": x.lot_id, "acquired": x.acquired, "quantity": x.open_quantity,
                 "basis": x.per_share() * x.open_quantity, "basis_per_share": x.per_share()}
                for x in self.lots if x.open_quantity > 1e-12]
        return pd.DataFrame(rows, columns=["symbol", "lot_id", "acquired", "quantity", "basis", "basis_per_share"])

    def unrealized(self, prices: dict[str, float]) -> float:
        """Unrealised gain of the open lots at ``prices`` (basis adjusted)."""
        out = 0.0
        for x in self.lots:
            if x.open_quantity > 1e-12:
                if x.symbol not in prices or not math.isfinite(prices[x.symbol]):
                    raise DataError(f"no price for {x.symbol}", source="tax")
                out += x.open_quantity * (prices[x.symbol] - x.per_share())
        return out
