"""Training data, purged cross-validation, the models: leaks caught, determinism, refusals."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from raytrade.core import DataError
from raytrade.data import load_index_close, load_prices
from raytrade.signals import (
    EnsembleModel,
    NeuralNetPredictor,
    XGBoostPredictor,
    auc,
    build_dataset,
    leaks,
    purged_splits,
    signal_quality,
)
from raytrade.signals.evaluation import daily_corr


@pytest.fixture(scope="module")
def data():
    close = load_prices(["AAPL", "KO", "JPM", "XOM"], start="2004-01-01", end="2012-12-31")
    return close, build_dataset(close, horizon=10, index_close=load_index_close())


def test_labels_by_hand(data) -> None:
    close, ds = data
    t, sym = ds.X.index[500]
    i = close.index.get_loc(t)
    expected = np.log(close[sym].iloc[i + 10] / close[sym].iloc[i])
    assert ds.forward_return.iloc[500] == pytest.approx(expected)
    assert ds.y.iloc[500] == int(expected > 0)
    assert ds.label_end.iloc[500] == close.index[i + 10]
    assert not ds.X.isna().any().any() and ds.dropped > 0
    assert {"momentum.score", "mean_reversion.zscore", "volatility.vol_percentile", "regime.crisis"} <= set(ds.X)


def test_purged_splits_never_leak_and_a_leak_is_caught(data) -> None:
    _, ds = data
    splits = list(purged_splits(ds.times, ds.label_end, n_splits=3, embargo=10))
    assert len(splits) == 3
    for train, test in splits:
        assert len(train) and len(test)
        assert leaks(train, test, ds.times, ds.label_end) == 0
        assert ds.times[train].max() < ds.times[test].min()
    # the same fold without purging: the last training rows' labels reach into the test block
    train, test = splits[1]
    naive = np.flatnonzero(ds.times < ds.times[test].min())
    assert leaks(naive, test, ds.times, ds.label_end) > 0
    # k-fold (not walk-forward): rows just after the test block are embargoed, rows before purged
    train, test = list(purged_splits(ds.times, ds.label_end, n_splits=3, embargo=10, walk_forward=False))[1]
    t_after = ds.times[train][ds.times[train] > ds.times[test].max()]
    gap = pd.DatetimeIndex(sorted(set(ds.times[(ds.times > ds.times[test].max()) & (ds.times < t_after.min())])))
    assert len(gap) == 10 and leaks(train, test, ds.times, ds.label_end) == 0


def test_models_are_deterministic_and_refuse_bad_features(data) -> None:
    _, ds = data
    X, y = ds.X.iloc[:3000], ds.y.iloc[:3000]
    a = EnsembleModel().fit(X, y).predict(ds.X.iloc[3000:3500])
    b = EnsembleModel().fit(X, y).predict(ds.X.iloc[3000:3500])
    pd.testing.assert_frame_equal(a, b)
    assert a["signal"].between(-1, 1).all() and (a["confidence"] == a["signal"].abs()).all()
    assert np.allclose(a["signal"], 0.6 * a["xgboost"] + 0.4 * a["neural_net"])
    fitted = EnsembleModel().fit(X, y)
    parts = fitted.parts_of_values(ds.X.iloc[3000:3500].to_numpy())   # the serving path: same numbers
    assert np.array_equal(parts["xgboost"], a["xgboost"].to_numpy())
    assert np.array_equal(fitted.blend(parts), a["signal"].to_numpy())
    model = XGBoostPredictor(n_estimators=20).fit(X, y)
    bad = ds.X.iloc[3000:3010].copy()
    bad.iloc[4, 2] = np.nan
    with pytest.raises(DataError, match=rf"column '{bad.columns[2]}', row 4"):
        model.predict_proba(bad)
    with pytest.raises(DataError, match=r"missing feature 'momentum\.score'"):
        model.predict_proba(ds.X.iloc[:5].drop(columns=["momentum.score"]))
    with pytest.raises(DataError, match="sum to 1"):
        EnsembleModel(weights={"xgboost": 0.7, "neural_net": 0.7})


def test_models_learn_a_separable_problem() -> None:
    # Synthetic (seeded, labelled): y = 1 when x0 + x1 > 0, plus noise columns.
    rng = np.random.default_rng(11)
    X = pd.DataFrame(rng.normal(size=(4000, 5)), columns=[f"syn{i}" for i in range(5)])
    y = pd.Series((X["syn0"] + X["syn1"] > 0).astype(int))
    for model in (XGBoostPredictor(), NeuralNetPredictor(epochs=30)):
        model.fit(X.iloc[:3000], y.iloc[:3000])
        assert auc(model.predict_proba(X.iloc[3000:]), y.iloc[3000:].to_numpy() == 1) > 0.95


def _daily_corr_loop(signal: pd.Series, fwd: pd.Series, rank: bool) -> float:
    """The definition, one date at a time (what daily_corr computes on a matrix)."""
    from scipy.stats import rankdata

    vals = []
    for _, day in pd.DataFrame({"s": signal, "r": fwd}).dropna().groupby(level=0):
        s, r = day["s"].to_numpy(), day["r"].to_numpy()
        if len(day) < 3 or s.min() == s.max() or r.min() == r.max():
            continue
        if rank:
            s, r = rankdata(s), rankdata(r)
        vals.append(np.corrcoef(s, r)[0, 1])
    return float(np.mean(vals)) if vals else float("nan")


@pytest.mark.parametrize("rank", [False, True])
def test_daily_corr_equals_the_per_date_definition(rank: bool) -> None:
    rng = np.random.default_rng(5)
    idx = pd.MultiIndex.from_product([pd.date_range("2020-01-01", periods=60, tz="UTC"), list("ABCDEFG")])
    signal = pd.Series(rng.integers(-3, 4, len(idx)) / 3.0, index=idx)      # ties on purpose
    fwd = pd.Series(rng.normal(0, 0.02, len(idx)), index=idx)
    signal.iloc[rng.choice(len(idx), 40, replace=False)] = np.nan         # missing pairs
    signal.loc[idx[idx.get_level_values(0) == idx[7][0]]] = 0.5           # a date without dispersion
    keep = ~((idx.get_level_values(0) == idx[14][0]) & idx.get_level_values(1).isin(list("ABCDE")))
    signal, fwd = signal[keep], fwd[keep]                                  # a date with 2 symbols
    assert daily_corr(signal, fwd, rank=rank) == pytest.approx(_daily_corr_loop(signal, fwd, rank), rel=1e-12)
    empty = daily_corr(signal.iloc[:2], fwd.iloc[:2], rank=rank)
    assert np.isnan(empty)
    with pytest.raises(DataError, match="appears twice"):
        daily_corr(pd.concat([signal.iloc[:3], signal.iloc[:1]]), pd.concat([fwd.iloc[:3], fwd.iloc[:1]]))


def test_signal_quality_by_hand() -> None:
    idx = pd.MultiIndex.from_product([pd.date_range("2020-01-01", periods=2, tz="UTC"), ["A", "B", "C"]])
    signal = pd.Series([1.0, 0.5, -1.0, -1.0, 0.2, 1.0], index=idx)
    fwd = pd.Series([0.02, 0.01, -0.03, -0.01, 0.01, 0.02], index=idx)
    q = signal_quality(signal, fwd)
    assert q["hit_rate"] == 1.0 and q["auc"] == 1.0 and q["rank_ic"] == pytest.approx(1.0)
    day1 = np.corrcoef([1.0, 0.5, -1.0], [0.02, 0.01, -0.03])[0, 1]
    day2 = np.corrcoef([-1.0, 0.2, 1.0], [-0.01, 0.01, 0.02])[0, 1]
    assert q["ic"] == pytest.approx((day1 + day2) / 2)
