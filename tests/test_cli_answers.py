"""`bluebot ask` and the full-pipeline `bluebot eval`, with the extractive backend and the hashing embedder."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bluebot import cli


@pytest.fixture
def env(cli_env: Path) -> Path:
    assert cli.main(["ingest"]) == 0
    return cli_env


def test_ask_prints_the_answer_then_the_cited_passages(env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["ask", "2024年中国AI产业领域共有多少起投资案例？"]) == 0
    out = capsys.readouterr().out
    answer, _, passages = out.partition("\n[1] ")
    assert "1,156" in answer and "[1]" in answer and "抽取式" in answer
    assert "corpus/report.txt#" in passages and "1,156" in passages


def test_ask_json_is_the_result_object(env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["ask", "How much AI investment was disclosed in 2024?", "--json", "--k", "3"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert set(result) == {"id", "question", "lang", "answer", "refused", "citations", "retrieved", "latency_ms",
                           "backend", "correct", "first_token_ms", "timings_ms", "checks", "draft"}
    assert result["timings_ms"]["retrieve"] >= 0 and 0 <= result["first_token_ms"] <= result["latency_ms"]
    assert result["lang"] == "en" and result["backend"] == "extractive" and "85 billion yuan" in result["answer"]
    assert len(result["retrieved"]) == 3
    assert {"n", "chunk_id", "source", "section", "text"} == set(result["citations"][0])


def test_ask_empty_question_is_one_line(env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["ask", "   "]) == 1
    assert capsys.readouterr().err.strip() == "bluebot: error: the question is empty: type a question about the report"


def test_eval_writes_one_result_per_case(env: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cases = tmp_path / "set.jsonl"
    rows = [
        {"id": "a", "question": "2024年中国AI产业领域共有多少起投资案例？", "keywords": ["1,156"],
         "evidence": ["1,156"]},
        {"id": "b", "question": "How much AI investment was disclosed in 2024?", "keywords": ["85 billion"],
         "forbid": ["850 billion"]},
        {"id": "c", "question": "那杭州呢？", "keywords": ["54"],
         "history": [{"role": "user", "content": "2024年AI产业领域获投企业有多少家？"},
                     {"role": "assistant", "content": "……"}]},
        {"id": "d", "question": "英伟达的营收是多少？", "answerable": False},
    ]
    cases.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows), encoding="utf-8")
    out = tmp_path / "results.jsonl"
    assert cli.main(["eval", str(cases), "--out", str(out), "--json"]) == 0
    results = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert [r["id"] for r in results] == ["a", "b", "c", "d"]
    assert [r["correct"] for r in results] == [True, True, True, True]
    assert results[3]["refused"] and results[3]["citations"] == []
    scores = json.loads(capsys.readouterr().out)
    assert scores["zh"]["n"] == 3 and scores["zh"]["accuracy"] == 1.0 and scores["en"]["declined"] == 0
