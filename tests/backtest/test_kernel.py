"""The kernel: hand-computed cases and equality with the per-bar reference loop."""

from __future__ import annotations

import numpy as np
import pytest

from raytrade.backtest import CostModel, Rebalance, Sizing, SizingMode, run_kernel, sizing_scale
from raytrade.backtest.kernel import STAT_FIELDS
from raytrade.core.errors import BacktestError
from tests.backtest.reference import reference_backtest


def test_next_bar_execution_at_close_when_only_closes_exist():
    close = np.array([10.0, 11.0, 12.0, 11.0, 10.0, 12.0])
    signal = np.array([1, 1, 0, 0, -1, -1], dtype=float)[:, None]
    out = run_kernel(signal, close, initial_capital=1000.0)
    # bar 0 signal -> buy 1000/11 shares at bar 1's close; sold at bar 3's close (signal 0 at bar 2)
    np.testing.assert_allclose(out.shares[:, 0], [0, 1000 / 11, 1000 / 11, 0, 0, -1000 / 12])
    np.testing.assert_allclose(out.equity[:, 0], [1000, 1000, 1000 / 11 * 12, 1000, 1000, 1000])
    assert out.stat("fills")[0] == 3
    assert out.stat("round_trips")[0] == 1
    assert out.stat("exposure_bars")[0] == 3


def test_next_bar_execution_at_open_when_opens_exist():
    close = np.array([10.0, 12.0, 12.0])
    open_ = np.array([10.0, 11.0, 13.0])
    out = run_kernel(np.array([[1.0], [1.0], [1.0]]), close, open_=open_, initial_capital=1100.0)
    # filled at bar 1's open (11): 100 shares, marked at bar 1's close 12
    np.testing.assert_allclose(out.shares[:, 0], [0, 100, 100])
    np.testing.assert_allclose(out.equity[:, 0], [1100, 1200, 1200])


def test_signal_on_last_bar_is_never_executed():
    out = run_kernel(np.array([[0.0], [0.0], [1.0]]), np.array([5.0, 5.0, 5.0]))
    assert out.stat("fills")[0] == 0
    assert np.all(out.shares == 0)


def test_costs_by_hand():
    costs = CostModel(commission_bps=10, commission_per_share=0.01, half_spread_bps=5, slippage_bps=5)
    close = np.array([100.0, 100.0, 110.0, 110.0])
    sig = np.array([[1.0], [1.0], [0.0], [0.0]])
    out = run_kernel(sig, close, costs=costs, initial_capital=10_000.0)
    buy = 100.0 * 1.001
    q = 10_000.0 / (buy * 1.001 + 0.01)  # fractional: shares x fill + commission = w x E
    cash = 10_000.0 - q * buy - q * buy * 0.001 - q * 0.01
    assert cash == pytest.approx(0.0, abs=1e-9)
    assert out.shares[1, 0] == pytest.approx(q)
    assert out.equity[1, 0] == pytest.approx(cash + q * 100.0)
    sell = 110.0 * 0.999
    cash += q * sell - q * sell * 0.001 - q * 0.01
    assert out.equity[3, 0] == pytest.approx(cash)
    trip = cash - 10_000.0
    assert out.stat("gross_profit")[0] == pytest.approx(trip)
    assert out.stat("wins")[0] == 1
    paid = 2 * q * 0.01 + q * buy * 0.001 + q * sell * 0.001 + q * 0.1 + q * 0.11
    assert out.stat("costs")[0] == pytest.approx(paid)


def test_a_reversal_is_sized_from_the_cash_left_after_closing():
    """Long to short and back with 0.2% commission, whole shares, all of equity: the book closes
    first and sizes the new side from what is left, so it never holds a long position on negative
    cash (sized from the equity before the closing leg's costs, it did, at every reversal into a
    long)."""
    costs = CostModel(commission_bps=20, half_spread_bps=2)
    close = np.array([50.0, 50.0, 52.0, 49.0, 47.0, 51.0, 55.0, 53.0, 50.0, 54.0, 56.0, 52.0])
    sig = np.array([1, 1, -1, -1, 1, 1, -1, 1, -1, 1, 1, 1], dtype=float)[:, None]
    for whole in (True, False):
        out = run_kernel(sig, close, costs=costs, sizing=Sizing(whole_shares=whole), initial_capital=10_000.0)
        cash = out.equity[:, 0] - out.shares[:, 0] * close
        longs = out.shares[:, 0] > 0
        assert longs.sum() >= 4 and (out.shares[:, 0] < 0).sum() >= 3
        assert cash[longs].min() >= -1e-9, cash[longs]
    # by hand: short s0 shares after bar 4; bar 4's signal (+1) is executed at bar 5's close, 51
    # (impact 2 bp, commission 20 bp): buy back s0, then as many whole shares as the rest pays for
    out = run_kernel(sig, close, costs=costs, sizing=Sizing(whole_shares=True), initial_capital=10_000.0)
    s0, c0 = out.shares[4, 0], out.equity[4, 0] - out.shares[4, 0] * close[4]
    assert s0 < 0
    buy = 51.0 * 1.0002
    left = c0 + s0 * buy - abs(s0) * buy * 0.002
    assert out.shares[5, 0] == np.floor(left / (buy * 1.002))


def test_whole_shares_floor_to_lot_with_the_cash_that_buys():
    sizing = Sizing(whole_shares=True, lot_size=10)
    costs = CostModel(commission_bps=10, half_spread_bps=10)
    out = run_kernel(np.array([[1.0], [1.0]]), np.array([33.0, 33.0]), costs=costs, sizing=sizing,
                     initial_capital=1000.0)
    # per share 33 x (1 + 0.001 + 0.001) = 33.066 -> 30.24 shares -> 30 in lots of 10
    assert out.shares[1, 0] == 30
    assert out.equity[1, 0] > 0


def test_vol_target_scale_by_hand():
    close = np.array([100.0, 101.0, 99.0, 102.0, 100.0])
    sizing = Sizing(mode=SizingMode.VOL_TARGET, vol_target=0.10, vol_lookback=3, max_leverage=5.0)
    scale = sizing_scale(close[:, None], sizing)[:, 0]
    rets = close[1:] / close[:-1] - 1
    assert scale[:3].tolist() == [0, 0, 0]
    assert scale[3] == pytest.approx(min(5.0, 0.10 / (np.std(rets[0:3], ddof=1) * np.sqrt(252))))
    assert scale[4] == pytest.approx(min(5.0, 0.10 / (np.std(rets[1:4], ddof=1) * np.sqrt(252))))


def test_vol_target_sizes_a_constant_signal_once_warm():
    close = 100 * np.cumprod(1 + 0.01 * np.tile([1, -1], 20))
    sizing = Sizing(mode=SizingMode.VOL_TARGET, vol_target=0.5, vol_lookback=5, max_leverage=2.0)
    out = run_kernel(np.ones((40, 1)), close, sizing=sizing)
    assert out.shares[5, 0] == 0  # scale 0 during warm-up
    assert out.shares[6, 0] > 0  # set at bar 5 (first positive scale), filled at bar 6


def test_ruined_column_is_liquidated_and_stays_flat():
    close = np.array([10.0, 10.0, 30.0, 40.0, 41.0])
    out = run_kernel(np.array([[-1.0], [-1.0], [1.0], [1.0], [1.0]]), close, sizing=Sizing(fraction=2.0),
                     initial_capital=100.0)
    # short 20 shares at 10 (cash 300); at 30 equity = 300 - 600 < 0: the long target is refused
    assert out.equity[2, 0] < 0
    assert out.shares[3, 0] == 0
    assert out.shares[4, 0] == 0


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("close", np.nan, "close price at bar 2"),
        ("close", -1.0, "close price at bar 2"),
        ("signal", np.nan, "signal at bar 2"),
        ("signal", np.inf, "signal at bar 2"),
    ],
)
def test_bad_input_is_refused_with_its_position(field, value, message):
    close = np.full((5, 1), 10.0)
    signal = np.ones((5, 1))
    {"close": close, "signal": signal}[field][2, 0] = value
    with pytest.raises(BacktestError, match=message):
        run_kernel(signal, close)


def test_shape_mismatch_is_refused():
    with pytest.raises(BacktestError, match="bars"):
        run_kernel(np.ones((4, 2)), np.ones(5))
    with pytest.raises(BacktestError, match="col_asset"):
        run_kernel(np.ones((4, 2)), np.ones((4, 3)), col_asset=np.array([0, 3]))


def _random_case(rng: np.random.Generator, n_bars: int, n_cols: int, with_open: bool):
    steps = rng.normal(0, 0.03, size=(n_bars, 2))
    close = 50 * np.exp(np.cumsum(steps, axis=0))
    open_ = close * np.exp(rng.normal(0, 0.01, size=close.shape)) if with_open else None
    # sticky random signals with fractional levels, so that many bars repeat the previous signal
    levels = np.array([-1.0, -0.5, 0.0, 0.3, 1.0])
    raw = levels[rng.integers(0, len(levels), size=(n_bars, n_cols))]
    keep = rng.random((n_bars, n_cols)) < 0.8
    signal = raw.copy()
    for t in range(1, n_bars):
        signal[t] = np.where(keep[t], signal[t - 1], raw[t])
    col_asset = rng.integers(0, 2, size=n_cols)
    return close, open_, signal, col_asset


@pytest.mark.parametrize("seed", range(12))
def test_kernel_equals_the_reference_loop(seed):
    rng = np.random.default_rng(seed)
    with_open = seed % 2 == 0
    close, open_, signal, col_asset = _random_case(rng, 120, 6, with_open)
    costs = CostModel(commission_bps=rng.uniform(0, 5), commission_per_share=rng.uniform(0, 0.01),
                      half_spread_bps=rng.uniform(0, 5), slippage_bps=rng.uniform(0, 5))
    mode = [SizingMode.FIXED_FRACTION, SizingMode.VOL_TARGET][seed % 3 == 0]
    sizing = Sizing(mode=mode, fraction=1.0 if mode is SizingMode.VOL_TARGET else rng.uniform(0.2, 1.5),
                    vol_target=0.2, vol_lookback=10, max_leverage=1.5,
                    whole_shares=seed % 4 == 1, lot_size=[1.0, 5.0][seed % 2],
                    rebalance=[Rebalance.ON_CHANGE, Rebalance.EVERY_BAR][seed % 5 == 2])
    out = run_kernel(signal, close, open_=open_, col_asset=col_asset, costs=costs, sizing=sizing,
                     initial_capital=10_000.0)
    scale = sizing_scale(close, sizing)
    for k in range(signal.shape[1]):
        a = col_asset[k]
        ref = reference_backtest(
            list(signal[:, k]), list(close[:, a]), None if open_ is None else list(open_[:, a]), list(scale[:, a]),
            initial_capital=10_000.0, commission_bps=costs.commission_bps,
            commission_per_share=costs.commission_per_share, half_spread_bps=costs.half_spread_bps,
            slippage_bps=costs.slippage_bps, whole_shares=sizing.whole_shares, lot_size=sizing.lot_size,
            every_bar=sizing.rebalance is Rebalance.EVERY_BAR,
        )
        np.testing.assert_allclose(out.equity[:, k], ref.equity, rtol=1e-12, atol=1e-8)
        np.testing.assert_allclose(out.shares[:, k], ref.shares, rtol=1e-12, atol=1e-9)
        stats = dict(zip(STAT_FIELDS, out.stats[k], strict=True))
        assert stats["fills"] == len(ref.fills)
        assert stats["round_trips"] == len(ref.trips)
        assert stats["wins"] == sum(p > 0 for p in ref.trips)
        assert stats["gross_profit"] == pytest.approx(sum(p for p in ref.trips if p > 0), abs=1e-8)
        assert stats["gross_loss"] == pytest.approx(-sum(p for p in ref.trips if p <= 0), abs=1e-8)
        paid = sum(f.commission + abs(f.quantity) * abs(f.price - f.ref) for f in ref.fills)
        assert stats["costs"] == pytest.approx(paid, abs=1e-8)


def test_equity_into_adds_each_run_to_the_given_book():
    rng = np.random.default_rng(3)
    close, _, signal, _ = _random_case(rng, 80, 4, False)
    book = np.full((80, 4), 7.0)
    for a in range(2):
        alone = run_kernel(signal, close[:, a], initial_capital=500.0, record_shares=False)
        into = run_kernel(signal, close[:, a], initial_capital=500.0, record_shares=False, equity_into=book)
        assert into.equity is book
        np.testing.assert_array_equal(into.stats, alone.stats)
    expected = 7.0 + sum(run_kernel(signal, close[:, a], initial_capital=500.0).equity for a in range(2))
    np.testing.assert_allclose(book, expected, rtol=1e-15)


def _read_only(a: np.ndarray) -> np.ndarray:
    a.flags.writeable = False
    return a


@pytest.mark.parametrize("book", [np.zeros((80, 3)), np.zeros((80, 4), dtype=np.float32),
                                  np.zeros((4, 80)).T, _read_only(np.zeros((80, 4)))],
                         ids=["shape", "dtype", "fortran", "read-only"])
def test_equity_into_of_the_wrong_kind_is_refused(book):
    with pytest.raises(BacktestError, match="equity_into must be"):
        run_kernel(np.ones((80, 4)), np.full(80, 10.0), equity_into=book)


@pytest.mark.parametrize("seed", range(6))
def test_size_dependent_impact_equals_the_reference_loop(seed):
    """The kernel's size-dependent cost (CostModel.impact) against the per-bar loop written from
    the rule's statement: equity, shares and the costs paid."""
    from raytrade.execution.impact import ImpactModel

    rng = np.random.default_rng(100 + seed)
    close, open_, signal, col_asset = _random_case(rng, 90, 4, seed % 2 == 0)
    # volumes small enough that the impact is tens of bps, with a zero-volume stretch (p = 1)
    volume = rng.uniform(50, 400, size=close.shape)
    volume[30:36, 0] = 0.0
    kind = "square_root" if seed % 3 == 2 else "power_law"
    model = ImpactModel(kind=kind, eta=rng.uniform(0.05, 0.3), beta=rng.uniform(0.4, 1.0),
                        gamma=rng.uniform(0.1, 0.5), y=rng.uniform(0.5, 1.5), lookback=int(rng.integers(3, 12)))
    costs = CostModel(commission_bps=2.0, half_spread_bps=1.0, impact=model)
    sizing = Sizing(fraction=0.8, whole_shares=seed % 2 == 1)
    out = run_kernel(signal, close, open_=open_, col_asset=col_asset, costs=costs, sizing=sizing,
                     initial_capital=10_000.0, volume=volume)
    plain = run_kernel(signal, close, open_=open_, col_asset=col_asset, costs=costs.model_copy(update={"impact": None}),
                       sizing=sizing, initial_capital=10_000.0)
    scale = sizing_scale(close, sizing)
    for k in range(signal.shape[1]):
        a = col_asset[k]
        ref = reference_backtest(
            list(signal[:, k]), list(close[:, a]), None if open_ is None else list(open_[:, a]), list(scale[:, a]),
            initial_capital=10_000.0, commission_bps=2.0, half_spread_bps=1.0, whole_shares=sizing.whole_shares,
            volume=list(volume[:, a]), impact=model.model_dump())
        np.testing.assert_allclose(out.equity[:, k], ref.equity, rtol=1e-12, atol=1e-8)
        np.testing.assert_allclose(out.shares[:, k], ref.shares, rtol=1e-12, atol=1e-9)
        paid = sum(f.commission + abs(f.quantity) * abs(f.price - f.ref) for f in ref.fills)
        assert out.stat("costs")[k] == pytest.approx(paid, abs=1e-8)
        size_part = sum(abs(f.quantity) * abs(f.price - f.ref) - abs(f.quantity) * f.ref * 1e-4 for f in ref.fills)
        assert out.stat("impact_costs")[k] == pytest.approx(size_part, rel=1e-9, abs=1e-8)
    assert (out.stat("impact_costs") > 0).all()
    assert (out.stat("costs") > plain.stat("costs")).all()


def test_size_dependent_impact_by_hand():
    """A buy of all equity set at bar 2 and filled at bar 3's close: adv and sigma are those known
    at bar 2 (lookback 3): the mean volume of bars 0-2 and the sample deviation of the returns
    into bars 1 and 2."""
    from raytrade.execution.impact import ImpactModel

    close = np.array([100.0, 102.0, 99.0, 100.0, 100.0])
    volume = np.array([800.0, 1200.0, 1000.0, 1000.0, 1000.0])
    signal = np.array([[0.0], [0.0], [1.0], [1.0], [1.0]])
    model = ImpactModel(eta=0.1, beta=0.5, gamma=0.2, lookback=3)
    out = run_kernel(signal, close, costs=CostModel(impact=model), initial_capital=10_000.0, volume=volume)
    q = 10_000.0 / 100.0  # sized without the impact, at bar 3's close 100
    adv = (800 + 1200 + 1000) / 3
    r = [102 / 100 - 1, 99 / 102 - 1]
    mean = sum(r) / 2
    sigma = (sum((x - mean) ** 2 for x in r) / 1) ** 0.5
    p = q / adv
    extra = 0.1 * sigma * p**0.5 + 0.2 * sigma * p / 2
    assert out.shares[3, 0] == pytest.approx(q)
    assert out.equity[3, 0] == pytest.approx(10_000.0 - q * 100.0 * (1 + extra) + q * 100.0)
    assert out.stat("impact_costs")[0] == pytest.approx(q * 100.0 * extra)


def test_size_dependent_impact_needs_volumes():
    from raytrade.execution.impact import ImpactModel

    with pytest.raises(BacktestError, match=r"costs\.impact needs volumes"):
        run_kernel(np.ones((5, 1)), np.full(5, 10.0), costs=CostModel(impact=ImpactModel()))
    with pytest.raises(BacktestError, match="volume at bar 2, asset 0 is nan"):
        run_kernel(np.ones((5, 1)), np.full(5, 10.0), costs=CostModel(impact=ImpactModel()),
                   volume=np.array([1.0, 1.0, np.nan, 1.0, 1.0]))


@pytest.mark.parametrize(("price", "capital", "fraction", "side"), [
    (37.13, 100_000.0, 0.95, 1.0), (3.3, 123_456.789, 0.95, -1.0), (17.77, 123_456.789, 0.7, 1.0)])
def test_a_rebalance_at_an_unchanged_price_without_costs_is_no_trade(price, capital, fraction, side):
    """Every-bar rebalancing of a constant weight, no costs, one price move at bar 30 and none
    else: two fills (the entry, the rebalance after the move), not a fill of float residue at the
    unchanged bars after it (these cases made them before rule 4 said otherwise); the reference
    loop, written from rule 4, agrees."""
    n = 60
    close = np.full((n, 1), price)
    close[30:] *= 1.01
    signal = np.full((n, 1), side)
    sizing = Sizing(mode=SizingMode.FIXED_FRACTION, fraction=fraction, rebalance=Rebalance.EVERY_BAR)
    out = run_kernel(signal, close, sizing=sizing, initial_capital=capital)
    assert out.stat("fills")[0] == 2
    ref = reference_backtest(signal[:, 0].tolist(), close[:, 0].tolist(), None, [fraction] * n,
                             initial_capital=capital, every_bar=True)
    assert [f.bar for f in ref.fills] == [1, 30]
