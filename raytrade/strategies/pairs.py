"""Pairs: the Engle-Granger cointegration test of two log-price series.

:func:`engle_granger` regresses A on B (log prices): a_t = intercept + beta b_t + e_t, by ordinary
least squares, and tests the residuals for a unit root with the augmented Dickey-Fuller
regression, using statsmodels' ``coint`` with its defaults: a constant in the cointegrating
regression (``trend="c"``), the augmented Engle-Granger method (``"aeg"``), the lag chosen by AIC,
and MacKinnon's (1994, 2010) p-values. A small p-value says the spread a - beta b is stationary.
(The pairs strategy itself, its hedge ratio by rolling OLS or a Kalman filter and the pair
selection are not built yet.)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from raytrade.core.errors import DataError


@dataclass(frozen=True, slots=True)
class EngleGranger:
    pvalue: float
    tstat: float
    beta: float        # the hedge ratio: units of B per unit of A in log terms
    intercept: float


def engle_granger(log_a: np.ndarray, log_b: np.ndarray) -> EngleGranger:
    """The test of the module on two aligned, finite series of at least 30 observations."""
    from statsmodels.tsa.stattools import coint

    a = np.asarray(log_a, dtype=np.float64)
    b = np.asarray(log_b, dtype=np.float64)
    if a.shape != b.shape or a.ndim != 1:
        raise DataError(f"the two series must be 1-D and aligned, got shapes {a.shape} and {b.shape}", source="pairs")
    if len(a) < 30:
        raise DataError(f"need at least 30 observations, got {len(a)}", source="pairs")
    bad = ~(np.isfinite(a) & np.isfinite(b))
    if bad.any():
        raise DataError(f"non-finite value at observation {int(np.argmax(bad))}", source="pairs")
    tstat, pvalue, _ = coint(a, b, trend="c", method="aeg", autolag="aic")
    X = np.column_stack([np.ones_like(b), b])
    (intercept, beta), *_ = np.linalg.lstsq(X, a, rcond=None)
    return EngleGranger(float(pvalue), float(tstat), float(beta), float(intercept))
