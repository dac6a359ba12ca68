"""Test sets and results files (EVAL_FORMAT.md): loading with line-numbered errors, the metrics, and running a
test set through the pipeline. The report, the comparison and the chart are in report.py."""

from __future__ import annotations

import json
import math
import re
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Protocol

from bluebot.errors import BadResultsError, BadTestSetError, BluebotError, GenerationError
from bluebot.numbers import claimed, ungrounded
from bluebot.text import detect_lang, normalize_for_match
from bluebot.types import Answer, Chunk, EvalCase, Hit, Progress, Turn

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


def _jsonl(path: Path, error: type[Exception]) -> Iterator[tuple[int, str, Any]]:
    """(line number, "file, line n", parsed value) for every non-blank line of a JSON Lines file; an unreadable
    file or a line that is not JSON raises `error` naming the file and line."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise error(f"{path}: cannot read ({exc.strerror})") from None
    except UnicodeDecodeError:
        raise error(f"{path}: not UTF-8 text") from None
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        where = f"{path}, line {number}"
        try:
            yield number, where, json.loads(line)
        except json.JSONDecodeError as exc:
            raise error(f"{where}: not valid JSON ({exc.msg})") from None


def load_cases(path: Path) -> list[EvalCase]:
    """Read a test set; any malformed line raises BadTestSetError naming the file and line."""
    cases: list[EvalCase] = []
    seen: dict[str, int] = {}
    for number, where, obj in _jsonl(path, BadTestSetError):
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
    # A comma after a digit may be a thousands separator ("2,318" holds no "318"); after a word it is punctuation:
    # "report, 37 companies" (",37" once white space is gone) does hold "37".
    return re.search(rf"(?<![\d.])(?<!\d,){re.escape(pin)}(?!\d|\.\d|,\d{{3}}(?!\d))", hay) is not None


def keyword_present(text: str, keyword: str) -> bool:
    return any(_contains(text, alt) for alt in keyword.split("|") if alt.strip())


def holds_evidence(text: str, evidence: list[str]) -> bool:
    """A passage supports an answer when it holds any evidence string."""
    hay = normalize_for_match(text)
    return any(normalize_for_match(e) in hay for e in evidence if e.strip())


def supports(chunk: Chunk, evidence: list[str]) -> bool:
    return holds_evidence(chunk.text, evidence)


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


def missing_keywords(case: EvalCase, text: str) -> list[str]:
    text = _CITATION_MARK.sub(" ", text)  # "[2]" must not satisfy or spoil a bare-number keyword
    return [k for k in case.keywords if not keyword_present(text, k)]


def forbidden_found(case: EvalCase, text: str) -> list[str]:
    text = _CITATION_MARK.sub(" ", text)
    return [f for f in case.forbid if f.strip() and _contains(text, f)]


def text_correct(case: EvalCase, text: str, refused: bool) -> bool:
    """EVAL_FORMAT.md: every keyword present, nothing forbidden; an unanswerable case is correct only when declined."""
    if not case.answerable:
        return refused
    if refused:
        return False
    return not missing_keywords(case, text) and not forbidden_found(case, text)


def answer_correct(case: EvalCase, answer: Answer) -> bool:
    return text_correct(case, answer.text, answer.refused)


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
        "first_token_ms": answer.first_token_ms,
        "timings_ms": answer.timings_ms,
        "checks": [
            {"name": c.name, "action": c.action, "reason": c.reason, "score": c.score}
            for c in answer.checks
            if c.action != "passed" or c.score is not None
        ],
        "draft": answer.draft,
        "backend": answer.backend,
        "correct": correct,
    }


def failed_record(case: EvalCase, backend: str, latency_ms: int = 0) -> dict[str, Any]:
    """The line for a case whose run raised: no answer, counted as wrong (see record_failed)."""
    return {
        "id": case.id,
        "question": case.question,
        "lang": case.lang,
        "answer": "",
        "refused": False,
        "citations": [],
        "retrieved": [],
        "latency_ms": latency_ms,
        "first_token_ms": None,
        "timings_ms": {},
        "checks": [],
        "draft": "",
        "backend": backend,
        "correct": False,
    }


def record_failed(record: dict[str, Any]) -> bool:
    """A line with neither answer text nor a refusal is a case whose run failed: the pipeline always returns
    text otherwise. The results format has no error field, so this is how a results file shows it."""
    return not str(record.get("answer") or "").strip() and not record.get("refused")


def record_correct(case: EvalCase, record: dict[str, Any]) -> bool:
    """The verdict recomputed from a results line (so a results file can be re-scored against the test set)."""
    return not record_failed(record) and text_correct(case, record["answer"], bool(record["refused"]))


_RESULT_FIELDS: dict[str, type | tuple[type, ...]] = {
    "id": str,
    "answer": str,
    "refused": bool,
    "citations": list,
    "retrieved": list,
    "latency_ms": (int, float),
}


def load_results(path: Path) -> list[dict[str, Any]]:
    """Read a results file; a malformed line raises BadResultsError naming the file and line."""
    records = []
    for _, where, obj in _jsonl(path, BadResultsError):
        if not isinstance(obj, dict):
            raise BadResultsError(f"{where}: expected a JSON object, got {type(obj).__name__}")
        for name, kind in _RESULT_FIELDS.items():
            if not isinstance(obj.get(name), kind) or (kind is not bool and isinstance(obj.get(name), bool)):
                raise BadResultsError(f"{where}: field {name!r} is missing or has the wrong type")
        if not all(isinstance(p, dict) and isinstance(p.get("text"), str) for p in obj["citations"] + obj["retrieved"]):
            raise BadResultsError(f"{where}: every citation and retrieved passage needs its 'text'")
        records.append(obj)
    if not records:
        raise BadResultsError(f"{path}: the results file has no lines")
    return records


Pair = tuple[EvalCase, dict[str, Any]]


def pair_results(cases: list[EvalCase], records: list[dict[str, Any]]) -> tuple[list[Pair], list[str]]:
    """Results matched to their cases by id, in test-set order, and the ids of results no case has.
    Cases without a result (a partial run) are left out."""
    by_id = {r["id"]: r for r in records}
    known = {c.id for c in cases}
    return [(c, by_id[c.id]) for c in cases if c.id in by_id], [r["id"] for r in records if r["id"] not in known]


# --- metrics over (case, results line) pairs ---


def _holds(passage: dict[str, Any], evidence: list[str]) -> bool:
    return holds_evidence(passage.get("text", ""), evidence)


def percentile(values: list[int], p: float) -> int | None:
    """Nearest-rank percentile: the smallest value with at least p% of the values at or below it."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]


def _rate(part: int, whole: int) -> float | None:
    return part / whole if whole else None


@dataclass(frozen=True)
class Metrics:
    """Every metric of one group of cases. None: the metric has no cases to measure in this group.

    Failed cases count as wrong answers (and as not declined); they are left out of the retrieval, citation,
    number and latency metrics, which need data a failed run did not produce.
    """

    n: int
    errors: int
    correct: int
    answerable: int
    unanswerable: int
    declined: int  # unanswerable cases the bot declined
    refused: int  # all declines, right or wrong
    retrieval_n: int  # answerable cases with evidence
    hit1: float | None
    hit3: float | None
    hit5: float | None
    mrr: float | None
    cited: int  # passages cited by answers to answerable cases with evidence
    cited_supporting: int  # ... of which hold the evidence
    retrieved_supporting: int  # retrieved passages holding the evidence
    retrieved_supporting_cited: int  # ... of which the answer cites
    numbers: int  # checked numbers in the answers (years, small counts and the question's own numbers excepted)
    grounded_numbers: int  # ... found, after unit normalisation, in a cited passage
    latencies: tuple[int, ...] = ()

    @property
    def accuracy(self) -> float | None:
        return _rate(self.correct, self.n)

    @property
    def citation_precision(self) -> float | None:
        return _rate(self.cited_supporting, self.cited)

    @property
    def citation_recall(self) -> float | None:
        return _rate(self.retrieved_supporting_cited, self.retrieved_supporting)

    @property
    def grounded_rate(self) -> float | None:
        return _rate(self.grounded_numbers, self.numbers)

    @property
    def refusal_precision(self) -> float | None:
        return _rate(self.declined, self.refused)

    @property
    def refusal_recall(self) -> float | None:
        return _rate(self.declined, self.unanswerable)

    @property
    def p50_ms(self) -> int | None:
        return percentile(list(self.latencies), 50)

    @property
    def p95_ms(self) -> int | None:
        return percentile(list(self.latencies), 95)

    def as_dict(self) -> dict[str, Any]:
        """Counts and rates for --json (the latencies as their percentiles)."""
        counts = {k: v for k, v in asdict(self).items() if k != "latencies"}
        rates = (
            "accuracy",
            "citation_precision",
            "citation_recall",
            "grounded_rate",
            "refusal_precision",
            "refusal_recall",
            "p50_ms",
            "p95_ms",
        )
        return counts | {name: getattr(self, name) for name in rates}


def metrics(pairs: list[Pair]) -> Metrics:
    """All metrics of a group of cases from their results lines (EVAL_FORMAT.md)."""
    counts = dict.fromkeys(
        (
            "errors",
            "correct",
            "answerable",
            "unanswerable",
            "declined",
            "refused",
            "cited",
            "cited_supporting",
            "retrieved_supporting",
            "retrieved_supporting_cited",
            "numbers",
            "grounded_numbers",
        ),
        0,
    )
    ranks: list[int | None] = []
    latencies: list[int] = []
    for case, record in pairs:
        failed = record_failed(record)
        refused = bool(record.get("refused")) and not failed
        counts["correct"] += record_correct(case, record)
        counts["answerable" if case.answerable else "unanswerable"] += 1
        counts["refused"] += refused
        counts["declined"] += refused and not case.answerable
        if failed:
            counts["errors"] += 1
            continue
        latencies.append(int(record["latency_ms"]))
        retrieved, cited = record["retrieved"], record["citations"]
        if case.answerable and case.evidence:
            ranks.append(next((i for i, p in enumerate(retrieved, start=1) if _holds(p, case.evidence)), None))
            cited_ids = {c.get("chunk_id") for c in cited}
            supporting = [p for p in retrieved if _holds(p, case.evidence)]
            counts["retrieved_supporting"] += len(supporting)
            counts["retrieved_supporting_cited"] += sum(1 for p in supporting if p.get("chunk_id") in cited_ids)
            counts["cited"] += len(cited)
            counts["cited_supporting"] += sum(1 for c in cited if _holds(c, case.evidence))
        if not refused:
            claims = claimed(record["answer"], case.question)
            missing = ungrounded(record["answer"], [c["text"] for c in cited])
            counts["numbers"] += len(claims)
            counts["grounded_numbers"] += sum(1 for a in claims if a not in missing)
    score = retrieval_score(ranks)
    some = bool(ranks)
    return Metrics(
        n=len(pairs),
        retrieval_n=score.n,
        hit1=score.hit1 if some else None,
        hit3=score.hit3 if some else None,
        hit5=score.hit5 if some else None,
        mrr=score.mrr if some else None,
        latencies=tuple(latencies),
        **counts,
    )


NO_CATEGORY = "(none)"


@dataclass(frozen=True)
class Breakdown:
    """Metrics overall, by language, by category, and by category and language (for the chart)."""

    overall: Metrics
    by_lang: dict[str, Metrics]
    by_category: dict[str, Metrics]
    by_category_lang: dict[str, dict[str, Metrics]]

    def as_dict(self) -> dict[str, Any]:
        return {
            "all": self.overall.as_dict(),
            **{k: m.as_dict() for k, m in self.by_lang.items()},
            "categories": {k: m.as_dict() for k, m in self.by_category.items()},
        }


def breakdown(pairs: list[Pair]) -> Breakdown:
    def grouped(key: Callable[[EvalCase], str], group: list[Pair]) -> dict[str, list[Pair]]:
        out: dict[str, list[Pair]] = {}
        for pair in group:
            out.setdefault(key(pair[0]), []).append(pair)
        return out

    def category(case: EvalCase) -> str:
        return case.category or NO_CATEGORY

    by_category = grouped(category, pairs)
    return Breakdown(
        overall=metrics(pairs),
        by_lang={lang: metrics(g) for lang, g in sorted(grouped(lambda c: c.lang, pairs).items(), reverse=True)},
        by_category={cat: metrics(g) for cat, g in by_category.items()},
        by_category_lang={
            cat: {lang: metrics(lg) for lang, lg in grouped(lambda c: c.lang, g).items()}
            for cat, g in by_category.items()
        },
    )


# --- running the pipeline on a test set ---


class StreamingBot(Protocol):
    def ask_stream(
        self, question: str, history: Sequence[Turn] = (), backend: str | None = None, k: int | None = None
    ) -> Iterator[str | Progress | Answer]: ...


@dataclass(frozen=True)
class CaseRun:
    """One case run through the pipeline: its results line, the Answer, or the error that stopped it."""

    case: EvalCase
    record: dict[str, Any]
    answer: Answer | None = None
    error: str = ""


def run_case(bot: StreamingBot, case: EvalCase, backend: str) -> CaseRun:
    started = time.perf_counter()
    try:
        answer = None
        for part in bot.ask_stream(case.question, case.history, backend=backend):
            if isinstance(part, Answer):
                answer = part
        if answer is None:
            raise GenerationError("the pipeline ended without an answer")
    except Exception as exc:  # noqa: BLE001 - one broken case must not end a run of hundreds; it is recorded
        message = str(exc) if isinstance(exc, BluebotError) else f"{type(exc).__name__}: {exc}"
        elapsed = round((time.perf_counter() - started) * 1000)
        return CaseRun(case, failed_record(case, backend, elapsed), None, message)
    return CaseRun(case, result_record(answer, case.id, answer_correct(case, answer)), answer)


def iter_eval(bot: StreamingBot, cases: list[EvalCase], backend: str) -> Iterator[CaseRun]:
    """Every case through the full pipeline, in test-set order; a failing case is yielded with its error."""
    for case in cases:
        yield run_case(bot, case, backend)


# --- where the time goes, and what each check did ---

FIRST_TOKEN = "first token"
TOTAL = "whole answer"


def stage_times(pairs: list[Pair]) -> dict[str, dict[str, tuple[int | None, int | None]]]:
    """Per language (and "all"), per stage: (p50, p95) in ms over the cases that ran that stage, with the first
    token and the whole answer beside the stages of the results lines' timings_ms."""
    samples: dict[str, dict[str, list[int]]] = {}
    for case, record in pairs:
        if record_failed(record):
            continue
        times = dict(record.get("timings_ms") or {})
        if record.get("first_token_ms") is not None:
            times[FIRST_TOKEN] = record["first_token_ms"]
        times[TOTAL] = record["latency_ms"]
        for group in ("all", case.lang):
            for stage, ms in times.items():
                samples.setdefault(group, {}).setdefault(stage, []).append(int(ms))
    return {
        group: {stage: (percentile(v, 50), percentile(v, 95)) for stage, v in stages.items()}
        for group, stages in samples.items()
    }


@dataclass(frozen=True)
class CheckRow:
    """What one verification check did over a run. A decline is decisive when no other check declined the same
    answer: then the draft it declined tells what switching the check off would have changed."""

    name: str
    changed: int = 0  # answers it changed (removed a part of)
    declined: int = 0  # answers it declined, alone or with others
    declined_unanswerable: int = 0  # ... of questions the documents do not answer (right)
    declined_answerable: int = 0  # ... of answerable questions (wrong, unless the draft was wrong too)
    decisive_right: int = 0  # decisive declines of unanswerable questions: lost without the check
    decisive_cost: int = 0  # decisive declines of answerable questions whose draft was correct: won without it
    off: int = 0  # answers it was switched off for


def check_rows(pairs: list[Pair]) -> list[CheckRow]:
    rows: dict[str, Counter[str]] = {}
    for case, record in pairs:
        outcomes = record.get("checks") or []
        decliners = [o["name"] for o in outcomes if o["action"] == "declined"]
        for outcome in outcomes:
            row = rows.setdefault(outcome["name"], Counter())
            if outcome["action"] in ("off", "changed"):
                row[outcome["action"]] += 1
            elif outcome["action"] == "declined":
                row["declined"] += 1
                row["declined_answerable" if case.answerable else "declined_unanswerable"] += 1
                if decliners == [outcome["name"]]:
                    if not case.answerable:
                        row["decisive_right"] += 1
                    elif record.get("draft") and text_correct(case, record["draft"], False):
                        row["decisive_cost"] += 1
    return [CheckRow(name, **counts) for name, counts in rows.items()]
