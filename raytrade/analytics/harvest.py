"""Tax-loss harvesting: proposals from the lot ledger, and the overlay measured on a real book.

A proposal sells a symbol's lots standing at an unrealised loss so the loss is realised this year
(it offsets gains taxed now), and buys a substitute, a different security that moves with the
one sold, to keep the exposure while the sold security may not be bought back (31 days: a
purchase within 30 days after a loss sale would wash it, IRS Publication 550).

Conventions: money in the account currency; a loss is positive; ``tax_benefit`` = short-term
loss x ``short_rate`` + long-term loss x ``long_rate`` (the value of the loss against gains of the
same term taxed at those rates; a lot is long term when sold after the anniversary of its
acquisition, wash adjustments included). Proposals are advice: they become orders only through
the normal order path (tagged with the harvest strategy, so compliance locks the sold security).

Which lots: with ``specific`` identification the lots at a loss only; with fifo/lifo/hifo the
whole position (the method would otherwise pick lots the proposal did not price), proposed when
the position as a whole stands at a loss. A proposal is dropped when its sale would be a wash sale
(shares of the symbol bought in the 30 days before and not sold by it), when the loss is below
``min_loss`` or below ``min_loss_fraction`` of the basis sold, or when the benefit is not positive.

Substitute: the symbol of the same sector (when sectors are given) whose daily returns over the
last ``lookback`` days correlate most with the sold one's, at least ``min_correlation``, that is not
the symbol itself, not locked, not sold at a loss in the last 30 days and not sold by another
proposal of the same batch (buying it would wash that loss). None when no symbol qualifies: the
proposal then leaves the exposure in cash.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime, timedelta

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field

from raytrade.analytics.tax import WINDOW, LotLedger, _one_year_later
from raytrade.core.errors import DataError


class HarvestConfig(BaseModel):
    """Thresholds and rates of the harvester (see the module)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    min_loss: float = Field(1_000.0, ge=0)               # currency, per proposal
    min_loss_fraction: float = Field(0.05, ge=0, lt=1)  # loss / basis of the lots sold
    short_rate: float = Field(0.37, ge=0, le=1)
    long_rate: float = Field(0.20, ge=0, le=1)
    min_correlation: float = Field(0.5, ge=-1, le=1)
    lookback: int = Field(252, ge=20)                   # days of returns behind the substitute's correlation
    lock_days: int = Field(31, ge=31, le=366)           # no buying back sooner (the wash window is 30 days)
    swap_back_max_gain: float = Field(0.02, ge=0)       # overlay: swap back at most this gain / basis before a year


@dataclass(frozen=True, slots=True)
class HarvestProposal:
    """Sell ``quantity`` of ``symbol`` (the lots ``lot_ids``) at about ``price`` to realise
    ``loss``; buy ``substitute`` with the proceeds; do not buy ``symbol`` before ``locked_until``."""

    symbol: str
    lot_ids: tuple[str, ...]
    quantity: float
    price: float
    basis: float
    loss: float
    short_term_loss: float
    long_term_loss: float
    tax_benefit: float
    substitute: str | None
    correlation: float | None
    locked_until: datetime

    def to_dict(self) -> dict[str, object]:
        d = asdict(self)
        d["lot_ids"] = list(self.lot_ids)
        d["locked_until"] = self.locked_until.isoformat()
        return d

    def describe(self) -> str:
        sub = f"buy {self.substitute} (correlation {self.correlation:.2f})" if self.substitute else "no substitute"
        return (f"{self.symbol}: sell {self.quantity:g} shares for a loss of ${self.loss:,.0f} "
                f"(tax benefit ${self.tax_benefit:,.0f}); {sub}; no {self.symbol} before "
                f"{self.locked_until.date().isoformat()}")


def _correlations(returns: pd.DataFrame | None, symbol: str, lookback: int) -> pd.Series:
    if returns is None or symbol not in returns.columns:
        return pd.Series(dtype=float)
    window = returns.iloc[-lookback:]
    x = window[symbol]
    if x.notna().sum() < 20:
        return pd.Series(dtype=float)
    return window.drop(columns=[symbol]).corrwith(x).dropna()


def harvest_proposals(ledger: LotLedger, prices: Mapping[str, float], at: datetime,
                      config: HarvestConfig | None = None, *, returns: pd.DataFrame | None = None,
                      sectors: Mapping[str, str] | None = None,
                      locked: Collection[str] = (), skip_unpriced: bool = False) -> list[HarvestProposal]:
    """The harvest proposals of ``ledger`` at ``at`` with ``prices`` (symbol -> price > 0; a
    symbol held without a price is an error), largest benefit first. ``returns``: daily returns by
    symbol up to ``at`` (for the substitutes); ``sectors``: symbol -> sector; ``locked``: symbols
    that may not be bought now (besides those the ledger shows sold at a loss in the last 30 days);
    ``skip_unpriced``: leave out the symbols without a price instead of raising."""
    cfg = config or HarvestConfig()
    out: list[HarvestProposal] = []
    for symbol, book in ledger.books.items():
        lots = [x for x in book.lots[book.first_open:] if x.open_quantity > 1e-12]
        if not lots:
            continue
        price = prices.get(symbol)
        if price is None or not np.isfinite(price) or price <= 0:
            if skip_unpriced:
                continue
            raise DataError(f"no price > 0 for {symbol}, which the ledger holds", source="harvest")
        if ledger.method == "specific":
            lots = [x for x in lots if x.per_share() > price]
        if not lots:
            continue
        qty = sum(x.open_quantity for x in lots)
        basis = sum(x.per_share() * x.open_quantity for x in lots)
        loss = basis - qty * price
        if loss < cfg.min_loss or loss < cfg.min_loss_fraction * basis:
            continue
        ids = [x.lot_id for x in lots]
        if ledger.wash_preview(symbol, qty, price, at, lots=ids if ledger.method == "specific" else None)[1] > 0:
            continue  # shares bought in the last 30 days would wash it
        short = sum((x.per_share() - price) * x.open_quantity for x in lots if at <= _one_year_later(x.acquired))
        long_ = loss - short
        benefit = short * cfg.short_rate + long_ * cfg.long_rate
        if benefit <= 0:
            continue
        out.append(HarvestProposal(symbol, tuple(ids), qty, float(price), basis, loss, short, long_, benefit, None,
                                   None, at + timedelta(days=cfg.lock_days)))
    # a substitute may not be a symbol sold at a loss lately, nor one this batch sells (buying it would wash that sale)
    barred = set(locked) | {p.symbol for p in out} | {s for s in ledger.books if ledger.pending_losses(s, at)}
    for i, p in enumerate(out):
        corr = _correlations(returns, p.symbol, cfg.lookback)
        if sectors is not None:
            corr = corr[[s for s in corr.index if sectors.get(s) is not None and sectors.get(s) == sectors.get(p.symbol)]]
        corr = corr[[s for s in corr.index if s not in barred and corr[s] >= cfg.min_correlation]]
        if len(corr):
            out[i] = replace(p, substitute=str(corr.idxmax()), correlation=float(corr.max()))
    return sorted(out, key=lambda p: -p.tax_benefit)


@dataclass(frozen=True, slots=True)
class HarvestStudy:
    """A buy-and-hold book with and without the harvesting overlay (see :func:`harvest_overlay`).

    ``years``: per calendar year the overlay's recognised short- and long-term gains (wash
    adjustments applied), the tax they save at the configured rates (positive: saved) and the
    number of harvests and swaps back. ``values``: both books' daily values. The totals and the
    tracking figures are in :meth:`summary`."""

    years: pd.DataFrame
    values: pd.DataFrame
    harvests: pd.DataFrame
    recognized: float                     # the overlay's recognised gains over the whole study (< 0: net losses)
    config: HarvestConfig
    ledger: LotLedger                     # the overlay's lots at the end

    def summary(self) -> dict[str, float]:
        """tax_saved (sum over years), tax_alpha (mean tax saved per year / mean book value, in
        % a year), tracking_difference (overlay minus plain, annualised geometric return, % a
        year, pre-tax), tracking_error (annualised std of the daily return difference, %),
        deferred_liability (the net losses recognised come back as gains when the book is sold:
        -recognised x the long-term rate; the harvest defers tax, it does not cancel it) and
        harvests."""
        v = self.values
        days = len(v) - 1
        years = days / 252
        growth = v.iloc[-1] / v.iloc[0]
        td = (growth["overlay"] ** (1 / years) - growth["plain"] ** (1 / years)) * 100
        r = v.pct_change().iloc[1:]
        te = float((r["overlay"] - r["plain"]).std(ddof=1) * np.sqrt(252) * 100)
        saved = float(self.years["tax_saved"].sum())
        alpha = float(self.years["tax_saved"].mean() / v["overlay"].mean() * 100)
        return {"tax_saved": saved, "tax_alpha_pct": alpha, "tracking_difference_pct": float(td),
                "tracking_error_pct": te, "deferred_liability": -self.recognized * self.config.long_rate,
                "harvests": float(len(self.harvests))}


@dataclass(slots=True)
class _Swap:
    """An open harvest of the overlay: ``symbol`` sold, ``lots`` of ``substitute`` bought with
    the proceeds (or ``cash`` kept without a substitute), no buying back before ``until``."""

    symbol: str
    substitute: str | None
    until: datetime
    lots: list[str] = field(default_factory=list)
    cash: float = 0.0


def harvest_overlay(prices: pd.DataFrame, sectors: Mapping[str, str] | None = None, capital: float = 1_000_000.0,
                    config: HarvestConfig | None = None) -> HarvestStudy:
    """Buy ``capital`` of ``prices``' symbols in equal parts on the first day and hold (the plain
    book); the overlay book starts the same and, each day at the close: (1) swaps back, once a
    sold symbol's lock has passed, the substitute shares bought for it into the original symbol
    when that sale realises a gain of at most ``swap_back_max_gain`` of their basis or they have
    been held over a year (a long-term gain, taxed low); until then it keeps the substitute (that
    drift is the tracking cost; the swap-back's gains are taxed in the year's figures);
    (2) takes every :func:`harvest_proposals` proposal (specific lots), buying the substitute
    with the whole proceeds (or holding them in cash when there is none, until the swap back).
    Fractional shares, no commissions, no dividends (price returns), no other income or gains:
    the tax saved is the value of the losses at the rates, as if gains of the same term were
    there to offset. ``prices``: daily closes (columns symbols, rows days, no gaps)."""
    cfg = config or HarvestConfig()
    if prices.isna().any().any() or not (prices > 0).all().all():
        raise DataError("prices must be positive with no gaps (pick a window where every symbol trades)",
                        source="harvest")
    if len(prices) < 2:
        raise DataError("prices need at least two days", source="harvest")
    syms = list(prices.columns)
    times = [pd.Timestamp(t).tz_localize("UTC") if pd.Timestamp(t).tzinfo is None else pd.Timestamp(t)
             for t in prices.index]
    px = prices.to_numpy(dtype=float)
    rets = prices.pct_change()
    led = LotLedger("specific")
    shares0 = capital / len(syms) / px[0]
    t0 = times[0].to_pydatetime()
    for s, q, p in zip(syms, shares0, px[0], strict=True):
        led.add(t0, s, "buy", float(q), float(p))
    cash = 0.0
    swaps: list[_Swap] = []
    locks: dict[str, datetime] = {}
    harvests: list[dict[str, object]] = []
    overlay_value = np.empty(len(px))
    for i, ts in enumerate(times):
        t = ts.to_pydatetime()
        price = dict(zip(syms, px[i].tolist(), strict=True))
        if i > 0:
            for sw in list(swaps):
                if t < sw.until:
                    continue
                if sw.substitute is None:
                    cash -= sw.cash
                    led.add(t, sw.symbol, "buy", sw.cash / price[sw.symbol], price[sw.symbol])
                    swaps.remove(sw)
                    continue
                sub = sw.substitute
                held = {x.lot_id: x for x in led.books[sub].lots if x.open_quantity > 1e-12}
                ids = [x for x in sw.lots if x in held]
                if not ids:
                    swaps.remove(sw)
                    continue
                q = sum(held[x].open_quantity for x in ids)
                gain = sum((price[sub] - held[x].per_share()) * held[x].open_quantity for x in ids)
                basis = sum(held[x].per_share() * held[x].open_quantity for x in ids)
                young = t <= _one_year_later(min(held[x].acquired for x in ids))
                if ((young and gain > cfg.swap_back_max_gain * basis)
                        or led.wash_preview(sub, q, price[sub], t, lots=ids)[1] > 0):
                    continue  # keep the substitute for now (a short-term gain would be taxed high; a wash wastes the loss)
                led.add(t, sub, "sell", q, price[sub], lots=ids)
                led.add(t, sw.symbol, "buy", q * price[sub] / price[sw.symbol], price[sw.symbol])
                swaps.remove(sw)
            window = rets.iloc[max(1, i - cfg.lookback + 1):i + 1] if i >= 20 else None
            locked = {s for s, u in locks.items() if t < u}
            for p in harvest_proposals(led, price, t, cfg, returns=window, sectors=sectors, locked=locked):
                if p.symbol in locked:
                    continue
                rows = led.add(t, p.symbol, "sell", p.quantity, p.price, lots=list(p.lot_ids))
                proceeds = sum(float(r["proceeds"]) for r in rows)  # type: ignore[arg-type,misc]
                locks[p.symbol] = p.locked_until
                locked.add(p.symbol)
                swap = _Swap(p.symbol, p.substitute, p.locked_until)
                if p.substitute is None:
                    cash += proceeds
                    swap.cash = proceeds
                else:
                    led.add(t, p.substitute, "buy", proceeds / price[p.substitute], price[p.substitute])
                    swap.lots = [str(led.last_lot_id)]
                swaps.append(swap)
                harvests.append({"time": t, **{k: v for k, v in p.to_dict().items() if k != "lot_ids"}})
        overlay_value[i] = cash + sum(x.open_quantity * price[x.symbol] for x in led.lots if x.open_quantity > 1e-12)
    plain_value = px @ shares0
    values = pd.DataFrame({"plain": plain_value, "overlay": overlay_value}, index=prices.index)
    real = led.realized()
    real["year"] = pd.to_datetime(real["sold"], utc=True).dt.year
    short = real[real["term"] == "short"].groupby("year")["recognized_gain"].sum()
    long_ = real[real["term"] == "long"].groupby("year")["recognized_gain"].sum()
    hv = pd.DataFrame(harvests, columns=["time", "symbol", "quantity", "price", "basis", "loss", "short_term_loss",
                                         "long_term_loss", "tax_benefit", "substitute", "correlation",
                                         "locked_until"])
    years = pd.DataFrame(index=pd.Index(sorted(set(ts.year for ts in times)), name="year"))
    years["short_term_gain"] = short.reindex(years.index, fill_value=0.0)
    years["long_term_gain"] = long_.reindex(years.index, fill_value=0.0)
    years["tax_saved"] = 0.0 - (years["short_term_gain"] * cfg.short_rate + years["long_term_gain"] * cfg.long_rate)
    years["harvests"] = pd.Series([t.year for t in hv["time"]], dtype=int).value_counts().reindex(
        years.index, fill_value=0)
    return HarvestStudy(years, values, hv, float(real["recognized_gain"].sum()), cfg, led)


__all__ = ["WINDOW", "HarvestConfig", "HarvestProposal", "HarvestStudy", "harvest_overlay", "harvest_proposals"]
