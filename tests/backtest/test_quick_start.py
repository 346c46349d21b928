"""The README's Python quick start run as written, and what a pandas user may hand the backtest:
a Series, a Yahoo Finance download, dates that run backwards, a gap, too little data."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from raytrade.backtest import backtest
from raytrade.core.errors import BacktestError, DataError
from raytrade.data import load_prices, read_price_file
from raytrade.strategies import get_strategy

ROOT = Path(__file__).resolve().parents[2]


def test_the_python_quick_start_runs_as_written(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    text = (ROOT / "README.md").read_text()
    part = text[text.index("## Quick start: Python"):]
    code, walk = re.findall(r"```python\n(.*?)```", part[:part.index("\n## ", 5)], flags=re.S)
    (tmp_path / "examples").symlink_to(ROOT / "examples")  # the example reads examples/sp500_yahoo.csv
    monkeypatch.chdir(tmp_path)
    scope: dict[str, object] = {}
    exec(compile(code, "README.md", "exec"), scope)
    result, spx = scope["result"], scope["spx"]
    assert (result.shares.to_numpy() >= 0).all()                 # long only unless asked  # type: ignore[attr-defined]
    assert list(spx.equity.columns) == ["SPX", "PORTFOLIO"]      # type: ignore[attr-defined]
    assert spx.metrics.loc["SPX", "round_trips"] > 0             # type: ignore[attr-defined]
    assert (tmp_path / "ko_pep.png").stat().st_size > 10_000
    scope = {}
    exec(compile(walk, "README.md", "exec"), scope)
    out = scope["out"]
    assert len(out.windows) == len(out.summary["windows"]) > 3 and out.oos_returns.index.is_monotonic_increasing  # type: ignore[attr-defined]


def test_shorting_is_asked_for() -> None:
    close = load_prices(["GE"], start="2000-01-01", end="2012-12-31")
    params = {"fast": 20, "slow": 100}
    longs = backtest(get_strategy("ma_crossover"), params, close)
    both = backtest(get_strategy("ma_crossover", allow_short=True), params, close)
    assert longs.shares.to_numpy().min() == 0 and both.shares.to_numpy().min() < 0


def test_a_yahoo_download_reads_and_a_file_without_a_timestamp_lists_its_columns(tmp_path: Path) -> None:
    f = read_price_file(ROOT / "examples" / "sp500_yahoo.csv", kind="ohlcv")
    assert list(f.columns) == ["open", "high", "low", "close", "adj_close", "volume"] and len(f) == 754
    (tmp_path / "p.csv").write_text(" DATE ,AAA\n2024-01-02,10\n2024-01-03,11\n")
    assert read_price_file(tmp_path / "p.csv")["AAA"].tolist() == [10.0, 11.0]   # symbols keep their case
    (tmp_path / "q.csv").write_text("Day,Open,Close\n2024-01-02,10,11\n")
    with pytest.raises(DataError, match=r"columns found: Day, Open, Close; name yours with timestamp_column"):
        read_price_file(tmp_path / "q.csv", kind="ohlcv")


def test_what_a_backtest_refuses_names_the_symbol_and_the_date() -> None:
    ma = get_strategy("ma_crossover")
    params = {"fast": 5, "slow": 20}
    close = load_prices(["KO", "PEP"], start="2010-01-01", end="2010-12-31")
    with pytest.raises(BacktestError, match=r"dates run backwards .* sort them first \(close.sort_index\(\)\)"):
        backtest(ma, params, close.iloc[::-1])
    gap = close.copy()
    gap.iloc[40, 1] = np.nan
    with pytest.raises(BacktestError, match=r"close of PEP at 2010-03-03 00:00:00\+00:00 is nan: prices must be finite"):
        backtest(ma, params, gap)
    with pytest.raises(BacktestError, match="20 bars are not more than the strategy's warm-up"):
        backtest(ma, {"fast": 5, "slow": 20}, close.iloc[:20])
    with pytest.raises(BacktestError, match="got list"):
        backtest(ma, params, [1.0, 2.0])  # type: ignore[arg-type]
    one = backtest(ma, params, close["KO"])
    assert list(one.equity.columns) == ["KO", "PORTFOLIO"]
    pd.testing.assert_frame_equal(one.equity[["KO"]], backtest(ma, params, close[["KO"]]).equity[["KO"]])


def test_a_late_listing_is_held_in_cash_until_its_first_price(tmp_path: Path) -> None:
    """A file where LATE has no price over its first 300 rows (real PEP prices after): it reads;
    the backtest holds LATE's sleeve in cash until then and trades it from there exactly as a
    backtest of its priced rows alone; a research config refuses it naming the date to start at."""
    from raytrade.backtest.config import DataSpec

    close = load_prices(["KO", "PEP"], start="2005-01-01", end="2012-12-31")
    late = close.rename(columns={"PEP": "LATE"})
    late.iloc[:300, 1] = np.nan
    path = tmp_path / "late.csv"
    late.to_csv(path, index_label="timestamp")
    read = read_price_file(path)
    assert read["LATE"].isna().sum() == 300 and read["LATE"].iloc[300:].notna().all()
    ma, params = get_strategy("ma_crossover"), {"fast": 10, "slow": 50}
    res = backtest(ma, params, read)
    assert (res.shares["LATE"].iloc[:301] == 0).all() and res.equity["LATE"].iloc[:301].nunique() == 1
    alone = backtest(ma, params, read[["LATE"]].iloc[300:])
    half = res.equity["LATE"].iloc[0] / alone.equity["LATE"].iloc[0]   # its sleeve has half the capital
    assert half == 0.5
    np.testing.assert_allclose(res.equity["LATE"].iloc[300:], alone.equity["LATE"] * half, rtol=1e-12)
    (tmp_path / "gap.csv").write_text("timestamp,A\n2024-01-02,10\n2024-01-03,\n2024-01-04,11\n")
    with pytest.raises(DataError, match=r"column 'A', row 3.*missing value"):
        read_price_file(tmp_path / "gap.csv")   # a gap after the first price is still an error
    spec = DataSpec(path=str(path))
    with pytest.raises(Exception, match=r"LATE is first priced on 2006-03-1\d; research jobs need"):
        spec.load()
    assert spec.load(allow_late_listing=True)[0]["LATE"].isna().sum() == 300
