"""The Evaluate tab's handler with a fake bot: no browser, no models."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from bluebot.config import Settings
from bluebot.errors import GenerationError
from bluebot.ui import LABELS, EvalHandlers, build_app

from fakes import FakeBot, answer

ROWS = [
    {"id": "q1", "question": "2024年中国AI产业共有多少起投资案例？", "keywords": ["1,156"], "evidence": ["1,156"],
     "category": "number"},
    {"id": "q2", "question": "披露总投资金额是多少？", "keywords": ["850亿"], "category": "number"},
    {"id": "q3", "question": "英伟达的营收是多少？", "answerable": False, "category": "unanswerable"},
]


class Progress:
    def __init__(self) -> None:
        self.calls: list[tuple[Any, str]] = []

    def __call__(self, value: Any, desc: str = "") -> None:
        self.calls.append((value, desc))


@pytest.fixture
def eval_dir(tmp_path: Path) -> Path:
    d = tmp_path / "eval"
    d.mkdir()
    (d / "tiny.jsonl").write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in ROWS), encoding="utf-8")
    (d / "notes.txt").write_text("not a test set", encoding="utf-8")
    (d / "test_zh.jsonl").write_text(json.dumps(ROWS[0], ensure_ascii=False), encoding="utf-8")  # the locked split
    return d


def handlers(eval_dir: Path, *replies: Any) -> tuple[FakeBot, EvalHandlers]:
    bot = FakeBot(replies)
    return bot, EvalHandlers(bot, Settings(data_dir=eval_dir.parent / "data"), eval_dir)


def test_a_shipped_set_runs_with_progress_and_shows_summary_and_failures(eval_dir: Path) -> None:
    bot, h = handlers(
        eval_dir,
        answer(),  # correct
        GenerationError("the model crashed"),  # recorded, the run goes on
        answer(question="英伟达的营收是多少？", text="报告中没有。", refused=True),
    )
    assert h.shipped() == ["tiny.jsonl"]  # not the locked test split, which is run only to report
    progress = Progress()
    status, summary, failures, files, chart = h.run("tiny.jsonl", None, "extractive", "en", progress)
    assert [c.backend for c in bot.calls] == ["extractive"] * 3
    assert [value for value, _ in progress.calls] == [(0, 3), (1, 3), (2, 3), (3, 3)]
    assert progress.calls[-1][1] == "case 3 of 3"
    assert "**3 cases**, accuracy **0.667**, 1 failed to run" in status
    assert "| answer accuracy | 0.667 (2/3) |" in summary and "| number | 2 |" in summary
    assert "## Failed cases (1 of 3)" in failures and "the run failed: the model crashed" in failures
    assert [Path(f).name for f in files] == ["results.jsonl", "report.md"] and Path(chart).name == "accuracy.png"
    assert len(Path(files[0]).read_text(encoding="utf-8").splitlines()) == 3


def test_an_upload_wins_over_the_shipped_choice(eval_dir: Path, tmp_path: Path) -> None:
    upload = tmp_path / "mine.jsonl"
    upload.write_text(json.dumps(ROWS[0], ensure_ascii=False), encoding="utf-8")
    bot, h = handlers(eval_dir, answer())
    status, *_ = h.run("tiny.jsonl", str(upload), "local", "zh", Progress())
    assert len(bot.calls) == 1 and status.startswith("**1 个用例**，准确率 **1.000**")


def test_nothing_chosen_or_a_bad_set_is_a_message(eval_dir: Path, tmp_path: Path) -> None:
    _, h = handlers(eval_dir)
    assert h.run(None, None, "extractive", "en", Progress())[0] == LABELS["en"]["eval_none"]
    assert h.run("../secret.jsonl", None, "extractive", "zh", Progress())[0] == LABELS["zh"]["eval_none"]
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": "x", "question": "q"}\n{oops\n', encoding="utf-8")
    status = h.run(None, str(bad), "extractive", "en", Progress())[0]
    assert status.startswith("⚠️ ") and "line 2: not valid JSON" in status


def test_the_tab_follows_the_language_switch(eval_dir: Path) -> None:
    _, h = handlers(eval_dir)
    chat_tab, eval_tab, intro, chosen, upload, backend, run, files, chart = h.relabel("zh")
    assert chat_tab["label"] == "对话" and eval_tab["label"] == "评测" and run["value"] == "开始评测"
    assert intro["value"].startswith("### 评测") and chosen["label"] == "内置测试集"
    assert (LABELS["zh"]["backend_extractive"], "extractive") in backend["choices"]
    assert h.relabel("en")[1]["label"] == "Evaluate"


def test_the_evaluate_tab_adds_no_public_api(eval_dir: Path) -> None:
    _, h = handlers(eval_dir)
    demo = build_app(h.bot, h.settings, eval_dir)
    assert [d.api_name for d in demo.fns.values() if d.api_visibility == "public"] == ["ask"]
    run = next(d for d in demo.fns.values() if getattr(d.fn, "__name__", "") == "run")
    assert run.concurrency_limit == 1 and run.concurrency_id == "evaluate"  # one evaluation at a time
