"""Attribution by hand: Brinson-Fachler, groups, regimes, factor regression, TWR and IRR."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pandas as pd
import pytest

from raytrade.analytics.attribution import (
    brinson_fachler,
    describe,
    factor_attribution,
    group_pnl,
    money_weighted_return,
    regime_pnl,
    return_decomposition,
    sector_attribution,
    time_weighted_return,
)
from raytrade.core.errors import DataError


def test_brinson_fachler_two_sectors_by_hand() -> None:
    # portfolio 60% tech returning 10%, 40% energy returning 2%; benchmark 50/50 at 8% and 4%
    eff = brinson_fachler(np.array([0.6, 0.4]), np.array([0.10, 0.02]), np.array([0.5, 0.5]), np.array([0.08, 0.04]))
    S = 0.5 * 0.08 + 0.5 * 0.04  # 6%
    assert eff["allocation"].tolist() == pytest.approx([0.1 * (0.08 - S), -0.1 * (0.04 - S)])
    assert eff["selection"].tolist() == pytest.approx([0.5 * 0.02, 0.5 * -0.02])
    assert eff["interaction"].tolist() == pytest.approx([0.1 * 0.02, -0.1 * -0.02])
    active = (0.6 * 0.10 + 0.4 * 0.02) - S
    assert eff["total"].sum() == pytest.approx(active, abs=1e-15)


def test_sector_attribution_sums_to_the_active_return_over_periods() -> None:
    rng = np.random.default_rng(0)
    idx = pd.date_range("2024-01-01", periods=30, tz="UTC")
    assets = ["A", "B", "C", "D", "E"]
    rets = pd.DataFrame(rng.normal(0.0005, 0.01, (30, 5)), index=idx, columns=assets)
    raw = rng.uniform(0, 1, (30, 5))
    raw[:, 4] = 0.0  # never holds E: its sector is allocation only
    w = pd.DataFrame(raw / raw.sum(axis=1, keepdims=True), index=idx, columns=assets)
    sectors = {"A": "Tech", "B": "Tech", "C": "Energy", "D": "Energy", "E": "Health"}
    out = sector_attribution(w, rets, sectors)
    p = (w * rets).sum(axis=1)
    b = rets.mean(axis=1)
    assert out.loc["TOTAL", "total"] == pytest.approx(float((p - b).sum()), abs=1e-14)
    assert out.loc["Health", ["selection", "interaction"]].tolist() == pytest.approx([0, 0], abs=1e-15)
    assert out.loc["TOTAL", "residual"] == pytest.approx(float(np.prod(1 + p) - np.prod(1 + b) - (p - b).sum()))
    with pytest.raises(DataError, match="no sector for E"):
        sector_attribution(w, rets, {k: v for k, v in sectors.items() if k != "E"})


def test_group_and_regime_pnl_and_the_product_wording() -> None:
    idx = pd.date_range("2024-01-01", periods=4, tz="UTC")
    pnl = pd.DataFrame({"AAPL": [100.0, -50, 200, 50], "MSFT": [10.0, 20, 30, 40], "XOM": [-5.0, -5, -5, -5]},
                       index=idx)
    g = group_pnl(pnl, {"AAPL": "Technology", "MSFT": "Technology", "XOM": "Energy"})
    assert g.loc["Technology", "pnl"] == 400 and g.loc["Energy", "pnl"] == -20
    assert g.loc["Technology", "share"] == pytest.approx(400 / 380)
    tech = np.array([110.0, -30, 230, 90])
    assert g.loc["Technology", "sharpe"] == pytest.approx(tech.mean() / tech.std(ddof=1) * np.sqrt(252))
    assert describe(g)[0] == f"Technology: +$400 (105% of returns, {tech.mean() / tech.std(ddof=1) * np.sqrt(252):.1f} Sharpe)"
    assert describe(g)[1].startswith("Energy: -$20 (-5% of returns, ")
    r = regime_pnl(pnl.sum(axis=1), pd.Series(["bull", "bull", None, "bear"], index=idx))
    assert r.loc["bull", "pnl"] == 105 - 35 and r.loc["unknown", "periods"] == 1 and r.loc["bear", "pnl"] == 85


def test_factor_attribution_equals_numpy_least_squares() -> None:
    rng = np.random.default_rng(1)
    idx = pd.date_range("2010-01-31", periods=120, freq="ME", tz="UTC")
    f = pd.DataFrame(rng.normal(0.005, 0.04, (120, 3)), index=idx, columns=["mkt_rf", "smb", "hml"])
    y = 0.002 + 1.1 * f["mkt_rf"] - 0.3 * f["smb"] + 0.2 * f["hml"] + rng.normal(0, 0.01, 120)
    fa = factor_attribution(y, f, periods_per_year=12)
    X = np.column_stack([np.ones(120), f.to_numpy()])
    coef, res, *_ = np.linalg.lstsq(X, y.to_numpy(), rcond=None)
    assert fa.alpha == pytest.approx(coef[0], abs=1e-14) and list(fa.betas.values()) == pytest.approx(coef[1:])
    s2 = res[0] / (120 - 4)
    se = np.sqrt(np.diag(s2 * np.linalg.inv(X.T @ X)))
    assert fa.alpha_t == pytest.approx(coef[0] / se[0])
    assert fa.contribution["mkt_rf"] == pytest.approx(coef[1] * f["mkt_rf"].mean() * 12)
    assert fa.r_squared == pytest.approx(1 - res[0] / ((y - y.mean()) ** 2).sum())
    assert list(fa.table().index) == ["alpha", "mkt_rf", "smb", "hml"]


def test_time_and_money_weighted_returns_by_hand() -> None:
    idx = pd.date_range("2024-01-01", periods=3, freq="D", tz="UTC")
    # 100 -> 110 (+10%), then +50 contributed, value 180 after it -> (180 - 50) / 110 = 1.1818
    twr = time_weighted_return(pd.Series([100.0, 110.0, 180.0], index=idx), pd.Series([0.0, 0.0, 50.0], index=idx))
    assert twr == pytest.approx(1.1 * 130 / 110 - 1)
    t0, t1 = datetime(2023, 1, 1, tzinfo=UTC), datetime(2024, 1, 1, tzinfo=UTC)
    # 100 in, 110 out a year (365 days) later: 10%
    assert money_weighted_return([(t0, 100.0)], 110.0, t1) == pytest.approx(0.10, abs=1e-12)
    half = datetime(2023, 7, 2, 12, tzinfo=UTC)  # 182.5 days
    x = money_weighted_return([(t0, 100.0), (half, 100.0)], 215.0, t1)
    assert -100 * (1 + x) ** 0 - 100 * (1 + x) ** -0.5 + 215 * (1 + x) ** -1 == pytest.approx(0, abs=1e-9)
    d = return_decomposition(100.0, 180.0, pd.Series([50.0, -20.0]))
    assert (d["contributions"], d["withdrawals"], d["gains"]) == (50.0, 20.0, 50.0)
