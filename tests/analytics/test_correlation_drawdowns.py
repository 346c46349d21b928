"""Correlation analysis and drawdown events, by hand and on the bundled stocks."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from raytrade.analytics.correlation import (
    analyse_correlation,
    diversification_score,
    heatmap_figure,
    ledoit_wolf_correlation,
)
from raytrade.analytics.drawdowns import drawdown_events
from raytrade.core.errors import DataError


def test_ledoit_wolf_matches_the_papers_formula_written_out() -> None:
    rng = np.random.default_rng(2)
    r = pd.DataFrame(rng.normal(size=(60, 5)) @ rng.normal(size=(5, 5)), columns=list("ABCDE"))
    shrunk, k = ledoit_wolf_correlation(r)
    x = r.to_numpy() - r.to_numpy().mean(axis=0)
    x = x / x.std(axis=0)
    n, p = x.shape
    s = x.T @ x / n
    m = np.trace(s) / p
    d2 = np.linalg.norm(s - m * np.eye(p), "fro") ** 2 / p
    b2 = min(sum(np.linalg.norm(np.outer(xk, xk) - s, "fro") ** 2 for xk in x) / n**2 / p, d2)
    assert k == pytest.approx(b2 / d2)
    target = b2 / d2 * m * np.eye(p) + (1 - b2 / d2) * s
    dg = np.sqrt(np.diag(target))
    np.testing.assert_allclose(shrunk.to_numpy(), target / np.outer(dg, dg), atol=1e-12)
    assert 0 < k < 1 and np.allclose(np.diag(shrunk), 1.0)


def test_diversification_score_limits() -> None:
    assert diversification_score(np.eye(6)) == pytest.approx(1.0)
    assert diversification_score(np.ones((6, 6))) == pytest.approx(0.0, abs=1e-12)
    half = np.full((4, 4), 0.5) + 0.5 * np.eye(4)
    lam = np.array([2.5, 0.5, 0.5, 0.5]) / 4
    assert diversification_score(half) == pytest.approx((np.exp(-(lam * np.log(lam)).sum()) - 1) / 3)


def test_clusters_on_the_bundled_stocks_follow_their_sectors() -> None:
    from raytrade.data import load_prices, load_sectors

    prices = load_prices(start="2015-01-01", end="2022-12-31")
    sectors = load_sectors()["gics_sector"].to_dict()
    a = analyse_correlation(prices.pct_change().iloc[1:], n_clusters=6, sectors=sectors,
                            weights={s: 1 / 20 for s in prices.columns})
    by = a.clusters.set_index("asset")["cluster"]
    assert by["CVX"] == by["XOM"]  # the two oil majors cluster together (RRC, a gas driller, apart)
    assert "Energy" in a.cluster_table()["name"].str.cat(sep="|")
    assert sorted(a.order) == sorted(prices.columns)
    assert 0 < a.score < 1 and a.ratio is not None and a.ratio > 1
    assert heatmap_figure(a) is not None
    with pytest.raises(DataError, match="at least 2 assets"):
        analyse_correlation(prices.iloc[:, :1].pct_change())


def test_drawdown_events_on_a_scripted_curve() -> None:
    idx = pd.date_range("2024-01-01", periods=12, freq="D", tz="UTC")
    eq = pd.Series([100, 110, 99, 88, 95, 111, 111, 105, 108, 100, 90, 95.0], index=idx)
    ev = drawdown_events(eq, threshold=0.05)
    assert len(ev) == 2
    deep, last = ev.iloc[0], ev.iloc[1]
    # 110 (Jan 2) -> 88 (Jan 4) -> back above 110 at 111 (Jan 6)
    assert (deep["peak"], deep["trough"], deep["recovery"]) == (idx[1], idx[3], idx[5])
    assert deep["depth"] == pytest.approx(88 / 110 - 1) and not deep["open"]
    assert (deep["days_to_trough"], deep["days_to_recover"], deep["days_total"]) == (2, 2, 4)
    # 111 (Jan 7, the last time the peak was set) -> 90 (Jan 11), still open
    assert (last["peak"], last["trough"], last["open"]) == (idx[6], idx[10], True)
    assert pd.isna(last["recovery"]) and last["depth"] == pytest.approx(90 / 111 - 1)
    assert len(drawdown_events(eq, threshold=0.3)) == 0
    with pytest.raises(DataError, match="values > 0"):
        drawdown_events(pd.Series([1.0, 0.0]))
