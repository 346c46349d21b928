"""Tax-loss harvesting: proposals by hand (terms, rates, wash exclusion, substitutes) and the
overlay's bookkeeping on real prices."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
import pytest
from pydantic import ValidationError

from raytrade.analytics.harvest import HarvestConfig, harvest_overlay, harvest_proposals
from raytrade.analytics.tax import LotLedger
from raytrade.core.errors import DataError
from raytrade.data import load_prices, load_sectors

T0 = datetime(2023, 1, 3, tzinfo=UTC)


def day(n: int) -> datetime:
    return T0 + timedelta(days=n)


def returns_like(base: str, others: dict[str, float], n: int = 260, seed: int = 3) -> pd.DataFrame:
    """Synthetic (seeded) daily returns: each other symbol = w x base + (1 - w) x its own noise."""
    rng = np.random.default_rng(seed)
    b = rng.normal(0, 0.01, n)
    cols = {base: b}
    for s, w in others.items():
        cols[s] = w * b + (1 - w) * rng.normal(0, 0.01, n)
    return pd.DataFrame(cols)


def test_a_proposal_by_hand() -> None:
    """100 AAPL bought at 150 over a year ago (long) and 50 at 140 this year (short), now 120:
    losses 3,000 long and 1,000 short; benefit 3,000 x 0.20 + 1,000 x 0.37 = 970."""
    def ledger(msft_loss: bool) -> LotLedger:
        led = LotLedger("fifo")
        led.add(day(0), "AAPL", "buy", 100, 150.0)
        if msft_loss:
            led.add(day(10), "MSFT", "buy", 10, 300.0)
        led.add(day(300), "AAPL", "buy", 50, 140.0)
        if msft_loss:
            led.add(day(390), "MSFT", "sell", 10, 250.0)
        return led

    led = ledger(False)
    at = day(400)
    rets = returns_like("AAPL", {"MSFT": 0.9, "AMD": 0.6, "XOM": 0.95})
    sectors = {"AAPL": "Tech", "MSFT": "Tech", "AMD": "Tech", "XOM": "Energy"}
    [p] = harvest_proposals(led, {"AAPL": 120.0}, at, returns=rets, sectors=sectors)
    assert (p.symbol, p.quantity, p.lot_ids) == ("AAPL", 150.0, ("AAPL-0", "AAPL-1"))
    assert p.loss == pytest.approx(4_000.0) and p.long_term_loss == pytest.approx(3_000.0)
    assert p.short_term_loss == pytest.approx(1_000.0) and p.tax_benefit == pytest.approx(970.0)
    assert p.substitute == "MSFT"            # the most correlated of the same sector (XOM is closer but Energy)
    assert p.locked_until == at + timedelta(days=31)
    assert "loss of $4,000" in p.describe()
    # MSFT sold at a loss 10 days ago: buying it would wash that loss, so AMD is proposed instead
    led = ledger(True)
    [p] = harvest_proposals(led, {"AAPL": 120.0}, at, returns=rets, sectors=sectors)
    assert p.substitute == "AMD"
    assert harvest_proposals(led, {"AAPL": 120.0}, at, returns=rets, sectors=sectors,
                             locked={"AMD"})[0].substitute is None
    cfg = HarvestConfig(min_correlation=0.95)
    assert harvest_proposals(led, {"AAPL": 120.0}, at, cfg, returns=rets, sectors=sectors)[0].substitute is None


def test_what_is_not_proposed() -> None:
    led = LotLedger("fifo")
    led.add(day(0), "AAPL", "buy", 100, 150.0)
    assert harvest_proposals(led, {"AAPL": 149.0}, day(100)) == []               # loss 100 < 1,000
    assert harvest_proposals(led, {"AAPL": 140.0}, day(100),
                             HarvestConfig(min_loss_fraction=0.1)) == []         # 6.7 % < 10 %
    assert len(harvest_proposals(led, {"AAPL": 140.0}, day(100))) == 1
    # a lot bought 10 days before, at a gain, kept by a specific-lot sale: selling the loss lot is a wash
    spec = LotLedger("specific")
    spec.add(day(0), "AAPL", "buy", 100, 150.0)
    spec.add(day(90), "AAPL", "buy", 100, 100.0)
    assert harvest_proposals(spec, {"AAPL": 120.0}, day(100)) == []
    [p] = harvest_proposals(spec, {"AAPL": 120.0}, day(121))                   # 31 days on it is not
    assert (p.lot_ids, p.loss) == (("AAPL-0",), pytest.approx(3_000.0))
    # fifo sells the whole position; at a net gain there is nothing to harvest
    both = LotLedger("fifo")
    both.add(day(0), "AAPL", "buy", 100, 150.0)
    both.add(day(90), "AAPL", "buy", 200, 100.0)
    assert harvest_proposals(both, {"AAPL": 120.0}, day(200)) == []
    with pytest.raises(DataError, match="no price > 0 for AAPL"):
        harvest_proposals(led, {}, day(100))
    with pytest.raises(ValidationError):
        HarvestConfig(lock_days=30)


def test_the_overlay_on_real_prices_keeps_its_books() -> None:
    """2000-2002 on the bundled stocks: the plain book is buy-and-hold; the overlay's tax saved is
    its recognised gains at the rates; it never buys back a symbol inside its lock; no money is
    made or lost by the bookkeeping (the overlay's value moves only with prices)."""
    prices = load_prices(start="2000-01-01", end="2002-12-31")
    sectors = load_sectors()["gics_sector"].to_dict()
    st = harvest_overlay(prices, sectors, capital=1_000_000.0)
    shares = 1_000_000.0 / 20 / prices.iloc[0]
    np.testing.assert_allclose(st.values["plain"], prices @ shares, rtol=1e-12)
    assert st.values["overlay"].iloc[0] == pytest.approx(1_000_000.0)
    y = st.years
    np.testing.assert_allclose(y["tax_saved"], -(0.37 * y["short_term_gain"] + 0.20 * y["long_term_gain"]))
    assert len(st.harvests) > 0 and y.loc[2000, "tax_saved"] > 0   # the 2000 crash gives losses
    assert (st.harvests["substitute"] != st.harvests["symbol"]).all()
    s = st.summary()
    assert s["tax_saved"] == pytest.approx(y["tax_saved"].sum())
    assert s["deferred_liability"] == pytest.approx(-st.recognized * 0.20)
    # buying back inside the lock would be a wash sale: the ledger shows none of the harvested losses washed
    for h in st.harvests.itertuples():
        until = datetime.fromisoformat(h.locked_until)
        assert not [x for x in st.ledger.books[h.symbol].lots if h.time < x.bought < until], h
    real = st.ledger.realized()
    sold = real[real["sold"].isin(set(st.harvests["time"]))]
    assert (sold["gain"] < 0).any() and sold["wash_disallowed"].eq(0).all()
    with pytest.raises(DataError, match="no gaps"):
        harvest_overlay(load_prices(start="1990-01-01", end="1991-12-31").assign(X=np.nan), sectors)
