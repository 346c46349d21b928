"""Market regimes by documented rules on one index (the bundled S&P 500 by default).

At each bar, from data up to that bar (21-bar volatility sigma, annualised; drawdown dd from the
252-bar closing high; 63-bar log return r63 and its t-statistic t = r63 / (sigma x sqrt(63/252));
lag-1 autocorrelation rho of daily returns over 63 bars), the first rule that holds names it:

1. crisis: dd <= -15% and sigma >= 35%;
2. high volatility: sigma >= 25%;
3. low volatility: sigma <= 10%;
4. trending up: t >= 1;
5. trending down: t <= -1;
6. mean reverting: rho <= -0.1;
7. range-bound: anything else.

The thresholds are parameters; the defaults put 2008-10 and 2020-03 in crisis and most of 2017 in
low volatility on the bundled data (tested). Bars before the windows fill are ``None``.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

import numpy as np
import pandas as pd

from raytrade.signals.analyzers import TRADING_DAYS, _wide, log_returns


class MarketRegime(StrEnum):
    TRENDING_UP = "trending_up"
    TRENDING_DOWN = "trending_down"
    MEAN_REVERTING = "mean_reverting"
    HIGH_VOLATILITY = "high_volatility"
    LOW_VOLATILITY = "low_volatility"
    CRISIS = "crisis"
    RANGE_BOUND = "range_bound"


@dataclass(frozen=True)
class RegimeDetector:
    crisis_drawdown: float = -0.15
    crisis_vol: float = 0.35
    high_vol: float = 0.25
    low_vol: float = 0.10
    trend_t: float = 1.0
    reversion_rho: float = -0.1

    def indicators(self, index_close: pd.Series) -> pd.DataFrame:
        c = _wide(index_close, "index").iloc[:, 0]
        r = log_returns(c.to_frame()).iloc[:, 0]
        sigma = r.rolling(21).std(ddof=1) * np.sqrt(TRADING_DAYS)
        dd = c / c.rolling(252, min_periods=63).max() - 1
        r63 = np.log(c / c.shift(63))
        t = r63 / (sigma * np.sqrt(63 / TRADING_DAYS))
        rho = r.rolling(63).corr(r.shift(1))
        return pd.DataFrame({"vol": sigma, "drawdown": dd, "ret_63": r63, "trend_t": t, "autocorr": rho})

    def detect(self, index_close: pd.Series) -> pd.Series:
        """The regime of each bar (None while the windows warm up)."""
        ind = self.indicators(index_close)
        R = MarketRegime
        conditions = [
            (ind["drawdown"] <= self.crisis_drawdown) & (ind["vol"] >= self.crisis_vol),
            ind["vol"] >= self.high_vol,
            ind["vol"] <= self.low_vol,
            ind["trend_t"] >= self.trend_t,
            ind["trend_t"] <= -self.trend_t,
            ind["autocorr"] <= self.reversion_rho,
        ]
        names = [R.CRISIS, R.HIGH_VOLATILITY, R.LOW_VOLATILITY, R.TRENDING_UP, R.TRENDING_DOWN, R.MEAN_REVERTING]
        out = np.select([cnd.fillna(False).to_numpy() for cnd in conditions], [n.value for n in names],
                        default=R.RANGE_BOUND.value).astype(object)
        ready = ind[["vol", "drawdown", "trend_t", "autocorr"]].notna().all(axis=1).to_numpy()
        out[~ready] = None
        return pd.Series(out, index=ind.index, name="regime")
