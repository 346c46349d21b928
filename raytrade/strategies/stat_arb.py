"""Statistical arbitrage: market-neutral books over many stocks (portfolio strategies).

- :class:`ResidualReversion`: cross-sectional mean reversion of residual returns. Each stock's
  log return over the last ``horizon`` bars, less its beta times the market's (``factor`` 0: the
  equal-weight average of the stocks, beta by OLS of daily returns over ``beta_lookback`` bars) or
  less its sector's average (``factor`` 1: GICS sectors of the bundled stocks), is the residual e.
  The book is long the stocks whose residual fell most and short those that rose most, in
  proportion: w_i = -(e_i - mean e) / sum_j |e_j - mean e|, the mean taken over the whole market
  (factor 0) or within each sector (factor 1), so the weights sum to 0 (dollar neutral; sector
  neutral with factor 1) with gross exposure 1.
- :class:`MomentumDivergence`: within each group (``group`` 0: the whole market, 1: each sector),
  when the group rose over ``lookback`` bars (its members' mean log return > 0) the book is long
  its laggards (the bottom ``fraction`` of members by that return) and short its leaders (the
  top ``fraction``), betting the laggards catch up; when the group fell, the reverse (long the
  leaders, short the laggards, betting the weakest keep falling). Equal weights within each side;
  each group that trades takes an equal share of gross 1.

Both re-balance every ``holding`` bars (the weights are held in between, so the kernel trades
only then), use closes up to the bar only, leave out stocks without a price, and sell short by
design. Sector grouping needs the symbols: the backtest runners pass them (``symbols``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

import numpy as np

from raytrade.core.errors import ConfigError
from raytrade.strategies.base import rolling_sum
from raytrade.strategies.space import ParamBlock, Parameter, ParameterSpace


def sector_groups(symbols: Sequence[str] | None, n_assets: int, by_sector: bool) -> np.ndarray:
    """(N,) integer group of each asset: all 0 for the market, else its GICS sector (bundled
    stocks); ConfigError naming a symbol without a known sector."""
    if not by_sector:
        return np.zeros(n_assets, dtype=np.int64)
    if symbols is None or len(symbols) != n_assets:
        raise ConfigError("sector grouping needs the symbols of the columns (run it through backtest(), a grid or "
                          "a walk-forward, which pass them)")
    from raytrade.data.loaders import load_sectors

    sectors = load_sectors()["gics_sector"]
    unknown = [s for s in symbols if s not in sectors.index]
    if unknown:
        raise ConfigError(f"sector grouping: no sector known for {unknown[0]!r} (bundled stocks only; use the "
                          "market factor or group 0 for other symbols)")
    names = sorted({sectors[s] for s in symbols})
    return np.array([names.index(sectors[s]) for s in symbols], dtype=np.int64)


def _row_mean(x: np.ndarray) -> np.ndarray:
    """(T, 1) mean of each row's finite values; 0 for a row with none."""
    ok = np.isfinite(x)
    cnt = ok.sum(axis=1, keepdims=True)
    return np.where(cnt > 0, np.where(ok, x, 0.0).sum(axis=1, keepdims=True) / np.maximum(cnt, 1), 0.0)


def rebalance_bars(n_bars: int, first: int, holding: int) -> np.ndarray:
    """The bars at whose close the book is re-set: ``first``, then every ``holding`` bars."""
    return np.arange(first, n_bars, holding)


def _hold(weights: np.ndarray, bars: np.ndarray) -> np.ndarray:
    """Weights set at ``bars`` (rows of ``weights``) carried forward until the next one; 0 before."""
    out = np.zeros_like(weights)
    for i, t in enumerate(bars):
        end = bars[i + 1] if i + 1 < len(bars) else len(weights)
        out[t:end] = weights[t]
    return out


def rolling_beta(r: np.ndarray, m: np.ndarray, window: int) -> np.ndarray:
    """(T, N) OLS beta of each column of returns ``r`` (T, N) on ``m`` (T,) over the ``window``
    rows ending at each row (NaN before, or where m does not vary); NaN rows of r give NaN."""
    def sums(x: np.ndarray) -> np.ndarray:
        out = np.full(x.shape, np.nan)
        out[window - 1:] = rolling_sum(x, window)
        return out

    mm = m[:, None]
    sm, smm = sums(mm), sums(mm * mm)
    sr, srm = sums(r), sums(r * mm)
    with np.errstate(divide="ignore", invalid="ignore"):
        var = smm - sm * sm / window
        return np.where(var > 1e-18, (srm - sr * sm / window) / var, np.nan)


class ResidualReversion:
    """Cross-sectional mean reversion of residual returns (see the module doc)."""

    name: ClassVar[str] = "residual_reversion"
    requires_short: ClassVar[bool] = True
    space: ClassVar[ParameterSpace] = ParameterSpace(
        params=(
            Parameter("horizon", int, 1, 250, "bars of the return that should revert"),
            Parameter("beta_lookback", int, 20, 2520, "bars of the market beta regression"),
            Parameter("holding", int, 1, 250, "bars between re-balances"),
            Parameter("factor", int, 0, 1, "0: residual to the market (beta), 1: to the sector average"),
        ),
        defaults={"horizon": 5, "beta_lookback": 60, "holding": 5, "factor": 0},
    )

    def __init__(self, allow_short: bool = False, symbols: Sequence[str] | None = None) -> None:
        self.allow_short = allow_short
        self.symbols = list(symbols) if symbols is not None else None

    def prepare(self, close: np.ndarray, block: ParamBlock) -> dict:
        logc = np.log(np.asarray(close, dtype=np.float64))
        r = np.vstack([np.full((1, logc.shape[1]), np.nan), np.diff(logc, axis=0)])
        return {"log": logc, "r": np.nan_to_num(r), "m": _row_mean(r)[:, 0], "cache": {}}

    def weights(self, prepared: dict, block: ParamBlock) -> np.ndarray:
        logc = prepared["log"]
        n_bars, n = logc.shape
        out = np.zeros((n_bars, len(block), n))
        for k, row in enumerate(block.rows()):
            h, lb, hold, factor = int(row["horizon"]), int(row["beta_lookback"]), int(row["holding"]), int(row["factor"])
            groups = sector_groups(self.symbols, n, factor == 1)
            ret = np.full(logc.shape, np.nan)
            ret[h:] = logc[h:] - logc[:-h]
            if factor == 0:
                key = ("beta", lb)
                if key not in prepared["cache"]:
                    prepared["cache"][key] = rolling_beta(prepared["r"], prepared["m"], lb)
                beta = prepared["cache"][key]
                resid = ret - beta * _row_mean(ret)
            else:
                resid = ret.copy()
            w = np.zeros(logc.shape)
            for g in np.unique(groups):
                cols = groups == g
                e = resid[:, cols]
                ok = np.isfinite(e)
                enough = ok.sum(axis=1, keepdims=True) >= 2
                w[:, cols] = np.where(ok & enough, -(e - _row_mean(e)), 0.0)
            gross = np.abs(w).sum(axis=1, keepdims=True)
            w = np.where(gross > 0, w / np.where(gross > 0, gross, 1.0), 0.0)
            first = max(h, lb if factor == 0 else h)
            out[:, k, :] = _hold(w, rebalance_bars(n_bars, first, hold))
        return out

    def warmup(self, block: ParamBlock) -> int:
        return int(max(block["horizon"].max(), block["beta_lookback"].max()))


class MomentumDivergence:
    """Long the laggards of a rising group against its leaders, and the reverse (module doc)."""

    name: ClassVar[str] = "momentum_divergence"
    requires_short: ClassVar[bool] = True
    space: ClassVar[ParameterSpace] = ParameterSpace(
        params=(
            Parameter("lookback", int, 2, 1000, "bars of the momentum return"),
            Parameter("holding", int, 1, 250, "bars between re-balances"),
            Parameter("fraction", float, 0.05, 0.5, "share of a group's members on each side"),
            Parameter("group", int, 0, 1, "0: the whole market is one group, 1: each GICS sector"),
        ),
        defaults={"lookback": 63, "holding": 21, "fraction": 0.34, "group": 1},
    )

    def __init__(self, allow_short: bool = False, symbols: Sequence[str] | None = None) -> None:
        self.allow_short = allow_short
        self.symbols = list(symbols) if symbols is not None else None

    def prepare(self, close: np.ndarray, block: ParamBlock) -> np.ndarray:
        return np.log(np.asarray(close, dtype=np.float64))

    def weights(self, prepared: np.ndarray, block: ParamBlock) -> np.ndarray:
        logc = prepared
        n_bars, n = logc.shape
        out = np.zeros((n_bars, len(block), n))
        for k, row in enumerate(block.rows()):
            lb, hold, frac = int(row["lookback"]), int(row["holding"]), float(row["fraction"])
            groups = sector_groups(self.symbols, n, int(row["group"]) == 1)
            bars = rebalance_bars(n_bars, lb, hold)
            w = np.zeros(logc.shape)
            for t in bars:
                ret = logc[t] - logc[t - lb]
                books = []
                for g in np.unique(groups):
                    cols = np.flatnonzero((groups == g) & np.isfinite(ret))
                    side = int(np.floor(frac * len(cols)))
                    if len(cols) < 2 or side < 1:
                        continue
                    order = cols[np.argsort(ret[cols], kind="stable")]      # laggards first
                    lag, lead = order[:side], order[-side:]
                    rising = ret[cols].mean() > 0
                    book = np.zeros(n)
                    book[lag] = (1.0 if rising else -1.0) / (2 * side)
                    book[lead] = (-1.0 if rising else 1.0) / (2 * side)
                    books.append(book)
                if books:
                    w[t] = np.sum(books, axis=0) / len(books)
            out[:, k, :] = _hold(w, bars)
        return out

    def warmup(self, block: ParamBlock) -> int:
        return int(block["lookback"].max())
