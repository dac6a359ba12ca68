"""What a question is specifically about (a year, a place, a named product or company) and whether a text mentions
it. A follow-up's rewrite that lost its own subject ("What about <another city>?" rewritten as the previous question)
is worse than the plain one (generation.rewrite_question).

Subjects are found by form, not by a list of known questions:
- years: 1900-2099 written as digits;
- Latin names with two or more capitals (GitHub, IBM, NVIDIA, FPGA), matched as written (plural "s" dropped;
  Roman numerals such as the III of "Phase III" are no names);
- Chinese place names: words that jieba's dictionary also knows as a city (南京 -> 南京市), or as a province or
  district when it tags the word as a place (江苏 -> 江苏省, 江宁 -> 江宁区);
- in English questions, capitalised words inside the sentence that read as two or more pinyin syllables (Nanjing,
  Jiangsu, Huawei; not months, not English-looking words ending in consonant + "e" such as Guide): matched
  against the pinyin of the passages, so "Nanjing" is found in "南京".
China itself is the report's scope, never a subject.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Sequence
from functools import lru_cache

from bluebot.text import jieba_module
from bluebot.types import Lang

_YEAR = re.compile(r"(?<!\d)(?:19|20)\d\d(?!\d)")
# GitHub, IBM, NVIDIA, RISC-V; "GPUs" -> "GPU"
_LATIN_NAME = re.compile(r"(?<![A-Za-z])([A-Za-z][A-Za-z0-9]*[A-Z][A-Za-z0-9]*?)s?(?![A-Za-z0-9])")
_ROMAN = re.compile(r"[IVX]+$")  # "Phase III" numbers a phase; the report writes 三期
_CAPITALISED = re.compile(r"(?<![\w'’-])([A-Z][a-z]+)(?![\w'’-])")
_SCOPE = frozenset({"中国", "我国", "国内", "全国", "china", "chinese"})
_NOT_NAMES = frozenset(m.lower() for m in [*calendar.month_name[1:], *calendar.day_name])


@lru_cache(maxsize=1)
def _syllables() -> frozenset[str]:
    """Pinyin syllables without tones (about 410), read off the common CJK block."""
    from pypinyin import lazy_pinyin

    # Interjections (嗯 n, 呣 m) and lone o / e let English words through ("gen-er-a-ti-o-n"); names rarely use them.
    every = frozenset(lazy_pinyin("".join(chr(c) for c in range(0x4E00, 0x9FA6))))
    return every - {"n", "m", "ng", "hm", "hng", "o", "e"}


def pinyin_syllables(word: str) -> int:
    """The fewest pinyin syllables the word splits into ("Nanjing" -> 2), or 0 when it is not pinyin."""
    word, syllables = word.lower(), _syllables()
    best: list[int | None] = [0] + [None] * len(word)
    for i in range(len(word)):
        if best[i] is None:
            continue
        for j in range(i + 1, min(len(word), i + 6) + 1):
            if word[i:j] in syllables and (best[j] is None or best[j] > best[i] + 1):  # type: ignore[operator]
                best[j] = best[i] + 1  # type: ignore[operator]
    return best[-1] or 0


def _reads_as_pinyin_name(word: str) -> bool:
    """Two or more pinyin syllables, and not ending like an English word in a consonant and "e" (Guide, Made)."""
    return pinyin_syllables(word) >= 2 and not re.search(r"[^aeiouv]e$", word.lower())


def _tag(word: str) -> str | None:
    """jieba's part-of-speech tag for a word of its dictionary ("ns" a place, "v" a verb), None for an unknown one."""
    from jieba import posseg

    jieba_module()  # loaded with the project's dictionary
    return posseg.dt.word_tag_tab.get(word)


def _is_place(word: str) -> bool:
    freq = jieba_module().dt.FREQ
    if freq.get(word + "市", 0) > 0:  # 南京市, 合肥市 (jieba tags 合肥 a noun)
        return True
    # a province or district only when jieba also tags the word a place: it knows 产业省 and 集中区 as well
    return _tag(word) == "ns" and any(freq.get(word + suffix, 0) > 0 for suffix in "省区县")


def _places(text: str) -> list[str]:
    """The words of a Chinese text that name a place (two characters or more)."""
    return [w for w in jieba_module().lcut(text, HMM=False) if len(w) >= 2 and _is_place(w)]


def _at_sentence_start(text: str, position: int) -> bool:
    before = text[:position].rstrip()
    return not before or before[-1] in ".?!:"


def subjects(question: str, lang: Lang) -> list[str]:
    """The years and names the question is about, each once, in the order they appear."""
    found = _YEAR.findall(question)
    names = [m.group(1) for m in _LATIN_NAME.finditer(question)]
    found += [n for n in names if len(n) >= 3 and not _ROMAN.match(n)]
    if lang == "zh":
        found += [w for w in _places(question) if w not in _SCOPE]
    else:
        for m in _CAPITALISED.finditer(question):
            word = m.group(1)
            named = not _at_sentence_start(question, m.start()) and word.lower() not in _SCOPE | _NOT_NAMES
            if named and _reads_as_pinyin_name(word):
                found.append(word)
    return sorted(dict.fromkeys(found), key=question.find)


@lru_cache(maxsize=256)
def _pinyin(text: str) -> str:
    from pypinyin import lazy_pinyin

    return "".join(lazy_pinyin(text)).lower()


def mentioned(subject: str, texts: Sequence[str]) -> bool:
    """Whether any of the texts names the subject: as written, or, for a pinyin word, in the texts' pinyin."""
    if any(subject.casefold() in t.casefold() for t in texts):
        return True
    is_pinyin_word = subject.isascii() and subject.isalpha() and subject[1:].islower()
    return is_pinyin_word and any(subject.lower() in _pinyin(t) for t in texts)


def unmentioned(question: str, lang: Lang, texts: Sequence[str]) -> list[str]:
    """The question's subjects that none of the texts mention."""
    return [s for s in subjects(question, lang) if not mentioned(s, texts)]
