"""Tax lots: a ledger rebuilt from fills, realised gains by term, and wash sales by the IRS rules.

Conventions: one account; long positions only (a sale of more than is held is an error); money in
the account currency; prices per unit of quantity in currency: a share's price, or an option
contract's (the premium x the contract multiplier, 100 for US equity options; callers multiply, as
the engine's compliance ledger and the log's report do); a lot's basis includes its purchase commission, a sale's proceeds are net of
its commission (split over the lots it closes in proportion to quantity). A gain is proceeds minus
basis; ``term`` is ``long`` when the lot was held more than one year (sold after the anniversary of
its acquisition date), else ``short``.

Matching: ``method`` picks which open lots a sale closes: ``fifo`` (oldest first), ``lifo`` (newest
first) or ``hifo`` (highest basis per share first); ``specific`` takes the lots named per sale
(``lots`` column of the fills: lot ids, in order).

Wash sales (IRS Publication 550, "Wash Sales"): a sale at a loss is a wash sale to the extent that
substantially identical shares (here: the same symbol) were acquired within 30 days before or after
the sale and are not the shares sold (nor the rest of the lot sold from, as Treasury regulation
1.1091-1(f) has it; shares bought before the sale count only while still held). Replacement shares are taken in the order they were acquired,
each share replacing at most one sold share. For the replaced part the loss is disallowed (in
proportion when fewer shares replace the sold ones), the disallowed loss is added to the basis of
the replacement shares, and their holding period starts earlier by the holding period of the
shares sold (so their acquisition date moves back). A replacement lot only partly used is split.
Because adjusted lots are lots like any other, a later loss sale of them washes again (a chain).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
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


@dataclass(slots=True)
class _PendingLoss:
    """The part of a loss sale not yet replaced: a later purchase within the window may wash it."""

    row: dict[str, object]
    held_for: timedelta
    sold_at: datetime
    quantity: float          # shares of the sale still unreplaced
    loss_per_share: float


@dataclass(slots=True)
class _Book:
    """One symbol's lots in the order bought, the index of the first one possibly open (FIFO
    skips the closed ones), and its pending losses in the order sold."""

    lots: list[Lot] = field(default_factory=list)
    first_open: int = 0
    first_replaceable: int = 0   # lots before it can replace no later sale (used up, or bought too long ago)
    open_quantity: float = 0.0
    pending: list[_PendingLoss] = field(default_factory=list)
    splits: dict[str, int] = field(default_factory=dict)


class LotLedger:
    """The lots and the closed pieces of one account (see the module).

    Fills are taken in time order (:meth:`add`; :meth:`from_fills` sorts them, buys before sells
    at the same time). A loss sale is washed at once by the replacement shares bought up to 30
    days before it and still held; what they do not cover waits, and a purchase within 30 days
    after the sale washes it then (the sale's row is updated). Taken in time order this is the
    rule of the module: the replacement shares of a sale are taken in the order they were bought
    and each replaces at most one sold share. ``allow_short``: a sale of more than is held closes
    what is held and leaves the rest (a short sale) outside the ledger, instead of an error (the
    engine's book may go short; the ledger keeps long lots only)."""

    def __init__(self, method: Method = "fifo", *, allow_short: bool = False) -> None:
        if method not in ("fifo", "lifo", "hifo", "specific"):
            raise DataError(f"method must be fifo, lifo, hifo or specific, got {method!r}", source="tax")
        self.method = method
        self.allow_short = allow_short
        self.books: dict[str, _Book] = {}
        self.rows: list[dict[str, object]] = []
        self._n = 0
        self._last: datetime | None = None
        self.last_lot_id: str | None = None  # the lot the last purchase opened (before any split of it)

    @property
    def lots(self) -> list[Lot]:
        return [lot for b in self.books.values() for lot in b.lots]

    @classmethod
    def from_fills(cls, fills: pd.DataFrame, method: Method = "fifo", *, allow_short: bool = False) -> LotLedger:
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
        ledger = cls(method, allow_short=allow_short)
        named = f["lots"].tolist() if "lots" in f.columns else [None] * len(f)
        for t, sym, side, q, px, c, lots in zip(f["time"].dt.to_pydatetime(), f["symbol"].tolist(),
                                                f["side"].tolist(), f["quantity"].tolist(), f["price"].tolist(),
                                                f["commission"].tolist(), named, strict=True):
            ledger.add(t, sym, side, float(q), float(px), float(c), lots)
        return ledger

    def add(self, t: datetime, symbol: str, side: str, quantity: float, price: float, commission: float = 0.0,
            lots: object = None) -> list[dict[str, object]]:
        """One fill, in time order (a fill older than the last one is an error). Returns the rows
        a sale closed (their ``wash_disallowed`` grows if a later purchase washes them); none for
        a buy."""
        if self._last is not None and t < self._last:
            raise DataError(f"fill at {t.isoformat()} is older than the last one ({self._last.isoformat()})",
                            source="tax")
        self._last = t
        book = self.books.get(symbol)
        if book is None:
            book = self.books[symbol] = _Book()
        if side == "buy":
            lot = Lot(f"{symbol}-{self._n}", symbol, t, t, quantity, quantity * price + commission, quantity, quantity)
            self._n += 1
            self.last_lot_id = lot.lot_id
            book.lots.append(lot)
            book.open_quantity += quantity
            self._wash_pending(book, lot, t)
            return []
        self._n += 1
        n0 = len(self.rows)
        self._sell(book, symbol, t, quantity, price, commission, lots)
        return self.rows[n0:]

    @property
    def last_time(self) -> datetime | None:
        """The time of the last fill taken."""
        return self._last

    def _sell(self, book: _Book, symbol: str, t: datetime, qty: float, price: float, commission: float,
              named: object) -> None:
        have = book.open_quantity
        if have < qty - 1e-9:
            if not self.allow_short:
                raise DataError(f"sale of {qty:g} {symbol} at {t.isoformat()} exceeds the {have:g} "
                                "held (short sales are not kept in this ledger)", source="tax")
            if have <= 1e-12:
                return
            commission *= have / qty
            qty = have
        pieces = self._pick(book, symbol, t, qty, named)
        book.open_quantity -= qty
        for lot, take in pieces:  # the shares sold are gone before replacements are looked for
            lot.open_quantity -= take
            lot.replaceable = min(lot.replaceable, lot.open_quantity)
        for lot, take in pieces:
            basis = lot.per_share() * take
            proceeds = take * price - commission * take / qty
            gain = proceeds - basis
            row: dict[str, object] = {
                "symbol": symbol, "lot_id": lot.lot_id, "acquired": lot.acquired, "sold": t, "quantity": take,
                "proceeds": proceeds, "basis": basis, "gain": gain,
                "term": "long" if t > _one_year_later(lot.acquired) else "short",
                "wash_disallowed": 0.0, "recognized_gain": gain}
            self.rows.append(row)
            if gain < 0:
                loss = _PendingLoss(row, t - lot.acquired, t, take, -gain / take)
                self._wash_before(book, lot, loss, t)
                if loss.quantity > 1e-12:
                    book.pending.append(loss)

    def _pick(self, book: _Book, symbol: str, t: datetime, qty: float, named: object) -> list[tuple[Lot, float]]:
        """The open lots a sale of ``qty`` closes, by the method, and how much of each (no change
        to the lots)."""
        held: Iterable[Lot]
        if self.method == "fifo":  # walk from the oldest open lot: no list of every open lot per sale
            while book.first_open < len(book.lots) and book.lots[book.first_open].open_quantity <= 1e-12:
                book.first_open += 1
            held = (book.lots[i] for i in range(book.first_open, len(book.lots)) if book.lots[i].open_quantity > 1e-12)
        elif self.method == "lifo":  # newest first; lots bought at the same time in the order bought
            held = sorted((lot for lot in book.lots[book.first_open:] if lot.open_quantity > 1e-12),
                          key=lambda x: x.bought, reverse=True)
        else:
            open_lots = [lot for lot in book.lots[book.first_open:] if lot.open_quantity > 1e-12]
            if self.method == "hifo":
                held = sorted(open_lots, key=lambda x: x.per_share(), reverse=True)
            else:
                ids = list(named) if isinstance(named, list | tuple) else []
                by_id = {x.lot_id: x for x in open_lots}
                if not ids or any(i not in by_id for i in ids):
                    raise DataError(f"specific identification: the sale of {symbol} at {t.isoformat()} must name "
                                    f"open lots (open: {', '.join(by_id)})", source="tax")
                held = [by_id[i] for i in ids]
        left = qty
        pieces: list[tuple[Lot, float]] = []
        for lot in held:
            if left <= 1e-12:
                break
            take = min(left, lot.open_quantity)
            pieces.append((lot, take))
            left -= take
        return pieces

    def _wash_before(self, book: _Book, sold: Lot, loss: _PendingLoss, t: datetime) -> None:
        """Replacements bought up to 30 days before the sale, still held, in the order bought.
        Sales come in time order, so lots used up or bought before the window are passed once."""
        lots = book.lots
        i = book.first_replaceable
        while i < len(lots) and (lots[i].replaceable <= 1e-12 or lots[i].bought < t - WINDOW):
            i += 1
        book.first_replaceable = i
        while i < len(lots) and loss.quantity > 1e-12:
            lot = lots[i]
            if lot.bought > t:
                break
            if lot is not sold and lot.replaceable > 1e-12 and lot.bought >= t - WINDOW:
                self._replace(book, lot, loss, i)  # a split inserts the used part at i + 1, not replaceable
            i += 1

    def _wash_pending(self, book: _Book, lot: Lot, t: datetime) -> None:
        """A purchase washes the pending losses sold within the 30 days before it, oldest first."""
        book.pending = [p for p in book.pending if t - p.sold_at <= WINDOW and p.quantity > 1e-12]
        for loss in book.pending:
            if lot.replaceable <= 1e-12:
                break
            lot = self._replace(book, lot, loss)
        book.pending = [p for p in book.pending if p.quantity > 1e-12]

    def _replace(self, book: _Book, lot: Lot, loss: _PendingLoss, index: int | None = None) -> Lot:
        """``lot``'s replaceable shares wash what they can of ``loss``; returns the part of
        ``lot`` still replaceable (the lot itself, or its unused rest after a split).
        ``index``: the lot's place in its book, when known."""
        use = min(loss.quantity, lot.replaceable)
        rest = lot
        if abs(lot.quantity - use) > 1e-12:  # the adjustment belongs to exactly the replacing shares
            used = self._split(book, lot, use, index)
            rest, lot = lot, used
        part = loss.loss_per_share * use
        lot.basis += part
        lot.acquired = lot.acquired - loss.held_for
        lot.replaceable -= use
        loss.quantity -= use
        loss.row["wash_disallowed"] = float(loss.row["wash_disallowed"]) + part  # type: ignore[arg-type]
        loss.row["recognized_gain"] = float(loss.row["recognized_gain"]) + part  # type: ignore[arg-type]
        return rest

    def _split(self, book: _Book, lot: Lot, q: float, index: int | None = None) -> Lot:
        """Split ``q`` shares (open and replaceable) off ``lot`` into a new lot; return the new one."""
        share = q / lot.quantity
        n = book.splits[lot.lot_id] = book.splits.get(lot.lot_id, 0) + 1
        new = Lot(f"{lot.lot_id}.{n}", lot.symbol, lot.bought, lot.acquired, q, lot.basis * share,
                  min(q, lot.open_quantity), q)
        lot.quantity -= q
        lot.basis -= new.basis
        lot.open_quantity -= new.open_quantity
        lot.replaceable -= q
        i = len(book.lots) - 1 if index is None else index
        while book.lots[i] is not lot:  # replacements are recent lots: look from the newest
            i -= 1
        book.lots.insert(i + 1, new)
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

    def pending_losses(self, symbol: str, at: datetime) -> list[tuple[datetime, float, float]]:
        """The loss sales of ``symbol`` in the 30 days up to ``at`` that a purchase at ``at`` would
        wash (the part of each not yet replaced): (sold, shares, loss per share), oldest first."""
        book = self.books.get(symbol)
        if book is None:
            return []
        return [(p.sold_at, p.quantity, p.loss_per_share) for p in book.pending
                if timedelta(0) <= at - p.sold_at <= WINDOW and p.quantity > 1e-12]

    def wash_preview(self, symbol: str, quantity: float, price: float, at: datetime, commission: float = 0.0,
                     lots: object = None) -> tuple[float, float]:
        """``(loss, disallowed)``: the loss (>= 0) a sale of ``quantity`` at ``price`` at ``at``
        would realise on the lots the method picks, and the part of it the shares bought in the
        30 days before ``at`` (still held, in lots the sale does not touch) would disallow at once.
        Nothing changes; a purchase in the 30 days after the sale may disallow more
        (:meth:`pending_losses` then tells)."""
        book = self.books.get(symbol)
        if book is None or book.open_quantity <= 1e-12 or not quantity > 0:
            return 0.0, 0.0
        qty = min(quantity, book.open_quantity)
        pieces = self._pick(book, symbol, at, qty, lots)
        sold = {id(lot) for lot, _ in pieces}
        repl = sum(min(x.replaceable, x.open_quantity) for x in book.lots[book.first_replaceable:]
                   if id(x) not in sold and at - WINDOW <= x.bought <= at)
        net = price - commission / qty
        loss = disallowed = 0.0
        for lot, take in pieces:
            per = lot.per_share() - net
            if per > 0:
                use = min(take, repl)
                repl -= use
                loss += per * take
                disallowed += per * use
        return loss, disallowed
