"""Market data: the bundled real datasets, validated loaders for user files, synthetic generators."""

from raytrade.data.catalog import DatasetInfo, find_symbol, list_datasets, load_symbol, sector_of
from raytrade.data.loaders import (
    DATASETS,
    frame_digest,
    load_dataset,
    load_factor_etfs,
    load_fama_french,
    load_index_close,
    load_ohlcv,
    load_prices,
    load_sectors,
    read_price_file,
    verify_bundled,
)
from raytrade.data.synthetic import (
    Regime,
    gbm_prices,
    intraday_bars,
    regime_switching_prices,
    u_shaped_volume_profile,
)
from raytrade.data.validation import OHLCV_COLUMNS, TableKind, validate_table

__all__ = [
    "DATASETS", "OHLCV_COLUMNS", "DatasetInfo", "Regime", "TableKind", "find_symbol", "frame_digest",
    "gbm_prices", "intraday_bars", "list_datasets", "load_dataset", "load_factor_etfs",
    "load_fama_french", "load_index_close", "load_ohlcv", "load_prices", "load_sectors",
    "load_symbol", "read_price_file", "regime_switching_prices", "sector_of",
    "u_shaped_volume_profile", "validate_table", "verify_bundled",
]
