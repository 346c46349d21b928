"""Validation of market data tables.

Every loader, bundled or user-supplied, ends here. The rules: the index is a UTC
``DatetimeIndex`` named ``timestamp``, strictly increasing (so sorted and unique); columns are
named as expected and float64; no value is missing or non-finite; prices are > 0, volume >= 0;
OHLC bars satisfy low <= open, close <= high (a price table read from a file may leave a symbol
missing over its first rows: listed later than the others). Nothing is filled, dropped or
re-sorted: the first violation raises :class:`~raytrade.core.errors.DataError` naming the source, the column and the
row.

Row numbers: for a CSV file, the 1-based line number in the file (the header is line 1, so the
first data row is row 2); for Parquet files and in-memory frames, the 1-based record number.
"""

from __future__ import annotations

from collections.abc import Sequence
from enum import StrEnum

import numpy as np
import pandas as pd

from raytrade.core.errors import DataError

OHLCV_COLUMNS: tuple[str, ...] = ("open", "high", "low", "close", "volume")


class TableKind(StrEnum):
    """What the numbers in a table are, which decides the value checks."""

    PRICES = "prices"  # one price column per symbol, all > 0
    OHLCV = "ohlcv"  # open/high/low/close(/adj_close) > 0, volume >= 0, bar consistency
    RETURNS = "returns"  # any finite number (returns, factor premia)


def validate_table(
    raw: pd.DataFrame,
    *,
    source: str,
    kind: TableKind | str = TableKind.PRICES,
    timestamp_column: str = "timestamp",
    timestamp_format: str | None = None,
    columns: Sequence[str] | None = None,
    optional_columns: Sequence[str] = (),
    first_row_number: int = 1,
    allow_duplicate_times: bool = False,
    allow_late_listing: bool = False,
) -> pd.DataFrame:
    """Validate a raw table and return the clean frame.

    ``raw`` holds the timestamp in ``timestamp_column`` (strings, numbers or datetimes) and the
    value columns (strings or numbers). ``columns`` is the exact set of value columns expected
    (``optional_columns`` may also appear); None accepts any non-empty set (price tables).
    ``timestamp_format`` is a strftime format, or None for ISO 8601. Naive timestamps are taken
    as UTC; aware ones are converted to UTC. ``first_row_number`` is the number reported for the
    first record (2 for a CSV file with a header line). ``allow_duplicate_times``: equal
    consecutive timestamps are accepted (trade prints share a millisecond); they must not decrease.
    ``allow_late_listing``: a column may be missing (NaN) over its first rows, a symbol listed
    later than the others; after its first value nothing may be missing, and it needs one value.
    """
    kind = TableKind(kind)
    if len(raw) == 0:
        raise DataError("no data rows (the table is empty)", source=source)
    if timestamp_column not in raw.columns:
        raise missing_timestamp(list(raw.columns), timestamp_column, source)
    value_columns = [c for c in raw.columns if c != timestamp_column]
    _check_columns(value_columns, kind, columns, optional_columns, source)

    def fail(problem: str, column: str, position: int, ts: object = None) -> DataError:
        return DataError(problem, source=source, column=column, row=first_row_number + position,
                         timestamp=ts)

    index = _parse_timestamps(raw[timestamp_column], timestamp_format, fail, timestamp_column)
    _check_order(index, fail, timestamp_column, allow_duplicate_times)

    values = {}
    for col in value_columns:
        values[col] = _parse_numbers(raw[col], col, index, fail, allow_late_listing)
    frame = pd.DataFrame(values, index=index)
    _check_values(frame, kind, fail)
    return frame


def missing_timestamp(found: Sequence[object], timestamp_column: str, source: str) -> DataError:
    """The error for a table without ``timestamp_column``, listing the columns it has."""
    listed = ", ".join(map(str, list(found)[:12])) + (", ..." if len(found) > 12 else "")
    return DataError(f"missing timestamp column {timestamp_column!r} (columns found: {listed}; name yours with "
                     "timestamp_column=...)", source=source, column=timestamp_column)


def _check_columns(
    present: list[str], kind: TableKind, expected: Sequence[str] | None,
    optional: Sequence[str], source: str,
) -> None:
    if kind is TableKind.OHLCV and expected is None:
        expected = OHLCV_COLUMNS
        optional = (*optional, "adj_close")
    if not present:
        raise DataError("no value columns besides the timestamp", source=source)
    dupes = sorted({c for c in present if present.count(c) > 1})
    if dupes:
        raise DataError(f"duplicate column name {dupes[0]!r}", source=source, column=dupes[0])
    if expected is not None:
        missing = [c for c in expected if c not in present]
        if missing:
            raise DataError(f"missing column {missing[0]!r} (expected {list(expected)})",
                            source=source, column=missing[0])
        allowed = set(expected) | set(optional)
        extra = [c for c in present if c not in allowed]
        if extra:
            raise DataError(f"unexpected column {extra[0]!r} (expected {sorted(allowed)})",
                            source=source, column=extra[0])


def _parse_timestamps(col: pd.Series, fmt: str | None, fail, name: str) -> pd.DatetimeIndex:
    missing = col.isna().to_numpy() | (col.astype(str).str.strip() == "").to_numpy()
    if missing.any():
        raise fail("missing timestamp", name, int(missing.argmax()))
    if pd.api.types.is_datetime64_any_dtype(col):
        parsed = pd.to_datetime(col)
    else:
        text = col.astype(str).str.strip()
        parsed = pd.to_datetime(text, format=fmt or "ISO8601", errors="coerce", utc=False)
        if parsed.isna().any():
            pos = int(parsed.isna().to_numpy().argmax())
            hint = f" (expected format {fmt!r})" if fmt else " (expected ISO 8601, e.g. 2020-01-31)"
            raise fail(f"unparseable timestamp {text.iloc[pos]!r}{hint}", name, pos)
    index = pd.DatetimeIndex(parsed)
    index = index.tz_localize("UTC") if index.tz is None else index.tz_convert("UTC")
    return index.rename("timestamp").as_unit("ns")


def _check_order(index: pd.DatetimeIndex, fail, name: str, allow_equal: bool = False) -> None:
    ns = index.asi8
    if len(ns) < 2:
        return
    step = np.diff(ns)
    if not allow_equal and (step == 0).any():
        pos = int((step == 0).argmax()) + 1
        raise fail(f"duplicate timestamp {index[pos]} (also at the previous row)", name, pos)
    if (step < 0).any():
        pos = int((step < 0).argmax()) + 1
        raise fail(f"timestamp {index[pos]} is earlier than the previous row's {index[pos - 1]} "
                   "(timestamps must increase)", name, pos)


def _parse_numbers(col: pd.Series, name: str, index: pd.DatetimeIndex, fail, late: bool = False) -> np.ndarray:
    if pd.api.types.is_numeric_dtype(col) and not pd.api.types.is_bool_dtype(col):
        values = col.to_numpy(dtype=np.float64, na_value=np.nan)
        bad_text = np.zeros(len(values), dtype=bool)
    else:
        text = col.astype("string").str.strip()
        values = pd.to_numeric(text, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
        blank = text.isna().to_numpy(dtype=bool, na_value=True) | (text == "").to_numpy(
            dtype=bool, na_value=True)
        bad_text = np.isnan(values) & ~blank & ~text.str.lower().isin(["nan", "na", "n/a", "null"]).to_numpy(
            dtype=bool, na_value=False)
        if bad_text.any():
            pos = int(bad_text.argmax())
            raise fail(f"not a number: {text.iloc[pos]!r}", name, pos, index[pos])
    nonfinite = ~np.isfinite(values)
    if late and nonfinite.any():
        listed = int(np.isfinite(values).argmax()) if np.isfinite(values).any() else len(values)
        if listed == len(values):
            raise fail("no value at all (a late listing needs at least one)", name, 0, index[0])
        nonfinite[:listed] = ~np.isnan(values[:listed])  # missing before the first value: not listed yet
    if nonfinite.any():
        pos = int(nonfinite.argmax())
        what = "missing value (NaN)" if np.isnan(values[pos]) else f"non-finite value {values[pos]}"
        raise fail(what, name, pos, index[pos])
    return values


def _check_values(frame: pd.DataFrame, kind: TableKind, fail) -> None:
    if kind is TableKind.RETURNS:
        return
    price_cols = [c for c in frame.columns if c != "volume"]
    for col in price_cols:
        v = frame[col].to_numpy()
        bad = v <= 0
        if bad.any():
            pos = int(bad.argmax())
            raise fail(f"price must be > 0, got {v[pos]}", col, pos, frame.index[pos])
    if kind is not TableKind.OHLCV:
        return
    vol = frame["volume"].to_numpy()
    if (vol < 0).any():
        pos = int((vol < 0).argmax())
        raise fail(f"volume must be >= 0, got {vol[pos]}", "volume", pos, frame.index[pos])
    o, h, lo, c = (frame[k].to_numpy() for k in ("open", "high", "low", "close"))
    checks = (
        (h < lo, "high", "high {h} < low {lo}"),
        (o > h, "open", "open {o} above high {h}"),
        (o < lo, "open", "open {o} below low {lo}"),
        (c > h, "close", "close {c} above high {h}"),
        (c < lo, "close", "close {c} below low {lo}"),
    )
    for mask, col, template in checks:
        if mask.any():
            pos = int(mask.argmax())
            raise fail(template.format(o=o[pos], h=h[pos], lo=lo[pos], c=c[pos]), col, pos,
                       frame.index[pos])
