"""Tax lots and wash sales: IRS Publication 550's worked examples (amounts as given there), hand
cases (partial replacement, several replacement lots, a chain, a purchase before the sale), and a
property: recognised plus unrealised gains equal the account's P&L."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from raytrade.analytics.tax import LotLedger
from raytrade.core.errors import DataError

D0 = datetime(2022, 1, 3, tzinfo=UTC)


def fills(*rows: tuple[int, str, float, float]) -> pd.DataFrame:
    """(day, side, quantity, price) of stock X, no commission."""
    return pd.DataFrame([{"time": D0 + timedelta(days=d), "symbol": "X", "side": s, "quantity": q, "price": p,
                          "commission": 0.0} for d, s, q, p in rows])


def test_pub_550_a_loss_sale_and_a_purchase_within_30_days() -> None:
    """Pub 550: 100 shares bought for $1,000, sold for $750, 100 bought within 30 days for $800:
    the $250 loss is not deductible; the new shares' basis is $800 + $250 = $1,050."""
    led = LotLedger.from_fills(fills((0, "buy", 100, 10.0), (60, "sell", 100, 7.5), (70, "buy", 100, 8.0)))
    (row,) = led.realized().to_dict("records")
    assert (row["gain"], row["wash_disallowed"], row["recognized_gain"]) == (-250.0, 250.0, 0.0)
    (lot,) = led.open_lots().to_dict("records")
    assert lot["basis"] == pytest.approx(1050.0)
    assert lot["acquired"] == D0 + timedelta(days=70 - 60)  # the 60 days held carry over


def test_a_smaller_replacement_disallows_the_loss_in_proportion() -> None:
    led = LotLedger.from_fills(fills((0, "buy", 100, 10.0), (60, "sell", 100, 7.5), (70, "buy", 75, 8.0)))
    (row,) = led.realized().to_dict("records")
    assert row["wash_disallowed"] == pytest.approx(187.5) and row["recognized_gain"] == pytest.approx(-62.5)
    assert led.open_lots()["basis"].iloc[0] == pytest.approx(600 + 187.5)


def test_purchases_before_the_sale_are_replacements_in_the_order_bought() -> None:
    led = LotLedger.from_fills(fills((0, "buy", 100, 10.0), (50, "buy", 50, 8.0), (51, "buy", 50, 8.0),
                                     (60, "sell", 100, 7.5)))
    (row,) = led.realized().to_dict("records")
    assert row["lot_id"] == "X-0" and row["wash_disallowed"] == pytest.approx(250.0)  # FIFO sold the first lot
    lots = led.open_lots()
    assert list(lots["basis"]) == pytest.approx([525.0, 525.0])
    assert list(lots["acquired"]) == [D0 + timedelta(days=50 - 60), D0 + timedelta(days=51 - 60)]


def test_several_replacement_lots_and_a_split_one() -> None:
    led = LotLedger.from_fills(fills((0, "buy", 100, 10.0), (60, "sell", 100, 7.5), (65, "buy", 40, 8.0),
                                     (70, "buy", 40, 8.0), (80, "buy", 40, 8.0)))
    assert led.realized()["wash_disallowed"].sum() == pytest.approx(250.0)
    lots = led.open_lots().sort_values(["acquired", "quantity"]).reset_index(drop=True)
    # 40 + 40 + 20 shares replace the 100 sold: $2.50 a share added to each; 20 shares stay as bought
    per = dict(zip(lots["quantity"].astype(str) + "@" + lots["acquired"].astype(str), lots["basis_per_share"],
                   strict=True))
    assert sorted(lots["basis_per_share"].round(6)) == [8.0, 10.5, 10.5, 10.5] and len(per) == 4
    assert lots["quantity"].sum() == 120 and lots["basis"].sum() == pytest.approx(960 + 250)


def test_a_chain_of_wash_sales_carries_basis_and_holding_period_forward() -> None:
    led = LotLedger.from_fills(fills((0, "buy", 100, 10.0), (60, "sell", 100, 7.5), (70, "buy", 100, 8.0),
                                     (80, "sell", 100, 7.0), (85, "buy", 100, 7.2)))
    r = led.realized()
    assert list(r["gain"]) == pytest.approx([-250.0, 700 - 1050.0]) and list(r["wash_disallowed"]) == pytest.approx([250, 350])
    (lot,) = led.open_lots().to_dict("records")
    assert lot["basis"] == pytest.approx(720 + 350)
    assert lot["acquired"] == D0 + timedelta(days=85 - (80 - 10))  # held since day 10 by the first carry


def test_no_wash_after_31_days_and_terms_by_the_anniversary() -> None:
    led = LotLedger.from_fills(fills((0, "buy", 100, 10.0), (400, "sell", 50, 7.5), (431, "buy", 10, 8.0),
                                     (401, "sell", 10, 12.0), (365, "sell", 10, 11.0)))
    r = led.realized().sort_values("sold")
    assert list(r["term"]) == ["short", "long", "long"]  # day 365 is the anniversary itself: not more than a year
    assert r["wash_disallowed"].sum() == 0.0


def test_hifo_lifo_specific_and_bad_input() -> None:
    f = fills((0, "buy", 10, 10.0), (1, "buy", 10, 12.0), (2, "buy", 10, 11.0), (3, "sell", 10, 13.0))
    assert LotLedger.from_fills(f, "hifo").realized()["lot_id"].item() == "X-1"
    assert LotLedger.from_fills(f, "lifo").realized()["lot_id"].item() == "X-2"
    spec = f.assign(lots=[None, None, None, ["X-2"]])
    assert LotLedger.from_fills(spec, "specific").realized()["basis"].item() == pytest.approx(110.0)
    with pytest.raises(DataError, match="exceeds the 30 held"):
        LotLedger.from_fills(fills((0, "buy", 30, 1.0), (1, "sell", 31, 1.0)))
    with pytest.raises(DataError, match=r"lack column\(s\) commission"):
        LotLedger.from_fills(f.drop(columns=["commission"]))


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 120), st.sampled_from(["A", "B"]), st.booleans(), st.integers(1, 50),
                          st.floats(5, 20)), min_size=1, max_size=40))
def test_recognised_plus_unrealised_gains_equal_the_accounts_pnl(trades: list) -> None:
    rows, held = [], {"A": 0, "B": 0}
    for day, sym, sell, q, px in sorted(trades, key=lambda x: x[0]):
        if sell and held[sym] > 0:
            q = min(q, held[sym])
            held[sym] -= q
            rows.append({"time": D0 + timedelta(days=day), "symbol": sym, "side": "sell", "quantity": q,
                         "price": round(px, 2), "commission": 0.5})
        elif not sell:
            held[sym] += q
            rows.append({"time": D0 + timedelta(days=day), "symbol": sym, "side": "buy", "quantity": q,
                         "price": round(px, 2), "commission": 0.5})
    if not rows:
        return
    f = pd.DataFrame(rows)
    led = LotLedger.from_fills(f, "fifo")
    marks = {"A": 11.0, "B": 9.0}
    sign = np.where(f["side"] == "sell", 1.0, -1.0)
    cash = float((sign * f["quantity"] * f["price"]).sum() - f["commission"].sum())
    value = sum(held[s] * marks[s] for s in held)
    r = led.realized()
    assert float(r["recognized_gain"].sum()) + led.unrealized(marks) == pytest.approx(cash + value, abs=1e-6)
    assert (r["wash_disallowed"] >= -1e-12).all()


@settings(max_examples=80, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 90), st.sampled_from(["A", "B"]), st.booleans(), st.integers(1, 40),
                          st.floats(5, 20)), min_size=1, max_size=50),
       st.sampled_from(["fifo", "lifo", "hifo"]))
def test_the_incremental_ledger_agrees_with_the_batch_formulation(trades: list, method: str) -> None:
    """Fills taken one at a time (losses washed by later purchases when they come) give the same
    realised rows and open lots as the first, batch formulation of the same rules."""
    from tests.analytics.batch_ledger import LotLedger as BatchLedger

    rows, held = [], {"A": 0, "B": 0}
    for day, sym, sell, q, px in sorted(trades, key=lambda x: x[0]):
        if sell and held[sym] > 0:
            q = min(q, held[sym])
            held[sym] -= q
        elif sell:
            continue
        else:
            held[sym] += q
        rows.append({"time": D0 + timedelta(days=day), "symbol": sym, "side": "sell" if sell else "buy",
                     "quantity": q, "price": round(px, 2), "commission": 0.25})
    if not rows:
        return
    f = pd.DataFrame(rows)
    new, old = LotLedger.from_fills(f, method), BatchLedger.from_fills(f, method)  # type: ignore[arg-type]
    key = ["sold", "symbol", "lot_id"]
    a = new.realized().sort_values(key, kind="stable").reset_index(drop=True)
    b = old.realized().sort_values(key, kind="stable").reset_index(drop=True)
    pd.testing.assert_frame_equal(a, b, check_exact=False, atol=1e-9)
    pd.testing.assert_frame_equal(new.open_lots().sort_values("lot_id").reset_index(drop=True),
                                  old.open_lots().sort_values("lot_id").reset_index(drop=True),
                                  check_exact=False, atol=1e-9)


def test_short_sales_stay_outside_a_ledger_that_allows_them() -> None:
    f = fills((0, "buy", 10, 10.0), (5, "sell", 25, 12.0))
    with pytest.raises(DataError, match="exceeds the 10 held"):
        LotLedger.from_fills(f)
    led = LotLedger.from_fills(f, allow_short=True)
    (row,) = led.realized().to_dict("records")
    assert row["quantity"] == 10 and row["gain"] == pytest.approx(20.0) and led.open_lots().empty
