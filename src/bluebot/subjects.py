"""What a question is specifically about (a year, a place, a named product or company) and whether the passages
an answer cites mention it. A small model asked about Shenzhen, 2023 or Alibaba Cloud answers with the figure the
passages give for Hangzhou, 2024 or another vendor; when the cited passages never name the question's subject,
the report does not hold the answer.

Subjects are found by form, not by a list of known questions:
- years: 1900-2099 written as digits;
- Latin names with two or more capitals (DeepSeek, OpenAI, NVIDIA, FPGA), matched as written (plural "s" dropped;
  Roman numerals such as the III of "Phase III" are no names);
- Chinese place names: words that jieba's dictionary also knows as a city (深圳 -> 深圳市), or as a province or
  district when it tags the word as a place (浙江 -> 浙江省, 滨江 -> 滨江区);
- in English questions, capitalised words inside the sentence that read as two or more pinyin syllables (Shenzhen,
  Zhejiang, Alibaba; not months, not English-looking words ending in consonant + "e" such as Guide): matched
  against the pinyin of the passages, so "Shenzhen" is found in "深圳".
China itself is the report's scope, never a subject.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Sequence
from functools import lru_cache

from bluebot.glossary import Glossary
from bluebot.numbers import Amount, find_amounts, matches
from bluebot.text import CJK_RUN, jieba_module
from bluebot.types import Lang

_YEAR = re.compile(r"(?<!\d)(?:19|20)\d\d(?!\d)")
# DeepSeek, OpenAI, NVIDIA, RISC-V; "GPUs" -> "GPU"
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
    """The fewest pinyin syllables the word splits into ("Shenzhen" -> 2), or 0 when it is not pinyin."""
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
    if freq.get(word + "市", 0) > 0:  # 深圳市, 合肥市 (jieba tags 合肥 a noun)
        return True
    # a province or district only when jieba also tags the word a place: it knows 产业省 and 集中区 as well
    return _tag(word) == "ns" and any(freq.get(word + suffix, 0) > 0 for suffix in "省区县")


def _common_word(run: str) -> bool:
    """A run of Chinese that jieba knows as one verb, adjective or adverb (融资, 披露): no name."""
    return (_tag(run) or "n")[0] in "vad"


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


# "哪五个地区", "哪些城市"; "which cities", "what companies": the question asks for names.
_ASKS_PLACES = re.compile(r"哪(?:[一二三四五六七八九十两几\d]+个|些|个)?(?:地区|城市|省份|省|地方|区县)")
_ASKS_NAMES = re.compile(
    r"\b(?:which|what)\s+(?:[\w-]+\s+){0,2}?(?:regions|cities|provinces|places|districts|companies|firms|startups)\b",
    re.I,
)
_NOT_ANSWER_NAMES = frozenset({"ai", "the", "top", "report", "china", "chinese", "rmb", "yuan", "us"})


def names_missing(question: str, lang: Lang, answer: str) -> bool:
    """Whether the question asks which places (or, in English, which companies) and the answer names none:
    "哪五个地区" answered with the five regions' total, "which companies" answered with how many.
    Chinese answers must hold a place word; English ones a capitalised name or acronym the question lacks."""
    if lang == "zh":
        if not _ASKS_PLACES.search(question):
            return False
        return not _places(answer)
    return _ASKS_NAMES.search(question) is not None and not names_new(question, answer)


_ASKS_WHO = re.compile(r"\b(?:by whom|who)\b", re.I)


def asks_who(question: str) -> bool:
    """An English question asking who did something: "When were the Interim Measures issued, and by whom?"."""
    return _ASKS_WHO.search(question) is not None


def names_new(question: str, answer: str) -> bool:
    """Whether an English answer names something the question does not: a capitalised name or acronym (Chinese in
    an English answer is a name left untranslated: 成都; not a verb or adjective: "a disclosure of 融资 scale")."""
    if any(not _common_word(run) for run in CJK_RUN.findall(answer)):
        return True
    asked = {w.lower() for w in re.findall(r"[A-Za-z][\w-]*", question)}
    for m in re.finditer(r"(?<![\w-])([A-Z][\w-]*)", answer):
        word = m.group(1)
        named = word.isupper() or _reads_as_pinyin_name(word) or not _at_sentence_start(answer, m.start())
        if named and word.lower() not in asked | _NOT_ANSWER_NAMES | _NOT_NAMES:
            return True
    return False


# ---------------------------------------------------------------- a figure that belongs to another name

_SENTENCE_END = re.compile(r"[。；;！？!?\n]")
_CLAUSE_END = re.compile(r"[。；;！？!?\n，,、]")
_NAME_MARKS = re.compile(r"[\s“”\"‘’《》（）()]")


def _asked(name: str, english: str | None, question: str, lang: Lang) -> bool:
    """Whether the question is about a name (english is None for a place), also when it writes it differently:
    "杭州“3+N”基金集群" for "“3+N”杭州产业基金集群" (three characters in common), 杭州 for 杭州市, "Hangzhou's 3+N
    cluster" (a pinyin word of the English name, or 3+N), "Hangzhou" for 杭州 (its pinyin)."""
    if lang == "zh":
        if english is None:
            return name in question or any(name in w or w in name for w in _places(question))
        core, asked = _NAME_MARKS.sub("", name), _NAME_MARKS.sub("", question)
        return name in question or any(core[i : i + 3] in asked for i in range(len(core) - 2))
    if english is None:
        return _pinyin(name) in re.sub(r"[^a-z]", "", question.lower())
    words = [english] + [w for w in re.findall(r"[A-Za-z0-9+]+", english) if _reads_as_pinyin_name(w) or "+" in w]
    return any(re.search(rf"(?<![A-Za-z0-9]){re.escape(w)}(?![A-Za-z0-9])", question, re.I) for w in words)


def _around(text: str, start: int, end: int, boundary: re.Pattern[str]) -> str:
    """The stretch of text between the boundaries before start and after end."""
    begin = max((m.end() for m in boundary.finditer(text, 0, start)), default=0)
    after = boundary.search(text, end)
    return text[begin : after.start() if after else len(text)]


def named_elsewhere(
    question: str, lang: Lang, claims: Sequence[Amount], texts: Sequence[str], glossary: Glossary
) -> list[str]:
    """The names an answer's figure belongs to when the question asks about another: asked for 百度智能云's share,
    the model gave 46.4% from "火山引擎以46.4%的市场份额领跑"; asked how big 润苗直投基金 is, it gave the 3+N
    cluster's 1,000亿元. A figure belongs elsewhere when every sentence or clause of the texts that holds it names
    proper names or places and none of them is one the question asks about. Only questions that name a proper name
    of the glossary are judged; [] when every figure may belong to what was asked."""
    names = glossary.proper_names
    if lang == "zh":
        names_question = bool(names.found(question))
    else:
        english = names.terms.values()
        names_question = any(re.search(rf"(?<![\w-]){re.escape(e)}(?![\w-])", question, re.I) for e in english)
    if not names_question:
        return []
    for claim in claims:
        if others := _belongs_to(claim, texts, names, question, lang):
            return others
    return []


def _belongs_to(claim: Amount, texts: Sequence[str], names: Glossary, question: str, lang: Lang) -> list[str]:
    """The names a figure of the answer belongs to when none of them is asked about; [] when one of the places the
    texts hold it may belong to what was asked (or when no text holds it)."""
    others: list[str] = []
    for text in texts:
        for source in (s for s in find_amounts(text) if matches(claim, s)):
            stretches = [_around(text, source.start, source.end, end) for end in (_SENTENCE_END, _CLAUSE_END)]
            foreign = [
                owners
                for owners in (_owners(stretch, names) for stretch in stretches)
                if owners and not any(_asked(n, names.terms.get(n), question, lang) for n in owners)
            ]
            if not foreign:
                return []
            others += foreign[0]
    return list(dict.fromkeys(others))


def _owners(text: str, names: Glossary) -> list[str]:
    """The proper names and places a stretch of text names (China, the report's scope, is none)."""
    return list(dict.fromkeys([*names.found(text), *(p for p in _places(text) if p not in _SCOPE)]))
