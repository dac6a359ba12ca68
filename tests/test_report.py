"""The Markdown report, the chart and the comparison of two runs, on hand-made results lines."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest
from test_evaluation_metrics import OTHER, case, record

from bluebot import report
from bluebot.evaluation import CaseRun, breakdown, failed_record
from bluebot.judge import JudgeScore
from bluebot.report import (
    RunInfo,
    compare_runs,
    comparison_markdown,
    metric_deltas,
    run_info,
    save_run,
    write_report,
)

CASES = [
    case("zh-1", category="数字"),
    case("zh-2", category="数字", question="披露总投资金额是多少？", keywords=["850亿"]),
    case("en-1", category="number", lang="en", question="How many deals?"),
    case("en-2", category="unanswerable", lang="en", question="What was Nvidia's revenue?", answerable=False,
         keywords=[], evidence=[]),
]


def run_a() -> list[dict]:
    return [
        record("zh-1", latency_ms=1000),
        record("zh-2", answer="共有投资案例1,156起[1]。", latency_ms=3000),  # wrong: no 850亿
        failed_record(CASES[2], "extractive", latency_ms=5),
        record("en-2", answer="Not in the report.", refused=True, retrieved=[OTHER], latency_ms=500),
    ]


def run_b() -> list[dict]:
    return [
        record("zh-1", answer="共有投资案例1,000起[1]。", latency_ms=800),  # broken
        record("zh-2", answer="总投资金额近850亿元[1]。", latency_ms=2000),  # fixed
        record("en-1", answer="There were 1,156 deals [1].", latency_ms=900),  # fixed (A failed)
        record("en-2", answer="Not in the report.", refused=True, retrieved=[OTHER], latency_ms=400),
    ]


def info() -> RunInfo:
    return RunInfo("2026-11-27T10:00:00+00:00", "extractive", {"extractive": 3}, "google/embeddinggemma-300m",
                   "qwen2.5-coder-1.5b-instruct", "test machine, 2 cores", ("eval/set.jsonl",))


def png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR"
    width, height = struct.unpack(">II", data[16:24])
    return int(width), int(height)


def test_compare_lists_fixed_and_broken_cases_and_metric_deltas() -> None:
    c = compare_runs(CASES, run_a(), run_b(), "a.jsonl", "b.jsonl")
    assert [x.id for x in c.fixed] == ["zh-2", "en-1"]
    assert [x.id for x in c.broken] == ["zh-1"]
    assert c.a.overall.accuracy == 0.5 and c.b.overall.accuracy == 0.75
    deltas = metric_deltas(c.a.overall, c.b.overall)
    assert deltas["answer accuracy"] == pytest.approx((0.5, 0.75, 0.25))
    assert deltas["failed (errors)"] == (1, 0, -1)
    assert deltas["latency p50 (ms)"] == (1000, 800, -200)
    assert deltas["refusal recall"] == (1.0, 1.0, 0.0)
    text = comparison_markdown(c)
    assert "## Fixed (wrong in A, right in B) (2)" in text and "`en-1` (en, number): How many deals?" in text
    assert "## Broken (right in A, wrong in B) (1)" in text and "`zh-1`" in text
    assert "| answer accuracy | 0.500 | 0.750 | +0.250 |" in text
    assert "| latency p50 (ms) | 1,000 | 800 | -200 |" in text


def test_compare_trusts_the_runs_own_verdict_when_it_has_one() -> None:
    # B's line says the case was wrong (say, under the rules of its day): the recorded verdict wins
    b = [r | {"correct": r["id"] != "zh-2"} for r in run_b()]
    c = compare_runs(CASES, run_a(), b)
    assert [x.id for x in c.fixed] == ["en-1"]


def test_compare_reports_cases_only_one_run_has() -> None:
    c = compare_runs(CASES, run_a()[:3], run_b()[1:] + [record("stranger")])
    assert c.only_a == ["zh-1"] and c.only_b == ["en-2"] and c.unknown == ["stranger"]
    assert c.a.overall.n == 2
    text = comparison_markdown(c)
    assert "only in A: zh-1" in text and "not in the test set: stranger" in text


def test_report_files_have_every_section_and_a_real_png(tmp_path: Path) -> None:
    pairs = list(zip(CASES, run_a(), strict=True))
    judge = {"zh-1": JudgeScore(1.0, 0.8), "zh-2": JudgeScore(None, 0.6, error="faithfulness: JudgeReplyError"),
             "en-1": None, "en-2": None}
    files = write_report(tmp_path / "out", info(), pairs, {"en-1": "GenerationError: boom"}, judge)
    text = files.markdown.read_text(encoding="utf-8")
    for heading in ("# bluebot evaluation report", "## Summary", "## By category", "## Definitions", "## Errors",
                    "## LLM judge scores (model-graded, not rule-based)", "## Failed cases (2 of 4)"):
        assert f"\n{heading}" in f"\n{text}", heading
    for detail in ("- date: 2026-11-27T10:00:00+00:00", "- backend: extractive", "embedding model: google/embedding",
                   "- machine: test machine, 2 cores", "- test sets: eval/set.jsonl (4 cases)"):
        assert detail in text, detail
    assert "| answer accuracy | 0.500 (2/4) | 0.500 (1/2) | 0.500 (1/2) |" in text
    assert "| 数字 | 2 | 0.500 (1/2) |" in text
    # a failed case: question, expected answer and keywords, what came back, why, and the cited passages
    failure = text.split("### zh-2 · zh · 数字")[1].split("---")[0]
    assert "**Question:** 披露总投资金额是多少？" in failure and "keywords: `850亿`" in failure
    assert "> 共有投资案例1,156起[1]。" in failure and "**Why wrong:** missing `850亿`" in failure
    assert "**[1]**" in failure and "> 2024年中国AI产业领域" in failure
    assert "**Judge (model-graded):** faithfulness –, answer relevance 0.600" in failure
    assert "### en-1 · en · number" in text and "the run failed: GenerationError: boom" in text
    assert "![accuracy by category and language](accuracy.png)" in text
    width, height = png_size(files.chart)
    assert width > 400 and height > 300


def test_chart_labels_without_a_cjk_font_become_ascii(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(report, "cjk_font", lambda: None)
    pairs = list(zip(CASES, run_a(), strict=True))
    replaced = report.accuracy_chart(breakdown(pairs), tmp_path / "chart.png")
    assert replaced == {"category 1": "数字"}
    files = write_report(tmp_path / "out", info(), pairs)
    assert "Chart labels: category 1 = 数字" in files.markdown.read_text(encoding="utf-8")


@pytest.mark.skipif(report.cjk_font() is None, reason="no CJK font installed (fonts-wqy-microhei)")
def test_chart_draws_chinese_labels_with_a_cjk_font(tmp_path: Path) -> None:
    replaced = report.accuracy_chart(breakdown(list(zip(CASES, run_a(), strict=True))), tmp_path / "chart.png")
    assert replaced == {}
    png_size(tmp_path / "chart.png")


def test_save_run_writes_results_in_the_results_format(tmp_path: Path) -> None:
    runs = [CaseRun(c, r, None, "boom" if r["answer"] == "" else "") for c, r in zip(CASES, run_a(), strict=True)]
    files = save_run(tmp_path, info(), runs)
    lines = files.results.read_text(encoding="utf-8").splitlines() if files.results else []
    assert len(lines) == 4 and '"id": "zh-1"' in lines[0]
    assert "the run failed: boom" in files.markdown.read_text(encoding="utf-8") and files.chart.is_file()


def test_run_info_names_the_backends_that_answered() -> None:
    ri = run_info("local", "emb", "llm", ["a.jsonl"], [*run_a(), record("x", backend="local:qwen")])
    assert ri.answered_by == {"extractive": 3, "local:qwen": 1}  # the failed line answered nothing
    assert "cores" in ri.machine and ri.date[:2] == "20"
