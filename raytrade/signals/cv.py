"""Purged cross-validation with an embargo (Lopez de Prado, AFML ch. 7).

Rows are observations at ``times`` whose labels are known at ``label_end`` (a label spans
[time, label_end]). The test folds are contiguous blocks of distinct times. A training row is
*purged* when its label interval overlaps the test block's [first test time, last test label_end],
and *embargoed* when its time falls within ``embargo`` bars after the test block (serial
correlation would leak the test period into it). With ``walk_forward`` only rows before the test
block train (the default: a model never sees the future it is scored on).
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pandas as pd


def purged_splits(times: pd.Index, label_end: pd.Series | np.ndarray, n_splits: int = 5, *, embargo: int = 5,
                  walk_forward: bool = True, min_train_fraction: float = 0.3) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """(train positions, test positions) per fold. With ``walk_forward`` the first
    ``min_train_fraction`` of the distinct times only trains, and the rest is cut into
    ``n_splits`` test blocks."""
    t = pd.DatetimeIndex(times)
    ends = pd.DatetimeIndex(np.asarray(label_end))
    uniq = t.unique().sort_values()
    start = int(len(uniq) * min_train_fraction) if walk_forward else 0
    blocks = np.array_split(np.arange(start, len(uniq)), n_splits)
    for block in blocks:
        if len(block) == 0:
            continue
        lo, hi = uniq[block[0]], uniq[block[-1]]
        test = np.flatnonzero((t >= lo) & (t <= hi))
        test_end = ends[test].max()
        overlaps = (t <= test_end) & (ends >= lo)
        after = block[-1] + 1 + embargo
        embargoed = (t > hi) & (t < (uniq[after] if after < len(uniq) else uniq[-1] + pd.Timedelta(days=1)))
        train_mask = ~overlaps & ~embargoed
        if walk_forward:
            train_mask &= t < lo
        yield np.flatnonzero(train_mask), test


def leaks(train: np.ndarray, test: np.ndarray, times: pd.Index, label_end: pd.Series | np.ndarray) -> int:
    """How many training rows have a label interval that overlaps the test rows' span (0: no leak)."""
    t = pd.DatetimeIndex(times)
    ends = pd.DatetimeIndex(np.asarray(label_end))
    lo, hi = t[test].min(), ends[test].max()
    return int(((t[train] <= hi) & (ends[train] >= lo)).sum())
