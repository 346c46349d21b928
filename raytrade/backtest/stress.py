"""Stress tests: historical replays on the bundled data and hypothetical index shocks.

Historical replays run the strategy over the whole history (so positions are in place when a
crisis starts) and read each scenario's window: P&L = E_end / E_before - 1 (E_before: the close
before the window), the max drawdown inside it, the bars from its trough until equity regains
the pre-window peak (searched to the end of the data; None if never), and the sleeve (asset) with
the worst P&L. An equal-weight buy and hold of the same assets is replayed alongside.

Hypothetical shocks move each asset by beta_i x the index shock, beta_i the OLS slope of the
asset's daily returns on the index's over the last ``beta_lookback`` bars; the portfolio loses
sum_i w_i beta_i shock, w_i the strategy's weights (position value / portfolio equity) at the last
bar. A flash crash that recovers within the day loses at its trough and nothing at the close.
Time to recover from a shock is estimated as ln(1 / (1 + loss)) / the strategy's mean daily log
return (None when that is <= 0).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd


@dataclass(frozen=True, slots=True)
class Replay:
    name: str
    start: str
    end: str


@dataclass(frozen=True, slots=True)
class Shock:
    name: str
    index_move: float  # e.g. -0.22
    recovered_intraday: bool = False


HISTORICAL = (
    Replay("dot-com bust", "2000-03-01", "2002-10-31"),
    Replay("financial crisis", "2008-09-01", "2009-03-31"),
    Replay("2011 debt-ceiling sell-off", "2011-07-01", "2011-10-31"),
    Replay("COVID crash", "2020-02-19", "2020-03-23"),
    Replay("2022 rate shock", "2022-01-01", "2022-12-31"),
)
HYPOTHETICAL = (
    Shock("1987 Black Monday (-22% in a day)", -0.22),
    Shock("2008-style crash (-40%)", -0.40),
    Shock("2020-style crash (-35%)", -0.35),
    Shock("flash crash (-10% intraday, recovered)", -0.10, recovered_intraday=True),
)


def _window_stats(curve: pd.Series, start: str, end: str) -> dict | None:
    lo = curve.index.searchsorted(pd.Timestamp(start, tz="UTC"))
    hi = curve.index.searchsorted(pd.Timestamp(end, tz="UTC"), side="right") - 1
    if lo < 1 or hi <= lo:
        return None
    before = curve.iloc[lo - 1]
    window = curve.iloc[lo: hi + 1]
    peak_before = curve.iloc[:lo].max()
    trough_pos = lo + int(np.argmin(window.to_numpy()))
    after = curve.iloc[trough_pos:]
    recovered = np.nonzero(after.to_numpy() >= peak_before)[0]
    path = np.concatenate([[before], window.to_numpy()])
    dd = path / np.maximum.accumulate(path) - 1.0
    return {"pnl": float(window.iloc[-1] / before - 1.0), "max_drawdown": float(dd.min()),
            "bars_to_recover": int(recovered[0]) if len(recovered) else None,
            "from": str(curve.index[lo].date()), "to": str(curve.index[hi].date())}


def historical_replays(equity: pd.DataFrame, hold_equity: pd.Series,
                       scenarios: tuple[Replay, ...] = HISTORICAL) -> list[dict]:
    """Replay each scenario on ``equity`` (T x sleeves, summed for the portfolio) and on buy and hold."""
    total = equity.sum(axis=1)
    rows = []
    for sc in scenarios:
        stats = _window_stats(total, sc.start, sc.end)
        if stats is None:
            rows.append({"scenario": sc.name, "covered": False})
            continue
        sleeves = {col: _window_stats(equity[col], sc.start, sc.end) for col in equity.columns}
        worst = min(sleeves, key=lambda c: sleeves[c]["pnl"] if sleeves[c] else math.inf)
        hold = _window_stats(hold_equity, sc.start, sc.end)
        rows.append({"scenario": sc.name, "covered": True, **stats, "worst_asset": worst,
                     "worst_asset_pnl": sleeves[worst]["pnl"], "buy_and_hold_pnl": hold["pnl"] if hold else None})
    return rows


def betas(asset_returns: pd.DataFrame, index_returns: pd.Series, lookback: int = 252) -> pd.Series:
    """OLS beta of each asset's returns on the index's over the last ``lookback`` common bars."""
    joined = asset_returns.join(index_returns.rename("__index__"), how="inner").dropna().iloc[-lookback:]
    x = joined.pop("__index__").to_numpy()
    xc = x - x.mean()
    return pd.Series((joined.to_numpy() - joined.to_numpy().mean(axis=0)).T @ xc / (xc @ xc), index=joined.columns)


def hypothetical_shocks(weights: pd.Series, beta: pd.Series, mean_log_return: float,
                        shocks: tuple[Shock, ...] = HYPOTHETICAL) -> list[dict]:
    """P&L of each shock on the current ``weights`` (fractions of equity, signed)."""
    rows = []
    for sh in shocks:
        contrib = weights * beta.reindex(weights.index).fillna(1.0) * sh.index_move
        trough = float(contrib.sum())
        close = 0.0 if sh.recovered_intraday else trough
        days = (math.log(1.0 / (1.0 + close)) / mean_log_return
                if close < 0 and close > -1 and mean_log_return > 0 else (0 if close >= 0 else None))
        worst = contrib.idxmin() if contrib.notna().any() else None
        rows.append({"scenario": sh.name, "index_move": sh.index_move, "pnl": close, "max_drawdown": min(trough, 0.0),
                     "bars_to_recover": None if days is None else math.ceil(days), "worst_asset": worst,
                     "worst_asset_pnl": float(contrib.min()) if worst is not None else None,
                     "gross_exposure": float(weights.abs().sum())})
    return rows
