"""Book Greeks with the contract multiplier, by hand and by finite differences of the book value."""

from __future__ import annotations

import math
from datetime import date

import numpy as np
import pytest

from raytrade.core.errors import DomainError
from raytrade.core.instruments import equity, option
from raytrade.risk.greeks import book_greeks
from raytrade.risk.options import bs_price

AS_OF = date(2024, 1, 2)
CALL = option("KO", date(2024, 3, 1), 60.0, "call")
PUT = option("KO", date(2024, 3, 1), 60.0, "put")
INSTRUMENTS = {"KO": equity("KO"), CALL.symbol: CALL, PUT.symbol: PUT}


def test_a_synthetic_forward_against_the_stock_has_no_greeks():
    """Long a call, short a put (same strike and expiry, r = q = 0) is long 100 shares' forward:
    short 100 shares beside it and delta, gamma and vega are 0."""
    g = book_greeks({CALL.symbol: 1, PUT.symbol: -1, "KO": -100}, INSTRUMENTS, {"KO": 58.0}, as_of=AS_OF,
                    volatility={"KO": 0.2})
    row = g.by_underlying.loc["KO"]
    assert abs(row["delta"]) < 1e-9 and abs(row["gamma"]) < 1e-12 and abs(row["vega"]) < 1e-9
    assert g.positions.set_index("symbol").loc["KO", "delta"] == -100


def test_the_book_greeks_are_the_derivatives_of_the_book_value():
    """Short 3 calls and long 200 shares: delta, gamma, vega and theta equal central finite
    differences of the book's value (each option at Black-Scholes x 100)."""
    pos = {CALL.symbol: -3, "KO": 200}
    S, sig, T = 61.0, 0.25, (CALL.expiry - AS_OF).days / 365

    def value(s: float = S, v: float = sig, t: float = T) -> float:
        return 200 * s - 3 * 100 * float(bs_price(s, 60.0, t, 0.01, 0.0, v, "call"))

    g = book_greeks(pos, INSTRUMENTS, {"KO": S}, as_of=AS_OF, volatility={"KO": sig}, rate=0.01)
    h = 1e-3
    row = g.by_underlying.loc["KO"]
    assert row["delta"] == pytest.approx((value(S + h) - value(S - h)) / (2 * h), rel=1e-6)
    assert row["gamma"] == pytest.approx((value(S + h) - 2 * value() + value(S - h)) / h**2, rel=1e-4)
    assert g.total["vega"] == pytest.approx((value(v=sig + 1e-5) - value(v=sig - 1e-5)) / 2e-5, rel=1e-6)
    assert g.total["theta"] == pytest.approx(-(value(t=T + 1e-6) - value(t=T - 1e-6)) / 2e-6, rel=1e-5)
    assert g.total["dollar_delta"] == pytest.approx(row["delta"] * S)
    assert g.total["dollar_gamma"] == pytest.approx(row["gamma"] * S * S)


def test_volatility_is_implied_from_a_price_and_the_source_is_said():
    price = float(bs_price(58.0, 60.0, 59 / 365, 0.0, 0.0, 0.31, "call"))
    g = book_greeks({CALL.symbol: 2}, INSTRUMENTS, {"KO": 58.0}, as_of=AS_OF, volatility={"KO": 0.2},
                    vol_source="realised", option_prices={CALL.symbol: price})
    row = g.positions.iloc[0]
    assert row["vol_source"] == "implied" and row["volatility"] == pytest.approx(0.31, abs=1e-8)
    stale = book_greeks({CALL.symbol: 2}, INSTRUMENTS, {"KO": 58.0}, as_of=AS_OF, volatility={"KO": 0.2},
                        vol_source="realised", option_prices={CALL.symbol: 70.0})   # above S: no volatility gives it
    assert stale.positions.iloc[0]["volatility"] == 0.2 and stale.positions.iloc[0]["vol_source"].startswith("realised")


def test_bad_input_is_named():
    with pytest.raises(DomainError, match="expired on 2024-03-01"):
        book_greeks({CALL.symbol: 1}, INSTRUMENTS, {"KO": 58.0}, as_of=date(2024, 3, 4), volatility={"KO": 0.2})
    with pytest.raises(DomainError, match="no price for its underlying KO"):
        book_greeks({CALL.symbol: 1}, INSTRUMENTS, {}, as_of=AS_OF, volatility={"KO": 0.2})
    with pytest.raises(DomainError, match="no volatility for KO"):
        book_greeks({CALL.symbol: 1}, INSTRUMENTS, {"KO": 58.0}, as_of=AS_OF)
    with pytest.raises(DomainError, match="XYZ: no instrument"):
        book_greeks({"XYZ": 1}, INSTRUMENTS, {"KO": 58.0}, as_of=AS_OF)
    assert book_greeks({}, INSTRUMENTS, {}, as_of=AS_OF).total["vega"] == 0.0
    assert math.isfinite(book_greeks({CALL.symbol: 1}, INSTRUMENTS, {"KO": 58.0}, as_of=CALL.expiry,
                                     volatility={"KO": 0.2}).total["dollar_delta"])
    assert np.isnan(book_greeks({"KO": 5}, INSTRUMENTS, {"KO": 58.0}, as_of=AS_OF).positions.iloc[0]["volatility"])


def test_the_readme_example_runs_as_written():
    """The README's covered-call book: implied volatility from the call's price, a written call's
    negative vega and gamma and positive theta, delta of 500 shares less the calls'."""
    import re
    from pathlib import Path

    text = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    part = text[text.index("## Options pricing"):]
    part = part[:part.index("\n## ", 5)]
    code = re.findall(r"```python\n(.*?)```", part, flags=re.S)[0]
    scope: dict = {}
    exec(compile(code, "README.md", "exec"), scope)
    g = scope["g"]
    call = g.positions.iloc[1]
    assert call["vol_source"] == "implied" and 0.15 < call["volatility"] < 0.25
    assert g.total["vega"] < 0 and g.total["dollar_gamma"] < 0 and g.total["theta"] > 0
    assert g.by_underlying.loc["KO", "delta"] == pytest.approx(500 + call["delta"]) and call["delta"] < 0
