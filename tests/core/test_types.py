"""Domain constructors validate with messages that name the field."""

from __future__ import annotations

import math
from datetime import UTC, date, datetime

import pytest

from raytrade.core import (
    Bar,
    DomainError,
    Event,
    EventType,
    Fill,
    Order,
    OrderType,
    PortfolioSnapshot,
    Position,
    Quote,
    Side,
    crypto,
    equity,
    option,
)

NOW = datetime(2024, 1, 2, 15, 0, tzinfo=UTC)


def test_order_happy_path_and_enums_from_strings():
    o = Order("AAPL", "buy", 10, "limit", limit_price=150.0, time_in_force="gtc")
    assert o.side is Side.BUY and o.order_type is OrderType.LIMIT
    assert o.signed_quantity == 10
    assert len(o.client_order_id) == 32
    tagged = Order("AAPL", "sell", 5, strategy="pairs")
    assert Order.from_dict(tagged.to_dict()) == tagged and tagged.to_dict()["strategy"] == "pairs"
    assert Order.from_dict({k: v for k, v in o.to_dict().items() if k != "strategy"}) == o  # logs from before


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"quantity": 0}, "quantity must be > 0"),
        ({"quantity": -5}, "quantity must be > 0"),
        ({"quantity": math.nan}, "quantity must be finite"),
        ({"side": "hold"}, r"side must be one of \[buy, sell\]"),
        ({"order_type": "limit"}, "limit order needs limit_price"),
        ({"order_type": "limit", "limit_price": math.nan}, "limit_price must be finite"),
        ({"order_type": "limit", "limit_price": -1.0}, "limit_price must be > 0"),
        ({"limit_price": 10.0}, "market order must not have limit_price"),
        ({"symbol": ""}, "symbol must be a non-empty string"),
        ({"time_in_force": "forever"}, "time_in_force must be one of"),
        ({"created_at": datetime(2024, 1, 2)}, "timezone-aware"),
        ({"strategy": " pairs"}, "strategy must be a non-empty string"),
    ],
)
def test_bad_orders(kwargs, message):
    base = {"symbol": "AAPL", "side": "buy", "quantity": 10}
    base.update(kwargs)
    with pytest.raises(DomainError, match=message):
        Order(**base)


def test_bars_and_quotes():
    Bar("SPY", NOW, 10, 11, 9, 10.5, 100)
    with pytest.raises(DomainError, match=r"high 9\.0 < low 11\.0"):
        Bar("SPY", NOW, 10, 9, 11, 10, 100)
    with pytest.raises(DomainError, match="must lie within"):
        Bar("SPY", NOW, 12, 11, 9, 10, 100)
    with pytest.raises(DomainError, match="volume must be >= 0"):
        Bar("SPY", NOW, 10, 11, 9, 10, -1)
    q = Quote("SPY", NOW, 99.99, 100.01)
    assert q.mid == pytest.approx(100.0)
    assert q.half_spread_bps == pytest.approx(1.0)
    with pytest.raises(DomainError, match="crossed"):
        Quote("SPY", NOW, 100.02, 100.01)


def test_instruments():
    assert equity("KO", sector="Consumer Staples").lot_size == 1
    btc = crypto("BTC-USD")
    assert btc.is_lot_multiple(0.00000003)
    # a large quantity in small lots: its decimal digits round in binary, the lot count is not exact
    q = round(2737.0439198100003 / 1e-8) * 1e-8
    assert btc.is_lot_multiple(q) and btc.is_lot_multiple(2737.04391981)
    assert not btc.is_lot_multiple(2737.043919815) and not btc.is_lot_multiple(2737.0439198101)
    assert not equity("KO").is_lot_multiple(1.5)
    opt = option("AAPL", date(2023, 1, 20), 150, "call")
    assert opt.symbol == "AAPL  230120C00150000" and opt.multiplier == 100
    with pytest.raises(DomainError, match="strike must be > 0"):
        option("AAPL", date(2023, 1, 20), 0, "put")
    with pytest.raises(DomainError, match="right must be one of"):
        option("AAPL", date(2023, 1, 20), 100, "straddle")
    with pytest.raises(DomainError, match="currency"):
        type(btc)("X", currency="usd")


def test_position_average_cost_and_realised_pnl_by_hand():
    p = Position("KO")
    p = p.apply(Fill("o1", "KO", "buy", 100, 50.0, commission=1.0, timestamp=NOW))
    assert p.avg_cost == pytest.approx(50.01)
    p = p.apply(Fill("o2", "KO", "buy", 100, 52.0, commission=1.0, timestamp=NOW))
    assert p.avg_cost == pytest.approx((5001 + 5201) / 200)
    p = p.apply(Fill("o3", "KO", "sell", 150, 55.0, commission=1.5, timestamp=NOW))
    assert p.quantity == 50
    assert p.realized_pnl == pytest.approx(150 * (55 - 51.01) - 1.5)
    p = p.apply(Fill("o4", "KO", "sell", 100, 54.0, timestamp=NOW))  # through zero: 50 short at 54
    assert p.quantity == -50 and p.avg_cost == 54.0
    assert p.unrealized_pnl(50.0) == pytest.approx(200.0)


def test_snapshot_leverage():
    snap = PortfolioSnapshot(NOW, cash=50_000, positions={"A": Position("A", 100, 100), "B": Position("B", -200, 50)},
                             marks={"A": 110.0, "B": 40.0})
    assert snap.equity == pytest.approx(50_000 + 11_000 - 8_000)
    assert snap.gross_leverage == pytest.approx(19_000 / 53_000)
    with pytest.raises(DomainError, match="no mark price"):
        PortfolioSnapshot(NOW, cash=0, positions={"A": Position("A", 1, 1)})


def test_events_require_json_like_payloads():
    e = Event(EventType.FILL, "engine", "signal", {"qty": 1.0, "tags": ["a"]}, NOW)
    assert e.sequence is None
    with pytest.raises(DomainError, match=r"payload\.when holds a datetime"):
        Event("fill", "engine", "x", {"when": NOW})
    with pytest.raises(DomainError, match=r"payload\.px must be finite"):
        Event("fill", "engine", "x", {"px": math.nan})
    with pytest.raises(DomainError, match="event type must be one of"):
        Event("teleport", "engine", "x")
    with pytest.raises(DomainError, match=r"payload\.fills\[1\]\.px must be finite"):
        Event("fill", "engine", "x", {"fills": [{"px": 1.0}, {"px": math.inf}]})
    with pytest.raises(DomainError, match=r"payload\.a keys must be strings"):
        Event("fill", "engine", "x", {"a": {1: "one"}})
    side = Event("fill", "engine", "x", {"side": EventType.FILL, "flag": True}, NOW)  # str subclasses pass
    assert side.payload["side"] == "fill"


def test_numbered_copies_an_event_with_its_sequence():
    e = Event(EventType.FILL, "engine", "signal", {"qty": 1.0}, NOW)
    n = e.numbered(7)
    assert (n.type, n.principal, n.reason, n.payload, n.timestamp, n.sequence) == (
        e.type, e.principal, e.reason, e.payload, e.timestamp, 7)
    assert n == Event(EventType.FILL, "engine", "signal", {"qty": 1.0}, NOW, 7)
    for bad in (0, -1, 2.0, None):
        with pytest.raises(DomainError, match="sequence must be a positive integer"):
            e.numbered(bad)  # type: ignore[arg-type]


def test_data_error_survives_pickling():
    import pickle

    from raytrade.core.errors import DataError

    err = DataError("price is NaN", source="prices.csv", column="close", row=7, timestamp="2024-01-02")
    back = pickle.loads(pickle.dumps(err))
    assert (back.problem, back.source, back.column, back.row, str(back)) == (
        err.problem, err.source, err.column, err.row, str(err))


def test_values_no_order_can_have_are_refused_by_name() -> None:
    """Each value here once got through: a boolean quantity (taken as 1), a price whose tick count
    overflows a float (round() raised OverflowError and failed a whole batch), a quantity below
    one lot that a float tolerance rounded to a whole number of lots (0), NUL characters."""
    from raytrade.core.errors import DomainError
    from raytrade.core.instruments import crypto, equity
    from raytrade.core.orders import MAX_PRICE, MAX_QUANTITY, Order

    with pytest.raises(DomainError, match="quantity must be a number, got True"):
        Order("KO", "buy", True)  # type: ignore[arg-type]
    with pytest.raises(DomainError, match="limit_price must be at most"):
        Order("KO", "buy", 1, "limit", 1.8e306)
    with pytest.raises(DomainError, match="quantity must be at most"):
        Order("KO", "buy", MAX_QUANTITY * 10)
    assert Order("KO", "buy", MAX_QUANTITY, "limit", MAX_PRICE).quantity == MAX_QUANTITY
    with pytest.raises(DomainError, match="symbol must be a non-empty string of printable"):
        Order("K\x00O", "buy", 1)
    ko, btc = equity("KO"), crypto("BTC-USD")
    assert not ko.is_lot_multiple(1e-10) and not ko.is_lot_multiple(0.4) and ko.is_lot_multiple(3.0)
    assert not btc.is_lot_multiple(1.7e308)   # 1.7e308 / 1e-8 lots is not a finite float
    assert btc.is_lot_multiple(0.00000003) and not btc.is_lot_multiple(1e-10)
    with pytest.raises(DomainError, match="out of range for the tick"):
        ko.round_price(1.8e306)
    assert ko.round_price(10.004) == 10.0


def test_periods_per_year_by_calendar() -> None:
    from raytrade.analytics.metrics import PERIODS_PER_YEAR
    from raytrade.backtest.kernel import TRADING_DAYS
    from raytrade.core.calendars import periods_per_year
    from raytrade.core.errors import ConfigError

    assert periods_per_year() == periods_per_year("xnys") == 252 == PERIODS_PER_YEAR == TRADING_DAYS
    assert periods_per_year("CRYPTO") == 365
    assert periods_per_year("CRYPTO", bar_minutes=5) == 365 * 288      # 5-minute bars, around the clock
    assert periods_per_year("XNYS", bar_minutes=30) == 252 * 13        # 6.5-hour sessions
    with pytest.raises(ConfigError, match="known calendars are XNYS, CRYPTO"):
        periods_per_year("LSE")
    with pytest.raises(ConfigError, match="bar_minutes must be > 0"):
        periods_per_year("XNYS", bar_minutes=0)
