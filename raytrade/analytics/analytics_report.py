"""One HTML analytics report for a backtest run folder or for the engine's log: attribution (by
sector with Brinson-Fachler, by strategy, by regime, by factor), correlation clusters with the
heatmap, drawdown events, return decomposition and the tax section (realised gains by year and
term, wash sales, open lots).

A run folder holds ``equity.csv`` (one column per symbol's sleeve and ``PORTFOLIO``, currency)
and ``fills.csv`` (timestamp, symbol, side, quantity, price, commission; ``trades.csv`` in runs
written before round trips had their own file). Sleeve P&L per day is
the change of its equity; sectors come from the bundled sector file (other symbols:
``Unclassified``); regimes from :class:`raytrade.signals.regime.RegimeDetector` on the bundled S&P
500; factors are the bundled factor ETFs (daily excess returns are not taken: the ETFs' own
returns, 2014-2022) and the Fama-French three factors (monthly, excess of the risk-free rate).
Sections that need data the run does not cover (a factor window, bundled prices for Brinson)
say so instead of failing. Tax: the trades through :class:`raytrade.analytics.tax.LotLedger`
(FIFO; short sales left outside), open lots valued at the last close of the run.
"""

from __future__ import annotations

import html
from collections.abc import Callable, Iterable
from pathlib import Path

import numpy as np
import pandas as pd

from raytrade.analytics.attribution import (
    describe,
    factor_attribution,
    group_pnl,
    regime_pnl,
    sector_attribution,
)
from raytrade.analytics.book import BookHistory
from raytrade.analytics.correlation import analyse_correlation, heatmap_figure
from raytrade.analytics.drawdowns import drawdown_events
from raytrade.analytics.report import figure_html, table_html, write_report
from raytrade.analytics.tax import LotLedger
from raytrade.core.errors import DataError, RaytradeError

REPORT = "analytics.html"


def _lines(lines: list[str]) -> str:
    return "<ul>" + "".join(f"<li>{html.escape(x)}</li>" for x in lines) + "</ul>"


def _note(text: str) -> str:
    return f'<p class="note">{html.escape(text)}</p>'


def _guard(build: Callable[[], str]) -> str:
    """A section's HTML, or a note saying why it could not be built (missing data, too few periods)."""
    try:
        return build()
    except RaytradeError as exc:
        return _note(f"not available: {exc}")


def _sectors(symbols: Iterable[str]) -> dict[str, str]:
    from raytrade.data import load_sectors

    known = load_sectors()["gics_sector"].to_dict()
    return {s: known.get(s, "Unclassified") for s in symbols}


def _group_section(pnl: pd.DataFrame, groups: dict[str, str] | None) -> str:
    t = group_pnl(pnl, groups)
    return _lines(describe(t)) + table_html(t, "{:,.4g}")


def _regime_section(pnl: pd.Series) -> str:
    from raytrade.data import load_index_close
    from raytrade.signals.regime import RegimeDetector

    idx = load_index_close()
    regimes = RegimeDetector().detect(idx)
    regimes.index = regimes.index.normalize()
    lab = regimes.reindex(pnl.index.normalize())
    lab.index = pnl.index
    t = regime_pnl(pnl, lab)
    return _lines(describe(t)) + table_html(t, "{:,.4g}")


def _factor_section(returns: pd.Series) -> str:
    from raytrade.data import load_factor_etfs, load_fama_french

    parts = []
    etf = load_factor_etfs().pct_change().iloc[1:]
    r = returns.copy()
    r.index = r.index.normalize()
    etf.index = etf.index.normalize()
    try:
        fa = factor_attribution(r, etf)
        parts.append(f"<p>Daily, on the factor ETFs ({fa.periods} days): alpha {fa.alpha_annual:+.2%} a year "
                     f"(t = {fa.alpha_t:.2f}), R² {fa.r_squared:.2f}</p>" + table_html(fa.table()))
    except RaytradeError as exc:
        parts.append(_note(f"factor ETFs (2014-2022): {exc}"))
    ff = load_fama_french()
    naive = returns.index.tz_convert(None) if returns.index.tz is not None else returns.index
    monthly = (1 + returns).groupby(naive.to_period("M")).prod() - 1
    ff_m = ff.copy()
    ff_m.index = ff_m.index.tz_convert(None).to_period("M") if ff_m.index.tz is not None else ff_m.index.to_period("M")
    try:
        fa = factor_attribution(monthly, ff_m[["mkt_rf", "smb", "hml"]], periods_per_year=12, risk_free=ff_m["rf"])
        parts.append(f"<p>Monthly, on Fama-French 3 ({fa.periods} months, excess of the risk-free rate): alpha "
                     f"{fa.alpha_annual:+.2%} a year (t = {fa.alpha_t:.2f}), R² {fa.r_squared:.2f}</p>"
                     + table_html(fa.table()))
    except RaytradeError as exc:
        parts.append(_note(f"Fama-French: {exc}"))
    return "".join(parts)


def _brinson_section(equity: pd.DataFrame, trades: pd.DataFrame, sectors: dict[str, str]) -> str:
    """Brinson-Fachler by sector against an equal-weight book of the same stocks: the run's
    weights in each stock are its position value / the portfolio's equity at the previous close
    (positions from the trades; the rest is cash, a segment of return 0 the benchmark does not hold)."""
    from raytrade.data import load_prices

    syms = [c for c in equity.columns if c != "PORTFOLIO"]
    prices = load_prices(syms).reindex(equity.index.normalize())
    prices.index = equity.index
    if prices.isna().all().any():
        raise DataError("Brinson-Fachler needs bundled prices for every symbol", source="analytics report")
    signed = trades.assign(q=np.where(trades["side"] == "buy", trades["quantity"], -trades["quantity"]))
    pos = (signed.pivot_table(index="timestamp", columns="symbol", values="q", aggfunc="sum")
           .reindex(columns=syms, fill_value=0.0).cumsum())
    pos = pos.reindex(equity.index, method="ffill").fillna(0.0)
    value = pos * prices.ffill()
    w = value.div(equity["PORTFOLIO"], axis=0).shift(1).iloc[1:]
    rets = prices.ffill().pct_change().iloc[1:].fillna(0.0)
    w["CASH"] = 1.0 - w.sum(axis=1)
    rets["CASH"] = 0.0
    bench = pd.DataFrame(1.0 / len(syms), index=w.index, columns=syms)
    bench["CASH"] = 0.0
    groups = {**sectors, "CASH": "Cash"}
    t = sector_attribution(w, rets, groups, bench)
    years = sorted(set(w.index.year))
    per_year = pd.DataFrame({y: sector_attribution(w[w.index.year == y], rets[rets.index.year == y], groups,
                                                   bench[bench.index.year == y]).loc["TOTAL"] for y in years}).T
    per_year.index.name = "year"
    return ("<p>Against an equal-weight book of the same stocks; effects are daily Brinson-Fachler effects "
            "summed (fractions of equity), so over many years they drift from the compounded active return "
            "(the residual): read them a year at a time.</p>" + table_html(per_year, "{:+.4f}")
            + "<p>By sector over the whole run:</p>" + table_html(t.drop(columns="residual"), "{:+.4f}"))


def _drawdown_section(wealth: pd.Series, threshold: float) -> str:
    ev = drawdown_events(wealth, threshold)
    if ev.empty:
        return f"<p>No drawdown of {threshold:.0%} or more.</p>"
    shown = ev.assign(depth=ev["depth"].map(lambda d: f"{d:.1%}"))
    return table_html(shown)


def _tax_section(fills: pd.DataFrame, last: dict[str, float]) -> str:
    """``fills`` with an optional ``multiplier`` column (contracts: the ledger's prices are per
    unit of quantity, premium x multiplier); ``last``: the quotes the open lots are valued at."""
    if "multiplier" in fills.columns:
        mult = fills.groupby("symbol")["multiplier"].last().to_dict()
        fills = fills.assign(price=fills["price"] * fills["multiplier"]).drop(columns="multiplier")
        last = {s: p * mult.get(s, 1.0) for s, p in last.items()}
    led = LotLedger.from_fills(fills, "fifo", allow_short=True)
    real = led.realized()
    if real.empty:
        out = "<p>No lot was closed.</p>"
    else:
        real["year"] = pd.to_datetime(real["sold"], utc=True).dt.year
        by = real.pivot_table(index="year", columns="term", values="recognized_gain", aggfunc="sum", fill_value=0.0)
        by["wash_disallowed"] = real.groupby("year")["wash_disallowed"].sum()
        by["pieces"] = real.groupby("year").size()
        out = (f"<p>{len(real):,} closed lot pieces, {int((real['wash_disallowed'] > 0).sum()):,} washed "
               f"(loss disallowed {real['wash_disallowed'].sum():,.0f}, added to the replacement lots' basis).</p>"
               + table_html(by, "{:,.0f}"))
    lots = led.open_lots().rename(columns={"basis_per_share": "basis_per_unit"})  # a share or a contract
    if not lots.empty:
        lots["price"] = lots["symbol"].map(last)
        lots["unrealized"] = lots["quantity"] * lots["price"] - lots["basis"]
        out += "<p>Open lots at the last close:</p>" + table_html(lots, "{:,.2f}")
    return out


def _decomposition(equity: pd.Series, flows: pd.Series | None = None) -> str:
    from raytrade.analytics.attribution import return_decomposition, time_weighted_return

    f = flows if flows is not None else pd.Series(0.0, index=equity.index)
    d = return_decomposition(float(equity.iloc[0]), float(equity.iloc[-1]), f.iloc[1:])
    twr = time_weighted_return(equity, f)
    return (f"<p>Start {equity.iloc[0]:,.0f}, end {equity.iloc[-1]:,.0f}; time-weighted return {twr:+.2%}.</p>"
            + table_html(pd.DataFrame([d]), "{:,.0f}"))


def run_report(folder: str | Path, output: str | Path | None = None, threshold: float = 0.05) -> Path:
    """Write ``analytics.html`` for a backtest run folder (into ``output``, default the folder)."""
    folder = Path(folder)
    fills_file = folder / "fills.csv" if (folder / "fills.csv").is_file() else folder / "trades.csv"  # older runs
    for file in (folder / "equity.csv", fills_file):
        if not file.is_file():
            raise DataError(f"{folder} is not a backtest run folder: {file.name} is missing", source="analytics report")
    equity = pd.read_csv(folder / "equity.csv", index_col="timestamp", parse_dates=["timestamp"])
    trades = pd.read_csv(fills_file, parse_dates=["timestamp"])
    if "PORTFOLIO" not in equity.columns or len(equity) < 3:
        raise DataError(f"{folder / 'equity.csv'} needs a PORTFOLIO column and 3 rows or more",
                        source="analytics report")
    syms = [c for c in equity.columns if c != "PORTFOLIO"]
    sectors = _sectors(syms)
    pnl = equity[syms].diff().iloc[1:]
    port = equity["PORTFOLIO"]
    rets = port.pct_change().iloc[1:]
    sections = [
        ("Return decomposition", _guard(lambda: _decomposition(port))),
        ("P&L by sector", _guard(lambda: _group_section(pnl, sectors))),
        ("Brinson-Fachler by sector", _guard(lambda: _brinson_section(equity, trades, sectors))),
        ("P&L by symbol", _guard(lambda: _group_section(pnl, None))),
        ("P&L by market regime (S&P 500)", _guard(lambda: _regime_section(port.diff().iloc[1:]))),
        ("Factor attribution", _guard(lambda: _factor_section(rets))),
    ]
    if len(syms) >= 2:
        def corr() -> str:
            a = analyse_correlation(equity[syms].pct_change().iloc[1:], n_clusters=min(4, len(syms)), sectors=sectors)
            return (f"<p>Diversification score {a.score:.2f} (shrinkage {a.shrinkage:.2f}, mean correlation "
                    f"{a.average_correlation:.2f}) of the sleeves' daily returns.</p>" + table_html(a.cluster_table())
                    + figure_html(heatmap_figure(a), "clustered correlation heatmap"))  # type: ignore[arg-type]
        sections.append(("Correlation clusters", _guard(corr)))
    sections.append((f"Drawdowns of {threshold:.0%} or more", _guard(lambda: _drawdown_section(port, threshold))))
    fills = trades.rename(columns={"timestamp": "time"})
    last = {s: float(v) for s, v in _last_prices(equity, trades).items()}
    sections.append(("Tax lots (FIFO, 37 % short / 20 % long term not applied: gains in currency)",
                     _guard(lambda: _tax_section(fills, last))))
    out = Path(output) if output is not None else folder
    out.mkdir(parents=True, exist_ok=True)
    return write_report(out / REPORT, f"Analytics: {folder.name}", sections)


def _last_prices(equity: pd.DataFrame, trades: pd.DataFrame) -> dict[str, float]:
    """The last close of each symbol from the bundled prices, else its last trade price."""
    from raytrade.data import load_prices

    syms = sorted(set(trades["symbol"]))
    last = trades.groupby("symbol")["price"].last().to_dict()
    try:
        prices = load_prices(syms).loc[: equity.index[-1]].ffill()
        last.update({s: float(prices[s].iloc[-1]) for s in syms if s in prices and np.isfinite(prices[s].iloc[-1])})
    except RaytradeError:
        pass
    return last


def log_report(history: BookHistory, output: str | Path, title: str = "the engine's book",
               threshold: float = 0.05) -> Path:
    """Write ``analytics.html`` for the live book rebuilt from the log (:func:`book_history`)."""
    if history.equity.empty:
        raise DataError("the log holds no session start yet: nothing to analyse", source="analytics report")
    sectors = _sectors(history.symbol_pnl.columns)
    wealth = history.wealth[history.equity > 0]
    sections = [
        ("Return decomposition", _guard(lambda: _decomposition(history.equity, history.flows))),
        ("P&L by sector", _guard(lambda: _group_section(history.symbol_pnl, sectors))),
        ("P&L by strategy", _guard(lambda: _group_section(history.strategy_pnl, None))),
        ("P&L by symbol", _guard(lambda: _group_section(history.symbol_pnl, None))),
        (f"Drawdowns of {threshold:.0%} or more (time-weighted)",
         _guard(lambda: _drawdown_section(wealth, threshold))),
    ]
    if not history.fills.empty:
        sections.append(("Tax lots (FIFO)", _guard(lambda: _tax_section(history.fills.drop(columns="strategy"),
                                                                          history.marks))))
    out = Path(output)
    out.mkdir(parents=True, exist_ok=True)
    return write_report(out / REPORT, f"Analytics: {title}", sections)
