"""`bluebot eval` end to end with the extractive backend and the hashing embedder: a failing case, the report,
and --compare."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest

from bluebot import cli, pipeline
from bluebot.types import Answer, Turn

ROWS = [
    {"id": "a", "question": "2024年中国AI产业领域共有多少起投资案例？", "keywords": ["1,156"], "evidence": ["1,156"],
     "category": "number"},
    {"id": "boom", "question": "这个问题会让流程出错", "keywords": ["x"], "category": "number"},
    {"id": "b", "question": "How much AI investment was disclosed in 2024?", "keywords": ["85 billion"],
     "forbid": ["850 billion"], "evidence": ["850"], "category": "number"},
    {"id": "d", "question": "英伟达的营收是多少？", "answerable": False, "category": "unanswerable"},
]


@pytest.fixture
def env(cli_env: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    real = pipeline.Bot.ask_stream

    def ask_stream(
        self: pipeline.Bot, question: str, history: Sequence[Turn] = (), backend: str | None = None,
        k: int | None = None,
    ) -> Iterator[str | Answer]:
        if "出错" in question:  # a bug on one case, not a BluebotError: the run must still go on
            raise RuntimeError("index exploded")
        return real(self, question, history, backend, k)

    monkeypatch.setattr(pipeline.Bot, "ask_stream", ask_stream)
    assert cli.main(["ingest"]) == 0
    return cli_env


def write_set(path: Path, rows: list[dict]) -> Path:
    path.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows) + "\n", encoding="utf-8")
    return path


def test_eval_goes_past_a_failing_case_and_writes_the_report(env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cases = write_set(env / "set.jsonl", ROWS)
    out, report_dir = env / "runs" / "results.jsonl", env / "report"
    capsys.readouterr()
    assert cli.main(["eval", str(cases), "--out", str(out), "--report", str(report_dir)]) == 0
    printed = capsys.readouterr()
    results = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert [r["id"] for r in results] == ["a", "boom", "b", "d"]
    assert [r["correct"] for r in results] == [True, False, True, True]
    fields = {"id", "question", "lang", "answer", "refused", "citations", "retrieved", "latency_ms", "backend",
              "correct", "first_token_ms", "timings_ms", "checks", "draft"}
    assert all(set(r) == fields for r in results)  # the results format exactly, failed line included
    assert results[1]["answer"] == "" and results[1]["retrieved"] == []
    assert "boom: failed: RuntimeError: index exploded" in printed.err
    assert "1 case(s) failed to run:" in printed.out and "boom: RuntimeError: index exploded" in printed.out
    assert printed.out.splitlines()[1].split()[:3] == ["all", "4", "0.750"]
    assert "eval: 100%" in printed.err  # the progress bar
    text = (report_dir / "report.md").read_text(encoding="utf-8")
    assert "## Errors" in text and "- `boom`: RuntimeError: index exploded" in text
    assert "## Failed cases (1 of 4)" in text and "- backend: extractive" in text
    assert (report_dir / "accuracy.png").read_bytes()[:4] == b"\x89PNG"


def test_eval_json_has_every_group(env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cases = write_set(env / "set.jsonl", ROWS)
    capsys.readouterr()
    assert cli.main(["eval", str(cases), "--json"]) == 0
    scores = json.loads(capsys.readouterr().out)
    assert scores["all"]["n"] == 4 and scores["all"]["errors"] == 1 and scores["all"]["accuracy"] == 0.75
    assert scores["zh"]["refusal_recall"] == 1.0 and scores["en"]["hit5"] == 1.0
    assert set(scores["categories"]) == {"number", "unanswerable"}
    assert scores["errors"] == [{"id": "boom", "error": "RuntimeError: index exploded"}]


def test_compare_two_runs(env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cases = write_set(env / "set.jsonl", ROWS)
    before = env / "before.jsonl"
    assert cli.main(["eval", str(cases), "--out", str(before)]) == 0
    # the second run: the bug is gone, and case a now answers without its keyword
    lines = [json.loads(line) for line in before.read_text(encoding="utf-8").splitlines()]
    lines[0] |= {"answer": "共有投资案例很多[1]。", "correct": False}
    lines[1] |= {"answer": "x [1]", "correct": True}
    after = env / "after.jsonl"
    after.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in lines) + "\n", encoding="utf-8")
    capsys.readouterr()
    assert cli.main(["eval", "--compare", str(before), str(after), "--cases", str(cases),
                     "--report", str(env / "cmp")]) == 0
    text = capsys.readouterr().out
    assert "## Fixed (wrong in A, right in B) (1)" in text and "`boom` (zh, number)" in text
    assert "## Broken (right in A, wrong in B) (1)" in text and "`a` (zh, number)" in text
    assert "| failed (errors) | 1 | 0 | -1 |" in text
    assert (env / "cmp" / "compare.md").read_text(encoding="utf-8") == text
    assert cli.main(["eval", str(cases), "--compare", str(before), str(after), "--json"]) == 0
    assert [c["id"] for c in json.loads(capsys.readouterr().out)["fixed"]] == ["boom"]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["eval", "--compare", "a.jsonl", "b.jsonl"], "--compare needs the test set"),
        (["eval"], "name at least one test-set file"),
        (["eval", "SET", "--retrieval-only", "--report", "r"], "need answers: drop --retrieval-only"),
        (["eval", "SET", "--judge"], "--judge needs an OpenAI-compatible endpoint"),
        (["eval", "--compare", "SET", "SET", "--cases", "SET"], "SET, line 1: field 'answer' is missing"),
    ],
)
def test_eval_usage_errors_are_one_line(
    env: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, argv: list[str], message: str
) -> None:
    for var in ("BLUEBOT_JUDGE_BASE_URL", "BLUEBOT_JUDGE_API_KEY", "BLUEBOT_LLM_BASE_URL", "BLUEBOT_LLM_API_KEY",
                "OPENAI_API_KEY"):
        monkeypatch.delenv(var, raising=False)
    cases = str(write_set(env / "set.jsonl", ROWS))
    capsys.readouterr()
    assert cli.main([cases if a == "SET" else a for a in argv]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("bluebot: error: ") and message.replace("SET", cases) in err and len(err.splitlines()) == 1


def test_judge_scores_go_to_their_own_report_section(
    env: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from test_judge import ScriptedChat

    from bluebot import judge

    # the extractive answers of cases a and b are judged (d is a decline, boom failed); the second reply is junk
    chat = ScriptedChat('{"statements": [{"statement": "s", "supported": true}]}', '{"question": "q"}',
                        "no JSON here", '{"question": "How much?", "noncommittal": true}')
    monkeypatch.setattr(judge, "openai_judge", lambda settings, embed: judge.Judge(chat, "scripted-judge", embed))
    cases = write_set(env / "set.jsonl", ROWS)
    capsys.readouterr()
    assert cli.main(["eval", str(cases), "--judge", "--report", str(env / "r"), "--json"]) == 0
    scores = json.loads(capsys.readouterr().out)["judge"]
    assert scores["a"]["faithfulness"] == 1.0 and scores["a"]["relevance"] is not None
    assert scores["b"]["faithfulness"] is None and "JudgeReplyError" in scores["b"]["error"]
    assert scores["b"]["relevance"] == 0.0 and scores["d"] is None and scores["boom"] is None
    text = (env / "r" / "report.md").read_text(encoding="utf-8")
    assert "- LLM judge: scripted-judge" in text and "## LLM judge scores (model-graded, not rule-based)" in text
    assert "| all | 2 | 1.000 |" in text
