"""HTML for the sources panel: each cited passage with the sentences that support the answer highlighted.

Kept apart from ui.py so the escaping and the highlighting rule can be tested without Gradio.
"""

from __future__ import annotations

import html
import re
from collections.abc import Mapping

from bluebot.numbers import find_amounts, matches
from bluebot.text import NUMBER, keyword_tokens
from bluebot.types import Answer, Chunk

# A sentence ends at Chinese/English end punctuation or a line break; "61.7" and "e.g.x" do not end one.
_SENTENCE = re.compile(r"(?:[^。！？!?；;\n.]|\.(?!\s|$))*(?:[。！？!?；;.]+[\"'”’)）]*|\n+|$)")
_MARKER_GROUP = re.compile(r"\[(\d+(?:\s*[,，]\s*\d+)*)\]")
_LEADING_MARKERS = re.compile(r"\s*(?:\[\d+(?:\s*[,，]\s*\d+)*\]\s*)+")
_BOLD = re.compile(r"\*\*(.+?)\*\*")


def split_sentences(text: str) -> list[str]:
    """Sentences whose concatenation is the text itself, so highlighting never drops a character."""
    return [m.group(0) for m in _SENTENCE.finditer(text) if m.group(0)]


def claims_by_citation(answer_text: str) -> dict[int, list[str]]:
    """Passage number -> the answer sentences that cite it, without their markers."""
    sentences: list[str] = []
    for sentence in split_sentences(answer_text):
        # "... in 2024. [1] Next" splits after the point: a marker opening a sentence closes the one before
        lead = _LEADING_MARKERS.match(sentence)
        if lead and sentences:
            sentences[-1] += lead.group(0)
            sentence = sentence[lead.end() :]
        if sentence.strip(" \t\n.。,，;；") or not sentences:
            sentences.append(sentence)
        else:
            sentences[-1] += sentence
    claims: dict[int, list[str]] = {}
    for sentence in sentences:
        bare = _MARKER_GROUP.sub("", sentence).strip()
        for group in _MARKER_GROUP.findall(sentence):
            for n in re.split(r"\s*[,，]\s*", group):
                claims.setdefault(int(n), []).append(bare)
    return claims


def _terms(text: str) -> set[str]:
    return {t for t in keyword_tokens(text) if len(t) >= 2 and not NUMBER.fullmatch(t)}


def _overlap(claim: str, sentence: str) -> int:
    # A shared amount is strong evidence, compared by value so that "61.25 billion yuan" finds 612.5亿元;
    # years and small counts appear everywhere, so they count little.
    found = find_amounts(sentence)
    supported = [a for a in find_amounts(claim) if any(matches(a, s) for s in found)]
    return sum(1 if a.exempt else 3 for a in supported) + len(_terms(claim) & _terms(sentence))


def supporting_sentences(passage: str, claims: list[str]) -> list[bool]:
    """For each sentence of the passage (split_sentences), whether it supports one of the claims.

    A sentence is highlighted when it shares at least one significant number or two terms with a claim,
    and scores at least 60% of the passage's best sentence; with no claim to compare, nothing is.
    """
    sentences = split_sentences(passage)
    if not claims:
        return [False] * len(sentences)
    scores = [max(_overlap(c, s) for c in claims) for s in sentences]
    best = max(scores, default=0)
    return [score >= 2 and score >= 0.6 * best for score in scores]


def _inline(text: str) -> str:
    """Escaped text with the report's **emphasis** kept as <strong>."""
    return _BOLD.sub(r"<strong>\1</strong>", html.escape(text)).replace("**", "")


def passage_html(chunk: Chunk, claims: list[str]) -> str:
    parts = []
    for sentence, marked in zip(split_sentences(chunk.text), supporting_sentences(chunk.text, claims), strict=True):
        parts.append(f"<mark>{_inline(sentence)}</mark>" if marked else _inline(sentence))
    return "".join(parts)


def _card(n: int | None, chunk: Chunk, claims: list[str], labels: Mapping[str, str]) -> str:
    number = f'<span class="bb-n">[{n}]</span> ' if n is not None else ""
    section = html.escape(chunk.section or labels["no_section"])
    where = f"{html.escape(chunk.source)} · {labels['passage']} {chunk.position + 1}"
    return (
        f'<div class="bb-source" data-n="{n or ""}" data-chunk="{html.escape(chunk.id)}">'
        f'<div class="bb-head">{number}<span class="bb-section">{section}</span></div>'
        f'<div class="bb-file">{where}</div>'
        f'<div class="bb-text">{passage_html(chunk, claims)}</div></div>'
    )


def sources_html(answer: Answer | None, labels: Mapping[str, str], closest: int = 3) -> str:
    """The sources panel for one answer: its cited passages, or for a refusal the closest passages read."""
    if answer is None:
        return f'<div class="bb-sources bb-empty">{html.escape(labels["sources_empty"])}</div>'
    meta = [answer.backend] + ([f"{answer.latency_ms / 1000:.1f} s"] if answer.latency_ms else [])
    if answer.standalone_question and answer.standalone_question != answer.question:
        # a follow-up is searched as a rewritten question; showing it explains what was retrieved
        meta.append(f"{labels['understood']}: {answer.standalone_question}")
    head = (
        f'<div class="bb-for">{html.escape(labels["sources_for"])} <q>{html.escape(answer.question)}</q></div>'
        f'<div class="bb-meta">{html.escape(" · ".join(meta))}</div>'
    )
    if answer.citations:
        claims = claims_by_citation(answer.text)
        cards = [
            _card(c.n, c.chunk, claims.get(c.n, [answer.text]), labels)
            for c in sorted(answer.citations, key=lambda c: c.n)
        ]
        return f'<div class="bb-sources">{head}{"".join(cards)}</div>'
    note = labels["no_citations"]
    if not answer.retrieved:
        return f'<div class="bb-sources">{head}<div class="bb-note">{html.escape(note)}</div></div>'
    # nothing was cited (a refusal): show what was read, so the user can judge the refusal
    cards = [_card(None, hit.chunk, [], labels) for hit in answer.retrieved[:closest]]
    return (
        f'<div class="bb-sources">{head}<div class="bb-note">{html.escape(note)} '
        f"{html.escape(labels['closest'])}</div>{''.join(cards)}</div>"
    )
