"""Loaders for the bundled datasets and for a user's own CSV or Parquet files.

Every loader returns a validated frame (see :mod:`raytrade.data.validation`): a UTC
``DatetimeIndex`` named ``timestamp`` at midnight of each trading day, float64 columns, nothing
filled or dropped. Bundled files are parsed once per process and handed out as copies.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from functools import cache
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd

from raytrade.core.errors import DataError
from raytrade.data.validation import TableKind, missing_timestamp, validate_table

_OHLCV_RENAME = {"Open": "open", "High": "high", "Low": "low", "Close": "close",
                 "Adj Close": "adj_close", "Volume": "volume"}


@dataclass(frozen=True, slots=True)
class DatasetSpec:
    """How one bundled file is read."""

    name: str
    file: str
    kind: TableKind
    description: str
    timestamp_format: str
    rename: tuple[tuple[str, str], ...] = ()
    scale: float = 1.0


DATASETS: dict[str, DatasetSpec] = {
    s.name: s
    for s in (
        DatasetSpec("us_equities_20", "us_equities_20_daily_close.csv.gz", TableKind.PRICES,
                    "adjusted daily closes of 20 US large caps, 1990-2022 (Yahoo Finance via skfolio)",
                    "%Y-%m-%d"),
        DatasetSpec("sp500_close", "sp500_index_daily_close.csv.gz", TableKind.PRICES,
                    "S&P 500 index daily close, 1990-2022 (via skfolio)", "%Y-%m-%d"),
        DatasetSpec("factor_etfs", "factor_etfs_daily_close.csv.gz", TableKind.PRICES,
                    "iShares factor ETFs MTUM QUAL SIZE USMV VLUE daily close, 2014-2022 (via skfolio)",
                    "%Y-%m-%d"),
        DatasetSpec("sp500_ohlcv", "sp500_index_daily_ohlcv.csv.gz", TableKind.OHLCV,
                    "S&P 500 index daily OHLCV, 1999-2018 (via arch)", "%m/%d/%Y",
                    tuple(_OHLCV_RENAME.items())),
        DatasetSpec("nasdaq_ohlcv", "nasdaq_composite_daily_ohlcv.csv.gz", TableKind.OHLCV,
                    "NASDAQ Composite daily OHLCV, 1999-2018 (via arch)", "%m/%d/%Y",
                    tuple(_OHLCV_RENAME.items())),
        *(DatasetSpec(f"crypto_{stem}", f"{stem}.csv.gz", TableKind.OHLCV,
                      f"{pair} {bar} OHLCV bars, 24/7, prices in BTC (freqtrade test data)", "ISO8601",
                      (("date", "timestamp"),))
          for stem, pair, bar in (("eth_btc_5m", "ETH/BTC", "5-minute"), ("ltc_btc_5m", "LTC/BTC", "5-minute"),
                                  ("xmr_btc_5m", "XMR/BTC", "5-minute"), ("alt_btc_1m", "an altcoin/BTC", "1-minute"))),
        DatasetSpec("fama_french_3", "fama_french_3factor_monthly.csv.gz", TableKind.RETURNS,
                    "Fama-French 3 factors and RF, monthly, decimal fractions, 1926-2018 (via arch)",
                    "%Y%m", (("Mkt-RF", "mkt_rf"), ("SMB", "smb"), ("HML", "hml"), ("RF", "rf")),
                    scale=0.01),
    )
}

# Symbols that are whole datasets of their own in `raytrade data show`.
SYMBOL_ALIASES: dict[str, str] = {"SP500": "sp500_ohlcv", "NASDAQ": "nasdaq_ohlcv", "SPX": "sp500_close"}


def bundled_path(file: str) -> Path:
    """Filesystem path of a bundled data file."""
    path = Path(str(resources.files("raytrade.data") / "bundled" / file))
    if not path.is_file():
        raise DataError("bundled file is missing from the installation", source=str(path))
    return path


def read_csv_raw(path: Path, source: str) -> pd.DataFrame:
    """Read a CSV (plain or compressed) as strings, so that validation sees the file's own text."""
    try:
        return pd.read_csv(path, dtype=str, keep_default_na=False)
    except pd.errors.EmptyDataError:
        raise DataError("no data rows (the file is empty)", source=source) from None
    except (pd.errors.ParserError, UnicodeDecodeError, OSError, EOFError) as exc:
        raise DataError(f"cannot be read as CSV: {exc}", source=source) from None


@cache
def _load_bundled(name: str) -> pd.DataFrame:
    spec = DATASETS[name]
    path = bundled_path(spec.file)
    raw = read_csv_raw(path, spec.file).rename(columns=dict(spec.rename))
    frame = validate_table(raw.rename(columns={"Date": "timestamp"}), source=spec.file, kind=spec.kind,
                           timestamp_format=None if spec.timestamp_format == "ISO8601" else spec.timestamp_format,
                           first_row_number=2)
    if spec.timestamp_format == "%Y%m":
        frame.index = (frame.index + pd.offsets.MonthEnd(0)).rename("timestamp")
    if spec.scale != 1.0:
        frame = frame * spec.scale
    frame.attrs["source"] = spec.file
    return frame


def load_dataset(name: str) -> pd.DataFrame:
    """A bundled dataset by name (see :data:`DATASETS`), as a fresh copy."""
    if name not in DATASETS:
        raise DataError(f"unknown dataset (known: {', '.join(sorted(DATASETS))})", source=name)
    return _load_bundled(name).copy()


def _slice(frame: pd.DataFrame, start: date | str | None, end: date | str | None, source: str) -> pd.DataFrame:
    lo = _as_utc(start, "start", source) if start is not None else None
    hi = _as_utc(end, "end", source) if end is not None else None
    if lo is not None and hi is not None and lo > hi:
        raise DataError(f"start {lo.date()} is after end {hi.date()}", source=source)
    out = frame.loc[lo:hi]
    if out.empty:
        raise DataError(f"no rows between {start} and {end} (data spans "
                        f"{frame.index[0].date()} .. {frame.index[-1].date()})", source=source)
    return out


def _as_utc(value: date | str, field: str, source: str) -> pd.Timestamp:
    try:
        ts = pd.Timestamp(value)
    except (ValueError, TypeError):
        raise DataError(f"{field} {value!r} is not a date", source=source) from None
    return ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")


def load_prices(
    symbols: Sequence[str] | None = None,
    start: date | str | None = None,
    end: date | str | None = None,
) -> pd.DataFrame:
    """Adjusted daily closes of the bundled 20 US stocks (columns = symbols), optionally sliced.

    ``start`` and ``end`` are inclusive calendar dates.
    """
    frame = load_dataset("us_equities_20")
    if symbols is not None:
        unknown = [s for s in symbols if s not in frame.columns]
        if unknown:
            raise DataError(f"unknown symbol {unknown[0]!r} (bundled: {', '.join(frame.columns)})",
                            source="us_equities_20", column=unknown[0])
        if not symbols:
            raise DataError("empty symbol list", source="us_equities_20")
        frame = frame[list(symbols)]
    return _slice(frame, start, end, "us_equities_20")


def load_ohlcv(index: str = "sp500", start: date | str | None = None, end: date | str | None = None) -> pd.DataFrame:
    """Daily OHLCV of the S&P 500 (``"sp500"``) or NASDAQ Composite (``"nasdaq"``), 1999-2018."""
    name = f"{index.lower()}_ohlcv"
    if name not in DATASETS:
        raise DataError("unknown OHLCV index (known: sp500, nasdaq)", source=index)
    return _slice(load_dataset(name), start, end, name)


def load_index_close(start: date | str | None = None, end: date | str | None = None) -> pd.Series:
    """S&P 500 daily close as a Series named ``SP500``, same dates as :func:`load_prices`."""
    return _slice(load_dataset("sp500_close"), start, end, "sp500_close")["SP500"]


def load_factor_etfs(start: date | str | None = None, end: date | str | None = None) -> pd.DataFrame:
    """Daily closes of MTUM, QUAL, SIZE, USMV and VLUE, 2014-2022."""
    return _slice(load_dataset("factor_etfs"), start, end, "factor_etfs")


def load_fama_french() -> pd.DataFrame:
    """Monthly Fama-French factors ``mkt_rf smb hml rf`` as decimal fractions (0.01 = 1%)."""
    return load_dataset("fama_french_3")


@cache
def _sectors() -> pd.DataFrame:
    path = bundled_path("us_equities_20_sectors.csv")
    raw = read_csv_raw(path, path.name)
    if list(raw.columns) != ["symbol", "name", "gics_sector"]:
        raise DataError(f"expected columns symbol,name,gics_sector, got {list(raw.columns)}", source=path.name)
    return raw.set_index("symbol")


def load_sectors() -> pd.DataFrame:
    """The GICS sector and company name of each bundled stock (index ``symbol``)."""
    return _sectors().copy()


def read_price_file(
    path: str | Path,
    *,
    kind: TableKind | str = TableKind.PRICES,
    timestamp_column: str = "timestamp",
    timestamp_format: str | None = None,
    columns: Sequence[str] | None = None,
) -> pd.DataFrame:
    """Read and validate a user's CSV (optionally .gz) or Parquet file.

    The file needs a timestamp column (``timestamp_column``, ISO 8601 unless ``timestamp_format``
    says otherwise) and value columns: symbols for ``kind="prices"``, or
    ``open high low close volume`` (and optionally ``adj_close``) for ``kind="ohlcv"``. In a price
    table a symbol may be empty over its first rows (listed later than the others): those stay
    NaN, and a backtest holds that symbol's capital in cash until its first price.
    Raises :class:`DataError` naming the file, column and first bad row.
    """
    path = Path(path)
    source = str(path)
    if not path.is_file():
        raise DataError("file not found", source=source)
    suffixes = "".join(path.suffixes).lower()
    if suffixes.endswith(".parquet") or suffixes.endswith(".pq"):
        try:
            raw = pd.read_parquet(path)
        except Exception as exc:  # pyarrow raises several unrelated types for a bad file
            raise DataError(f"cannot be read as Parquet: {exc}", source=source) from None
        if isinstance(raw.index, pd.DatetimeIndex) and timestamp_column not in raw.columns:
            raw = raw.reset_index(names=timestamp_column)
        first = 1
    elif ".csv" in suffixes or ".txt" in suffixes:
        raw = read_csv_raw(path, source)
        first = 2
    else:
        raise DataError("unsupported file type (expected .csv, .csv.gz or .parquet)", source=source)
    found = list(raw.columns)
    raw = _match_columns(raw, TableKind(kind), timestamp_column)
    if timestamp_column not in raw.columns:  # named as the file has them, not as matched
        raise missing_timestamp(found, timestamp_column, source)
    return validate_table(raw, source=source, kind=kind, timestamp_column=timestamp_column,
                          timestamp_format=timestamp_format, columns=columns, first_row_number=first,
                          allow_late_listing=TableKind(kind) is TableKind.PRICES)


TIME_ALIASES = ("timestamp", "date", "datetime", "time")
OHLCV_ALIASES = {"open": "open", "high": "high", "low": "low", "close": "close", "volume": "volume",
                 "adj close": "adj_close", "adj_close": "adj_close", "adjclose": "adj_close",
                 "adjusted close": "adj_close", "adjusted_close": "adj_close"}


def _match_columns(raw: pd.DataFrame, kind: TableKind, timestamp_column: str) -> pd.DataFrame:
    """Column names as the tables want them, matched without regard to case or surrounding
    spaces: the timestamp under ``timestamp_column`` (also found as Date, Datetime or Time when
    no column has that name), and for OHLCV files Open, High, Low, Close, Volume and Adj Close
    (Yahoo Finance's header) as open ... adj_close. Symbols in price tables keep their names."""
    names = {c: str(c).strip() for c in raw.columns}
    if timestamp_column not in names.values():
        found = [c for c, n in names.items() if n.lower() in (timestamp_column.lower(), *TIME_ALIASES)]
        if len(found) == 1:
            names[found[0]] = timestamp_column
    if kind is TableKind.OHLCV:
        for c, n in names.items():
            if n != timestamp_column and n.lower() in OHLCV_ALIASES:
                names[c] = OHLCV_ALIASES[n.lower()]
    return raw.rename(columns=names)


def frame_digest(frame: pd.DataFrame) -> str:
    """SHA-256 of a frame's index and values (hex): the data hash recorded with every run."""
    h = hashlib.sha256()
    h.update(frame.index.asi8.tobytes())
    h.update(",".join(map(str, frame.columns)).encode())
    h.update(frame.to_numpy(dtype="float64").tobytes())
    return h.hexdigest()


CRYPTO_PAIRS: dict[str, str] = {"ETH-BTC": "crypto_eth_btc_5m", "LTC-BTC": "crypto_ltc_btc_5m",
                                 "XMR-BTC": "crypto_xmr_btc_5m"}


def load_crypto(pairs: Sequence[str] | None = None, field: str = "close", start: date | str | None = None,
                end: date | str | None = None, *, gaps: str = "nan") -> pd.DataFrame:
    """The bundled 5-minute crypto bars (24/7, UTC times of each bar's open) of ``pairs`` (default
    all: ETH-BTC, LTC-BTC, XMR-BTC) side by side, one ``field`` (open, high, low, close, volume;
    prices in BTC, volume in base units). XMR-BTC has a real gap of two bars: with ``gaps="nan"``
    the times one pair lacks are NaN, never filled (a backtest refuses them, naming the pair and
    the time); with ``gaps="drop"`` those times are left out for every pair, so each return spans
    the real time between two bars both pairs have (the dropped times are in
    ``frame.attrs["dropped"]``). ``start`` and ``end`` are inclusive."""
    pairs = list(pairs) if pairs is not None else list(CRYPTO_PAIRS)
    unknown = [p for p in pairs if p not in CRYPTO_PAIRS]
    if unknown or not pairs:
        raise DataError(f"unknown crypto pair {unknown[0]!r} (bundled: {', '.join(CRYPTO_PAIRS)})" if unknown
                        else "empty pair list", source="crypto")
    if field not in ("open", "high", "low", "close", "volume"):
        raise DataError(f"field must be open, high, low, close or volume, got {field!r}", source="crypto")
    if gaps not in ("nan", "drop"):
        raise DataError(f"gaps must be nan or drop, got {gaps!r}", source="crypto")
    frame = pd.concat({p: load_dataset(CRYPTO_PAIRS[p])[field] for p in pairs}, axis=1).sort_index()
    frame.index.name = "timestamp"
    frame = _slice(frame, start, end, "crypto")
    if gaps == "drop":
        missing = frame.isna().any(axis=1)
        frame = frame.loc[~missing].copy()
        frame.attrs["dropped"] = list(missing.index[missing.to_numpy()])
    return frame


def bar_gaps(index: pd.DatetimeIndex, bar: str | pd.Timedelta) -> pd.DataFrame:
    """Where a bar series of a 24/7 market skips bars: one row per hole, ``after`` (the last bar
    before it), ``before`` (the first bar after it) and ``missing`` (how many ``bar``-long bars
    are absent). Empty when the series is complete."""
    step = pd.Timedelta(bar)
    d = index[1:] - index[:-1]
    holes = np.flatnonzero(d > step)
    return pd.DataFrame({"after": index[holes], "before": index[holes + 1],
                         "missing": ((d[holes] // step) - 1).astype(int)})


def load_crypto_trades() -> pd.DataFrame:
    """Every public XRP/ETH trade of the bundled sample: index ``time`` (UTC), columns ``id``
    (int), ``side`` (the aggressor: buy or sell), ``price`` (ETH per XRP) and ``amount`` (XRP)."""
    return _trades().copy()


@cache
def _trades() -> pd.DataFrame:
    file = "xrp_eth_trades.csv.gz"
    raw = read_csv_raw(bundled_path(file), file)
    if list(raw.columns) != ["time", "id", "side", "price", "amount"]:
        raise DataError(f"expected columns time, id, side, price, amount, got {', '.join(raw.columns)}", source=file)
    bad = ~raw["side"].isin(["buy", "sell"])
    if bad.any():
        raise DataError(f"side must be buy or sell, got {raw['side'][bad].iloc[0]!r}", source=file,
                        row=int(bad.to_numpy().argmax()) + 2)
    prices = validate_table(raw[["time", "price", "amount"]], source=file, kind=TableKind.RETURNS,
                            timestamp_column="time", first_row_number=2, allow_duplicate_times=True)
    if (prices.to_numpy() <= 0).any():
        raise DataError("price and amount must be > 0", source=file)
    out = prices.assign(id=raw["id"].astype("int64").to_numpy(), side=raw["side"].to_numpy())
    out.index.name = "time"
    return out[["id", "side", "price", "amount"]]


def verify_bundled() -> list[str]:
    """Check every bundled file against SHA256SUMS; return the names checked (raises on mismatch)."""
    sums = bundled_path("SHA256SUMS").read_text().split("\n")
    checked = []
    for line in filter(None, sums):
        digest, name = line.split(maxsplit=1)
        name = name.lstrip("*")
        actual = hashlib.sha256(bundled_path(name).read_bytes()).hexdigest()
        if actual != digest:
            raise DataError(f"checksum mismatch: expected {digest}, got {actual}", source=name)
        checked.append(name)
    return checked


