"""Drawdown events: every fall of an equity curve from a running peak beyond a threshold.

Conventions: ``equity`` a series of account values (> 0) indexed by time; drawdown at t =
equity_t / max(equity up to t) - 1 (<= 0). An event starts at a peak (the last time the running
maximum was set before the fall), reaches its trough (the lowest drawdown before recovery) and
recovers at the first time equity is back at or above the peak; an event still below its peak at
the end is ``open`` (recovery NaT). Only events whose depth is at least ``threshold`` (a fraction:
0.05 = a 5% fall) are listed. Days are calendar days between the timestamps.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from raytrade.core.errors import DataError

COLUMNS = ["peak", "trough", "recovery", "depth", "days_to_trough", "days_to_recover", "days_total", "open"]


def drawdown_events(equity: pd.Series, threshold: float = 0.05) -> pd.DataFrame:
    """One row per drawdown of at least ``threshold`` (see the module), deepest first:
    peak, trough, recovery (NaT while open), depth (a negative fraction), days_to_trough,
    days_to_recover (trough to recovery; NaN while open), days_total (peak to recovery), open."""
    if not 0.0 <= threshold < 1.0:
        raise DataError(f"threshold must be in [0, 1), got {threshold!r}", source="drawdowns")
    v = equity.dropna().to_numpy(np.float64)
    if len(v) == 0 or (v <= 0).any():
        raise DataError("equity must be a non-empty series of values > 0", source="drawdowns")
    idx = equity.dropna().index
    rows = []
    peak_i, trough_i, in_dd = 0, 0, False
    for i in range(1, len(v)):
        if v[i] >= v[peak_i]:
            if in_dd:
                rows.append((peak_i, trough_i, i))
                in_dd = False
            peak_i = i
        else:
            if not in_dd:
                in_dd, trough_i = True, i
            elif v[i] < v[trough_i]:
                trough_i = i
    if in_dd:
        rows.append((peak_i, trough_i, None))
    out = []
    for p, t, r in rows:
        depth = v[t] / v[p] - 1.0
        if -depth < threshold or depth == 0.0:
            continue
        rec = idx[r] if r is not None else pd.NaT
        out.append({"peak": idx[p], "trough": idx[t], "recovery": rec, "depth": depth,
                    "days_to_trough": (idx[t] - idx[p]).days,
                    "days_to_recover": (rec - idx[t]).days if r is not None else np.nan,
                    "days_total": (rec - idx[p]).days if r is not None else np.nan, "open": r is None})
    return pd.DataFrame(out, columns=COLUMNS).sort_values("depth").reset_index(drop=True)
