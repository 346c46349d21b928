"""Analyzers: vectorised features of prices and a score in [-1, 1] per bar and symbol.

Every analyzer takes daily closes as a wide frame (T bars x N symbols; OHLC where noted) and
returns an :class:`Analysis`: named feature frames of the same shape and a ``score`` frame. A value
at bar t uses bars up to and including t only (no look-ahead); the first bars are NaN while a
window warms up (nothing is filled). Conventions: returns are log returns; volatility is the
standard deviation of daily log returns (ddof=1) x sqrt(252); windows are in bars.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from raytrade.core.calendars import periods_per_year
from raytrade.core.errors import DataError

TRADING_DAYS = int(periods_per_year("XNYS"))


@dataclass(frozen=True)
class Analysis:
    """Features (name -> T x N frame) and the analyzer's score (T x N, in [-1, 1])."""

    name: str
    features: dict[str, pd.DataFrame]
    score: pd.DataFrame
    docs: dict[str, str] = field(default_factory=dict)

    def panel(self) -> pd.DataFrame:
        """Long form: one row per (timestamp, symbol), one column per feature, plus the score."""
        cols = {f"{self.name}.{k}": v.stack(future_stack=True) for k, v in self.features.items()}
        cols[f"{self.name}.score"] = self.score.stack(future_stack=True)
        return pd.DataFrame(cols)


def _wide(close: pd.DataFrame | pd.Series, name: str = "close") -> pd.DataFrame:
    frame = close.to_frame() if isinstance(close, pd.Series) else close
    if frame.empty:
        raise DataError("no bars", source=name)
    bad = ~(np.isfinite(frame.to_numpy(dtype=np.float64)) & (frame.to_numpy(dtype=np.float64) > 0))
    if bad.any():
        t, j = np.argwhere(bad)[0]
        raise DataError(f"price must be finite and > 0, got {frame.iat[t, j]}", source=name,
                        column=str(frame.columns[j]), row=int(t), timestamp=frame.index[t])
    return frame.astype(np.float64)


def log_returns(close: pd.DataFrame) -> pd.DataFrame:
    return np.log(close).diff()


def realised_vol(close: pd.DataFrame, window: int) -> pd.DataFrame:
    """Annualised close-to-close volatility over ``window`` bars."""
    return log_returns(close).rolling(window).std(ddof=1) * np.sqrt(TRADING_DAYS)


def rsi(close: pd.DataFrame, window: int = 14) -> pd.DataFrame:
    """Wilder's RSI in [0, 100]: smoothed gains over smoothed losses (alpha = 1/window)."""
    delta = close.diff()
    gain = delta.clip(lower=0).ewm(alpha=1 / window, adjust=False, min_periods=window).mean()
    loss = (-delta.clip(upper=0)).ewm(alpha=1 / window, adjust=False, min_periods=window).mean()
    rs = gain / loss
    return 100 - 100 / (1 + rs)


def momentum(close: pd.DataFrame | pd.Series, horizons: tuple[int, ...] = (21, 63, 126, 252)) -> Analysis:
    """Returns over several horizons, RSI(14) and the slope of the 50-bar moving average.

    ``ma_slope`` is the 20-bar change of the 50-bar SMA divided by the price (fraction). Score:
    tanh of the 126-bar return divided by its expected size under the trailing volatility
    (r_126 / (sigma x sqrt(126/252))), i.e. a squashed momentum t-statistic: +1 strong uptrend.
    """
    c = _wide(close)
    feats = {f"ret_{h}": np.log(c / c.shift(h)) for h in horizons}
    feats["rsi_14"] = rsi(c)
    sma = c.rolling(50).mean()
    feats["ma_slope"] = (sma - sma.shift(20)) / c
    vol = realised_vol(c, 126)
    score = np.tanh(np.log(c / c.shift(126)) / (vol * np.sqrt(126 / TRADING_DAYS)))
    return Analysis("momentum", feats, score, {"ret_h": "log return over h bars", "rsi_14": "Wilder RSI, 0-100",
                                               "ma_slope": "20-bar change of SMA50 / price"})


def half_life(close: pd.DataFrame, window: int = 126, cap: float | None = None) -> pd.DataFrame:
    """Half-life (bars) of mean reversion of log prices: OLS of dp_t on p_{t-1} over ``window``
    bars, half-life = -ln 2 / beta, capped at ``cap`` (default 10 x window), and the cap itself
    when beta >= 0 (no reversion is a value, "slower than the cap", not missing data). NaN only
    while the window warms up."""
    p = np.log(close)
    x = p.shift(1)
    y = p - x
    mx, my = x.rolling(window).mean(), y.rolling(window).mean()
    cov = (x * y).rolling(window).mean() - mx * my
    var = (x * x).rolling(window).mean() - mx * mx
    beta = cov / var
    limit = float(cap if cap is not None else 10 * window)
    out = (-np.log(2) / beta).where(beta < 0, limit).clip(upper=limit)
    return out.where(beta.notna())


def mean_reversion(close: pd.DataFrame | pd.Series, window: int = 20, k: float = 2.0) -> Analysis:
    """Bollinger %b (window, k sigma), z-score of the price to its moving mean, half-life.

    %b = (close - lower) / (upper - lower), 0.5 at the mean. Score: -tanh(z / 2): a price far
    above its mean scores towards -1 (expected to fall back), far below towards +1.
    """
    c = _wide(close)
    mean = c.rolling(window).mean()
    std = c.rolling(window).std(ddof=1)
    z = (c - mean) / std
    pct_b = (c - (mean - k * std)) / (2 * k * std)
    feats = {"pct_b": pct_b, "zscore": z, "half_life": half_life(c)}
    return Analysis("mean_reversion", feats, -np.tanh(z / 2),
                    {"pct_b": "Bollinger %b", "zscore": "(close - SMA) / std", "half_life": "bars"})


def volatility(close: pd.DataFrame | pd.Series, high: pd.DataFrame | None = None, low: pd.DataFrame | None = None,
               window: int = 21, regime_window: int = 252) -> Analysis:
    """Close-to-close volatility, Parkinson volatility and ATR (where high and low exist), and the
    volatility regime: the percentile (0-1) of today's volatility within its trailing
    ``regime_window`` bars. Score: 1 - 2 x percentile (calm: towards +1, stressed: towards -1).

    Parkinson: sqrt(mean(ln(H/L)^2) / (4 ln 2)) x sqrt(252). ATR: Wilder average of the true range
    max(H - L, |H - C_prev|, |L - C_prev|), in price units.
    """
    c = _wide(close)
    vol = realised_vol(c, window)
    feats = {"vol_cc": vol}
    if high is not None and low is not None:
        h, lo = _wide(high, "high"), _wide(low, "low")
        hl = np.log(h / lo) ** 2
        feats["vol_parkinson"] = np.sqrt(hl.rolling(window).mean() / (4 * np.log(2))) * np.sqrt(TRADING_DAYS)
        prev = c.shift(1)
        tr = pd.concat([h - lo, (h - prev).abs(), (lo - prev).abs()]).groupby(level=0).max().reindex(c.index)
        feats["atr_14"] = tr.ewm(alpha=1 / 14, adjust=False, min_periods=14).mean()
    pctile = vol.rolling(regime_window, min_periods=regime_window // 2).rank(pct=True)
    feats["vol_percentile"] = pctile
    return Analysis("volatility", feats, 1 - 2 * pctile,
                    {"vol_cc": "annualised", "vol_parkinson": "annualised", "atr_14": "price units",
                     "vol_percentile": "0-1 within the trailing year"})


def roll_spread(close: pd.DataFrame | pd.Series, window: int = 63) -> pd.DataFrame:
    """Roll's (1984) effective spread from closes alone, in bps of the price: 2 x sqrt(-cov) x 1e4,
    cov the sample (ddof=1) covariance of consecutive daily log price changes over ``window``
    bars; 0 where that covariance is >= 0 (no bid-ask bounce to measure). A liquidity proxy for
    data without volume: wider means less liquid."""
    r = log_returns(_wide(close))
    cov = r.rolling(window).cov(r.shift(1))
    return (2 * np.sqrt((-cov).clip(lower=0)) * 1e4).where(cov.notna())


def factor_betas(close: pd.DataFrame | pd.Series, factors: pd.DataFrame, window: int = 126) -> Analysis:
    """The FactorAnalyzer's features: rolling betas of each symbol's daily log returns to each
    factor's (e.g. the bundled factor ETFs MTUM, QUAL, SIZE, USMV, VLUE), one at a time
    (univariate OLS over ``window`` bars); the proxies, from prices only since the bundled data has
    no fundamentals or stock volume: momentum = the 252-bar log return skipping the last 21 bars,
    low volatility = -annualised 63-bar volatility, quality = the beta to QUAL (when given),
    liquidity = -Roll's spread in bps (:func:`roll_spread`). Score: tanh of the symbol's beta to
    momentum minus its beta to the low-volatility factor, when both are given (else 0 with NaN
    where betas are NaN)."""
    c = _wide(close)
    f = _wide(factors, "factors").reindex(c.index)
    r, fr = log_returns(c), log_returns(f)
    feats: dict[str, pd.DataFrame] = {}
    for name in fr.columns:
        x = fr[name]
        cov = r.rolling(window).cov(x)
        var = x.rolling(window).var()
        feats[f"beta_{str(name).lower()}"] = cov.div(var, axis=0)
    feats["momentum_12_1"] = np.log(c.shift(21) / c.shift(252))
    feats["low_vol"] = -realised_vol(c, 63)
    if "beta_qual" in feats:
        feats["quality"] = feats["beta_qual"]
    feats["liquidity"] = -roll_spread(c)
    if "beta_mtum" in feats and "beta_usmv" in feats:
        score = np.tanh(feats["beta_mtum"] - feats["beta_usmv"])
    else:
        score = next(iter(feats.values())) * 0.0
    return Analysis("factor", feats, score, {"beta_x": f"{window}-bar OLS beta to factor x",
                                             "momentum_12_1": "log return from t-252 to t-21",
                                             "low_vol": "-vol_63", "quality": "beta to QUAL",
                                             "liquidity": "-Roll spread, bps"})
