"""Amounts in Chinese and English text: finding them, normalising them, saying them in English, and
checking that an answer's numbers come from its passages.

Small models copy "420亿元" as "420 billion yuan" (MODELS.md: every model and runtime did), so units are
never left to the model: every amount is reduced to an exact value (Decimal, no float drift: 24.71亿 is
2,471,000,000) plus a unit, and compared as such.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Literal

from bluebot.text import has_chinese

Unit = Literal["CNY", "USD", "percent", "count"]

_NUMBER = re.compile(r"\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?")

# Between a number and its unit the report puts spaces and ** emphasis marks: "近 **420** 亿元".
_GAP = r"[ \t\u00a0*]*"
_ZH_SUFFIX = re.compile(
    _GAP + r"(?P<mag>万亿|千亿|百亿|十亿|亿|千万|百万|十万|万)?" + _GAP + r"(?P<cur>美元|人民币|元)?"
)
_EN_SUFFIX = re.compile(
    _GAP
    + r"(?P<mag>trillion|billion|million|thousand|tn|bn|mn)?\b"
    + r"(?:\s*(?P<cur>US\s?dollars|U\.S\.\s?dollars|dollars|USD|yuan|renminbi|RMB|CNY))?\b",
    re.IGNORECASE,
)
_PERCENT = re.compile(_GAP + r"(?P<pct>%|％|percent\b|per cent\b|percentage points?\b|个百分点|成(?![本员果立为功]))")
# Chinese measure words name what a count counts: 37家 (companies) is not 37起 (deals).
MEASURE_WORDS = "起家个支条项次笔件位名人所座款台"
_MEASURE = re.compile(_GAP + f"(?P<measure>[{MEASURE_WORDS}])")
# What an English count counts, as the Chinese measure word it stands for: "37 deals" is 37起, "37 companies" 37家.
# The noun may follow a few words later: "37 AI investment deals".
_EN_MEASURES = {
    "起": ("deal", "deals", "investments", "cases", "transactions", "financings"),
    "家": ("company", "companies", "firms", "enterprises", "startups", "businesses"),
    "支": ("funds",),
    "条": ("policies",),
}
_EN_COUNTED = re.compile(
    r"(?:[ \t]+[A-Za-z+\-]+){0,3}?[ \t]+(?P<noun>"
    + "|".join(w for words in _EN_MEASURES.values() for w in words)
    + r")\b",
    re.IGNORECASE,
)
# A count of things named by an English plural noun, right after the number or one or two words on.
_EN_PLURAL = re.compile(
    r"(?:[ \t]+[A-Za-z][A-Za-z+\-]*){0,2}?[ \t]+(?!(?:percent|dollars|yuan|points|times|years|months)\b)"
    r"[A-Za-z][a-z\-]*[a-z]s\b"
)
_PREFIX = re.compile(r"(?P<cur>US\$|\$|USD|RMB|CNY|¥|￥)\s?$")
# Magnitudes written without a digit: 过亿元 / 上亿 ("over 100 million"), 千亿母基金 (100-billion funds), 万亿级.
_BARE_MAGNITUDE = re.compile(r"(?<=[过上超逾])亿(?P<cur>元|美元)?|(?P<mag>万亿|千亿|百亿)(?P<cur2>元|美元)?")
# A numeral character before a magnitude makes it part of a larger number: 三千亿, 数百亿.
_ZH_NUMERALS = "零一二两三四五六七八九十百千万亿数几"

_ZH_MAG = {
    "万亿": Decimal(10) ** 12,
    "千亿": Decimal(10) ** 11,
    "百亿": Decimal(10) ** 10,
    "十亿": Decimal(10) ** 9,
    "亿": Decimal(10) ** 8,
    "千万": Decimal(10) ** 7,
    "百万": Decimal(10) ** 6,
    "十万": Decimal(10) ** 5,
    "万": Decimal(10) ** 4,
}
_EN_MAG = {
    "trillion": Decimal(10) ** 12,
    "tn": Decimal(10) ** 12,
    "billion": Decimal(10) ** 9,
    "bn": Decimal(10) ** 9,
    "million": Decimal(10) ** 6,
    "mn": Decimal(10) ** 6,
    "thousand": Decimal(10) ** 3,
}
_CURRENCY: dict[str, Unit] = {
    "元": "CNY",
    "人民币": "CNY",
    "yuan": "CNY",
    "renminbi": "CNY",
    "rmb": "CNY",
    "cny": "CNY",
    "¥": "CNY",
    "￥": "CNY",
    "美元": "USD",
    "usdollars": "USD",
    "u.s.dollars": "USD",
    "dollars": "USD",
    "usd": "USD",
    "us$": "USD",
    "$": "USD",
}

# Plain integers up to this size are ordinals and list counts ("Top5", "3方面", "two documents"); checking them
# would flag every "6大工程". Anything with a unit or magnitude is always checked, whatever its size.
SMALL_EXEMPT = 10
_MARKER = re.compile(r"\[\d+\]")


@dataclass(frozen=True)
class Amount:
    """A number found in text, with its normalised value: 420亿元 -> value 42000000000, unit CNY."""

    text: str  # as written, prefix and unit included: "近 420 亿元" -> "420 亿元"
    start: int
    end: int
    literal: Decimal  # the digits as written: 420 for 420亿
    value: Decimal  # literal x magnitude (x10 for 成)
    unit: Unit
    magnitude: Decimal = Decimal(1)  # 10**8 for 亿, 10**9 for billion, 10 for 成 (tenths, as percent)
    year: bool = False  # 2024, 2024年: a date, not a quantity
    measure: str = ""  # the Chinese measure word of a count: 起 in 2,318起

    @property
    def scaled(self) -> bool:
        return self.magnitude != 1

    @property
    def bare(self) -> bool:
        """Written without unit or magnitude: only its digits can be compared."""
        return not self.scaled and self.unit == "count"

    @property
    def exempt(self) -> bool:
        """Years and small bare integers are not claims to check (see SMALL_EXEMPT)."""
        return self.year or (self.bare and self.literal == self.literal.to_integral() and self.literal <= SMALL_EXEMPT)


def _decimal(digits: str) -> Decimal:
    return Decimal(digits.replace(",", ""))


def find_amounts(text: str) -> list[Amount]:
    """Every number in text with its unit. Numbers glued to Latin letters (Q2, R1, 3D, Top5) are names,
    and citation markers [n] are references; neither is returned."""
    found: list[Amount] = []
    for m in _NUMBER.finditer(text):
        start, end = m.start(), m.end()
        before = text[start - 1] if start else ""
        after = text[end] if end < len(text) else ""
        if before and before.isascii() and (before.isalnum() or before in "._"):
            continue  # Q2, R1, Top5, v2: part of a name
        if after.isascii() and after.isalpha() and not _glued_magnitude(text, end):
            continue  # 3D, 2024Q2, 2027E: part of a name; 42bn is an amount
        if before == "[" and after == "]":
            continue
        found.append(_amount_at(text, m.group(), start, end))
    for m in _BARE_MAGNITUDE.finditer(text):
        before = text[m.start() - 1] if m.start() else ""
        if before and (before.isdigit() or before in ",.*" or before in _ZH_NUMERALS or before.isspace()):
            continue  # 420亿, 1万亿, "**1** 万亿": the magnitude of the digits before it
        magnitude = _ZH_MAG[m.group("mag") or "亿"]
        currency = m.group("cur") or m.group("cur2")
        unit: Unit = _CURRENCY[currency] if currency else "count"
        found.append(Amount(m.group(), m.start(), m.end(), Decimal(1), magnitude, unit, magnitude))
    found.sort(key=lambda a: a.start)
    return found


def _glued_magnitude(text: str, end: int) -> bool:
    en = _EN_SUFFIX.match(text, end)
    return en is not None and en.start("mag") == end


def _amount_at(text: str, digits: str, start: int, end: int) -> Amount:
    literal = _decimal(digits)
    prefix = _PREFIX.search(text[max(0, start - 5) : start])
    unit: Unit = _CURRENCY[prefix.group("cur").lower()] if prefix else "count"
    span_start = start - len(prefix.group()) if prefix else start
    magnitude = Decimal(1)
    span_end = end
    if (p := _PERCENT.match(text, end)) and p.group("pct"):
        tenths = Decimal(10) if p.group("pct") == "成" else Decimal(1)  # 6成 = 60%
        return Amount(text[span_start : p.end()], span_start, p.end(), literal, literal * tenths, "percent", tenths)
    zh = _ZH_SUFFIX.match(text, end)
    en = _EN_SUFFIX.match(text, end)
    if zh and (zh.group("mag") or zh.group("cur")):
        if zh.group("mag"):
            magnitude = _ZH_MAG[zh.group("mag")]
        if zh.group("cur"):
            unit = _CURRENCY[zh.group("cur")]
        span_end = zh.end()
    elif en and (en.group("mag") or en.group("cur")):
        if en.group("mag"):
            magnitude = _EN_MAG[en.group("mag").lower()]
        if en.group("cur"):
            unit = _CURRENCY[re.sub(r"\s", "", en.group("cur")).lower()]
        span_end = en.end()
    # A year: four digits 1900-2100 as written (no separator, unit or magnitude): 2024, 2024年, 2023—2033.
    year = unit == "count" and magnitude == 1 and re.fullmatch(r"(19|20)\d\d|2100", digits) is not None
    measure = _measure(text, span_end) if unit == "count" and not year else ""
    return Amount(
        text[span_start:span_end], span_start, span_end, literal, literal * magnitude, unit, magnitude, year, measure
    )


def _measure(text: str, end: int) -> str:
    """What the count ending at `end` counts, as a Chinese measure word: 37家, "37 deals" -> 起; "" when unsaid."""
    if mw := _MEASURE.match(text, end):
        return mw.group("measure")
    if noun := _EN_COUNTED.match(text, end):
        return next(m for m, words in _EN_MEASURES.items() if noun.group("noun").lower() in words)
    if _EN_PLURAL.match(text, end):
        return "个"  # "173 computing centers": a count of something, whatever it is
    return ""


# Chinese: a question word with what it asks for ("多少家", "金额多少", "占比是多少", "规模有多大").
_ZH_ASKS = r"(?:是|为|有|达|约)?(?:多少|多大|几)"
_ASKS_FOR = {
    # not 哪几 ("哪几项举措", "哪几个方面"): which ones, not how many
    "count": re.compile(r"\bhow many\b|(?:多少|(?<!哪)几)[起家个支条项笔只所]", re.I),
    "money": re.compile(
        r"\bhow (?:much|large|big)\b(?! (?:more|less|larger|bigger|smaller)\b)"
        rf"|(?:金额|规模|资金|融资额|投资额){_ZH_ASKS}|多少(?:钱|亿)",
        re.I,
    ),
    # "what share", "with what market share"
    "percent": re.compile(
        r"\bwhat (?:[a-z]+[ -])?(?:share|proportion|percentage|percent|fraction|growth rate)\b"
        rf"|(?:占比|比例|比重|份额|增速|增长率|增幅){_ZH_ASKS}|占(?:了)?多少",
        re.I,
    ),
    # "When were ... issued?", "as of when"; not "When the market is segmented by type, which ...?"
    "date": re.compile(
        r"\bwhen\b(?=\s+(?:is|are|was|were|did|does|do|will|has|had)\b|\s*\?)|\b(?:what|which) (?:year|month|date)\b",
        re.I,
    ),
    "two figures": re.compile(
        r"\bwhich (?:is|was|one is) (?:bigger|larger|higher|greater|smaller|lower|more)\b|\bcompared?\b", re.I
    ),
}


def asked_kinds(question: str) -> set[str]:
    """The kinds of figure ("count", "money", "percent", "date", "two figures") a question's question words ask
    for; the Chinese words name only the first three."""
    return {kind for kind, words in _ASKS_FOR.items() if words.search(question)}


# A second question joined to the first: "How much ..., and what share ...?", "Who leads ..., and with what market
# share?", "When ..., and by whom?"
_SECOND_QUESTION = re.compile(
    r"\band (?:what|how|which|who|whom|when|where|why|for how|with what|by whom|in what|at what)\b", re.I
)


def asks_two_things(question: str) -> bool:
    """An English question asking for two things: two kinds of figure, two figures to compare, or a second
    question after "and"."""
    kinds = asked_kinds(question)
    return len(kinds) > 1 or "two figures" in kinds or bool(_SECOND_QUESTION.search(question))


def figure_kind(amount: Amount) -> str | None:
    """What a figure measures: "percent", "money" (a currency or a scaled number), "count" (a plain number over the
    small exempt ones, or one naming what it counts: 1.2万家 too), "date" (a year); None for a small bare number."""
    if amount.year:
        return "date"
    if amount.unit == "percent":
        return "percent"
    if amount.unit in ("CNY", "USD") or (amount.scaled and not amount.measure):
        return "money"
    if not amount.exempt or amount.measure:
        return "count"
    return None


# ---------------------------------------------------------------- English rendering


def _plain(value: Decimal) -> str:
    """Decimal without exponent or trailing zeros, thousands separated: 2318 -> "2,318", 2.4710 -> "2.471"."""
    text = format(value.normalize(), "f")
    whole, _, frac = text.partition(".")
    whole = f"{int(whole):,}"
    return f"{whole}.{frac}" if frac else whole


_SCALES = ((Decimal(10) ** 12, "trillion"), (Decimal(10) ** 9, "billion"), (Decimal(10) ** 6, "million"))


def english(amount: Amount) -> str:
    """The amount in English: 420亿元 -> "42 billion yuan", 634亿美元 -> "63.4 billion US dollars",
    1万亿 -> "1 trillion", 6成 -> "60%", 2,318 -> "2,318"."""
    if amount.unit == "percent":
        return f"{_plain(amount.value)}%"
    words = _plain(amount.value)
    for scale, word in _SCALES:
        if amount.value >= scale:
            words = f"{_plain(amount.value / scale)} {word}"
            break
    suffix = {"CNY": " yuan", "USD": " US dollars"}.get(amount.unit, "")
    return words + suffix


def english_counted(amount: Amount) -> str:
    """english(amount), a count with what it counts where the measure word says: 975起 -> "975 deals"."""
    noun = next((w for w in _EN_MEASURES.get(amount.measure, ()) if w.endswith("s")), "")
    return f"{english(amount)} {noun}" if noun and amount.unit == "count" else english(amount)


# ---------------------------------------------------------------- grounding


def _tolerance(amount: Amount) -> Decimal:
    """Half a unit of the last digit written: "3.0 billion" is any value that rounds to it (3.002 billion)."""
    exponent = amount.literal.as_tuple().exponent
    assert isinstance(exponent, int)
    return (Decimal(10) ** exponent) * amount.magnitude / 2


def _compatible(a: Unit, b: Unit) -> bool:
    if "percent" in (a, b):
        return a == b
    return a == b or "count" in (a, b)  # "42 billion" leaves the currency implicit


def matches(claim: Amount, source: Amount) -> bool:
    """Does a number in a passage support a number in an answer?"""
    measures = {claim.measure, source.measure}
    if len(measures) == 2 and "" not in measures and "个" not in measures:
        return False  # 37起 (deals) is not supported by 37家 (companies); 个 is the general measure word
    if claim.measure and not source.bare:
        return False  # 173 centres (a count) is not 173亿美元 (an amount)
    if claim.bare:
        # Without unit or magnitude only the digits can be compared: "420" matches "420亿元".
        return claim.literal == source.literal or claim.value == source.value
    if not _compatible(claim.unit, source.unit):
        return False
    return abs(claim.value - source.value) <= _tolerance(claim)


def strip_markers(text: str) -> str:
    return _MARKER.sub(" ", text)


def claimed(answer: str, question: str) -> list[Amount]:
    """The figures an answer states, the exempt ones (years, small counts) left out. A plain number the question
    states ("the two 70-billion-yuan funds") is the user's premise, not a claim."""
    echoed = {a.literal for a in find_amounts(question) if a.bare}
    return [a for a in find_amounts(answer) if not a.exempt and not (a.bare and a.literal in echoed)]


def ungrounded(answer: str, passages: Iterable[str]) -> list[Amount]:
    """Numbers of the answer that no passage supports (years, markers and small counts excepted)."""
    sources = [a for p in passages for a in find_amounts(p)]
    return [a for a in find_amounts(answer) if not a.exempt and not any(matches(a, s) for s in sources)]


def _significant(value: Decimal) -> str:
    """The significant digits: 420, 42 and 4.2 all give "42"; a power-of-ten slip keeps them."""
    digits = "".join(str(d) for d in value.normalize().as_tuple().digits)
    return digits.strip("0") or "0"


def repair_english(answer: str, passages: Sequence[str]) -> tuple[str, list[Amount]]:
    """Rewrite amounts that are a power of ten off a passage amount with the same digits ("420 billion yuan"
    for 420亿元 becomes "42 billion yuan"); return the new text and the numbers still ungrounded."""
    sources = [a for p in passages for a in find_amounts(p) if a.scaled or a.unit in ("CNY", "USD")]
    edits: list[tuple[Amount, Amount]] = []
    for claim in ungrounded(answer, passages):
        if not (claim.scaled or claim.unit in ("CNY", "USD")):
            continue
        candidates = [s for s in sources if _significant(s.literal) == _significant(claim.literal)]
        same_unit = [s for s in candidates if _compatible(claim.unit, s.unit)]
        candidates = same_unit or candidates
        # Only an unambiguous slip is repaired; two different passage amounts with the same digits stay flagged.
        # One value written twice is no ambiguity: "百亿基金" and "100亿元" are both 10 billion.
        if len({s.value for s in candidates}) == 1:
            edits.append((claim, next((s for s in candidates if s.unit == claim.unit), candidates[0])))
    for claim, source in sorted(edits, key=lambda e: -e[0].start):
        if source.unit == "count":  # the passage leaves the currency implicit (百亿基金); the answer's stays
            source = replace(source, unit=claim.unit)
        answer = answer[: claim.start] + english(source) + answer[claim.end :]
    return answer, ungrounded(answer, passages)


def _edit_chinese_amounts(text: str, edit: Callable[[Amount], str | None]) -> str:
    """Each amount written with Chinese characters (420亿元, 6成, 过亿元) replaced by edit(amount), or kept when
    that is None. A digit-less 千亿 or 万亿 stays: it is part of a name (千亿母基金, which the glossary reads) or a
    set phrase (万亿级)."""
    out, last = [], 0
    for amount in find_amounts(text):
        bare_large = amount.magnitude > _ZH_MAG["亿"] and not re.search(r"\d", amount.text)
        if amount.exempt or not has_chinese(amount.text) or bare_large:
            continue
        replacement = edit(amount)
        if replacement is None:
            continue
        out.append(text[last : amount.start] + replacement)
        last = amount.end
    out.append(text[last:])
    return "".join(out)


_MONTHS = ["January", "February", "March", "April", "May", "June"]
_MONTHS += ["July", "August", "September", "October", "November", "December"]
_ZH_DATE = re.compile(
    r"(?P<y>(?:19|20)\d{2})年(?:(?P<m>1[0-2]|0?[1-9])月(?:(?P<d>[1-3]?\d)日)?)?(?P<part>初|底|末|上半年|下半年)?"
)
_DATE_PARTS = {
    "初": "early {}",
    "底": "end of {}",
    "末": "end of {}",
    "上半年": "first half of {}",
    "下半年": "second half of {}",
}


def _english_date(m: re.Match[str]) -> str | None:
    year, month, day, part = m.group("y"), m.group("m"), m.group("d"), m.group("part")
    if not month and not part:
        return None  # a bare year reads the same in English
    when = year
    if month:
        name = _MONTHS[int(month) - 1]
        when = f"{name} {int(day)}, {year}" if day else f"{name} {year}"
    return _DATE_PARTS[part].format(when) if part else when


def _worth_saying(amount: Amount) -> bool:
    """An amount whose English reading differs from its digits: 420亿元, 6成; not a plain count (638起)."""
    return amount.scaled or amount.unit in ("CNY", "USD", "percent")


def annotate_english(text: str) -> str:
    """Add the English reading after each Chinese amount and date: "近420亿元" -> "近420亿元 (42 billion yuan)",
    "2021年9月" -> "2021年9月 (September 2021)", "2025年初" -> "2025年初 (early 2025)"."""
    text = _edit_chinese_amounts(text, lambda a: f"{a.text} ({english(a)})" if _worth_saying(a) else None)

    def gloss(m: re.Match[str]) -> str:
        english_date = _english_date(m)
        return f"{m.group(0)} ({english_date})" if english_date else m.group(0)

    return _ZH_DATE.sub(gloss, text)


# The English readings annotate_english and the glossary put after Chinese terms: ASCII brackets, no Chinese inside.
# In full-width brackets the report's own Latin stays ("人工智能（AI）"); the model copies a gloss into them as well,
# "173亿美元（17.3 billion US dollars）": words with a space between them are a reading.
_GLOSS = re.compile(
    r"[ \t]*(?:\((?=[^()]*[A-Za-z0-9])[^()\u3000-\u9fff\uff00-\uffef]*\)"
    r"|（(?=[^（）]*[A-Za-z0-9][^（）]* )[^\u3000-\u9fff\uff00-\uffef]*）)"
)


def strip_glosses(text: str) -> str:
    """A Chinese text without the English readings copied after its terms: "流片 (tape-out)周期" -> "流片周期",
    "近420亿元 (42 billion yuan)" -> "近420亿元", "173亿美元（17.3 billion US dollars）" -> "173亿美元"."""
    return _GLOSS.sub("", text)


def english_dates(text: str) -> str:
    """Chinese dates left in an English text in English: "2021年9月" -> "September 2021", "2024年" -> "2024"."""
    return _ZH_DATE.sub(lambda m: _english_date(m) or m.group("y"), text)


def english_amounts(text: str) -> str:
    """Chinese amounts replaced by their English reading, before a text is translated: "173亿美元，同比41.7%" ->
    "17.3 billion US dollars，同比41.7%". Counts keep their measure word (37家) for the translator."""
    return _edit_chinese_amounts(text, lambda a: f" {english(a)} " if _worth_saying(a) else None)
