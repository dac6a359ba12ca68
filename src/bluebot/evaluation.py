"""Test sets (EVAL_FORMAT.md): loading with line-numbered errors, and the metrics."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bluebot.errors import BadTestSetError
from bluebot.text import detect_lang, normalize_for_match
from bluebot.types import Answer, Chunk, EvalCase, Hit, Turn

_LIST_FIELDS = ("keywords", "forbid", "evidence")


def _case_from(obj: Any, where: str) -> EvalCase:
    if not isinstance(obj, dict):
        raise BadTestSetError(f"{where}: expected a JSON object, got {type(obj).__name__}")
    for name in ("id", "question"):
        if not isinstance(obj.get(name), str) or not obj[name].strip():
            raise BadTestSetError(f"{where}: field {name!r} is required and must be a non-empty string")
    for name in _LIST_FIELDS:
        value = obj.get(name, [])
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise BadTestSetError(f"{where}: field {name!r} must be a list of strings")
    answerable = obj.get("answerable", True)
    if not isinstance(answerable, bool):
        raise BadTestSetError(f"{where}: field 'answerable' must be true or false")
    lang = obj.get("lang") or detect_lang(obj["question"])
    if lang not in ("zh", "en"):
        raise BadTestSetError(f'{where}: field \'lang\' must be "zh" or "en", not {lang!r}')
    history = obj.get("history", [])
    if not isinstance(history, list) or not all(
        isinstance(t, dict) and t.get("role") in ("user", "assistant") and isinstance(t.get("content"), str)
        for t in history
    ):
        raise BadTestSetError(
            f'{where}: field \'history\' must be a list of {{"role": "user"|"assistant", "content": string}}'
        )
    for name in ("answer", "category"):
        if not isinstance(obj.get(name, ""), str):
            raise BadTestSetError(f"{where}: field {name!r} must be a string")
    return EvalCase(
        id=obj["id"],
        question=obj["question"],
        answer=obj.get("answer", ""),
        keywords=list(obj.get("keywords", [])),
        forbid=list(obj.get("forbid", [])),
        evidence=list(obj.get("evidence", [])),
        answerable=answerable,
        lang=lang,
        history=[Turn(t["role"], t["content"]) for t in history],
        category=obj.get("category", ""),
    )


def load_cases(path: Path) -> list[EvalCase]:
    """Read a test set; any malformed line raises BadTestSetError naming the file and line."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise BadTestSetError(f"{path}: cannot read ({exc.strerror})") from None
    except UnicodeDecodeError:
        raise BadTestSetError(f"{path}: not UTF-8 text") from None
    cases: list[EvalCase] = []
    seen: dict[str, int] = {}
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        where = f"{path}, line {number}"
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            raise BadTestSetError(f"{where}: not valid JSON ({exc.msg})") from None
        case = _case_from(obj, where)
        if case.id in seen:
            raise BadTestSetError(f"{where}: id {case.id!r} already used on line {seen[case.id]}")
        seen[case.id] = number
        cases.append(case)
    if not cases:
        raise BadTestSetError(f"{path}: the test set has no cases")
    return cases


def load_sets(paths: Iterable[Path]) -> list[EvalCase]:
    cases: list[EvalCase] = []
    owner: dict[str, Path] = {}
    for path in paths:
        for case in load_cases(path):
            if case.id in owner:
                raise BadTestSetError(f"{path}: id {case.id!r} is also used in {owner[case.id]}")
            owner[case.id] = path
            cases.append(case)
    return cases


# --- matching (EVAL_FORMAT.md: ignore case, white space and ** marks) ---

_BARE_NUMBER = re.compile(r"^[\d.,]+$")


def _contains(text: str, needle: str) -> bool:
    """needle in text after normalising; a bare number must match as a whole number."""
    hay, pin = normalize_for_match(text), normalize_for_match(needle)
    if not pin:
        return False
    if not _BARE_NUMBER.match(pin):
        return pin in hay
    return re.search(rf"(?<![\d.,]){re.escape(pin)}(?![\d]|[.,]\d)", hay) is not None


def keyword_present(text: str, keyword: str) -> bool:
    return any(_contains(text, alt) for alt in keyword.split("|") if alt.strip())


def supports(chunk: Chunk, evidence: list[str]) -> bool:
    """A passage supports an answer when it holds any evidence string."""
    hay = normalize_for_match(chunk.text)
    return any(normalize_for_match(e) in hay for e in evidence if e.strip())


# --- retrieval metrics ---


@dataclass(frozen=True)
class RetrievalScore:
    n: int
    hit1: float
    hit3: float
    hit5: float
    mrr: float


def first_supporting_rank(hits: list[Hit], evidence: list[str]) -> int | None:
    for rank, hit in enumerate(hits, start=1):
        if supports(hit.chunk, evidence):
            return rank
    return None


def retrieval_score(ranks: list[int | None]) -> RetrievalScore:
    """hit@k and MRR from the rank of the first supporting passage of each case (None: not found)."""
    n = len(ranks)
    if n == 0:
        return RetrievalScore(0, 0.0, 0.0, 0.0, 0.0)

    def hit_at(k: int) -> float:
        return sum(1 for r in ranks if r is not None and r <= k) / n

    mrr = sum(1.0 / r for r in ranks if r is not None) / n
    return RetrievalScore(n, hit_at(1), hit_at(3), hit_at(5), mrr)


# --- answer evaluation (the results format of EVAL_FORMAT.md) ---

_CITATION_MARK = re.compile(r"\[\d+\]")


def answer_correct(case: EvalCase, answer: Answer) -> bool:
    """EVAL_FORMAT.md: every keyword present, nothing forbidden; an unanswerable case is correct only when declined."""
    if not case.answerable:
        return answer.refused
    if answer.refused:
        return False
    text = _CITATION_MARK.sub(" ", answer.text)  # "[2]" must not satisfy or spoil a bare-number keyword
    return all(keyword_present(text, k) for k in case.keywords) and not any(
        _contains(text, f) for f in case.forbid if f.strip()
    )


def cites_evidence(case: EvalCase, answer: Answer) -> bool:
    """The answer cites at least one passage that holds the case's evidence."""
    return any(supports(c.chunk, case.evidence) for c in answer.citations)


def result_record(answer: Answer, case_id: str = "", correct: bool | None = None) -> dict[str, Any]:
    """One line of the results file: the answer with its citations and everything retrieved."""
    return {
        "id": case_id,
        "question": answer.question,
        "lang": answer.lang,
        "answer": answer.text,
        "refused": answer.refused,
        "citations": [
            {
                "n": c.n,
                "chunk_id": c.chunk.id,
                "source": c.chunk.source,
                "section": c.chunk.section,
                "text": c.chunk.text,
            }
            for c in answer.citations
        ],
        "retrieved": [
            {"chunk_id": h.chunk.id, "score": h.score, "section": h.chunk.section, "text": h.chunk.text}
            for h in answer.retrieved
        ],
        "latency_ms": answer.latency_ms,
        "backend": answer.backend,
        "correct": correct,
    }


def failed_record(case: EvalCase, backend: str) -> dict[str, Any]:
    """The line for a case whose run raised: counted as wrong, the error goes to the console."""
    return {
        "id": case.id,
        "question": case.question,
        "lang": case.lang,
        "answer": "",
        "refused": False,
        "citations": [],
        "retrieved": [],
        "latency_ms": 0,
        "backend": backend,
        "correct": False,
    }


@dataclass
class AnswerScore:
    """Answer accuracy of one language: all cases, answerable ones, declines, and cited evidence."""

    n: int = 0
    correct: int = 0
    answerable: int = 0
    answerable_correct: int = 0
    correct_citing_evidence: int = 0  # correct answerable answers citing a passage that holds the evidence
    unanswerable: int = 0
    declined: int = 0
    ungrounded: int = 0  # answers with a number found in no cited passage
    latencies: list[int] = field(default_factory=list)

    def add(self, case: EvalCase, answer: Answer | None) -> bool:
        self.n += 1
        correct = answer is not None and answer_correct(case, answer)
        self.correct += correct
        if case.answerable:
            self.answerable += 1
            self.answerable_correct += correct
            self.correct_citing_evidence += bool(correct and answer is not None and cites_evidence(case, answer))
        else:
            self.unanswerable += 1
            self.declined += correct
        if answer is not None:
            self.ungrounded += bool(answer.ungrounded_numbers)
            self.latencies.append(answer.latency_ms)
        return correct

    @property
    def accuracy(self) -> float:
        return self.correct / self.n if self.n else 0.0

    @property
    def p50_ms(self) -> int:
        ordered = sorted(self.latencies)
        return ordered[len(ordered) // 2] if ordered else 0
