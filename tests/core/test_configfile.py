"""Config mistakes as one line a person can act on: impossible dates at their line, every
field's error (not the first with "+1 more"), no pydantic wording."""

from __future__ import annotations

from pathlib import Path

import pytest

from raytrade.backtest.config import BacktestConfig
from raytrade.configfile import load_yaml
from raytrade.core.errors import ConfigError

GOOD = """name: t
data: {dataset: us_equities_20, symbols: [KO], start: 2015-01-02}
strategy: {name: ma_crossover, params: {fast: 5, slow: 20}}
"""


def test_an_impossible_date_names_its_line(tmp_path: Path) -> None:
    p = tmp_path / "c.yaml"
    p.write_text(GOOD.replace("2015-01-02", "2015-02-30"))
    with pytest.raises(ConfigError) as info:
        load_yaml(p, BacktestConfig)
    assert str(info.value) == f"{p}: not valid YAML at line 2: '2015-02-30' is not a date (day is out of range for month)"
    p.write_text(GOOD)
    assert str(load_yaml(p, BacktestConfig).data.start) == "2015-01-02"


def test_every_error_is_named_in_plain_words(tmp_path: Path) -> None:
    p = tmp_path / "c.yaml"
    p.write_text(GOOD + "initial_capital: -5\ncolour: blue\n")
    with pytest.raises(ConfigError) as info:
        load_yaml(p, BacktestConfig)
    msg = str(info.value)
    assert "initial_capital:" in msg and "colour: unknown field" in msg and "more)" not in msg
    assert "Value error" not in msg and "\n" not in msg
