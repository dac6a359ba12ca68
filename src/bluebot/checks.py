"""Checks applied in code to every generated answer, since a small model's citations, units and language are
never trusted as generated: refusal detection, citation repair and renumbering, number conversion and grounding,
the language of the answer, and refusal on weak retrieval evidence."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from itertools import pairwise
from typing import Protocol

from bluebot.errors import GenerationError
from bluebot.generation import REFUSAL, ChoiceScorer, add_marker, support_choices, support_messages
from bluebot.glossary import Glossary
from bluebot.numbers import (
    Amount,
    asked_kinds,
    claimed,
    english_amounts,
    english_counted,
    english_dates,
    figure_kind,
    find_amounts,
    matches,
    repair_english,
    strip_glosses,
    strip_markers,
    ungrounded,
)
from bluebot.passages import Passage, readable, split_pieces, token_weight
from bluebot.text import ascii_punctuation, detect_lang, has_chinese, keyword_tokens
from bluebot.types import CheckOutcome, Citation, Hit, Lang

_REFUSAL_SAYS = re.compile(
    r"没有找到相关|无法回答|无法确定|无法得知|没有相关|资料中没有|资料中并未|资料未|"
    r"(?:未|没有|并未|并没有|不)(?:在)?[^，。,.]{0,10}?(?:提及|提到|给出|说明|披露|找到|包含|涉及|提供)|"
    r"does not say|doesn't say|do not say|no information|no mention|no data|cannot be determined|"
    r"(?:does|do|did)(?: not|n't) (?:mention|contain|provide|specify|give|include|state|say)|"
    r"(?:is|are|was|were)(?: not|n't) (?:mentioned|provided|specified|stated|given|available|included)",
    re.I,
)
_MARKERS = re.compile(
    r"[\[【]\s*(?:资料|passage|source|ref\.?)?\s*(\d{1,2}(?:\s*[,，、]\s*(?:资料|passage)?\s*\d{1,2})*)\s*[\]】]",
    re.I,
)
_MARKER = re.compile(r"\[(\d+)\]")
# "grouped into four areas: [1] [2] [3] [4]." - the model put markers where the list should be
_EMPTY_LIST = re.compile(r"[:：]\s*(?:\[\d+\][\s,，、]*)*[.。]?\s*$")
_BRACKETED = re.compile(r" ?\(([^()]+)\)")
_SENTENCES = re.compile(r".*?(?:[。！？!?\n]|\.(?=\s|$)|$)(?:\s*\[\d+\])*", re.S)

# How close a text is in meaning to each of several others (cosine similarities, the embedding model's): an English
# answer and the Chinese report share no words to trace it by.
Relate = Callable[[str, list[str]], list[float]]


@dataclass
class Checked:
    """An answer after the checks: text with markers renumbered 1..m, and what was found on the way."""

    text: str
    citations: list[Citation] = field(default_factory=list)
    refused: bool = False
    ungrounded: list[str] = field(default_factory=list)
    wrong_language: bool = False
    note: str = ""  # why the checks overrode the model, for Answer.notice
    checks: list[CheckOutcome] = field(default_factory=list)  # what each check of verify() did
    draft: str = ""  # the text the checks were given, when one of them declined it


def keep_gloss(text: str, passages: Sequence[str]) -> str:
    """An amount the model misread followed by the prompt's English reading of it keeps the reading only: the
    model reads 4,000亿元 as "4,000 billion yuan (400 billion yuan)", copying the gloss after its own mistake.
    Only money (what the prompt glosses), and only when the bracketed amount is in the passages and the first
    one is not."""
    missing = {a.start for a in ungrounded(text, passages)}
    for said, gloss in reversed(list(pairwise(find_amounts(text)))):
        bracketed = text[said.end : gloss.start] == " (" and text[gloss.end : gloss.end + 1] == ")"
        money = said.unit == gloss.unit and said.unit in ("CNY", "USD")
        if bracketed and money and said.start in missing and gloss.start not in missing:
            text = text[: said.start] + gloss.text + text[gloss.end + 1 :]
    return text


def says_refusal(text: str) -> bool:
    """The model's own "the passages do not say": its first sentence says so."""
    first = next((s for s in _SENTENCES.findall(strip_markers(text).strip()) if s.strip()), "")
    return bool(_REFUSAL_SAYS.search(first))


def refusal(lang: Lang) -> Checked:
    return Checked(REFUSAL[lang], refused=True)


# English prose: three Latin words in a row, figures allowed between them ("There were 2,318 deals"); a name such as
# "NVIDIA H100" or "GitHub Copilot" has two at most
_PROSE = re.compile(r"[A-Za-z]{2,}(?:[ \t]+[\d,.%]*[ \t]*[A-Za-z]+){2,}")


def _wrong_language(text: str, lang: Lang) -> bool:
    """A Chinese question needs some Chinese in its answer unless the answer is a name or code of the report ("FPGA",
    "GPU、ASIC、FPGA、其他"), not English prose; an English question needs an answer that is mostly English. Bare
    numbers ("2,318 [1]", "25%") suit both."""
    text = strip_markers(text)
    if lang == "zh":
        return not has_chinese(text) and _PROSE.search(text) is not None
    return detect_lang(text) == "zh"


def _bare(sentence: str) -> str:
    return re.sub(r"[\s。.]+", "", strip_markers(sentence)).casefold()


def _normalise_markers(text: str) -> str:
    """【1】, [资料1], [1, 2] -> [1], [1][2]; a Chinese sentence's markers inside its end: "热潮。[1]。" and "热潮。[1]"
    -> "热潮[1]。" (after "。[1]。" the marker alone read as a sentence of its own), "。。" -> "。"."""
    text = _MARKERS.sub(lambda m: "".join(f"[{n}]" for n in re.findall(r"\d+", m.group(1))), text)
    text = re.sub(r"([。！？；])((?:\[\d+\])+)\1?", r"\2\1", text)
    return re.sub(r"([。！？；])\1+", r"\1", text)


def _support(text: str, passage: Passage, glossary: Glossary | None = None) -> float:
    """How well a passage backs a piece of answer text: shared numbers count most, then shared words. An English
    text shares words with a Chinese passage through the English names of the glossary terms it holds ("Qinghe
    Direct Investment Fund" for 青禾直投基金)."""
    source = passage.hit.chunk.text
    claims = [a for a in find_amounts(strip_markers(text)) if not a.exempt]
    sources = find_amounts(source)
    numbers = sum(1 for c in claims if any(matches(c, s) for s in sources))
    passage_words = set(keyword_tokens(source))
    if glossary and not has_chinese(text):
        passage_words.update(keyword_tokens(" ".join(glossary.found(source).values())))
    words = set(keyword_tokens(strip_markers(text))) & passage_words
    return 3.0 * numbers + sum(token_weight(w) for w in words)


def _closest(text: str, passages: Sequence[Passage], relate: Relate | None) -> Passage | None:
    """The passage whose line is closest in meaning to an English text that shares no figure with any passage; None
    when there is no relate or the text holds Chinese or shares a figure (words and figures trace those). Shared words
    alone mislead across languages: "the four core elements of AI development as algorithm, data, compute and
    applications" shared "AI" and "data" (big data, in its English reading) with a passage on AI governance, and only
    "AI" with the one listing 算法、数据、算力、应用场景."""
    bare = strip_markers(text)
    if relate is None or has_chinese(bare):
        return None
    claims = [a for a in find_amounts(bare) if not a.exempt]
    if any(matches(c, s) for c in claims for p in passages for s in find_amounts(p.hit.chunk.text)):
        return None
    closeness = _closeness(bare, passages, relate)
    return max(passages, key=lambda p: (closeness[p.n], -p.n)) if closeness else None


def _closeness(text: str, passages: Sequence[Passage], relate: Relate) -> dict[int, float]:
    """For each passage number, how close in meaning to text its closest line is (lines as the model saw them);
    passages without a line are left out."""
    lines = [(p.n, line) for p in passages for line in p.text.splitlines() if len(line.strip()) > 3]
    closeness: dict[int, float] = {}
    for (n, _), score in zip(lines, relate(text, [line for _, line in lines]) if lines else [], strict=True):
        closeness[n] = max(score, closeness.get(n, score))
    return closeness


def _sentences(text: str) -> list[str]:
    return [s for s in _SENTENCES.findall(text) if s]


def check_answer(
    raw: str,
    lang: Lang,
    passages: Sequence[Passage],
    *,
    question: str = "",
    extractive: bool = False,
    glossary: Glossary | None = None,
    relate: Relate | None = None,
    cited_for: str = "",
    without: frozenset[str] = frozenset(),
) -> Checked:
    """A generated answer repaired in code (repair_answer), then verified by the checks of CHECKS that need no model
    (all of them but those named in without)."""
    repaired = repair_answer(
        raw,
        lang,
        passages,
        question=question,
        extractive=extractive,
        glossary=glossary,
        relate=relate,
        cited_for=cited_for,
    )
    if repaired.refused or repaired.wrong_language or extractive:
        return repaired
    return verify(Draft(question, lang, repaired.text, repaired.citations, passages, glossary), CHECKS, without)


def _without_repeats(text: str) -> str:
    """An English text without the brackets that only repeat the words before them, as the model copies the prompt's
    English readings after its own: "42 billion yuan (42 billion yuan)", "machine learning (Machine learning)",
    "A-rounds (A round)". Brackets that add anything stay: "Huawei (Cambricon)" is a wrong pairing to see."""

    def words(part: str) -> list[str]:
        return [w.rstrip("s") for w in re.findall(r"[a-z0-9]+", part.lower())]

    def drop(m: re.Match[str]) -> str:
        said = words(m.group(1))
        return "" if said and words(text[: m.start()])[-len(said) :] == said else m.group(0)

    return _BRACKETED.sub(drop, text)


def repair_answer(
    raw: str,
    lang: Lang,
    passages: Sequence[Passage],
    *,
    question: str = "",
    extractive: bool = False,
    glossary: Glossary | None = None,
    relate: Relate | None = None,
    cited_for: str = "",
) -> Checked:
    """Refusal, citations, units and language of a generated answer, fixed in code where possible: the model's own
    refusal, markers normalised and renumbered, every sentence cited, each figure cited to a passage holding it,
    English units repaired. relate, where given, tells which passage an English sentence without a figure or a
    marker paraphrases, and which of several passages holding a short answer's name answers an English question.
    cited_for is a question to trace citations by (the Chinese reading of an English question). Declines only when
    the model gave no answer; whether the answer answers the question is verify()'s job."""
    text = _normalise_markers(raw.strip())
    valid = {p.n for p in passages}
    by_n = {p.n: p for p in passages}
    text = _MARKER.sub(lambda m: m.group(0) if int(m.group(1)) in valid else "", text)  # markers to nowhere
    if not text or says_refusal(text) or not passages or _EMPTY_LIST.search(text):
        return refusal(lang)  # (an answer that announces a list and stops has not answered)
    # The model sometimes answers and then appends the refusal sentence from its instructions as well.
    fixed = {_bare(r) for r in REFUSAL.values()}
    text = "".join(s for s in _sentences(text) if _bare(s) not in fixed).strip()
    if not text:
        return refusal(lang)
    if not extractive and _wrong_language(text, lang):
        return Checked(text, wrong_language=True)
    if lang == "en" and not extractive:
        # Chinese amounts and dates the model copied are put in English in code, then English units are checked.
        # Where it copied the prompt's gloss as well, the repeat goes: "42 billion yuan (42 billion yuan)".
        # Chinese punctuation goes first: "17.3 billion US dollars （17.3 billion US dollars）。" is a repeat too.
        sources = [p.hit.chunk.text for p in passages]
        text = ascii_punctuation(text)
        text = re.sub(r"[ \t]{2,}", " ", english_amounts(english_dates(text))).strip()
        text = re.sub(r"[ \t]+(?=[).,;:]|$)", "", text)
        text = _without_repeats(keep_gloss(text, sources))
        text, _ = repair_english(text, sources)

    # Every claim gets a source: a sentence without a marker gets the passage that supports it best, if any does.
    # (Extracts are cited unit by unit already; a unit's inner sentences share its marker.) Meaning decides only for
    # English answers: a Chinese one is traced by the report's own words.
    paraphrase = relate if lang == "en" else None
    sentences = _sentences(text)
    for i, sentence in enumerate(sentences):
        if extractive or _MARKER.search(sentence) or not strip_markers(sentence).strip(" \n。.，,"):
            continue
        best = max(passages, key=lambda p: (_support(sentence, p, glossary), -p.n))
        if _support(sentence, best, glossary) >= 3.0:  # a shared figure, or more than one shared term
            sentences[i] = add_marker(sentence, (_closest(sentence, passages, paraphrase) or best).n, lang)
    text = "".join(sentences)
    if not extractive:
        asked = question or cited_for
        text = "".join(_recite_copied(s, passages, lang, asked, relate) for s in _sentences(text))

    # A number found in a passage the sentence does not cite: cite that passage too. Last claim first, so the
    # markers added to later sentences do not move the offsets of earlier claims.
    cited = {int(n) for n in _MARKER.findall(text)}
    for claim in sorted(_ungrounded_in(text, [by_n[n] for n in cited]), key=lambda a: -a.start):
        holder = next((p for p in passages if any(matches(claim, s) for s in find_amounts(p.hit.chunk.text))), None)
        if holder is None:
            continue
        sentences = _sentences(text)
        offset = 0
        for i, sentence in enumerate(sentences):
            if offset <= claim.start < offset + len(sentence):
                sentences[i] = add_marker(sentence, holder.n, lang)
                break
            offset += len(sentence)
        text = "".join(sentences)
        cited.add(holder.n)

    if not cited:  # nothing cited at all: attach the passage that best supports the whole answer
        best = max(passages, key=lambda p: (_support(text, p, glossary), -p.n))
        text = add_marker(text.rstrip(), (_closest(text, passages, paraphrase) or best).n, lang)

    text = "".join(_drop_unsupporting(s, by_n) for s in _sentences(text))
    text, citations = _renumber(text, by_n)
    missing = [a for a in ungrounded(text, [c.chunk.text for c in citations]) if a in claimed(text, question)]
    return Checked(text.strip(), citations, ungrounded=[a.text.strip() for a in missing])


# ---------------------------------------------------------------- the other part of a two-part answer

# Where a figure's partner is looked for, from the closest span to the widest: its phrase, its clause, its sentence,
# its line. Separators inside brackets do not count: "38.65亿元（占比59.3%）" is one phrase.
_SPAN_SEPARATORS = ("、，,；;。\n", "，,；;。\n", "；;。\n", "。\n")
# The end of the answer's clause holding a figure, where its partner goes: before its marker or punctuation.
_BEFORE_MARKER = re.compile(r"\s*(?:\[\d+\]|[,.](?!\d)|[;:!?，。；：！？、]|$)")


def _span(text: str, pos: int, separators: str) -> tuple[int, int]:
    """The start and end of the span of text around pos between two separators outside brackets."""
    depth, start = 0, 0
    for i, ch in enumerate(text):
        if ch in "（(":
            depth += 1
        elif ch in "）)":
            depth = max(0, depth - 1)
        elif ch in separators and depth == 0:
            if i >= pos:
                return start, i
            start = i + 1
    return start, len(text)


def _partner(source: Amount, passage: str, amounts: Sequence[Amount], kind: str) -> Amount | None:
    """The figure of `kind` the passage (whose figures are amounts) states together with `source`: the only one in
    the closest span around source that holds any; None when that span holds several (which one goes with it is not
    said)."""
    candidates = [a for a in amounts if figure_kind(a) == kind]
    for separators in _SPAN_SEPARATORS:
        start, end = _span(passage, source.start, separators)
        inside = [a for a in candidates if start <= a.start and a.end <= end]
        if len({a.value for a in inside}) == 1:
            return inside[0]
        if inside:
            return None
    return None


def _complete_pair(draft: Draft) -> str:
    """The text of a draft answering a question that asks for two kinds of figure ("how many ..., and what share?",
    "金额和占比分别是多少") but giving one of them: the figure of the missing kind that a cited passage states
    together with the given one is added in brackets at the end of the given one's clause. The small model often
    answered such questions with their first part only."""
    text, lang = draft.text, draft.lang
    asked = asked_kinds(draft.question) & {"count", "money", "percent"}
    claims = [a for a in draft.claims if figure_kind(a) in asked]
    missing = asked - {figure_kind(a) for a in claims}
    if len(asked) < 2 or not claims or not missing:
        return text
    cited = [(p.text, find_amounts(p.text)) for p in (_cited_passage(c, draft) for c in draft.citations)]
    additions: dict[int, list[str]] = {}
    for kind in sorted(missing):
        for claim in claims:
            sources = [(passage, amounts, s) for passage, amounts in cited for s in amounts if matches(claim, s)]
            found = (_partner(s, passage, amounts, kind) for passage, amounts, s in sources)
            partner = next((f for f in found if f is not None), None)
            if partner is not None:
                said = partner.text.strip() if lang == "zh" else english_counted(partner)
                end = _BEFORE_MARKER.search(text, claim.end)
                additions.setdefault(end.start() if end else len(text), []).append(said)
                break
    for end in sorted(additions, reverse=True):
        said = "，".join(additions[end]) if lang == "zh" else ", ".join(additions[end])
        text = f"{text[:end]}（{said}）{text[end:]}" if lang == "zh" else f"{text[:end]} ({said}){text[end:]}"
    return text


def _bigrams(text: str) -> set[str]:
    return {text[i : i + 2] for i in range(len(text) - 1)}


# The local model's probability that the evidence does NOT answer the question, above which the answer is declined.
# One limit for both kinds of evidence. Dev split, int8, 2026-12-05: the 125 answers shown to answerable questions
# scored at most 0.38 (two were declined, at 0.41 and 0.47); of the 25 drafts to unanswerable questions, 19 scored
# 0.41-0.90, six of them read from whole passages (several figures, or none: 0.44-0.90), where there was no limit
# until then because one correct two-part answer had once scored 0.47 (those six were declined by other checks).
MAX_DOUBT = 0.4


def figure_evidence(checked: Checked) -> list[str]:
    """The sentences of the cited passages that hold the answer's figures (each up to its last clause holding one),
    each once, in the order cited."""
    claims = [a for a in find_amounts(strip_markers(checked.text)) if not a.exempt]
    return _figure_sentences(claims, checked.citations)


_CLAUSE_END = re.compile(r"(?<=[，；;])|(?<=,)(?!\d)")  # not the comma of 2,318


def _figure_sentences(claims: Sequence[Amount], citations: Sequence[Citation]) -> list[str]:
    """The sentences holding the claimed figures, each ending with the last clause that holds one: what follows
    is about something else ("...AI大模型领域投资金额约190亿元、占比超过20%，此外智能驾驶、AI芯片...等领域投资金额
    占比较大" read as an answer about AI chips)."""
    found: list[str] = []
    for citation in citations:
        pieces = split_pieces(readable(citation.chunk.text), limit=0)  # limit 0: every sentence apart
        for at, sentence in enumerate(pieces):
            clauses = _CLAUSE_END.split(sentence)
            holding = [i for i, c in enumerate(clauses) if any(matches(a, s) for a in claims for s in find_amounts(c))]
            if not holding:
                continue
            cut = "".join(clauses[: holding[-1] + 1]).rstrip("，,；;")
            if len(sentence) < MAX_LABEL and not _SENTENCE_END.search(sentence):
                named = pieces[max(0, at - _LABEL_LINES) : at]
                while named and len(cut) < MIN_EVIDENCE:
                    cut = f"{named.pop()} {cut}"
            if cut not in found:
                found.append(cut)
    return found


# A figure's line shorter than MAX_LABEL and not ending as a sentence ends is a label left from a chart ("同比 ↑12.5%"
# under "预计将达 80 亿美元，" under the line naming the market): alone it does not say what the figure measures, so the
# lines before it, which name it, are read with it until the evidence is MIN_EVIDENCE long, up to _LABEL_LINES of
# them. A sentence is read as it is, however short: the one before it may be about something else.
MAX_LABEL = 20
MIN_EVIDENCE = 30
_LABEL_LINES = 3
_SENTENCE_END = re.compile(r"[。！？!?；;.]\s*$")


def _drop_unsupporting(sentence: str, by_n: dict[int, Passage]) -> str:
    """In a sentence stating figures, a marker whose passage holds none of them is a wrong citation when
    another marker's passage holds some: the model cited [2] for a number that only [1] has."""
    claims = [a for a in find_amounts(sentence) if not a.exempt]
    markers = {int(n) for n in _MARKER.findall(sentence)}
    if not claims or len(markers) < 2:
        return sentence
    holds = {n for n in markers if any(matches(c, s) for c in claims for s in find_amounts(by_n[n].hit.chunk.text))}
    if not holds:
        return sentence
    kept = _MARKER.sub(lambda m: m.group(0) if int(m.group(1)) in holds else "", sentence)
    return re.sub(r"(?<=\S)[ \t]+(?=[.,;。，；]|$)|(?<= ) +", "", kept)


def _recite_copied(
    sentence: str, passages: Sequence[Passage], lang: Lang, question: str = "", relate: Relate | None = None
) -> str:
    """A sentence copied from one passage and cited to others cites the passage it was copied from. The model numbers
    passages wrongly: "神经拟态芯片[1]" with the table that says so in [3]; "2022年9月[2]" with the date in [1]
    alone. Copied means, for a sentence of fewer than 8 pairs of characters holding Chinese, found whole in the
    passage (when no passage does, and 3 or more pairs are its own, as for a longer one); for a longer one, 9 in 10 of
    its own pairs in the passage, against fewer than 6 in 10 in each passage it cites; after a colon, what follows
    it. The words restating the question are left out, with the pairs that straddle them: "在投资导向上都主要引导..."
    says nothing of where the answer came from but "主要引导...". Fewer than three pairs left say too little to tell;
    then the Latin names and codes the question does not hold decide: "2024年Q2[1]" cites the one passage holding
    "Q2" when the cited one does not."""
    markers = {int(n) for n in _MARKER.findall(sentence)}
    # "FPGA的劣势：" restates the question; "(tape-out)" is the prompt's reading of 流片, not the report's text
    said = _compact(re.split(r"[：:]", strip_glosses(strip_markers(sentence)))[-1])
    asked = _compact(question)
    grams = {g for g in _bigrams(said) if has_chinese(g)} - _bigrams(asked)
    if not markers:
        return sentence
    if len(grams) < 3:
        return _recite_named(sentence, said, markers, passages, lang, question, relate)
    short = len(grams) < 8
    own = _own_pairs(said, asked) or grams

    def pairs(passage: Passage) -> float:
        return len(own & _bigrams(_compact(passage.hit.chunk.text))) / len(own)

    def cover(passage: Passage) -> float:
        return (1.0 if said in _compact(passage.hit.chunk.text) else 0.0) if short else pairs(passage)

    covers = {p.n: cover(p) for p in passages}
    if short and not any(covers.values()) and len(_own_pairs(said, asked)) >= 3:
        # A table's row name joined to a cell of its row ("神经拟态芯片目前仍处于研究测试阶段" for "哪一种目前仍处于
        # 研究测试阶段"): no passage holds it whole; the pairs of its own words, not the question's, tell.
        covers = {p.n: pairs(p) for p in passages}
    if any(covers.get(n, 0.0) >= 0.6 for n in markers):
        return sentence
    best = max(passages, key=lambda p: (covers[p.n], -p.n))
    if covers[best.n] < 0.9:
        return sentence
    return add_marker(re.sub(r"[ \t]*\[\d+\]", "", sentence), best.n, lang)


def _own_pairs(said: str, question: str) -> set[str]:
    """The pairs of characters of an answer's words, holding Chinese, that neither are the question's pairs nor
    share a character with where the answer restates them. Only to measure a long sentence: in a short one the
    question's generic words are the answer's ("训练芯片、推理芯片" for "AI芯片可以分成哪几类")."""
    asked = _bigrams(question)
    restated = {i + k for i in range(len(said) - 1) if said[i : i + 2] in asked for k in (0, 1)}
    return {said[i : i + 2] for i in range(len(said) - 1) if not {i, i + 1} & restated and has_chinese(said[i : i + 2])}


_LATIN_NAME = re.compile(r"[A-Za-z][A-Za-z0-9+\-]*")


def _recite_named(
    sentence: str,
    said: str,
    markers: set[int],
    passages: Sequence[Passage],
    lang: Lang,
    question: str,
    relate: Relate | None = None,
) -> str:
    """_recite_copied for a short Chinese answer: its Latin names and codes ("Q2", "FPGA") that the question does not
    hold cite the passage holding them all. Of several such passages, the one sharing the most of the question's
    character pairs: "FPGA[2]" for the chip suited to "算法更新频繁、市场规模小的专用场景" cited a list of chip trends
    naming FPGA, and the table row of application scenarios that says so holds "FPGA" too. An English question shares
    no pairs with the report: there the holder whose line is closest to it in meaning, where relate is given. The
    cited passage stays when no other holder shares more, or comes closer."""
    if lang != "zh":
        return sentence  # an English answer is all Latin words
    asked = question.lower()
    names = {n.lower() for n in _LATIN_NAME.findall(said) if n.lower() not in asked}
    holders = [p for p in passages if names and all(n in p.hit.chunk.text.lower() for n in names)]
    if not holders:
        return sentence
    pairs = {g for g in _bigrams(_compact(question)) if has_chinese(g)}

    closeness = _closeness(question, holders, relate) if relate and not pairs and len(holders) > 1 else {}

    def shared(passage: Passage) -> float:
        return closeness.get(passage.n, len(pairs & _bigrams(_compact(passage.hit.chunk.text))))

    best = max(holders, key=lambda p: (shared(p), -p.n))
    if any(p.n in markers and shared(p) >= shared(best) for p in holders):
        return sentence
    return add_marker(re.sub(r"[ \t]*\[\d+\]", "", sentence), best.n, lang)


def _compact(text: str) -> str:
    """Text without spaces, punctuation or markup: "**2,318** 起。" -> "2318起"."""
    return re.sub(r"[\W_]", "", text)


def _ungrounded_in(text: str, passages: Sequence[Passage]) -> list[Amount]:
    return ungrounded(text, [p.hit.chunk.text for p in passages])  # find_amounts skips the [n] markers itself


def _renumber(text: str, by_n: dict[int, Passage]) -> tuple[str, list[Citation]]:
    """Cited passages numbered 1..m in order of first mention; repeated adjacent markers collapsed."""
    order: dict[int, int] = {}
    for n in _MARKER.findall(text):
        order.setdefault(int(n), len(order) + 1)
    text = _MARKER.sub(lambda m: f"[{order[int(m.group(1))]}]", text)
    text = re.sub(r"(\[\d+\])(?:\s*\1)+", r"\1", text)
    return text, [Citation(new, by_n[old].hit.chunk) for old, new in order.items()]


# ---------------------------------------------------------------- refusal on weak evidence

# Top-hit dense similarity below which the report is taken not to cover the question, per embedding model
# and question language. Calibrated with embeddinggemma-300m on eval/report_{zh,en}.jsonl (77 zh / 78 en cases,
# chunks of 400/80): the lowest top-1 similarity of an answerable case was 0.326 (zh) and 0.278 (en); the
# unanswerable cases ranged 0.319-0.751 (zh) and 0.252-0.659 (en), because most of them ask about a topic the
# report covers (another year, another city). Similarity alone therefore only catches questions off the report's
# subject; the floors sit just below the answerable minimum, and the model's own "not in the passages" (and the
# checks above) handle the rest. Other embedding models have no floor until calibrated.
EVIDENCE_FLOORS: dict[str, dict[Lang, float]] = {"google/embeddinggemma-300m": {"zh": 0.30, "en": 0.26}}


def weak_evidence(hits: Sequence[Hit], lang: Lang, floors: dict[Lang, float] | None) -> bool:
    if not hits:
        return True
    if not floors:
        return False
    top = max((h.similarity for h in hits if h.similarity is not None), default=None)
    if top is None:
        return False
    # Keyword rank is no help here: on this small corpus BM25 matched some passage for every Chinese test
    # question, answerable or not ("2024", "AI" are everywhere).
    return top < floors[lang]


# ---------------------------------------------------------------- verification: named checks over a draft


@dataclass(frozen=True)
class Draft:
    """A repaired answer as the checks see it: its text with markers 1..m, the passages it cites, and what it was
    written from."""

    question: str
    lang: Lang
    text: str
    citations: list[Citation]
    passages: Sequence[Passage]
    glossary: Glossary | None = None

    @property
    def claims(self) -> list[Amount]:
        return claimed(self.text, self.question)


@dataclass(frozen=True)
class Verdict:
    """What a check makes of a draft: the draft to go on with (the same, or with something removed), or a reason to
    decline it; score is the check's measurement where it has one (the model's doubt)."""

    draft: Draft
    decline: str = ""
    score: float | None = None
    note: str = ""  # what the reader should know although the check passed (it could not run)


class Check(Protocol):
    """One verification step. Its docstring names the class of failure it catches."""

    name: str

    def __call__(self, draft: Draft) -> Verdict: ...


@dataclass(frozen=True)
class _CodeCheck:
    name: str
    test: Callable[[Draft], Verdict]

    def __call__(self, draft: Draft) -> Verdict:
        return self.test(draft)


def _check(name: str) -> Callable[[Callable[[Draft], Verdict]], _CodeCheck]:
    def wrap(test: Callable[[Draft], Verdict]) -> _CodeCheck:
        made = _CodeCheck(name, test)
        object.__setattr__(made, "__doc__", test.__doc__)
        return made

    return wrap


@_check("unsupported-figures")
def _unsupported_figures(draft: Draft) -> Verdict:
    """A figure that no cited passage states (the model computed, misread or invented it) never reaches the reader:
    its sentence is removed, and an answer left with no figure of the passages is declined."""
    cited = [c.chunk.text for c in draft.citations]
    claims = draft.claims
    missing = [a for a in ungrounded(draft.text, cited) if a in claims]
    if not missing:
        return Verdict(draft)
    figures = ", ".join(a.text.strip() for a in missing)
    kept = [s for s in _sentences(draft.text) if not ungrounded(s, cited) or not claimed(s, draft.question)]
    if len(missing) == len(claims) or not "".join(kept).strip(" \n。.，,"):
        return Verdict(draft, f"no cited passage states the answer's figures ({figures})")
    text, citations = _renumber("".join(kept).strip(), {c.n: _cited_passage(c, draft) for c in draft.citations})
    return Verdict(replace(draft, text=text, citations=citations))


@_check("unstated-year")
def _unstated_year(draft: Draft) -> Verdict:
    """The question asks about a year that no cited passage states (asked about one year, the passages give another
    year's figures): the evidence is about another period, so what the answer says of the year asked is not in it."""
    asked = {str(a.literal) for a in find_amounts(draft.question) if a.year}
    if not asked or not draft.citations:
        return Verdict(draft)
    cited = "\n".join(f"{c.chunk.section}\n{c.chunk.text}" for c in draft.citations)
    if any(year in cited for year in asked):
        return Verdict(draft)
    return Verdict(draft, f"no cited passage states the year asked about ({', '.join(sorted(asked))})")


def _cited_passage(citation: Citation, draft: Draft) -> Passage:
    return next(p for p in draft.passages if p.hit.chunk.id == citation.chunk.id)


# The checks that need no model, in the order they run.
CHECKS: tuple[Check, ...] = (_unsupported_figures, _unstated_year)


class WeakRetrieval:
    """The best retrieved passage is far from the question in meaning (below the embedding model's floor): the
    documents do not cover its topic. Also run before generation, which it then saves."""

    name = "weak-retrieval"

    def __init__(self, floors: dict[Lang, float] | None) -> None:
        self.floors = floors

    def __call__(self, draft: Draft) -> Verdict:
        if weak_evidence([p.hit for p in draft.passages], draft.lang, self.floors):
            return Verdict(draft, "no passage is close enough to the question")
        return Verdict(draft)


class EvidenceAnswers:
    """The evidence the answer rests on does not say what the question asks (a passage about a related subject: the
    director of another film, the total of another group): the local model reads the evidence and the question and
    says whether the one answers the other; its probability of "no" above a limit declines. The evidence is the
    one sentence holding the answer's figures, or the cited passages as the model saw them when the answer states no
    figure or states figures from several sentences. One forward pass over a short prompt, no decoding."""

    name = "evidence-answers"

    def __init__(self, scorer: ChoiceScorer, max_doubt: float = MAX_DOUBT) -> None:
        self.scorer = scorer
        self.max_doubt = max_doubt

    def __call__(self, draft: Draft) -> Verdict:
        figures = _figure_sentences(draft.claims, draft.citations) if draft.claims else []
        # Figures from several sentences answer a question of several parts, which one yes or no over those
        # sentences judges badly: the cited passages are read instead.
        evidence = figures if len(figures) == 1 else [_cited_passage(c, draft).text for c in draft.citations]
        if not evidence or not draft.question:
            return Verdict(draft)
        try:
            _, doubt = self.scorer.choice_probabilities(
                support_messages(draft.question, evidence), support_choices(evidence)
            )
        except GenerationError as exc:
            return Verdict(draft, note=f"the evidence check could not run: {exc}")
        if doubt > self.max_doubt:
            return Verdict(draft, f"the evidence does not answer the question (doubt {doubt:.2f})", doubt)
        return Verdict(draft, score=doubt)


def verify(draft: Draft, checks: Sequence[Check], without: frozenset[str] = frozenset()) -> Checked:
    """The draft through each check in order, except those named in without. The first check that declines decides;
    the later ones still look at the draft as it was, so that one run tells what each would have done alone (the
    evaluation's table of checks). An answer let through gets the missing part of a two-part figure question
    (_complete_pair)."""
    outcomes: list[CheckOutcome] = []
    declined: Verdict | None = None
    for check in checks:
        if check.name in without:
            outcomes.append(CheckOutcome(check.name, "off"))
            continue
        verdict = check(draft)
        if verdict.decline:
            outcomes.append(CheckOutcome(check.name, "declined", verdict.decline, verdict.score))
            declined = declined or verdict
        elif verdict.draft != draft:
            outcomes.append(CheckOutcome(check.name, "changed", verdict.note, verdict.score))
            draft = verdict.draft
        else:
            outcomes.append(CheckOutcome(check.name, "passed", verdict.note, verdict.score))
    if declined is not None:
        return Checked(REFUSAL[draft.lang], refused=True, note=declined.decline, checks=outcomes, draft=draft.text)
    note = "; ".join(o.reason for o in outcomes if o.reason)
    # After the checks: a part they removed (a wrongly paired share beside an invented total) is filled in too.
    return Checked(_complete_pair(draft).strip(), draft.citations, note=note, checks=outcomes)


# A figure as the stream shows it: digits with their separators, not a citation marker's number.
_STREAMED_FIGURE = re.compile(r"(?<![\[\d.,])\d+(?:[.,]\d+)*")


class FigureGate:
    """How much of an answer being generated may be shown: everything before the first figure that no passage states
    (the digits as written, separators aside). A number at the very end may still grow, so it waits for the next
    character. The checks later remove or decline what the gate held back; the reader never sees it."""

    def __init__(self, sources: str, open_: bool = True) -> None:
        self.known = {_digits(f) for f in _STREAMED_FIGURE.findall(sources)}
        self.open = open_

    @classmethod
    def closed(cls) -> FigureGate:
        """A gate that shows nothing (a reading that is not the answer shown)."""
        return cls("", open_=False)

    def showable(self, text: str) -> int:
        if not self.open:
            return 0
        for figure in _STREAMED_FIGURE.finditer(text):
            if figure.end() == len(text):
                return figure.start()
            if _digits(figure.group()) not in self.known:
                return figure.start()
        return len(text)


def _digits(figure: str) -> str:
    return figure.replace(",", "").rstrip(".")
