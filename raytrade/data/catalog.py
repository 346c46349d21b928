"""What data ships with raytrade, and where a symbol lives (behind `raytrade data list|show`)."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from raytrade.core.errors import DataError
from raytrade.data.loaders import DATASETS, SYMBOL_ALIASES, load_dataset, load_sectors


@dataclass(frozen=True, slots=True)
class DatasetInfo:
    name: str
    description: str
    columns: tuple[str, ...]
    rows: int
    start: pd.Timestamp
    end: pd.Timestamp


def list_datasets() -> list[DatasetInfo]:
    """One entry per bundled dataset, with its columns, row count and span."""
    out = []
    for name, spec in DATASETS.items():
        frame = load_dataset(name)
        out.append(DatasetInfo(name, spec.description, tuple(frame.columns), len(frame),
                               frame.index[0], frame.index[-1]))
    return out


def find_symbol(symbol: str) -> tuple[str, str | None]:
    """(dataset, column) holding ``symbol``; column None means the whole (OHLCV) dataset."""
    key = symbol.upper()
    if key in SYMBOL_ALIASES:
        return SYMBOL_ALIASES[key], None
    for name in DATASETS:
        if key in load_dataset(name).columns:
            return name, key
    known = sorted({c for n in ("us_equities_20", "factor_etfs") for c in load_dataset(n).columns}
                   | set(SYMBOL_ALIASES))
    raise DataError(f"unknown symbol (bundled: {', '.join(known)})", source=symbol)


def load_symbol(symbol: str) -> pd.DataFrame:
    """The bundled history of one symbol: a ``close`` column, or OHLCV for an index alias."""
    dataset, column = find_symbol(symbol)
    frame = load_dataset(dataset)
    if column is None:
        return frame
    return frame[[column]].rename(columns={column: "close"})


def sector_of(symbol: str) -> str | None:
    """GICS sector of a bundled stock, None for other symbols."""
    sectors = load_sectors()
    return str(sectors.loc[symbol, "gics_sector"]) if symbol in sectors.index else None
