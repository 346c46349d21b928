"""StrategyAdaptor: per-regime parameters and exposure, validated at load, picked bar by bar."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from raytrade.core import ConfigError, DataError
from raytrade.data import load_index_close, load_prices
from raytrade.signals import MarketRegime, RegimeDetector
from raytrade.signals.adaptor import AdaptorConfig, StrategyAdaptor
from raytrade.strategies.registry import get_strategy

ROOT = Path(__file__).resolve().parents[2]


def test_signal_is_the_regimes_set_times_its_exposure() -> None:
    rng = np.random.default_rng(5)
    idx = pd.date_range("2020-01-01", periods=300, freq="B", tz="UTC")
    close = pd.Series(100 * np.exp(np.cumsum(rng.normal(0, 0.01, 300))), index=idx)   # synthetic, seeded
    regimes = pd.Series([None] * 50 + ["trending_up"] * 100 + ["high_volatility"] * 100 + ["crisis"] * 50,
                        index=idx, dtype=object)
    ad = StrategyAdaptor(AdaptorConfig(strategy="ma_crossover", params={"fast": 10, "slow": 40},
                                       overrides={MarketRegime.HIGH_VOLATILITY: {"fast": 5}},
                                       exposure={MarketRegime.CRISIS: 0.25}))
    got = ad.signals(close, regimes).to_numpy()
    strat = get_strategy("ma_crossover")

    def static(fast: int, slow: int) -> np.ndarray:
        block = strat.space.block({"fast": fast, "slow": slow})
        return strat.signals(strat.prepare(close.to_numpy(), block), block)[:, 0].astype(float)

    base, fast = static(10, 40), static(5, 40)
    assert np.array_equal(got[:150], base[:150])                 # warm-up (no regime) and trending_up: base
    assert np.array_equal(got[150:250], fast[150:250])           # high volatility: fast = 5 over the base
    assert np.array_equal(got[250:], 0.25 * base[250:])          # crisis: base parameters, a quarter size
    sched = ad.schedule(regimes)
    assert sched.iloc[200].to_dict() == {"fast": 5, "slow": 40, "exposure": 1.0}
    assert ad.params_for(None) == {"fast": 10, "slow": 40}
    with pytest.raises(DataError, match="unknown regime 'boom'"):
        ad.params_for("boom")


def test_bundled_config_on_real_data() -> None:
    ad = StrategyAdaptor.from_yaml(ROOT / "configs/regimes/ma_crossover.yaml")
    close = load_prices(["KO"])["KO"]
    regimes = RegimeDetector().detect(load_index_close()).reindex(close.index)
    sig = ad.signals(close, regimes)
    assert (sig.loc["2008-10"] == 0).all()                       # out of the market in the 2008 crisis
    assert set(np.unique(sig)) <= {0.0, 0.5, 1.0}                # long only, half size without a trend
    assert ad.schedule(regimes).loc["2017-06-30", "exposure"] == 1.0   # low volatility: full size


@pytest.mark.parametrize(("config", "message"), [
    ({"strategy": "ma_crossover", "params": {"fast": 50, "slow": 200}, "overrides": {"crisis": {"fast": 300}}},
     "overrides.crisis.*fast < slow"),
    ({"strategy": "ma_crossover", "params": {"fast": 50, "slow": 200}, "exposure": {"crisis": 1.5}},
     r"exposure.crisis: must be in \[0, 1\]"),
    ({"strategy": "nope"}, "unknown strategy"),
    ({"strategy": "ma_crossover", "params": {"fast": 5, "slow": 20}, "overrides": {"bubble": {}}}, "overrides.bubble"),
])
def test_bad_configs_name_the_field(tmp_path: Path, config: dict, message: str) -> None:
    import yaml

    path = tmp_path / "a.yaml"
    path.write_text(yaml.safe_dump(config))
    with pytest.raises(ConfigError, match=message):
        StrategyAdaptor.from_yaml(path)
