"""Each metric on small hand-made results lines whose right answers are worked out by hand."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from bluebot.errors import BadResultsError
from bluebot.evaluation import (
    breakdown,
    failed_record,
    load_results,
    metrics,
    pair_results,
    percentile,
    record_correct,
    record_failed,
)
from bluebot.types import EvalCase

EVIDENCE = "共有投资案例 1,156 起"
HOLDS = {"chunk_id": "e1", "text": "2024年中国AI产业领域：共有投资案例 **1,156** 起，披露总投资金额近 **850** 亿元。"}
HOLDS_TOO = {"chunk_id": "e2", "text": "回顾：共有投资案例1,156起。"}
OTHER = {"chunk_id": "x1", "text": "2024年，杭州AI产业领域获投的企业有54家。"}
OTHER2 = {"chunk_id": "x2", "text": "AI芯片主要技术路线对比：GPU、FPGA、ASIC。"}


def case(case_id: str, **fields: Any) -> EvalCase:
    values: dict[str, Any] = {
        "question": "2024年共有多少起投资案例？", "keywords": ["1,156|1156"], "evidence": [EVIDENCE], "lang": "zh"
    } | fields
    return EvalCase(id=case_id, **values)


def record(
    case_id: str,
    answer: str = "共有投资案例1,156起[1]。",
    retrieved: list[dict[str, Any]] | None = None,
    cited: list[dict[str, Any]] | None = None,
    refused: bool = False,
    latency_ms: int = 1000,
    **extra: Any,
) -> dict[str, Any]:
    retrieved = [HOLDS] if retrieved is None else retrieved
    cited = ([] if refused else retrieved[:1]) if cited is None else cited
    return {
        "id": case_id, "question": "", "lang": "zh", "answer": answer, "refused": refused,
        "citations": [{"n": i, "section": "", "source": "corpus/r.txt", **c} for i, c in enumerate(cited, start=1)],
        "retrieved": [{"score": 1.0, "section": "", **p} for p in retrieved],
        "latency_ms": latency_ms, "backend": "extractive", "correct": None,
    } | extra


def test_hit_at_k_and_mrr_from_the_first_retrieved_passage_holding_the_evidence() -> None:
    pairs = [
        (case("a"), record("a", retrieved=[HOLDS, OTHER])),  # rank 1
        (case("b"), record("b", retrieved=[OTHER, HOLDS])),  # rank 2
        (case("c"), record("c", retrieved=[OTHER, OTHER2])),  # not retrieved
        (case("d"), record("d", retrieved=[OTHER, OTHER2, OTHER, HOLDS_TOO])),  # rank 4
        (case("u", answerable=False, keywords=[], evidence=[]), record("u", refused=True)),  # not a retrieval case
        (case("n", evidence=[]), record("n")),  # no evidence: nothing to look for
    ]
    m = metrics(pairs)
    assert m.retrieval_n == 4
    assert (m.hit1, m.hit3, m.hit5) == (0.25, 0.5, 0.75)
    assert m.mrr == pytest.approx((1 + 1 / 2 + 0 + 1 / 4) / 4)


def test_citation_precision_and_recall_count_passages() -> None:
    pairs = [
        # retrieved: two hold the evidence; cited: one of them and one that does not
        (case("a"), record("a", retrieved=[HOLDS, OTHER, HOLDS_TOO], cited=[HOLDS, OTHER])),
        # retrieved one holding it, cited it
        (case("b"), record("b", retrieved=[HOLDS, OTHER2], cited=[HOLDS])),
        # declined an answerable case: cites nothing, the holding passage it read is missed
        (case("c"), record("c", answer="报告中没有相关信息。", retrieved=[HOLDS], refused=True)),
        # an answered unanswerable case has no evidence: left out of both
        (case("u", answerable=False, keywords=[], evidence=[]), record("u", retrieved=[OTHER], cited=[OTHER])),
    ]
    m = metrics(pairs)
    assert (m.cited_supporting, m.cited) == (2, 3)
    assert m.citation_precision == pytest.approx(2 / 3)
    assert (m.retrieved_supporting_cited, m.retrieved_supporting) == (2, 4)
    assert m.citation_recall == pytest.approx(0.5)


def test_grounded_number_rate_normalises_units_and_skips_what_is_not_a_claim() -> None:
    question = "How much went into the 30 regions in 2024?"
    pairs = [
        # 85 billion yuan = 850亿元 (grounded), 1,156 (grounded), 999 (in no cited passage); not checked: the year
        # 2024, the small count 5, and 30, which the question itself states
        (case("a", question=question, lang="en", keywords=[]),
         record("a", answer="In 2024 the 30 regions got 85 billion yuan [1] in 1,156 deals in 5 areas, and 999 robots.",
                cited=[HOLDS])),
        # 850 billion yuan is the classic unit slip: ten times the passage's amount
        (case("b", lang="en", keywords=[]), record("b", answer="It was 850 billion yuan [1].", cited=[HOLDS])),
        # a decline states no numbers of its own
        (case("c"), record("c", answer="The report has no figure for 2025, 42 or 43.", refused=True)),
    ]
    m = metrics(pairs)
    assert (m.grounded_numbers, m.numbers) == (2, 4)
    assert m.grounded_rate == 0.5


def test_refusal_precision_and_recall() -> None:
    unanswerable = {"answerable": False, "keywords": [], "evidence": []}
    pairs = [
        (case("u1", **unanswerable), record("u1", answer="报告中没有。", refused=True)),  # right decline
        (case("u2", **unanswerable), record("u2", answer="英伟达营收1000亿。")),  # should have declined
        (case("u3", **unanswerable), failed_record(case("u3"), "extractive")),  # failed: not declined
        (case("a1"), record("a1", answer="报告中没有。", refused=True)),  # wrong decline
        (case("a2"), record("a2")),
    ]
    m = metrics(pairs)
    assert (m.declined, m.refused, m.unanswerable) == (1, 2, 3)
    assert m.refusal_precision == 0.5
    assert m.refusal_recall == pytest.approx(1 / 3)
    assert metrics([(case("a"), record("a"))]).refusal_precision is None  # no declines: nothing to measure


def test_accuracy_overall_by_language_and_by_category() -> None:
    pairs = [
        (case("n1", category="number"), record("n1")),
        (case("n2", category="number"), record("n2", answer="共有投资案例1,000起[1]。")),  # missing keyword
        (case("n3", category="number", lang="en", forbid=["850 billion"], keywords=["85 billion"]),
         record("n3", answer="85 billion yuan, not 850 billion [1].")),  # forbidden text present
        (case("t1", category="table", lang="en", keywords=["GPU"]), record("t1", answer="The GPU [1].")),
        (case("x1"), record("x1")),  # no category
    ]
    b = breakdown(pairs)
    assert (b.overall.correct, b.overall.n) == (3, 5) and b.overall.accuracy == 0.6
    assert list(b.by_lang) == ["zh", "en"]
    assert b.by_lang["zh"].accuracy == pytest.approx(2 / 3) and b.by_lang["en"].accuracy == 0.5
    assert list(b.by_category) == ["number", "table", "(none)"]  # in test-set order
    assert b.by_category["number"].accuracy == pytest.approx(1 / 3)
    assert b.by_category["table"].accuracy == 1.0
    assert b.by_category_lang["number"]["en"].accuracy == 0.0
    assert b.by_category_lang["number"]["zh"].accuracy == 0.5


def test_latency_percentiles_are_nearest_rank_and_leave_out_failed_cases() -> None:
    assert percentile([], 50) is None
    assert percentile([300, 100, 200, 400], 50) == 200
    assert percentile([300, 100, 200, 400], 95) == 400
    assert percentile(list(range(1, 101)), 95) == 95
    assert percentile([7], 95) == 7
    pairs = [(case(str(i)), record(str(i), latency_ms=ms)) for i, ms in enumerate([900, 100, 500, 300, 700])]
    pairs.append((case("f"), failed_record(case("f"), "local", latency_ms=99_999)))
    m = metrics(pairs)
    assert (m.p50_ms, m.p95_ms) == (500, 900)
    assert m.errors == 1 and m.n == 6


def test_a_failed_case_is_wrong_and_not_measured() -> None:
    failed = failed_record(case("f", keywords=[]), "local", latency_ms=12)
    assert record_failed(failed) and failed["correct"] is False
    assert not record_correct(case("f", keywords=[]), failed)  # no keywords to miss, still no answer
    m = metrics([(case("f"), failed)])
    assert (m.errors, m.correct, m.retrieval_n, m.cited, m.numbers) == (1, 0, 0, 0, 0)
    assert m.hit1 is None and m.p50_ms is None


def test_metrics_are_recomputed_from_a_results_file(tmp_path: Path) -> None:
    path = tmp_path / "results.jsonl"
    lines = [record("a"), record("b", answer="共有投资案例1,000起[1]。"), record("ghost")]
    path.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in lines) + "\n\n", encoding="utf-8")
    pairs, unknown = pair_results([case("a"), case("b"), case("missing")], load_results(path))
    assert [c.id for c, _ in pairs] == ["a", "b"] and unknown == ["ghost"]
    assert metrics(pairs).accuracy == 0.5


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("{oops", "line 2: not valid JSON"),
        ("[1]", "line 2: expected a JSON object"),
        ('{"id": "a"}', "line 2: field 'answer' is missing"),
        (json.dumps(record("a") | {"refused": "no"}), "line 2: field 'refused'"),
        (json.dumps(record("a") | {"latency_ms": True}), "line 2: field 'latency_ms'"),
        (json.dumps(record("a") | {"citations": [{"n": 1}]}), "line 2: every citation"),
    ],
)
def test_bad_results_lines_name_file_and_line(tmp_path: Path, line: str, message: str) -> None:
    path = tmp_path / "results.jsonl"
    path.write_text(json.dumps(record("ok")) + "\n" + line + "\n", encoding="utf-8")
    with pytest.raises(BadResultsError, match=message) as info:
        load_results(path)
    assert str(path) in str(info.value)


def test_an_empty_or_missing_results_file(tmp_path: Path) -> None:
    (tmp_path / "empty.jsonl").write_text("\n", encoding="utf-8")
    with pytest.raises(BadResultsError, match="no lines"):
        load_results(tmp_path / "empty.jsonl")
    with pytest.raises(BadResultsError, match="cannot read"):
        load_results(tmp_path / "absent.jsonl")
