"""The Evaluate tab in headless Chromium: the real Bot (hashing embedder, extractive answers) over the sample
report, a shipped test set and an uploaded one. Screenshots go to artifacts/screenshots/."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from test_browser import CHROMIUM, CHROMIUM_ARGS, SHOTS, VIEWPORT, free_port

from bluebot.config import Settings
from bluebot.pipeline import Bot
from bluebot.server import launch_options
from bluebot.ui import LABELS, build_app

pytestmark = pytest.mark.browser

SHIPPED = [
    {"id": "zh-1", "question": "2024年中国AI产业领域共有多少起投资案例？", "keywords": ["1,156"],
     "evidence": ["1,156"], "category": "number"},
    {"id": "zh-2", "question": "2024年杭州AI产业领域获投的企业有多少家？", "keywords": ["54"],
     "evidence": ["获投的企业有54家"], "category": "number"},
    {"id": "en-1", "question": "What are the disadvantages of FPGA chips?", "keywords": ["price"],
     "evidence": ["价格较高"], "category": "table"},
    {"id": "en-2", "question": "What was Nvidia's revenue in 2024?", "answerable": False, "category": "unanswerable"},
]
UPLOADED = [{"id": "u1", "question": "How much AI investment was disclosed in 2024?", "keywords": ["85 billion"],
             "forbid": ["850 billion"], "evidence": ["850"], "category": "number"}]


def write_set(path: Path, rows: list[dict[str, Any]]) -> Path:
    path.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows) + "\n", encoding="utf-8")
    return path


@pytest.fixture
def app(bot: Bot, settings: Settings, tmp_path: Path) -> Iterator[str]:
    if not Path(CHROMIUM).exists():
        pytest.skip("Debian chromium is not installed: run `make browser-deps`")
    eval_dir = tmp_path / "eval"
    eval_dir.mkdir()
    write_set(eval_dir / "report_tiny.jsonl", SHIPPED)
    demo = build_app(bot, settings, eval_dir)
    _, url, _ = demo.launch(**launch_options(port=free_port(), env={}), prevent_thread_lock=True, quiet=True)
    yield url
    demo.close()


@pytest.fixture
def page(app: str) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_context(locale="en-US", viewport=VIEWPORT).new_page()
        page.goto(app, wait_until="load")
        yield page
        browser.close()


def test_the_evaluate_tab_runs_a_shipped_and_an_uploaded_set(page: Any, tmp_path: Path) -> None:
    from playwright.sync_api import expect

    t = LABELS["en"]
    page.get_by_role("tab", name=t["evaluate"]).click()
    expect(page.locator("#bb-eval-run")).to_have_text(t["eval_run"], timeout=30_000)
    expect(page.locator("#bb-eval-set input")).to_have_value("report_tiny.jsonl")
    page.get_by_label(t["backend_extractive"]).last.check()
    page.click("#bb-eval-run")
    status = page.locator("#bb-eval-status")
    expect(status).to_contain_text("4 cases", timeout=120_000)
    summary = page.locator("#bb-eval-summary")
    expect(summary.locator("table").first).to_contain_text("answer accuracy")
    expect(summary.locator("table").first).to_contain_text("retrieval hit@1")
    expect(summary.locator("table").nth(1)).to_contain_text("unanswerable")  # the per-category table
    failures = page.locator("#bb-eval-failures")
    expect(failures).to_contain_text("Failed cases")
    page.screenshot(path=str(shot("08-evaluate-shipped-set")), full_page=True)

    # an uploaded set replaces the shipped choice
    upload = write_set(tmp_path / "mine.jsonl", UPLOADED)
    page.locator("#bb-eval-upload input[type=file]").set_input_files(str(upload))
    # Gradio shows the file name as two parts ("mine" ".jsonl"), joined by white space in the text content
    expect(page.locator("#bb-eval-upload")).to_contain_text(re.compile(r"mine\s*\.jsonl"), timeout=30_000)
    page.click("#bb-eval-run")
    expect(status).to_contain_text("1 cases", timeout=120_000)
    expect(summary.locator("table").first).to_contain_text("answer accuracy")
    page.screenshot(path=str(shot("09-evaluate-uploaded-set")), full_page=True)


def shot(name: str) -> Path:
    SHOTS.mkdir(parents=True, exist_ok=True)
    return SHOTS / f"{name}.png"
