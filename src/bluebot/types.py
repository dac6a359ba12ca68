"""Frozen dataclasses passed between pipeline stages."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

Lang = Literal["zh", "en"]


@dataclass(frozen=True)
class Document:
    """One corpus file after loading: its text and where it came from."""

    source: str  # path relative to the project root when possible, e.g. corpus/report.txt
    text: str


@dataclass(frozen=True)
class Chunk:
    """A passage of a document, the unit that is indexed, retrieved and cited."""

    id: str
    text: str
    source: str
    section: str
    position: int  # order of the chunk within its source
    lang: Lang


@dataclass(frozen=True)
class Hit:
    """A retrieved chunk with its fused score and the ranks it had in each retriever."""

    chunk: Chunk
    score: float
    dense_rank: int | None = None
    keyword_rank: int | None = None
    similarity: float | None = None  # cosine similarity of the dense match, for refusal thresholds


@dataclass(frozen=True)
class Citation:
    """Passage number n as shown to the user, and the chunk it points to."""

    n: int
    chunk: Chunk


@dataclass(frozen=True)
class CheckOutcome:
    """What one verification check did to an answer: "passed", "changed" (removed part of it), "declined" (with
    the reason), or "off" (switched off by name); score is its measurement where it has one."""

    name: str
    action: str
    reason: str = ""
    score: float | None = None


@dataclass(frozen=True)
class Progress:
    """What the bot is doing before and between the streamed text: "search", "read" (passages: how many it reads),
    "check". For a waiting reader; consumers that only want text skip it."""

    step: str
    passages: int = 0


@dataclass(frozen=True)
class Turn:
    role: Literal["user", "assistant"]
    content: str


@dataclass(frozen=True)
class Answer:
    """What the bot returns: the text and everything needed to show and check its sources."""

    question: str
    text: str
    citations: list[Citation]
    lang: Lang
    retrieved: list[Hit]
    backend: str
    refused: bool = False
    standalone_question: str = ""  # the question after follow-up rewriting
    notice: str = ""  # e.g. "the local model failed; extractive answer"
    ungrounded_numbers: list[str] = field(default_factory=list)
    latency_ms: int = 0
    first_token_ms: int | None = None  # from the question to the first streamed character
    timings_ms: dict[str, int] = field(default_factory=dict)  # per stage: see docs/eval-format.md
    checks: list[CheckOutcome] = field(default_factory=list)
    draft: str = ""  # the model's answer that a check declined, so that evaluation can tell what the check changed


@dataclass(frozen=True)
class EvalCase:
    """One line of a test set (see EVAL_FORMAT.md)."""

    id: str
    question: str
    answer: str = ""
    keywords: list[str] = field(default_factory=list)
    forbid: list[str] = field(default_factory=list)
    evidence: list[str] = field(default_factory=list)
    answerable: bool = True
    lang: Lang = "en"
    history: list[Turn] = field(default_factory=list)
    category: str = ""
