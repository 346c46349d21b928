"""Stacked ensemble weights and calibration: hand-computed values, honest walk-forward weights."""

from __future__ import annotations

import numpy as np
import pytest

from raytrade.core import DataError
from raytrade.signals.evaluation import calibration, reliability
from raytrade.signals.stacking import _simplex, log_likelihood, stack_weights, walk_forward_weights


def test_log_likelihood_by_hand() -> None:
    p, y = np.array([0.8, 0.4, 0.5]), np.array([1, 0, 1])
    assert log_likelihood(p, y) == pytest.approx((np.log(0.8) + np.log(0.6) + np.log(0.5)) / 3)
    assert np.isfinite(log_likelihood(np.array([0.0, 1.0]), np.array([1, 0])))  # clipped, not -inf


def test_simplex_grid() -> None:
    g2, g3 = _simplex(2, 4), _simplex(3, 10)
    assert g2.tolist() == [[0, 1], [0.25, 0.75], [0.5, 0.5], [0.75, 0.25], [1, 0]]
    assert len(g3) == 66 and np.allclose(g3.sum(axis=1), 1) and (g3 >= 0).all()


def test_stacking_finds_the_informative_model_and_the_optimum_by_hand() -> None:
    rng = np.random.default_rng(3)
    y = rng.integers(0, 2, 4000)
    good = np.where(y == 1, 0.5, -0.5) + rng.normal(0, 0.1, len(y))
    noise = rng.normal(0, 0.5, len(y))
    w = stack_weights({"good": np.clip(good, -1, 1), "noise": np.clip(noise, -1, 1)}, y)
    assert w["good"] >= 0.9 and w["good"] + w["noise"] == pytest.approx(1)
    # two rows: model a says p = 0.9 and 0.5, model b says 0.5 and 0.1, labels 1 and 0. The blend
    # w a + (1 - w) b gives p1 = 0.5 + 0.4 w and p2 = 0.5 - 0.4 (1 - w): symmetric, optimum w = 0.5.
    a, b = np.array([0.8, 0.0]), np.array([0.0, -0.8])
    assert stack_weights({"a": a, "b": b}, np.array([1, 0]), step=0.1) == {"a": 0.5, "b": 0.5}


def test_stacking_refuses_bad_input() -> None:
    with pytest.raises(DataError, match="finite"):
        stack_weights({"a": np.array([np.nan, 0.2])}, np.array([1, 0]))
    with pytest.raises(DataError, match="2 predictions for 3 labels"):
        stack_weights({"a": np.array([0.1, 0.2])}, np.array([1, 0, 1]))
    with pytest.raises(DataError, match="step"):
        stack_weights({"a": np.array([0.1])}, np.array([1]), step=0.3)


def test_walk_forward_weights_only_see_earlier_folds() -> None:
    rng = np.random.default_rng(0)
    y0 = rng.integers(0, 2, 500)
    fold0 = ({"a": np.where(y0 == 1, 0.6, -0.6), "b": rng.normal(0, 0.3, 500)}, y0)
    y1 = rng.integers(0, 2, 500)
    fold1 = ({"a": rng.normal(0, 0.3, 500), "b": np.where(y1 == 1, 0.6, -0.6)}, y1)
    y2 = rng.integers(0, 2, 500)
    fold2 = ({"a": rng.normal(0, 0.3, 500), "b": rng.normal(0, 0.3, 500)}, y2)
    w = walk_forward_weights([fold0, fold1, fold2], {"a": 0.6, "b": 0.4})
    assert w[0] == {"a": 0.6, "b": 0.4}
    assert w[1] == stack_weights(*fold0) and w[1]["a"] > 0.9   # fold 0 alone: a was the informative one
    both = stack_weights({k: np.concatenate([fold0[0][k], fold1[0][k]]) for k in "ab"}, np.concatenate([y0, y1]))
    assert w[2] == both                                           # fold 2's own labels never used


def test_calibration_by_hand() -> None:
    p = np.array([0.05, 0.15, 0.15, 0.95, 1.0])
    y = np.array([0, 0, 1, 1, 1])
    table = reliability(p, y)
    assert list(table.index) == ["0.0-0.1", "0.1-0.2", "0.9-1.0"]
    assert table["rows"].tolist() == [1, 2, 2]
    assert table["observed"].tolist() == [0.0, 0.5, 1.0]
    cal = calibration(p, y)
    assert cal["brier"] == pytest.approx((0.05**2 + 0.15**2 + 0.85**2 + 0.05**2 + 0) / 5)
    assert cal["ece"] == pytest.approx(1 / 5 * 0.05 + 2 / 5 * abs(0.15 - 0.5) + 2 / 5 * abs(0.975 - 1.0))
