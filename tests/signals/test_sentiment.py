"""SentimentAnalyzer: Loughran-McDonald tone counted by hand, negation, point-in-time bars, the
insider net purchase ratio, neutral empty input, refusals that name the row.

The texts and transactions here are written for the test (no news or insider data is bundled)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from raytrade.core import DataError
from raytrade.signals.sentiment import SentimentAnalyzer, loughran_mcdonald, score_text

BARS = pd.bdate_range("2024-01-01", periods=8, tz="UTC")   # Mon 1 Jan .. Wed 10 Jan
SYMS = ["AAPL", "KO"]


def test_lexicon_is_the_finance_dictionary() -> None:
    lex = loughran_mcdonald()
    assert len(lex.positive) > 300 and len(lex.negative) > 2000
    # finance meanings, not general-purpose ones: "liability" and "tax" are not negative here
    assert {"improved", "profitable", "strong"} <= lex.positive and {"loss", "impairment", "litigation"} <= lex.negative
    assert "liability" not in lex.negative and "tax" not in lex.negative and "may" in lex.uncertainty


def test_text_scores_by_hand() -> None:
    s = score_text("Revenue improved and margins were strong, but the company isn't profitable and litigation may "
                   "continue.")
    # improved, strong: positive; "not profitable" (negated): negative; litigation: negative; may: uncertainty
    assert (s.positive, s.negative, s.uncertainty, s.words) == (2, 2, 1, 16)
    assert s.tone == 0.0
    assert score_text("Record gains; the outlook improved.").tone == 1.0
    assert score_text("not a very good quarter").negative == 1           # "good" three words after "not"
    assert score_text("not that it was good").positive == 1              # four words after: out of reach
    empty = score_text("")
    assert (empty.tone, empty.words) == (0.0, 0)


def test_news_tone_per_bar_is_point_in_time() -> None:
    docs = pd.DataFrame({
        "timestamp": ["2024-01-01 15:00", "2024-01-02T09:00:00Z", "2024-01-02", "2024-01-05", "2024-01-03"],
        "symbol": ["AAPL", "AAPL", "KO", "AAPL", "MSFT"],
        "text": ["Strong gains.", "Losses and impairment.", "A loss.", "Improved profitability.", "Strong."],
    })
    a = SentimentAnalyzer(window=2).news(docs, BARS, SYMS)
    tone, count = a.features["tone"]["AAPL"], a.features["count"]["AAPL"]
    # day 1's text is first used on bar 2 Jan, day 2's on 3 Jan; a 2-bar window holds both on 3 Jan
    assert count.tolist() == [0, 1, 2, 1, 0, 1, 1, 0]
    assert tone.tolist() == [0, 1, 0, -1, 0, 1, 1, 0]
    assert a.features["tone"]["KO"].tolist() == [0, 0, -1, -1, 0, 0, 0, 0]
    assert a.score.equals(a.features["tone"]) and "MSFT" not in a.score.columns
    shuffled = SentimentAnalyzer(window=2).news(docs.sample(frac=1, random_state=1), BARS, SYMS)
    pd.testing.assert_frame_equal(shuffled.panel(), a.panel())           # row order does not matter
    none = SentimentAnalyzer().news(docs.iloc[:0], BARS, SYMS)
    assert (none.score == 0).all().all() and (none.features["count"] == 0).all().all()


def test_insider_net_purchase_ratio() -> None:
    tx = pd.DataFrame({
        "date": ["2023-12-28", "2024-01-02", "2024-01-02", "2024-01-03"],
        "filed": ["2024-01-01", "2024-01-02", "2024-01-03", "2024-01-04"],
        "symbol": ["AAPL", "AAPL", "AAPL", "AAPL"],
        "insider": ["CEO", "CFO", "CEO", "Director"],
        "side": ["buy", "sell", "P", "S"],
        "shares": [100, 300, 200, 100],
    })
    a = SentimentAnalyzer(insider_window=3).insiders(tx, BARS, SYMS)
    npr = a.features["net_purchase_ratio"]["AAPL"]
    # first used: 2 Jan (+100), 3 Jan (-300), 4 Jan (+200), 5 Jan (-100); 3-bar windows
    assert npr.tolist() == pytest.approx([0, 1, (100 - 300) / 400, (300 - 300) / 600, (200 - 400) / 600,
                                          (200 - 100) / 300, -1, 0])
    assert a.features["buyers"]["AAPL"].tolist() == [0, 1, 1, 1, 1, 1, 0, 0]  # the CEO twice counts once
    assert a.features["count"]["KO"].sum() == 0 and (a.score["KO"] == 0).all()
    no_filed = SentimentAnalyzer(insider_window=1).insiders(tx.drop(columns="filed").iloc[:1], BARS, SYMS)
    # traded Thu 28 Dec: public two business days later (Mon 1 Jan), first used on 2 Jan
    assert no_filed.score["AAPL"].tolist() == [0, 1, 0, 0, 0, 0, 0, 0]


@pytest.mark.parametrize(("frame", "column", "row", "message"), [
    (pd.DataFrame({"timestamp": ["2024-01-01", "2024-01-02"], "symbol": ["KO", "KO"], "text": ["ok", None]}),
     "text", 1, "string"),
    (pd.DataFrame({"timestamp": ["2024-01-01", "someday"], "symbol": ["KO", "KO"], "text": ["a", "b"]}),
     "timestamp", 1, "not a date"),
    (pd.DataFrame({"timestamp": ["2024-01-01"], "text": ["a"]}), "symbol", None, "missing column"),
])
def test_news_refusals_name_the_place(frame: pd.DataFrame, column: str, row: int | None, message: str) -> None:
    with pytest.raises(DataError, match=message) as err:
        SentimentAnalyzer().news(frame, BARS, SYMS)
    assert err.value.column == column and err.value.row == row


@pytest.mark.parametrize(("change", "column", "message"), [
    ({"side": "hold"}, "side", "buy or sell"), ({"shares": -5}, "shares", "> 0"), ({"shares": np.nan}, "shares", "> 0"),
    ({"date": "2024-13-45"}, "date", "not a date"),
])
def test_insider_refusals_name_the_place(change: dict, column: str, message: str) -> None:
    tx = pd.DataFrame({"date": ["2024-01-02", "2024-01-03"], "symbol": ["KO", "KO"], "side": ["buy", "buy"],
                       "shares": [10.0, 20.0]})
    for k, v in change.items():
        tx[k] = tx[k].astype(object)
        tx.loc[1, k] = v
    with pytest.raises(DataError, match=message) as err:
        SentimentAnalyzer().insiders(tx, BARS, SYMS)
    assert err.value.column == column and err.value.row == 1
    with pytest.raises(DataError, match="window"):
        SentimentAnalyzer(window=0)


def test_dataset_takes_news_and_insiders_as_features() -> None:
    from raytrade.data import load_prices
    from raytrade.signals import build_dataset

    close = load_prices(["AAPL", "KO"], "2010-01-01", "2011-12-31")
    news = pd.DataFrame({"timestamp": ["2011-06-01", "2011-06-02"], "symbol": ["AAPL", "KO"],
                         "text": ["Strong gains", "Loss"]})
    tx = pd.DataFrame({"date": ["2011-05-02"], "symbol": ["KO"], "side": ["buy"], "shares": [1000]})
    ds = build_dataset(close, 21, news=news, insiders=tx)
    with_news = ds.X[ds.X["sentiment.count"] > 0]
    assert len(with_news) == 10                                     # 5 bars a text, two texts
    assert with_news["sentiment.tone"].groupby(level=1).mean().to_dict() == {"AAPL": 1.0, "KO": -1.0}
    assert ds.X["insider.net_purchase_ratio"].xs("KO", level=1).max() == 1.0
    assert not ds.X.isna().any().any()                              # no text is neutral, not NaN
