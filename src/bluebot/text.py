"""Small text helpers shared by several stages: language detection, cleaning, tokenising."""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

from bluebot.types import Lang

# Chinese characters: the CJK unified ideographs, extension A and the compatibility block.
CJK_RANGES = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_CJK = re.compile(f"[{CJK_RANGES}]")
CJK_RUN = re.compile(f"[{CJK_RANGES}]+")
_LATIN_WORD = re.compile(r"[A-Za-z]{2,}")


def detect_lang(text: str) -> Lang:
    """Chinese when CJK characters outweigh Latin words two to one: "GPU和ASIC的区别" is Chinese,
    "What does 投资图谱 show?" is English."""
    cjk = len(_CJK.findall(text))
    words = len(_LATIN_WORD.findall(text))
    return "zh" if cjk > 0 and cjk >= 2 * words else "en"


# Chinese punctuation in an English text, and what stands for it there; the spaces this leaves doubled or before a
# closing mark are the caller's to tidy.
_ASCII_PUNCTUATION = {
    "，": ", ",
    "。": ". ",
    "、": ", ",
    "；": "; ",
    "：": ": ",
    "（": " (",
    "）": ") ",
    "“": '"',
    "”": '"',
}
_FULL_WIDTH = re.compile("|".join(_ASCII_PUNCTUATION))


def ascii_punctuation(text: str) -> str:
    """Chinese punctuation made ASCII, for an English text: "chips、GPUs（2024）。" -> "chips, GPUs (2024) . "."""
    return _FULL_WIDTH.sub(lambda m: _ASCII_PUNCTUATION[m.group(0)], text)


# A number as written, with its thousands separators and decimals: "2,318", "3.002", "2024".
NUMBER = re.compile(r"\d+(?:[.,]\d+)*")


def has_chinese(text: str) -> bool:
    return _CJK.search(text) is not None


_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\u200b-\u200f\u2028\u2029\ufeff]")


def clean_input(text: str) -> str:
    """User text made safe to process: NFC, no control or lone-surrogate characters, trimmed."""
    text = text.encode("utf-8", "replace").decode("utf-8") if _has_surrogates(text) else text
    text = unicodedata.normalize("NFC", text)
    return _CONTROL.sub(" ", text).strip()


def _has_surrogates(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def normalize_for_match(text: str) -> str:
    """The matching rule of EVAL_FORMAT.md: ignore case, white space and ** emphasis."""
    return re.sub(r"\s+", "", text.replace("**", "")).casefold()


_TOKEN_OK = re.compile(r"[\w\u4e00-\u9fff%.]")
_STOP = frozenset(
    "的 了 和 与 及 是 在 为 有 等 中 对 将 也 或 其 这 那 吗 呢 吧 啊 么 什么 多少 哪些 哪个 如何 怎么 "  # noqa: SIM905
    "the a an of in on at to for and or is are was were be by with what which how many much did does do "
    "report 报告".split()
)


def english_words(text: str) -> set[str]:
    """The content words of an English text, lower case, a plural's s dropped: "Chip makers" -> {"chip", "maker"}."""
    return {w.rstrip("s") for w in re.findall(r"[a-z0-9]+", text.lower()) if w not in _STOP}


@lru_cache(maxsize=1)
def jieba_module():  # type: ignore[no-untyped-def]
    import logging

    import jieba

    jieba.setLogLevel(logging.WARNING)
    jieba.initialize()
    return jieba


def keyword_tokens(text: str) -> list[str]:
    """Tokens for the keyword index: jieba search-mode words, lower case, no stop words or punctuation."""
    text = re.sub(r"(?<=\d),(?=\d{3})", "", text.replace("**", "").lower())  # 2,318 -> one token
    words = jieba_module().lcut_for_search(text)
    return [w for w in (w.strip() for w in words) if w and w not in _STOP and _TOKEN_OK.search(w)]
