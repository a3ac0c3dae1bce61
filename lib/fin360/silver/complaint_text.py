"""Complaint and feedback free text in Chinese and English: clean, language, tokens, topic,
sentiment.

Pure Python (no Spark imports): the silver complaints job wraps :func:`analyse` in a pandas
UDF, so every function here works on plain ``str`` values or on one pandas batch.

The steps:

* :func:`clean_text`: NFKC normalisation (full-width letters, digits and punctuation become
  half-width), whitespace collapsed to single spaces, trimmed; blank text becomes ``None``.
* :func:`detect_language`: ``"zh"`` when CJK ideographs are at least 30% of the letters
  (ideographs included), ``"en"`` when there are Latin letters, else ``None``. One ideograph
  carries about as much as a short English word, so a Chinese text with an ``APP`` or a product
  code in it stays Chinese.
* :func:`tokenize`: Chinese goes through jieba word segmentation (HMM on, deterministic), with
  the banking vocabulary below added to a private jieba dictionary so that ``手续费``, ``信用卡``
  or ``提前还款`` come out as one token, and jieba compounds made of lexicon words split again
  (``房贷利率`` -> ``房贷``, ``利率``); English is lower-cased and split into words. Stopwords,
  punctuation and bare numbers are dropped; negation words are kept for :func:`sentiment`.
* :func:`topic`: the topic of :data:`TOPICS` with the most keyword hits (ties go to the topic
  listed first), ``"other"`` when no keyword hits.
* :func:`sentiment`: ``(positive - negative) / max(1, positive + negative)``, in ``[-1, 1]``,
  where a negation word (不, 没, 没有, not, never, no, ...) right before a sentiment word flips
  it.

Topic and sentiment are lexicon-based on purpose: no labelled training data exists for
complaints (no reviewed topic or sentiment label for any text), so a supervised model could be
neither trained nor evaluated honestly. Lexicons are transparent, deterministic, bilingual without translation, and
easy for the complaints team to review and extend; the price is that they only know the words
listed here. The word lists are module-level constants so that they can be audited and tested.
"""

from __future__ import annotations

import functools
import logging
import re
import threading
import unicodedata
from collections.abc import Iterable

import jieba
import pandas as pd

__all__ = [
    "NEGATIVE_WORDS",
    "NEGATORS",
    "POSITIVE_WORDS",
    "STOPWORDS",
    "TOPICS",
    "TOPIC_KEYWORDS",
    "analyse",
    "clean_text",
    "detect_language",
    "sentiment",
    "tokenize",
    "topic",
]

TOPICS = ("fees", "card", "digital", "loan", "service", "fraud", "other")

# --------------------------------------------------------------------------------------
# Lexicons (lower case; Chinese words are also added to the jieba dictionary)
# --------------------------------------------------------------------------------------


def _words(text: str) -> frozenset[str]:
    """A lexicon from whitespace-separated words (one ``#`` comment line per group allowed)."""
    lines = (line.split("#", 1)[0] for line in text.splitlines())
    return frozenset(word for line in lines for word in line.split())


TOPIC_KEYWORDS: dict[str, frozenset[str]] = {
    "fees": _words(
        """
        费 费用 收费 乱收费 手续费 年费 免年费 管理费 账户管理费 短信费 通知费 短信通知费
        服务费 扣费 扣款 被扣 扣 退费 退还 退款 免费 佣金 收取 多收
        fee fees charge charges charged charging overcharged overcharge annual maintenance
        deduction deducted deduct refund refunded commission cost costs free hidden
        """
    ),
    "card": _words(
        """
        卡 银行卡 信用卡 借记卡 储蓄卡 刷卡 冻结 解冻 锁卡 锁 被锁 拒 被拒 拒绝 挂失 补卡
        换卡 额度 风控
        card cards debit blocked block unblock unblocked locked lock unlock frozen declined
        decline atm pin limit limits contactless
        """
    ),
    "digital": _words(
        """
        app 应用 手机银行 网银 网上银行 闪退 登录 登陆 系统 繁忙 更新 升级 版本 卡住 卡顿
        修复 人脸识别 验证码 界面 小程序 客户端 掉线 崩溃 加载 指纹
        apps mobile online website web login logon log crash crashes crashed crashing froze
        freezes freezing update updated upgrade version system bug bugs startup face
        recognition otp verification password biometric fingerprint internet screen loading
        server glitch browser
        """
    ),
    "loan": _words(
        """
        贷款 利率 利息 还款 提前还款 房贷 车贷 按揭 月供 降息 上调 加息 违约金 合同 逾期
        借款 放款 本金 分期 贷
        loan loans rate rates interest mortgage repayment repayments repay prepayment
        installment installments instalment instalments penalty contract borrow borrowed
        overdue apr refinance principal
        """
    ),
    "service": _words(
        """
        服务 态度 排队 柜员 柜台 客服 客服电话 人工 人工服务 机器人 大堂经理 客户经理 经理
        工作人员 员工 网点 窗口 支行 等待 效率 推销 打扰 催促 热线 业务员
        service staff rude waiting waited wait queue queued queueing counter counters hotline
        human bot robot agent agents manager advisor adviser teller tellers branch lobby
        pushing selling attitude employee employees efficiency rushed operator
        """
    ),
    "fraud": _words(
        """
        盗刷 被盗刷 诈骗 欺诈 被盗 盗用 冒用 钓鱼 骗子 骗 可疑 被骗 电信诈骗 洗钱 假冒
        fraud fraudulent scam scammed scammer unauthorised unauthorized stolen theft phishing
        hacked skimming suspicious impersonation
        """
    ),
}

# Chinese words that mark a topic when they end a token jieba did not know (免年费, 刷卡, 房贷利率, ...).
_TOPIC_SUFFIXES = (("贷款", "loan"), ("利率", "loan"), ("费", "fees"), ("卡", "card"))

POSITIVE_WORDS = _words(
    """
    满意 感谢 谢谢 多谢 方便 快 很快 快捷 便捷 及时 耐心 好用 好评 点赞 专业 适合 解决 好
    棒 优秀 高效 热情 周到 贴心 推荐 喜欢 顺利 不错 认真 负责 给力 赞 稳定 流畅 办好 合理
    友好 礼貌
    great thanks thank helpful patient fast easy instant quick quickly good excellent
    satisfied happy well solved resolved appreciate appreciated love convenient friendly
    professional efficient recommend smooth perfect best nice pleased suits polite kind
    amazing fantastic reliable fair
    """
)

NEGATIVE_WORDS = _words(
    """
    不满 失望 投诉 慢 差 很差 太差 太低 糟糕 垃圾 生气 愤怒 无故 闪退 失败 崩溃 卡住 异常
    耽误 打扰 催促 答非所问 麻烦 急 紧急 坑 欺骗 隐瞒 繁忙 恶劣 错 烦 无语 离谱 被拒 乱收费
    敷衍 推诿 难用 太贵 太高
    disappointed disappointing terrible angry rude useless unusable unfair ridiculous ruined
    crash crashes crashed crashing froze failed failure error slow bad poor worst awful horrible
    complaint complain unacceptable annoyed annoying frustrated frustrating wrong rushed
    hidden upset furious broken scam misleading unhelpful urgent incompetent
    """
)

# A negator flips the sentiment word right after it (stopwords in between are skipped).
NEGATORS = _words(
    """
    不 没 没有 未 无 别 从不 从未 并不 毫无 不是
    not no never don't doesn't didn't isn't wasn't aren't weren't can't cannot couldn't won't
    wouldn't hasn't haven't hadn't nor
    """
)
# Chinese prefixes of one token that negate the rest of it (不方便, 没解决, 不合理, ...).
_NEGATOR_PREFIXES = ("没有", "不", "没", "未")

# Negators are deliberately not stopwords: sentiment needs them.
STOPWORDS = _words(
    """
    # Chinese function words, pronouns, greetings, measure words, intensifiers
    的 了 是 在 我 我的 你 您 他 她 它 我们 你们 他们 这 那 这个 那个 就 都 也 还 又 和 与 及
    或 被 把 给 让 对 从 到 为 为什么 什么 怎么 之前 已经 一直 还是 请 吗 呢 吧 啊 呀 着 过
    个 次 天 元 块 月 日 号 年 分钟 小时 一个 非常 很 太 最 更 比 说 要 会 能 可以 有 之 其他
    任何 只 后 时 里 上 下 中 您好 你好 哦 嗯 而且 但是 但 因为 所以 如果 就是 一下 总是 每月
    突然 最后 当初 根本 得 地 等 用 该 再 才 将 并 一
    # English function words
    a an the and or but if then than so as at by for from in into of on onto to with about
    after before over under again any all also i i'm i've i'd me my mine myself we our us
    you your he him his she her it it's its they them their this that these those there here
    is am are was were be been being do does did doing have has had having will would shall
    should can could may might must what which who whom why how when where very really too
    just only still even anyway please hi hello dear regards sir madam cny rmb usd times time
    minutes minute days day hours hour every more most some such own same each few other up
    down out off now ever yet quite
    """
)

# --------------------------------------------------------------------------------------
# Internals
# --------------------------------------------------------------------------------------

_WHITESPACE = re.compile(r"\s+")
# CJK unified ideographs: basic block, extension A, compatibility block, extensions B to F.
_HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0002ebef]")
# Latin letters, ASCII, Latin-1/Extended and full-width (detect_language may get raw text).
_LATIN = re.compile(r"[A-Za-z\u00c0-\u00d6\u00d8-\u00f6\u00f8-\u024f\uff21-\uff3a\uff41-\uff5a]")
# An English word: letters/digits, optionally joined by apostrophes (don't, customer's).
_EN_WORD = re.compile(r"[^\W_]+(?:['’][^\W_]+)*")
# A bare number: digits and separators, or Chinese numerals with an optional unit (五千元).
_NUMBER = re.compile(r"[\d.,:/%+\-]+|[零〇一二两三四五六七八九十百千万亿]+[元块次天个]?")

_LOOKUP: dict[str, str] = {word: name for name, words in TOPIC_KEYWORDS.items() for word in words}
_TOPIC_RANK = {name: rank for rank, name in enumerate(TOPICS)}

_jieba_lock = threading.Lock()
_jieba: jieba.Tokenizer | None = None


def _jieba_words() -> list[str]:
    """The Chinese lexicon words (two or more characters) jieba must keep whole."""
    words: set[str] = set()
    for group in (*TOPIC_KEYWORDS.values(), POSITIVE_WORDS, NEGATIVE_WORDS, NEGATORS):
        words.update(w for w in group if len(w) > 1 and _HAN.search(w))
    return sorted(words)


def _segmenter() -> jieba.Tokenizer:
    """The module's own jieba tokenizer, built once per process (thread-safe, quiet).

    A private :class:`jieba.Tokenizer` rather than the global one, so that adding the banking
    words does not change how other code in the same Python worker segments text.
    """
    global _jieba
    if _jieba is None:
        with _jieba_lock:
            if _jieba is None:
                jieba.setLogLevel(logging.WARNING)
                segmenter = jieba.Tokenizer()
                segmenter.initialize()
                for word in _jieba_words():
                    segmenter.add_word(word)
                _jieba = segmenter
    return _jieba


_LEXICON = frozenset().union(*TOPIC_KEYWORDS.values(), POSITIVE_WORDS, NEGATIVE_WORDS, NEGATORS)


@functools.lru_cache(maxsize=65536)
def _split_compound(token: str) -> tuple[str, ...]:
    """``token`` as the fewest lexicon words that make it up exactly (房贷利率 -> 房贷 利率,
    服务周到 -> 服务 周到), or ``(token,)`` when it is a lexicon word itself or not such a
    compound. jieba's own dictionary has compounds like these, which would hide the words."""
    if token in _LEXICON or len(token) < 2 or not _HAN.match(token):
        return (token,)
    # best[i]: the fewest lexicon words spelling token[:i], or None when there is none.
    best: list[tuple[str, ...] | None] = [()] + [None] * len(token)
    for end in range(1, len(token) + 1):
        for start in range(end):
            head, word, current = best[start], token[start:end], best[end]
            if head is not None and word in _LEXICON:
                candidate = (*head, word)
                if current is None or len(candidate) < len(current):
                    best[end] = candidate
    parts = best[-1]
    return parts if parts is not None and len(parts) > 1 else (token,)


def _keep(token: str) -> bool:
    """A token worth keeping: has a letter or digit, is not a bare number, not a stopword."""
    return (
        any(ch.isalnum() for ch in token)
        and not _NUMBER.fullmatch(token)
        and token not in STOPWORDS
    )


def _tokens(clean: str | None, language: str | None) -> list[str]:
    """:func:`tokenize` on text that is already clean."""
    if clean is None or language is None:
        return []
    if language == "zh":
        words = (t.strip().lower() for t in _segmenter().lcut(clean, HMM=True))
        raw: Iterable[str] = (part for word in words for part in _split_compound(word))
    else:
        raw = (t.replace("’", "'") for t in _EN_WORD.findall(clean.lower()))
    return [t for t in raw if _keep(t)]


# --------------------------------------------------------------------------------------
# Public API
# --------------------------------------------------------------------------------------


def clean_text(text: str | None) -> str | None:
    """NFKC-normalised text (full-width to half-width), whitespace collapsed and trimmed.

    ``None``, blank text and non-string values (a pandas ``NaN``) give ``None``.
    """
    if not isinstance(text, str):
        return None
    cleaned = _WHITESPACE.sub(" ", unicodedata.normalize("NFKC", text)).strip()
    return cleaned or None


def detect_language(text: str | None) -> str | None:
    """``"zh"`` when CJK ideographs make up at least 30% of the letters (ideographs count as
    letters), else ``"en"`` when the text has Latin letters, else ``None``."""
    if not isinstance(text, str):
        return None
    letters = sum(ch.isalpha() for ch in text)
    if letters == 0:
        return None
    if len(_HAN.findall(text)) >= 0.3 * letters:
        return "zh"
    return "en" if _LATIN.search(text) else None


def tokenize(text: str | None, language: str | None) -> list[str]:
    """Word tokens of ``text``, lower case, without stopwords, punctuation or bare numbers.

    ``language`` ``"zh"`` segments with jieba (HMM on; banking words kept whole); any other
    value splits into runs of letters and digits (a CJK run in English text stays one token).
    ``language=None`` detects the language first; text without letters gives ``[]``. The text
    is cleaned with :func:`clean_text` first.
    """
    clean = clean_text(text)
    return _tokens(clean, language or detect_language(clean))


def topic(tokens: list[str]) -> str:
    """The topic (one of :data:`TOPICS`) with the most keyword hits among ``tokens``.

    Ties go to the topic listed first in :data:`TOPICS`; ``"other"`` when nothing hits. A
    Chinese token missing from the lexicon still counts when it ends in 费 (fees), 卡 (card)
    or 贷款/利率 (loan), e.g. ``免年费`` or ``刷卡``.
    """
    hits = dict.fromkeys(TOPICS[:-1], 0)
    for token in tokens:
        name = _LOOKUP.get(token)
        if name is None and _HAN.match(token):
            name = next((n for suffix, n in _TOPIC_SUFFIXES if token.endswith(suffix)), None)
        if name is not None:
            hits[name] += 1
    best = max(hits.items(), key=lambda item: (item[1], -_TOPIC_RANK[item[0]]))
    return best[0] if best[1] > 0 else "other"


def _polarity(token: str) -> int:
    """+1 for a positive word, -1 for a negative one, flipped for a 不/没-prefixed word."""
    if token in POSITIVE_WORDS:
        return 1
    if token in NEGATIVE_WORDS:
        return -1
    for prefix in _NEGATOR_PREFIXES:
        if token.startswith(prefix) and len(token) > len(prefix):
            rest = token[len(prefix) :]
            return -1 if rest in POSITIVE_WORDS else 1 if rest in NEGATIVE_WORDS else 0
    return 0


def sentiment(tokens: list[str]) -> float:
    """Lexicon sentiment in ``[-1, 1]``: ``(pos - neg) / max(1, pos + neg)``.

    A negator (:data:`NEGATORS`) flips the token right after it: ``not helpful`` counts as
    negative, ``没有 问题`` would count a negative word as positive. ``[]`` gives ``0.0``.
    """
    positive = negative = 0
    negate = False
    for token in tokens:
        if token in NEGATORS:
            negate = True
            continue
        polarity = _polarity(token)
        if negate:
            polarity = -polarity
            negate = False
        if polarity > 0:
            positive += 1
        elif polarity < 0:
            negative += 1
    return (positive - negative) / max(1, positive + negative)


def analyse(texts: pd.Series) -> pd.DataFrame:
    """Analyse one batch of texts (the body of a pandas UDF).

    Returns a DataFrame with the same index as ``texts`` and the columns ``clean_text``
    (str or None), ``language`` (``"zh"``, ``"en"`` or None), ``tokens`` (list of str),
    ``topic`` (one of :data:`TOPICS`) and ``sentiment`` (float). Missing or blank text gives
    ``None``, ``None``, ``[]``, ``"other"``, ``0.0``. Each distinct clean text is analysed once
    per batch: complaint texts repeat (templates, copy-paste), and jieba is the slow part.
    """
    cleaned = [clean_text(t) for t in texts.tolist()]
    results: dict[str | None, tuple[str | None, list[str], str, float]] = {}
    for clean in cleaned:
        if clean not in results:
            language = detect_language(clean)
            tokens = _tokens(clean, language)
            results[clean] = (language, tokens, topic(tokens), sentiment(tokens))
    rows = [results[clean] for clean in cleaned]
    return pd.DataFrame(
        {
            "clean_text": pd.Series(cleaned, index=texts.index, dtype=object),
            "language": pd.Series([r[0] for r in rows], index=texts.index, dtype=object),
            # A fresh list per row: rows with the same text must not share one mutable list.
            "tokens": pd.Series([list(r[1]) for r in rows], index=texts.index, dtype=object),
            "topic": pd.Series([r[2] for r in rows], index=texts.index, dtype=object),
            "sentiment": pd.Series([r[3] for r in rows], index=texts.index, dtype="float64"),
        },
        index=texts.index,
    )
