"""Pre-trade limits: each reason code at its threshold, reductions always allowed, halt and resume."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from raytrade.core import Fill, Order, Portfolio, RejectReason
from raytrade.risk import PreTradeRisk, RiskLimits

T = datetime(2024, 3, 1, 15, tzinfo=UTC)
SECTORS = {"AAPL": "Tech", "MSFT": "Tech", "NVDA": "Tech", "KO": "Staples", "JPM": "Financials"}


def book(cash: float = 100_000, **positions: tuple[float, float]) -> Portfolio:
    p = Portfolio(cash)
    p.roll_day(date(2024, 3, 1))
    for sym, (qty, price) in positions.items():
        p.apply_fill(Fill("seed", sym, "buy" if qty > 0 else "sell", abs(qty), price, 0.0, T))
    p.day_start_equity = p.equity
    for s in SECTORS:
        p.marks.setdefault(s, 100.0)
    return p


def buy(sym: str, qty: float, **kw: object) -> Order:
    return Order(sym, "buy", qty, created_at=T, **kw)  # type: ignore[arg-type]


def risk(**kw: float) -> PreTradeRisk:
    return PreTradeRisk(RiskLimits(**kw), SECTORS)


def test_symbol_limit_is_five_percent_of_equity() -> None:
    r, b = risk(), book()
    assert r.check(buy("AAPL", 50), b, {}, T).ok                  # 5,000 = 5.00% of 100,000
    d = r.check(buy("AAPL", 51), b, {}, T)
    assert d.code is RejectReason.SYMBOL_LIMIT
    assert d.numbers["weight"] == pytest.approx(0.051) and d.numbers["limit"] == 0.05


def test_open_orders_count_towards_the_projection() -> None:
    r, b = risk(), book()
    assert r.check(buy("AAPL", 30), b, {"AAPL": 30.0}, T).code is RejectReason.SYMBOL_LIMIT


def test_sector_limit_sums_the_sector() -> None:
    r = risk(max_symbol_weight=1.0)
    b = book(AAPL=(100, 100.0), MSFT=(100, 100.0))              # Tech 20,000 of 100,000
    assert r.check(buy("NVDA", 50), b, {}, T).ok                   # 25%
    d = r.check(buy("NVDA", 51), b, {}, T)
    assert d.code is RejectReason.SECTOR_LIMIT and d.numbers["weight"] == pytest.approx(0.251)
    assert r.check(buy("KO", 200), b, {}, T).ok                    # another sector


def test_gross_leverage_counts_shorts() -> None:
    r = risk(max_symbol_weight=10, max_sector_weight=10, max_gross_leverage=1.5)
    b = book(KO=(-500, 100.0))                                      # short 50,000: gross 0.5x
    assert r.check(buy("JPM", 1000), b, {}, T).ok                  # +100,000 -> 1.5x
    assert r.check(buy("JPM", 1001), b, {}, T).code is RejectReason.GROSS_LEVERAGE


def test_reductions_pass_limits_that_are_already_breached() -> None:
    r = risk()
    b = book(AAPL=(200, 100.0))                                     # 20% of equity: over the limit
    assert r.check(Order("AAPL", "sell", 100, created_at=T), b, {}, T).ok
    assert r.check(buy("AAPL", 1), b, {}, T).code is RejectReason.SYMBOL_LIMIT


def test_notional_rate_price_and_collar() -> None:
    r = risk(max_order_notional=2_000, max_orders_per_second=2, max_symbol_weight=1)
    b = book()
    assert r.check(buy("KO", 21), b, {}, T).code is RejectReason.ORDER_NOTIONAL
    assert r.check(buy("KO", 1), b, {}, T).ok
    assert r.check(buy("KO", 1), b, {}, T + timedelta(milliseconds=500)).ok
    assert r.check(buy("KO", 1), b, {}, T + timedelta(milliseconds=900)).code is RejectReason.ORDER_RATE
    assert r.check(buy("KO", 1), b, {}, T + timedelta(milliseconds=1001)).ok
    assert r.check(buy("ZZZ", 1), b, {}, T + timedelta(seconds=5)).code is RejectReason.NO_MARKET_PRICE
    d = r.check(buy("KO", 1, order_type="limit", limit_price=111.0), b, {}, T + timedelta(seconds=9))
    assert d.code is RejectReason.LIMIT_FAR_FROM_MARKET and d.numbers["deviation"] == pytest.approx(0.11)


def test_daily_loss_halts_risk_increasing_orders_until_resumed() -> None:
    r = risk(max_symbol_weight=1)
    b = book(KO=(100, 100.0))
    b.mark("KO", 50.0)                                              # -5,000 = -5% of 100,000
    d = r.check(buy("KO", 1), b, {}, T)
    assert d.code is RejectReason.DAILY_LOSS_HALT and r.halted
    assert r.check(Order("KO", "sell", 10, created_at=T), b, {}, T).ok
    r.resume(b)
    assert r.check(buy("KO", 1), b, {}, T + timedelta(seconds=2)).ok
    b.mark("KO", 1.0)                                               # a further 4.9% is not yet 5%
    assert r.check(buy("KO", 1), b, {}, T + timedelta(seconds=4)).ok
    b.apply_fill(Fill("x", "KO", "sell", 101, 1.0, 0.0, T))
    b.apply_fill(Fill("y", "JPM", "buy", 1, 100.0, 5_000.0, T))   # commission pushes loss past 10%
    assert r.check(buy("KO", 1), b, {}, T + timedelta(seconds=6)).ok           # covers the short: reduces
    assert r.halted and r.check(buy("JPM", 1), b, {}, T + timedelta(seconds=7)).code is RejectReason.DAILY_LOSS_HALT
    r.halt(RejectReason.TRADING_HALTED, "halted by admin")
    assert r.check(buy("JPM", 1), b, {}, T + timedelta(seconds=9)).code is RejectReason.TRADING_HALTED


def test_limits_refuse_infinity_and_nan() -> None:
    """An infinite limit would switch its check off unseen (an admin once set one through the API)."""
    import pydantic

    from raytrade.risk.limits import RiskLimits

    for bad in (float("inf"), float("nan")):
        with pytest.raises(pydantic.ValidationError, match="finite"):
            RiskLimits(max_order_notional=bad)


def test_an_option_position_counts_at_its_multiplier() -> None:
    """3 calls at 10.00 (100 shares each) are worth 3,000, 3 % of equity: 2 more pass the 5 % symbol
    limit, 3 more do not; the usage reports the 3 %."""
    opt = "KO    250117C00060000"
    p = Portfolio(100_000, {opt: 100.0})
    p.roll_day(date(2024, 3, 1))
    p.apply_fill(Fill("seed", opt, "buy", 3, 10.0, 0.0, T))
    p.day_start_equity = p.equity
    r = risk()
    assert r.usage(p, {})["symbol_weights"][opt] == pytest.approx(0.03)
    assert r.check(buy(opt, 2), p, {}, T, multiplier=100.0).ok
    assert r.check(buy(opt, 3), p, {}, T, multiplier=100.0).code is RejectReason.SYMBOL_LIMIT
    # another symbol's order sees the option at its value too: at a 5 % gross limit, 3 % of calls and
    # 2.5 % of AAPL is too much (at a multiplier of 1 the calls would be 0.03 %)
    p.mark("AAPL", 100.0)
    tight = risk(max_gross_leverage=0.05)
    d = tight.check(buy("AAPL", 25), p, {}, T)
    assert d.code is RejectReason.GROSS_LEVERAGE and d.numbers["leverage"] == pytest.approx(0.055)
    assert tight.check(buy("AAPL", 19), p, {}, T).ok


def _figures(at: datetime, **kw: object):
    from raytrade.risk.live import RiskFigures

    base = dict(computed_at=at, as_of=at, trigger="timer", equity=100_000.0, gross_leverage=0.1, net_leverage=0.1,
                days=252, level=0.99, var_1d=0.01, cvar_1d=0.015, var_10d=0.03, cvar_10d=0.04, var_normal_1d=0.009,
                correlation_risk=0.3, greeks={"dollar_delta": 10_000.0, "dollar_gamma": 0.0, "vega": -800.0,
                                              "theta": 0.0, "rho": 0.0})
    return RiskFigures(**{**base, **kw})  # type: ignore[arg-type]


def test_limits_on_the_risk_figures_read_the_last_figures_and_fail_closed() -> None:
    """VaR and vega limits from the config list: no figures or stale ones refuse orders that add
    risk (never ones that reduce); a breach refuses with the figure and the limit; within, accepted."""
    from raytrade.risk.checks import FIGURE_CHECKS

    assert set(FIGURE_CHECKS) == {"var", "delta", "gamma", "vega"}
    limits = RiskLimits.model_validate({"checks": [{"kind": "var", "max": 0.02}, {"kind": "vega", "max": 0.01},
                                                   {"kind": "var", "max": 0.025, "horizon": "10d"}],
                                        "figures_max_age_s": 30})
    wall = [T]
    r = PreTradeRisk(limits, SECTORS, wall=lambda: wall[0])
    b = book(AAPL=(20, 100.0))
    d = r.check(buy("AAPL", 1), b, {}, T)
    assert d.code is RejectReason.RISK_FIGURES_STALE and "not computed yet" in d.detail
    assert r.check(Order("AAPL", "sell", 5, created_at=T), b, {}, T).ok      # reducing: always
    r.figures = _figures(T - timedelta(seconds=45))
    d = r.check(buy("AAPL", 1), b, {}, T)
    assert d.code is RejectReason.RISK_FIGURES_STALE and d.numbers["age_s"] == 45
    r.figures = _figures(T - timedelta(seconds=5))
    d = r.check(buy("AAPL", 1), b, {}, T)                 # 10-day VaR 3 % > 2.5 %
    assert d.code is RejectReason.RISK_FIGURE_LIMIT and "10d 99% VaR is 3.00%" in d.detail
    r.figures = _figures(T, var_10d=0.02, greeks={"vega": -1_500.0})
    d = r.check(buy("AAPL", 1), b, {}, T)                 # |vega| 1.5 % of equity > 1 %
    assert d.code is RejectReason.RISK_FIGURE_LIMIT and d.numbers == {"value": 0.015, "limit": 0.01}
    r.figures = _figures(T, var_10d=0.02, var_1d=None, note="3 daily returns")
    assert "not known (3 daily returns)" in r.check(buy("AAPL", 1), b, {}, T).detail   # unknown: fail closed
    r.figures = _figures(T, var_10d=0.02)
    assert r.check(buy("AAPL", 1), b, {}, T).ok
    with pytest.raises(Exception, match=r"checks\.0"):
        RiskLimits.model_validate({"checks": [{"kind": "beta", "max": 1}]})


def test_the_shipped_risk_config_is_the_default_and_its_example_checks_parse() -> None:
    import re
    from pathlib import Path

    import yaml

    from raytrade.risk import load_risk_limits

    path = Path(__file__).resolve().parents[2] / "configs" / "risk.yaml"
    assert load_risk_limits(path) == RiskLimits()
    example = "\n".join(re.sub(r"^# ?", "", ln) for ln in path.read_text().splitlines()
                        if ln.startswith(("# checks:", "#   -", "# figures_max_age_s:")))
    parsed = RiskLimits.model_validate(yaml.safe_load(example))
    assert [c.kind for c in parsed.checks] == ["var", "var", "vega", "delta"] and parsed.figures_max_age_s == 60


def test_every_check_is_a_registry_entry_and_the_standing_ones_run_first_in_order() -> None:
    from raytrade.risk.checks import PRETRADE_CHECKS, STANDING, PreTradeCheck

    assert set(PRETRADE_CHECKS) == {*STANDING, "var", "delta", "gamma", "vega"} and len(STANDING) == 7
    limits = RiskLimits.model_validate({"checks": [{"kind": "vega", "max": 0.01}]})
    checks = limits.pretrade_checks()
    assert [c.kind for c in checks] == ["daily_loss", "order_rate", "limit_deviation", "order_notional",
                                        "symbol_weight", "sector_weight", "gross_leverage", "vega"]
    assert all(isinstance(c, PreTradeCheck) for c in checks)
    assert {c.kind: c.max for c in checks}["symbol_weight"] == 0.05 == limits.max_symbol_weight


def test_a_standing_limit_set_as_a_list_entry_is_its_field_and_contradictions_are_refused() -> None:
    import pydantic

    from raytrade.configfile import describe_validation_error

    lim = RiskLimits.model_validate({"checks": [{"kind": "symbol_weight", "max": 0.5}, {"kind": "var", "max": 0.02},
                                                {"kind": "sector_weight", "max": 0.5}]})
    assert lim.max_symbol_weight == 0.5 == lim.max_sector_weight and [c.kind for c in lim.checks] == ["var"]
    r, b = PreTradeRisk(lim, SECTORS), book()
    assert r.check(buy("AAPL", 500), b, {}, T).code is RejectReason.RISK_FIGURES_STALE   # 50 % passes the weight
    assert RiskLimits.model_validate(lim.model_dump()) == lim                            # round trip
    with pytest.raises(pydantic.ValidationError) as e:
        RiskLimits.model_validate({"max_symbol_weight": 0.1, "checks": [{"kind": "symbol_weight", "max": 0.2}]})
    assert "contradicts max_symbol_weight" in describe_validation_error(e.value, "risk.yaml")
    with pytest.raises(pydantic.ValidationError) as e:
        RiskLimits.model_validate({"checks": [{"kind": "var", "max": 0.02}, {"kind": "var", "max": -1}]})
    said = describe_validation_error(e.value, "risk.yaml")
    assert "checks.1" in said and "var: max: Input should be greater than 0" in said and "\n" not in said.strip()
    with pytest.raises(pydantic.ValidationError, match="unknown check kind 'beta'; known: daily_loss, delta"):
        RiskLimits.model_validate({"checks": [{"kind": "beta", "max": 1}]})
    with pytest.raises(pydantic.ValidationError, match="symbol_weight: sector: Extra inputs"):
        RiskLimits.model_validate({"checks": [{"kind": "symbol_weight", "max": 0.1, "sector": "Tech"}]})


def test_updated_limits_from_the_api_replace_a_standing_field_through_its_entry() -> None:
    lim = RiskLimits(max_symbol_weight=0.1)
    new = lim.updated({"checks": [{"kind": "symbol_weight", "max": 0.2}, {"kind": "delta", "max": 1.0}]})
    assert new.max_symbol_weight == 0.2 and [c.kind for c in new.checks] == ["delta"]
    assert lim.updated({"max_gross_leverage": 2}).max_gross_leverage == 2 and lim.updated({}) == lim


def test_a_registered_check_plugs_in_from_the_config_and_keeps_its_phase() -> None:
    """A user's limit (largest position in shares) as a class: from the config list it refuses a
    buy past its maximum, never the sale that reduces, and the standing checks still run first."""
    from typing import ClassVar, Literal

    from raytrade.risk.checks import (
        OK,
        PRETRADE_CHECKS,
        CheckBase,
        CheckContext,
        RiskDecision,
        register_check,
    )

    class MaxShares(CheckBase):
        kind: Literal["max_shares"] = "max_shares"
        phase: ClassVar = "adds_risk"
        max: float

        def decide(self, ctx: CheckContext) -> RiskDecision:
            if abs(ctx.after) > self.max:
                return RiskDecision.reject(RejectReason.SYMBOL_LIMIT, f"{ctx.order.symbol}: {abs(ctx.after):g} shares "
                                           f"(max {self.max:g})", shares=abs(ctx.after), limit=self.max)
            return OK

    register_check(MaxShares)
    try:
        with pytest.raises(ValueError, match="already registered"):
            register_check(type("Other", (MaxShares,), {}))
        lim = RiskLimits.model_validate({"max_symbol_weight": 1, "checks": [{"kind": "max_shares", "max": 30}]})
        r, b = PreTradeRisk(lim, SECTORS), book(KO=(40, 100.0))
        d = r.check(buy("AAPL", 31), b, {}, T)
        assert d.code is RejectReason.SYMBOL_LIMIT and d.numbers == {"shares": 31, "limit": 30}
        assert r.check(buy("AAPL", 30), b, {}, T).ok
        assert r.check(Order("KO", "sell", 5, created_at=T), b, {}, T).ok        # 35 shares left: reducing
        assert r.check(buy("ZZZ", 1), b, {}, T).code is RejectReason.NO_MARKET_PRICE
        assert r.check(buy("AAPL", 1, order_type="limit", limit_price=150.0), b, {}, T).code \
            is RejectReason.LIMIT_FAR_FROM_MARKET                                  # a standing check first
    finally:
        PRETRADE_CHECKS.pop("max_shares", None)
    with pytest.raises(TypeError, match="needs phase"):
        register_check(type("NoDecide", (CheckBase,), {"__annotations__": {"kind": Literal["x"]}, "kind": "x"}))
