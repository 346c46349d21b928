"""Market hours from exchange_calendars (holidays, half days, crypto 24/7), restricted list, wash sales."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from raytrade.compliance import (
    ComplianceChecker,
    ComplianceRules,
    is_market_open,
    session_close,
    session_date,
)
from raytrade.core import Fill, Order, RejectReason, Severity, crypto, equity

AAPL = equity("AAPL")
BTC = crypto("BTC-USD")


@pytest.mark.parametrize(("ts", "open_"), [
    (datetime(2024, 3, 1, 14, 30, tzinfo=UTC), True),     # 09:30 ET, the open
    (datetime(2024, 3, 1, 14, 29, tzinfo=UTC), False),    # 09:29 ET
    (datetime(2024, 3, 1, 20, 59, tzinfo=UTC), True),     # 15:59 ET
    (datetime(2024, 3, 1, 21, 0, tzinfo=UTC), False),     # 16:00 ET, the close
    (datetime(2024, 3, 2, 16, 0, tzinfo=UTC), False),     # Saturday
    (datetime(2024, 12, 25, 16, 0, tzinfo=UTC), False),   # Christmas
    (datetime(2024, 7, 4, 16, 0, tzinfo=UTC), False),     # Independence Day
    (datetime(2024, 11, 29, 17, 59, tzinfo=UTC), True),   # day after Thanksgiving, 12:59 ET
    (datetime(2024, 11, 29, 18, 0, tzinfo=UTC), False),   # its early close, 13:00 ET
    (datetime(2024, 7, 1, 13, 30, tzinfo=UTC), True),     # summer time: 09:30 EDT
])
def test_xnys_hours(ts: datetime, open_: bool) -> None:
    assert is_market_open(AAPL, ts) is open_


def test_crypto_trades_around_the_clock() -> None:
    assert is_market_open(BTC, datetime(2024, 12, 25, 3, 0, tzinfo=UTC))


def test_sessions() -> None:
    assert session_date(AAPL, datetime(2024, 11, 29, 22, 0, tzinfo=UTC)) == date(2024, 12, 2)
    assert session_close(AAPL, date(2024, 11, 29)) == datetime(2024, 11, 29, 18, 0, tzinfo=UTC)
    assert session_close(AAPL, date(2024, 12, 25)) is None


def order(side: str = "buy", sym: str = "AAPL", cid: str = "c1") -> Order:
    return Order(sym, side, 10, client_order_id=cid)  # type: ignore[arg-type]


OPEN = datetime(2024, 3, 4, 15, 0, tzinfo=UTC)


def test_restricted_and_closed_market_are_critical_rejections() -> None:
    c = ComplianceChecker(ComplianceRules(restricted=("tsla",)))
    d = c.check(order(sym="TSLA"), equity("TSLA"), OPEN)
    assert (d.ok, d.code) == (False, RejectReason.RESTRICTED_SYMBOL)
    assert d.violations[0].severity is Severity.CRITICAL and d.violations[0].action == "rejected"
    d = c.check(order(), AAPL, datetime(2024, 3, 2, 15, 0, tzinfo=UTC))
    assert (d.ok, d.code, d.violations[0].rule) == (False, RejectReason.MARKET_CLOSED, "market_hours")
    assert ComplianceChecker(ComplianceRules(enforce_market_hours=False)).check(
        order(), AAPL, datetime(2024, 3, 2, 15, 0, tzinfo=UTC)).ok


def fill(side: str, qty: float, price: float, at: datetime, sym: str = "AAPL") -> Fill:
    return Fill(f"f-{side}-{at:%m%d}-{sym}", sym, side, qty, price, 0.0, at)  # type: ignore[arg-type]


def test_wash_sale_flags_a_buy_within_30_days_of_a_loss_sale() -> None:
    c = ComplianceChecker(ComplianceRules())
    bought = datetime(2024, 1, 2, 15, 0, tzinfo=UTC)
    sold = datetime(2024, 3, 4, 15, 0, tzinfo=UTC)
    for f in (fill("buy", 10, 100.0, bought), fill("buy", 10, 80.0, bought, "MSFT"),
              fill("sell", 10, 90.0, sold), fill("sell", 10, 90.0, sold, "MSFT")):
        c.on_fill(f)   # AAPL sold at a loss of 100, MSFT at a gain
    d = c.check(order(), AAPL, datetime(2024, 4, 3, 15, 0, tzinfo=UTC))   # 30 days later
    assert d.ok and d.violations[0].rule == "wash_sale" and d.violations[0].severity is Severity.WARNING
    assert "100.00 of the loss" in d.violations[0].detail
    assert not c.check(order(), AAPL, datetime(2024, 4, 4, 15, 0, tzinfo=UTC)).violations   # 31 days
    assert not c.check(order(sym="MSFT"), equity("MSFT"), datetime(2024, 3, 5, 15, 0, tzinfo=UTC)).violations
    assert not c.check(order("sell"), AAPL, datetime(2024, 3, 5, 15, 0, tzinfo=UTC)).violations
    # once a purchase has washed the loss, a second purchase washes nothing more and is not flagged
    c.on_fill(fill("buy", 10, 91.0, datetime(2024, 3, 6, 15, 0, tzinfo=UTC)))
    assert not c.check(order(), AAPL, datetime(2024, 3, 7, 15, 0, tzinfo=UTC)).violations
    assert c.ledger.realized()["wash_disallowed"].tolist() == [100.0, 0.0]  # the one ledger holds the wash


def test_wash_sale_flags_a_loss_sale_within_30_days_after_a_buy() -> None:
    """The other direction: shares bought in the 30 days before a loss sale wash it. The sale is
    valued at its limit price, else at the mark; a sale at a gain or without a price is not flagged."""
    c = ComplianceChecker(ComplianceRules())
    c.on_fill(fill("buy", 10, 100.0, datetime(2024, 1, 2, 15, 0, tzinfo=UTC)))
    c.on_fill(fill("buy", 10, 95.0, datetime(2024, 2, 20, 15, 0, tzinfo=UTC)))
    at = datetime(2024, 3, 4, 15, 0, tzinfo=UTC)     # 13 days after the second buy
    d = c.check(order("sell"), AAPL, at, mark=90.0)  # FIFO sells the first lot at a loss of 100
    assert d.ok and d.violations[0].rule == "wash_sale"
    assert "loss of 100.00" in d.violations[0].detail and "100.00 of the loss disallowed" in d.violations[0].detail
    assert not c.check(order("sell"), AAPL, at, mark=101.0).violations      # a gain
    assert not c.check(order("sell"), AAPL, at).violations                  # no price to judge by
    lim = Order("AAPL", "sell", 10, "limit", limit_price=99.0, client_order_id="l1")  # type: ignore[arg-type]
    assert "loss of 10.00" in c.check(lim, AAPL, at, mark=120.0).violations[0].detail
    later = datetime(2024, 3, 22, 15, 0, tzinfo=UTC)  # 31 days after the second buy: no replacement in the window
    assert not c.check(order("sell"), AAPL, later, mark=90.0).violations


def test_the_harvest_lock_rejects_buying_back_for_31_days() -> None:
    c = ComplianceChecker(ComplianceRules())
    c.on_fill(fill("buy", 10, 100.0, datetime(2024, 1, 2, 15, 0, tzinfo=UTC)))
    c.on_fill(fill("buy", 10, 100.0, datetime(2024, 1, 2, 15, 0, tzinfo=UTC), "MSFT"))
    sold = datetime(2024, 3, 4, 15, 0, tzinfo=UTC)
    c.on_fill(fill("sell", 10, 90.0, sold), strategy="tax_harvest")
    c.on_fill(fill("sell", 10, 110.0, sold, "MSFT"), strategy="tax_harvest")   # a gain: no lock
    d = c.check(order(), AAPL, sold + timedelta(days=30, hours=23))
    assert (d.ok, d.code, d.violations[0].rule) == (False, RejectReason.WASH_SALE_LOCK, "wash_sale_lock")
    assert c.check(order(), AAPL, sold + timedelta(days=31)).ok
    assert c.check(order(sym="MSFT"), equity("MSFT"), sold + timedelta(days=1)).ok
    assert c.check(order("sell"), AAPL, sold + timedelta(days=1)).ok   # the lock is on buying only
    off = ComplianceChecker(ComplianceRules(harvest_lock_days=0))
    off.on_fill(fill("buy", 10, 100.0, datetime(2024, 1, 2, 15, 0, tzinfo=UTC)))
    off.on_fill(fill("sell", 10, 90.0, sold), strategy="tax_harvest")
    assert off.check(order(), AAPL, sold + timedelta(days=1)).ok


def test_fills_out_of_order_and_short_sales_do_not_break_the_checker() -> None:
    """The broker may stamp a fill a moment before the last one, and the book may go short: the
    checker takes both (the ledger keeps long lots only) instead of failing the trading path."""
    c = ComplianceChecker(ComplianceRules())
    at = datetime(2024, 3, 4, 15, 0, tzinfo=UTC)
    c.on_fill(fill("sell", 5, 90.0, at))
    c.on_fill(fill("buy", 10, 100.0, at + timedelta(seconds=2)))
    c.on_fill(fill("sell", 4, 99.0, at + timedelta(seconds=1)))
    assert c.ledger.open_lots()["quantity"].tolist() == [6.0]




def test_every_rule_is_a_class_in_the_registry_and_the_settings_pick_the_standing_ones() -> None:
    from raytrade.compliance.rules import COMPLIANCE_RULES, STANDING_RULES, ComplianceRule

    assert set(COMPLIANCE_RULES) == {*STANDING_RULES, "short_sale"}
    assert [r.kind for r in ComplianceRules().active_rules()] == list(STANDING_RULES)
    off = ComplianceRules(enforce_market_hours=False, wash_sale_days=0, harvest_lock_days=0,
                          rules=({"kind": "short_sale"},))
    assert [r.kind for r in off.active_rules()] == ["restricted_list", "short_sale"]
    assert all(isinstance(r, ComplianceRule) for r in off.active_rules())


def test_short_sales_need_a_locate_and_reductions_of_a_long_do_not() -> None:
    """Regulation SHO's locate, simplified: selling what is held is fine; a sale past zero, or
    adding to a short (open orders count), is rejected unless the symbol is easy to borrow."""
    c = ComplianceChecker(ComplianceRules.model_validate({"rules": [{"kind": "short_sale",
                                                                     "easy_to_borrow": ["msft"]}]}))
    sell = Order("AAPL", "sell", 100, created_at=OPEN)
    assert c.check(sell, AAPL, OPEN, 180.0, position=100).ok                      # flat after
    d = c.check(sell, AAPL, OPEN, 180.0, position=60)                             # 40 short
    assert (d.ok, d.code, d.violations[0].rule) == (False, RejectReason.SHORT_SALE_NOT_LOCATED, "short_sale")
    assert "would sell 40 short" in d.detail and d.violations[0].severity is Severity.CRITICAL
    assert c.check(sell, AAPL, OPEN, 180.0, position=-10).code is RejectReason.SHORT_SALE_NOT_LOCATED
    assert c.check(Order("MSFT", "sell", 5, created_at=OPEN), equity("MSFT"), OPEN, 400.0, position=0).ok
    assert c.check(Order("AAPL", "buy", 5, created_at=OPEN), AAPL, OPEN, 180.0, position=-10).ok   # covering


def test_rule_config_errors_name_the_entry_and_the_known_kinds() -> None:
    import pydantic

    from raytrade.configfile import describe_validation_error

    for rules, said in [([{"kind": "pattern_day_trader"}], "unknown rule kind 'pattern_day_trader'; known: "),
                        ([{"kind": "short_sale", "easy_to_borow": ["A"]}], "short_sale: easy_to_borow: Extra"),
                        ([{"kind": "market_hours"}], "market_hours is a standing rule: set it with the fields"),
                        (["short_sale"], "a rule is a mapping like")]:
        with pytest.raises(pydantic.ValidationError) as e:
            ComplianceRules.model_validate({"rules": rules})
        text = describe_validation_error(e.value, "compliance.yaml")
        assert said in text and "rules.0" in text, text


def test_the_shipped_compliance_config_is_the_default_and_its_example_rule_parses() -> None:
    import re
    from pathlib import Path

    import yaml

    from raytrade.compliance import load_compliance_rules

    path = Path(__file__).resolve().parents[2] / "configs" / "compliance.yaml"
    assert load_compliance_rules(path) == ComplianceRules()
    example = "\n".join(re.sub(r"^# ?", "", ln) for ln in path.read_text().splitlines()
                        if ln.startswith(("# rules:", "#   -")))
    parsed = ComplianceRules.model_validate(yaml.safe_load(example))
    assert [r.kind for r in parsed.rules] == ["short_sale"] and "KO" in parsed.rules[0].easy_to_borrow


def test_option_lots_are_kept_in_currency_at_the_contract_multiplier() -> None:
    """2 calls bought at 3.50 and 2 more at 3.00 (100 shares a contract): the lots cost 700 and 600;
    a sale of 2 valued at the 2.00 mark loses 2 x 1.50 x 100 = 300, all of it washed by the second
    purchase 10 days before."""
    from raytrade.core.instruments import option

    call = option("AAPL", date(2024, 6, 21), 100.0, "call")
    c = ComplianceChecker(ComplianceRules())
    c.on_fill(fill("buy", 2, 3.5, datetime(2024, 2, 1, 15, 0, tzinfo=UTC), call.symbol), multiplier=100.0)
    c.on_fill(fill("buy", 2, 3.0, datetime(2024, 2, 22, 15, 0, tzinfo=UTC), call.symbol), multiplier=100.0)
    assert c.ledger.open_lots()["basis"].tolist() == pytest.approx([700.0, 600.0])
    sell = Order(call.symbol, "sell", 2, client_order_id="s1")  # type: ignore[arg-type]
    d = c.check(sell, call, datetime(2024, 3, 4, 15, 0, tzinfo=UTC), mark=2.0)
    assert "loss of 300.00" in d.violations[0].detail and "300.00 of the loss disallowed" in d.violations[0].detail
