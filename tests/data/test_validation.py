"""Every validation error names the file, the column and the first bad row; nothing is filled."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from raytrade.core.errors import DataError
from raytrade.data import read_price_file, validate_table

GOOD_PRICES = "timestamp,AAA,BBB\n2024-01-02,10.0,20.0\n2024-01-03,10.5,19.5\n2024-01-04,10.2,19.9\n"
GOOD_OHLCV = ("timestamp,open,high,low,close,volume\n"
              "2024-01-02,10,11,9.5,10.5,1000\n2024-01-03,10.5,11.2,10.1,11,1200\n")


def write(tmp_path: Path, text: str, name: str = "prices.csv") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_good_prices_file(tmp_path):
    frame = read_price_file(write(tmp_path, GOOD_PRICES))
    assert list(frame.columns) == ["AAA", "BBB"]
    assert str(frame.index.tz) == "UTC" and frame.index.name == "timestamp"
    assert frame.index.is_monotonic_increasing and frame.index.is_unique
    assert (frame.dtypes == np.float64).all()
    assert frame.loc["2024-01-03", "BBB"].item() == 19.5


def test_gzip_and_parquet(tmp_path):
    gz = tmp_path / "prices.csv.gz"
    gz.write_bytes(gzip.compress(GOOD_PRICES.encode()))
    a = read_price_file(gz)
    pq = tmp_path / "prices.parquet"
    a.to_parquet(pq)
    b = read_price_file(pq)
    pd.testing.assert_frame_equal(a, b, check_freq=False)


def test_offsets_are_converted_to_utc(tmp_path):
    text = "timestamp,AAA\n2024-01-02T09:30:00-05:00,10\n2024-01-02T10:30:00-05:00,11\n"
    frame = read_price_file(write(tmp_path, text))
    assert frame.index[0] == pd.Timestamp("2024-01-02 14:30", tz="UTC")


@pytest.mark.parametrize(
    ("text", "column", "row", "problem"),
    [
        ("timestamp,AAA\n2024-01-02,10\n2024-01-03,\n", "AAA", 3, "missing value"),
        ("timestamp,AAA\n2024-01-02,10\n2024-01-03,NaN\n", "AAA", 3, "missing value"),
        ("timestamp,AAA\n2024-01-02,10\n2024-01-03,abc\n", "AAA", 3, "not a number: 'abc'"),
        ("timestamp,AAA\n2024-01-02,10\n2024-01-03,0\n", "AAA", 3, "price must be > 0"),
        ("timestamp,AAA\n2024-01-02,10\n2024-01-03,-4\n", "AAA", 3, "price must be > 0"),
        ("timestamp,AAA\n2024-01-02,10\n2024-01-03,inf\n", "AAA", 3, "non-finite"),
        ("timestamp,AAA\n2024-01-02,10\nyesterday,11\n", "timestamp", 3, "unparseable timestamp 'yesterday'"),
        ("timestamp,AAA\n2024-01-02,10\n2024-01-02,11\n", "timestamp", 3, "duplicate timestamp"),
        ("timestamp,AAA\n2024-01-03,10\n2024-01-02,11\n2024-01-04,12\n", "timestamp", 3, "earlier than"),
        ("timestamp,AAA\n2024-01-02,10\n,11\n", "timestamp", 3, "missing timestamp"),
    ],
)
def test_prices_errors(tmp_path, text, column, row, problem):
    path = write(tmp_path, text)
    with pytest.raises(DataError, match=problem) as info:
        read_price_file(path)
    err = info.value
    assert err.source == str(path)
    assert err.column == column
    assert err.row == row
    assert str(path) in str(err) and f"row {row}" in str(err) and repr(column) in str(err)


@pytest.mark.parametrize(
    ("text", "column", "problem"),
    [
        ("timestamp,open,high,low,close\n2024-01-02,10,11,9,10\n", "volume", "missing column 'volume'"),
        ("timestamp,open,high,low,close,volume,vwap\n2024-01-02,10,11,9,10,5,10\n", "vwap", "unexpected column 'vwap'"),
        ("timestamp,open,high,low,close,volume\n2024-01-02,10,11,9,10,5\n2024-01-03,10,9,11,10,5\n", "high", "high 9.0 < low 11.0"),
        ("timestamp,open,high,low,close,volume\n2024-01-02,12,11,9,10,5\n", "open", "open 12.0 above high"),
        ("timestamp,open,high,low,close,volume\n2024-01-02,10,11,9,8,5\n", "close", "close 8.0 below low"),
        ("timestamp,open,high,low,close,volume\n2024-01-02,10,11,9,10,-5\n", "volume", "volume must be >= 0"),
    ],
)
def test_ohlcv_errors(tmp_path, text, column, problem):
    with pytest.raises(DataError, match=problem) as info:
        read_price_file(write(tmp_path, text), kind="ohlcv")
    assert info.value.column == column


def test_good_ohlcv(tmp_path):
    frame = read_price_file(write(tmp_path, GOOD_OHLCV), kind="ohlcv")
    assert list(frame.columns) == ["open", "high", "low", "close", "volume"]


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("", "empty"),
        ("timestamp,AAA\n", "no data rows"),
        ("when,AAA\n2024-01-02,10\n", r"missing timestamp column 'timestamp' \(columns found: when, AAA"),
        ("timestamp\n2024-01-02\n", "no value columns"),
    ],
)
def test_empty_and_shapeless_files(tmp_path, text, problem):
    with pytest.raises(DataError, match=problem):
        read_price_file(write(tmp_path, text))


def test_expected_columns_for_prices(tmp_path):
    with pytest.raises(DataError, match="missing column 'CCC'"):
        read_price_file(write(tmp_path, GOOD_PRICES), columns=["AAA", "BBB", "CCC"])
    with pytest.raises(DataError, match="unexpected column 'BBB'"):
        read_price_file(write(tmp_path, GOOD_PRICES), columns=["AAA"])


def test_custom_timestamp_format_and_column(tmp_path):
    text = "Date,AAA\n01/02/2024,10\n01/03/2024,11\n"
    frame = read_price_file(write(tmp_path, text), timestamp_column="Date", timestamp_format="%m/%d/%Y")
    assert frame.index[1] == pd.Timestamp("2024-01-03", tz="UTC")
    with pytest.raises(DataError, match="expected format '%Y-%m-%d'"):
        read_price_file(write(tmp_path, text), timestamp_column="Date", timestamp_format="%Y-%m-%d")


def test_missing_and_unsupported_files(tmp_path):
    with pytest.raises(DataError, match="file not found"):
        read_price_file(tmp_path / "nope.csv")
    with pytest.raises(DataError, match="unsupported file type"):
        read_price_file(write(tmp_path, GOOD_PRICES, "prices.xlsx"))
    with pytest.raises(DataError, match="cannot be read as Parquet"):
        read_price_file(write(tmp_path, GOOD_PRICES, "prices.parquet"))


def test_frames_report_record_numbers():
    raw = pd.DataFrame({"timestamp": ["2024-01-02", "2024-01-03"], "AAA": [1.0, np.nan]})
    with pytest.raises(DataError) as info:
        validate_table(raw, source="my frame")
    assert info.value.row == 2 and info.value.source == "my frame"


def test_nothing_is_modified_in_the_input():
    raw = pd.DataFrame({"timestamp": ["2024-01-02", "2024-01-03"], "AAA": ["1.5", "2.5"]})
    before = raw.copy()
    validate_table(raw, source="x")
    pd.testing.assert_frame_equal(raw, before)
