"""The backtest configuration (YAML in configs/backtests/) and the data it points at."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any, Self

import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, model_validator

from raytrade.backtest.costs import CostModel, Sizing
from raytrade.core.errors import ConfigError
from raytrade.data.loaders import DATASETS, load_dataset, read_price_file
from raytrade.data.validation import TableKind
from raytrade.strategies.base import Strategy
from raytrade.strategies.registry import check_shorts, get_strategy


class DataSpec(BaseModel):
    """Where prices come from: a bundled ``dataset`` or a user ``path`` (CSV or Parquet).

    Price datasets give one column per symbol (closes only: trades execute at the next close);
    OHLCV sources give one instrument, named ``symbol``, traded at the next bar's open.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    dataset: str | None = None
    path: Path | None = None
    kind: TableKind = TableKind.PRICES
    symbol: str | None = None
    symbols: list[str] | None = None
    start: date | None = None
    end: date | None = None
    timestamp_column: str = "timestamp"
    timestamp_format: str | None = None

    @model_validator(mode="after")
    def _one_source(self) -> Self:
        if (self.dataset is None) == (self.path is None):
            raise ValueError("give exactly one of dataset (bundled) or path (your file)")
        if self.dataset is not None and self.dataset not in DATASETS:
            raise ValueError(f"unknown dataset {self.dataset!r} (bundled: {', '.join(sorted(DATASETS))})")
        if self.start and self.end and self.start > self.end:
            raise ValueError(f"start {self.start} is after end {self.end}")
        if self.symbols is not None and not self.symbols:
            raise ValueError("symbols is empty: leave it out to use every column")
        return self

    def load(self, allow_late_listing: bool = False) -> tuple[pd.DataFrame, pd.DataFrame | None]:
        """(close, open or None), both (T, symbols), sliced to [start, end]. A symbol missing
        over its first rows (listed late) is a ConfigError naming it and its first date unless
        ``allow_late_listing`` (a single backtest holds it in cash until then)."""
        close, open_ = self._load()
        late = close.columns[close.iloc[0].isna().to_numpy()]
        if len(late) and not allow_late_listing:
            sym = late[0]
            first = close[sym].first_valid_index()
            raise ConfigError(f"data: {sym} is first priced on {first:%Y-%m-%d}; research jobs need every symbol "
                              f"priced from the first date: set data.start to {first:%Y-%m-%d} or later, or leave "
                              f"{sym} out (a single backtest takes late listings)")
        return close, open_

    def _load(self) -> tuple[pd.DataFrame, pd.DataFrame | None]:
        frame, kind, default_symbol = self._frame()
        if kind is TableKind.OHLCV:
            name = self.symbol or default_symbol
            return frame[["close"]].set_axis([name], axis=1), frame[["open"]].set_axis([name], axis=1)
        if kind is TableKind.RETURNS:
            raise ConfigError(f"data: dataset {self.dataset!r} holds returns, not prices")
        if self.symbols is not None:
            unknown = [s for s in self.symbols if s not in frame.columns]
            if unknown:
                raise ConfigError(f"data.symbols: unknown symbol {unknown[0]!r} "
                                  f"(available: {', '.join(map(str, frame.columns))})")
            frame = frame[self.symbols]
        return frame, None

    def load_volume(self) -> pd.DataFrame:
        """The volumes (T, 1) of an OHLCV table, on the dates of :meth:`load` (what a
        size-dependent cost needs); a ConfigError for a table without volumes."""
        frame, kind, default_symbol = self._frame()
        if kind is not TableKind.OHLCV:
            raise ConfigError("costs.impact needs volumes: data must be an OHLCV table "
                              f"(kind: ohlcv), not {kind.value}")
        return frame[["volume"]].set_axis([self.symbol or default_symbol], axis=1)

    def _frame(self) -> tuple[pd.DataFrame, TableKind, str]:
        if self.dataset is not None:
            frame = load_dataset(self.dataset)
            kind = DATASETS[self.dataset].kind
            default_symbol = self.dataset.removesuffix("_ohlcv").upper()
        else:
            frame = read_price_file(self.path, kind=self.kind, timestamp_column=self.timestamp_column,
                                    timestamp_format=self.timestamp_format)
            kind = self.kind
            default_symbol = self.path.name.split(".")[0].upper()
        lo = pd.Timestamp(self.start, tz="UTC") if self.start else None
        hi = pd.Timestamp(self.end, tz="UTC") if self.end else None
        frame = frame.loc[lo:hi]
        if len(frame) < 2:
            raise ConfigError(f"data: fewer than 2 bars between start {self.start} and end {self.end}")
        return frame, kind, default_symbol


class StrategySpec(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    params: dict[str, Any] = Field(default_factory=dict)
    allow_short: bool = False  # long only unless a config says otherwise

    def build(self) -> Strategy:
        return get_strategy(self.name, allow_short=self.allow_short)


class RunSettings(BaseModel):
    """What every run config has: a name for its run folder, data, costs, sizing, capital, output."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(pattern=r"^[A-Za-z0-9_.-]{1,80}$")
    data: DataSpec
    costs: CostModel = CostModel()
    sizing: Sizing = Sizing()
    initial_capital: float = Field(100_000.0, gt=0, allow_inf_nan=False)
    output_dir: Path = Path("runs")


class BacktestConfig(RunSettings):
    """One backtest: a strategy with one parameter set on the data."""

    strategy: StrategySpec
    risk_free: float = Field(0.0, ge=-0.05, le=0.5)

    @model_validator(mode="after")
    def _params_fit_the_strategy(self) -> Self:
        strategy = get_strategy(self.strategy.name)
        strategy.space.validate(self.strategy.params, "strategy.params")
        check_shorts(self.strategy.name, self.strategy.allow_short)
        return self
