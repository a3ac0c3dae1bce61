"""Complaint text analysis: pure Python (no Spark), so these tests run in about a second."""

from __future__ import annotations

import math
import re
from itertools import combinations

import pandas as pd
import pytest

from fin360.silver.complaint_text import (
    NEGATIVE_WORDS,
    NEGATORS,
    POSITIVE_WORDS,
    STOPWORDS,
    TOPIC_KEYWORDS,
    TOPICS,
    analyse,
    clean_text,
    detect_language,
    sentiment,
    tokenize,
    topic,
)

HAN = re.compile(r"[\u4e00-\u9fff]")

# --------------------------------------------------------------------------------------
# clean_text
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("ＡＰＰ　登录失败，请处理！", "APP 登录失败,请处理!"),
        ("信用卡年费１２０元", "信用卡年费120元"),
        ("  too \t many\n\n  spaces  ", "too many spaces"),
        ("No change.", "No change."),
    ],
)
def test_clean_text_normalises_width_and_whitespace(raw: str, expected: str) -> None:
    assert clean_text(raw) == expected


@pytest.mark.parametrize("raw", [None, "", "   ", "\u3000\t\n", float("nan")])
def test_clean_text_blank_is_none(raw: object) -> None:
    assert clean_text(raw) is None  # type: ignore[arg-type]


# --------------------------------------------------------------------------------------
# detect_language
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("我的信用卡被冻结了", "zh"),
        ("My card was blocked without any reason.", "en"),
        ("手机银行APP登录失败", "zh"),  # mixed, mostly Chinese
        ("my app 登录 failed again today", "en"),  # mixed, mostly English
        ("ＨＥＬＬＯ ｔｅａｍ", "en"),  # full-width Latin, not yet cleaned
        ("12345 !!! ???", None),
        ("", None),
        (None, None),
    ],
)
def test_detect_language(text: str | None, expected: str | None) -> None:
    assert detect_language(text) == expected


# --------------------------------------------------------------------------------------
# tokenize
# --------------------------------------------------------------------------------------


def test_tokenize_chinese_keeps_banking_words_whole_and_drops_stopwords() -> None:
    tokens = tokenize("跨行转账收了15元手续费，我的信用卡也被冻结了！", "zh")
    assert {"手续费", "信用卡", "冻结"} <= set(tokens)
    assert not {"了", "的", "我", "也", "被", "15", "元", ",", "!", "，"} & set(tokens)
    assert "提前还款" in tokenize("提前还款要收违约金", "zh")
    assert "违约金" in tokenize("提前还款要收违约金", "zh")
    assert tokenize("手机银行APP一打开就闪退", "zh") == ["手机银行", "app", "打开", "闪退"]


def test_tokenize_chinese_splits_compounds_of_lexicon_words() -> None:
    # jieba's own dictionary has 房贷利率 and 服务周到 as single words.
    assert tokenize("房贷利率上调", "zh") == ["房贷", "利率", "上调"]
    assert tokenize("服务周到", "zh") == ["服务", "周到"]


def test_tokenize_english_lower_cases_and_drops_stopwords() -> None:
    tokens = tokenize("The App CRASHED, and I can't log in! Please fix it 2 times.", "en")
    assert tokens == ["app", "crashed", "can't", "log", "fix"]


def test_tokenize_keeps_negators_and_handles_missing_text() -> None:
    assert "not" in tokenize("it is not good", "en")
    assert "没有" in tokenize("没有解决", "zh")
    assert tokenize(None, "zh") == []
    assert tokenize("   ", "en") == []
    assert tokenize("1234 ...", None) == []
    assert tokenize("ＡＰＰ闪退", None) == ["app", "闪退"]  # cleans and detects by itself


def test_tokenize_is_deterministic() -> None:
    text = "您好, 12月30日被扣了25元的年费,之前说好免年费的,请退还。"
    assert tokenize(text, "zh") == tokenize(text, "zh")


def test_lexicons_are_consistent() -> None:
    assert TOPICS[-1] == "other"
    assert set(TOPIC_KEYWORDS) == set(TOPICS[:-1])
    for a, b in combinations(TOPIC_KEYWORDS, 2):
        assert not TOPIC_KEYWORDS[a] & TOPIC_KEYWORDS[b], (a, b)
    lexicon = set().union(*TOPIC_KEYWORDS.values(), POSITIVE_WORDS, NEGATIVE_WORDS, NEGATORS)
    assert not STOPWORDS & lexicon
    assert not POSITIVE_WORDS & NEGATIVE_WORDS
    assert not NEGATORS & (POSITIVE_WORDS | NEGATIVE_WORDS)
    assert all(word == word.lower() for word in lexicon | STOPWORDS)


# --------------------------------------------------------------------------------------
# topic and sentiment
# --------------------------------------------------------------------------------------

CHINESE = [
    ("信用卡年费又被扣了200元，太不合理了，非常失望！", "fees", -1.0),
    ("我的银行卡无故被冻结，柜台也没办法解冻", "card", -1.0),
    ("手机银行APP更新后一直闪退，登录不了", "digital", -1.0),
    ("房贷利率上调了，每月多还五百元，提前还款还要收违约金", "loan", 0.0),
    ("网点排队等了一个小时，柜员态度很差", "service", -1.0),
    ("信用卡被盗刷了三千元，怀疑是诈骗", "fraud", 0.0),
    ("客户经理很专业，服务周到，非常满意，谢谢！", "service", 1.0),
    ("今天天气不错", "other", 1.0),
    ("转账又快又方便，但是收了手续费，有点失望", "fees", 1 / 3),
]

ENGLISH = [
    ("I was charged a hidden annual fee, very disappointed.", "fees", -1.0),
    ("My debit card was blocked at the ATM for no reason", "card", 0.0),
    ("The mobile app keeps crashing after the update, I cannot log in.", "digital", -1.0),
    ("My mortgage rate went up and the early repayment penalty is unfair.", "loan", -1.0),
    ("Staff at the branch were rude and I waited an hour in the queue.", "service", -1.0),
    ("Someone made unauthorised payments with my stolen card, this is fraud!", "fraud", 0.0),
    ("Great service, the advisor was helpful and patient. Thanks!", "service", 1.0),
    ("Please send me the statement for March", "other", 0.0),
    ("The app is fast but the login is slow and terrible", "digital", -1 / 3),
]


@pytest.mark.parametrize(("text", "expected_topic", "expected_sentiment"), CHINESE + ENGLISH)
def test_topic_and_sentiment(text: str, expected_topic: str, expected_sentiment: float) -> None:
    tokens = tokenize(text, detect_language(text))
    assert topic(tokens) == expected_topic, tokens
    assert sentiment(tokens) == pytest.approx(expected_sentiment), tokens


@pytest.mark.parametrize(
    ("plain", "negated"),
    [
        ("我很满意", "我不满意"),
        ("转账很方便", "转账不方便"),
        ("问题解决了", "问题没有解决"),
        ("服务好", "服务不好"),
        ("The staff were helpful", "The staff were not helpful"),
        ("The app is slow", "The app is never slow"),
        ("bad", "not bad"),
        ("thanks", "no thanks"),
    ],
)
def test_negation_flips_sentiment(plain: str, negated: str) -> None:
    before = sentiment(tokenize(plain, None))
    after = sentiment(tokenize(negated, None))
    assert before != 0
    assert after == -before


def test_negation_only_reaches_the_next_word() -> None:
    # 没有 negates 通知 (neutral), not the 不满 further on.
    assert sentiment(["没有", "通知", "不满"]) == -1.0
    assert sentiment(["not", "helpful", "great"]) == 0.0


def test_sentiment_formula_and_range() -> None:
    assert sentiment([]) == 0.0
    assert sentiment(["great", "terrible", "thanks"]) == pytest.approx(1 / 3)
    assert sentiment(["满意", "满意", "失望"]) == pytest.approx(1 / 3)
    assert sentiment(["fee", "card"]) == 0.0
    assert sentiment(["terrible"] * 5) == -1.0


def test_topic_ties_follow_topics_order_and_suffixes_count() -> None:
    assert topic([]) == "other"
    assert topic(["hello", "world"]) == "other"
    assert topic(["loan", "staff"]) == "loan"
    assert topic(["staff", "loan"]) == "loan"
    assert topic(["staff", "rude", "loan"]) == "service"
    assert topic(["免年费"]) == "fees"  # not in the lexicon, ends in 费
    assert topic(["旅行信用卡"]) == "card"
    assert topic(TOPICS[:1]) == "fees"


# --------------------------------------------------------------------------------------
# analyse
# --------------------------------------------------------------------------------------


def test_analyse_columns_index_and_values() -> None:
    texts = pd.Series(
        [
            "ＡＰＰ一直闪退，太差了",
            None,
            "Great service, thanks!",
            "   ",
            float("nan"),
            "ＡＰＰ一直闪退，太差了",
        ],
        index=[10, 3, 7, 8, 9, 11],
        dtype=object,
    )
    out = analyse(texts)
    assert list(out.columns) == ["clean_text", "language", "tokens", "topic", "sentiment"]
    assert out.index.equals(texts.index)
    assert out.loc[10, "clean_text"] == "APP一直闪退,太差了"
    assert out.loc[10, "language"] == "zh"
    assert out.loc[10, "tokens"] == ["app", "闪退", "太差"]
    assert out.loc[10, "topic"] == "digital"
    assert out.loc[10, "sentiment"] == -1.0
    assert out.loc[7, "language"] == "en"
    assert out.loc[7, "topic"] == "service"
    assert out.loc[7, "sentiment"] == 1.0
    for missing in (3, 8, 9):
        row = out.loc[missing]
        assert row["clean_text"] is None and row["language"] is None
        assert row["tokens"] == [] and row["topic"] == "other" and row["sentiment"] == 0.0
    assert out["sentiment"].dtype == "float64"
    # Repeated texts are analysed once but do not share one list object.
    assert out.loc[11, "tokens"] == out.loc[10, "tokens"]
    assert out.loc[11, "tokens"] is not out.loc[10, "tokens"]


def test_analyse_matches_the_scalar_functions() -> None:
    texts = pd.Series([text for text, _, _ in CHINESE + ENGLISH])
    out = analyse(texts)
    for i, text in texts.items():
        clean = clean_text(text)
        language = detect_language(clean)
        tokens = tokenize(clean, language)
        assert out.loc[i, "language"] == language
        assert out.loc[i, "tokens"] == tokens
        assert out.loc[i, "topic"] == topic(tokens)
        assert out.loc[i, "sentiment"] == sentiment(tokens)


def test_analyse_empty_batch() -> None:
    out = analyse(pd.Series([], dtype=object))
    assert len(out) == 0
    assert list(out.columns) == ["clean_text", "language", "tokens", "topic", "sentiment"]


# --------------------------------------------------------------------------------------
# On the generator's complaints
# --------------------------------------------------------------------------------------

# Generator category -> the topic its templates are about (praise is about anything).
CATEGORY_TOPIC = {
    "fees": "fees",
    "card_blocked": "card",
    "app_crash": "digital",
    "loan_rate": "loan",
    "service_attitude": "service",
}


@pytest.fixture(scope="module")
def complaints(tmp_path_factory: pytest.TempPathFactory) -> pd.DataFrame:
    from fin360.sources.generator import generate

    root = tmp_path_factory.mktemp("complaints")
    generate(root / "raw", root / "truth", customers=2000, days=30)
    files = sorted((root / "raw" / "complaints").glob("batch=*/*.csv"))
    assert files
    frame = pd.concat([pd.read_csv(f, dtype=str) for f in files], ignore_index=True)
    assert len(frame) > 0
    return frame.join(analyse(frame["text"]))


def test_generated_complaints_get_a_topic(complaints: pd.DataFrame) -> None:
    assert (complaints["topic"] != "other").mean() >= 0.9
    assert set(complaints["topic"]) <= set(TOPICS)
    mapped = complaints[complaints["category"].isin(CATEGORY_TOPIC)]
    assert (mapped["topic"] == mapped["category"].map(CATEGORY_TOPIC)).mean() >= 0.9


def test_generated_complaints_language_matches_script(complaints: pd.DataFrame) -> None:
    expected = complaints["text"].map(lambda text: "zh" if HAN.search(text) else "en")
    assert (complaints["language"] == expected).all()


def test_generated_praise_is_more_positive_than_complaints(complaints: pd.DataFrame) -> None:
    praise = complaints["category"] == "praise"
    assert praise.any() and (~praise).any()
    assert complaints.loc[praise, "sentiment"].mean() > 0.5
    assert complaints.loc[~praise, "sentiment"].mean() < 0
    assert complaints["sentiment"].between(-1, 1).all()
    assert not any(math.isnan(s) for s in complaints["sentiment"])
