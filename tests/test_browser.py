"""The real app in headless Chromium: real models, an index built from corpus/ in tmp_path, Playwright.

Screenshots go to artifacts/screenshots/ (not committed) for review.
"""

from __future__ import annotations

import json
import shutil
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from bluebot.config import Settings
from bluebot.pipeline import Bot
from bluebot.server import launch_options, prepare
from bluebot.types import Turn
from bluebot.ui import LABELS, build_app

from conftest import REPORT
from fakes import Spy

pytestmark = [pytest.mark.browser, pytest.mark.slow]

CHROMIUM = "/usr/bin/chromium"
# the closed network: without these Chromium keeps retrying Google services
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SHOTS = Path(__file__).resolve().parents[1] / "artifacts" / "screenshots"
VIEWPORT = {"width": 1400, "height": 900}
ANSWER_TIMEOUT = 300_000  # ms; a local answer on a 2-core CI machine


@dataclass
class Live:
    url: str
    settings: Settings
    spy: Spy  # the real bot, recording the conversation each question came with


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    if not Path(CHROMIUM).exists():
        pytest.skip("Debian chromium is not installed: run `make browser-deps`")
    root = tmp_path_factory.mktemp("app")
    corpus = root / "corpus"
    corpus.mkdir()
    shutil.copy(REPORT, corpus / REPORT.name)
    settings = Settings.from_env(
        corpus_dir=corpus, index_dir=root / "index", data_dir=root / "data", backend="local", chroma_url=""
    )
    bot = prepare(Bot(settings))  # the start-up path of `bluebot serve`: builds the index, loads the models
    spy = Spy(bot)
    demo = build_app(spy, settings)
    _, url, _ = demo.launch(**launch_options(port=free_port(), env={}), prevent_thread_lock=True, quiet=True)
    yield Live(url, settings, spy)
    demo.close()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


def open_app(browser: Any, live: Live, locale: str) -> Any:
    """A fresh session in the given browser language; Gradio's heartbeat never idles, so wait for `load`."""
    from playwright.sync_api import expect

    page = browser.new_context(locale=locale, viewport=VIEWPORT).new_page()
    page.goto(live.url, wait_until="load")
    lang = "zh" if locale.startswith("zh") else "en"
    expect(page.locator("#bb-send")).to_have_text(LABELS[lang]["send"], timeout=30_000)
    return page


def shot(page: Any, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"))


def bot_messages(page: Any) -> Any:
    return page.locator("#bb-chat [data-testid=bot]")


def ask(page: Any, question: str) -> None:
    page.fill("#bb-input textarea", question)
    page.click("#bb-send")


def wait_for_answer(page: Any, count: int) -> str:
    """Wait until the count-th answer is final (no streaming cursor, sources shown) and return its text."""
    page.wait_for_function(
        """([n, thinking]) => {
            const msgs = document.querySelectorAll('#bb-chat [data-testid=bot]');
            if (msgs.length < n) return false;
            const text = msgs[n - 1].innerText;
            return !text.includes('▌') && !thinking.some(t => text.includes(t))
                && document.querySelector('#bb-sources-panel .bb-for') !== null;
        }""",
        arg=[count, [labels["thinking"].strip("_") for labels in LABELS.values()]],
        timeout=ANSWER_TIMEOUT,
    )
    return str(bot_messages(page).nth(count - 1).inner_text())


def choose_backend(page: Any, backend_label: str) -> None:
    page.get_by_text(LABELS["en"]["settings"], exact=True).click()
    page.get_by_label(backend_label).check()


def test_chinese_question_streams_a_cited_answer_and_a_follow_up_uses_it(browser: Any, live: Live) -> None:
    page = open_app(browser, live, "zh-CN")
    started = time.perf_counter()
    ask(page, "2024年中国AI产业一共有多少起投资案例？")
    # streamed: the draft with its cursor shows before the checked answer replaces it
    page.wait_for_function(
        "() => [...document.querySelectorAll('#bb-chat [data-testid=bot]')].some(m => m.innerText.includes('▌'))",
        timeout=ANSWER_TIMEOUT,
    )
    first_token = time.perf_counter() - started
    shot(page, "01-zh-streaming")
    answer = wait_for_answer(page, 1)
    print(f"\nlocal answer: first token {first_token:.1f} s, complete {time.perf_counter() - started:.1f} s")
    shot(page, "02-zh-answer-with-sources")
    # What the model writes is the evaluation's business (eval/); here: cited, and the right passage shown.
    assert "[1]" in answer, answer
    panel = page.locator("#bb-sources-panel")
    cited = panel.locator(".bb-source[data-n='1']")
    assert cited.count() == 1
    assert "[1]" in cited.locator(".bb-n").inner_text() and "corpus/" in cited.locator(".bb-file").inner_text()
    assert "1,156" in cited.locator(".bb-text").inner_text()
    if "1,156" in answer or "1156" in answer:  # the answer quotes the passage: its sentence is highlighted
        assert "1,156" in cited.locator("mark").first.inner_text()

    # the follow-up names nothing itself: only the conversation says what "amount" is about
    ask(page, "那披露的总投资金额是多少？")
    follow_up = wait_for_answer(page, 2)
    shot(page, "03-zh-follow-up")
    assert follow_up and "那披露的总投资金额是多少" in panel.locator(".bb-for").inner_text()
    user, assistant = live.spy.histories[-1]  # the bot got the conversation so far
    assert user == Turn("user", "2024年中国AI产业一共有多少起投资案例？")
    assert assistant.role == "assistant" and assistant.content in answer

    # citations stay with their message: clicking the first answer brings its sources back
    bot_messages(page).nth(0).click()
    page.wait_for_function(
        "() => document.querySelector('#bb-sources-panel .bb-for').innerText.includes('一共有多少起')"
    )
    shot(page, "04-zh-earlier-answer-selected")


def test_english_question_gets_an_english_answer(browser: Any, live: Live) -> None:
    page = open_app(browser, live, "en-US")  # the local model: extractive answers quote the Chinese report
    ask(page, "How many AI investment deals were there in China in 2024?")
    answer = wait_for_answer(page, 1)
    shot(page, "05-en-answer-with-sources")
    assert "[1]" in answer, answer
    letters = [c for c in answer if c.isalpha()]
    assert sum(c.isascii() for c in letters) > 0.6 * len(letters), answer  # English, not the report's Chinese
    assert page.locator("#bb-sources-panel .bb-source").count() >= 1


def test_empty_message_gets_a_friendly_notice(browser: Any, live: Live) -> None:
    page = open_app(browser, live, "en-US")
    page.click("#bb-send")
    page.wait_for_function(
        "t => [...document.querySelectorAll('#bb-chat [data-testid=bot]')].some(m => m.innerText.includes(t))",
        arg=LABELS["en"]["empty"],
    )
    page.get_by_label("中文").check()  # the labels follow the language switch
    from playwright.sync_api import expect

    expect(page.locator("#bb-send")).to_have_text(LABELS["zh"]["send"])
    page.fill("#bb-input textarea", "   ")
    page.press("#bb-input textarea", "Enter")
    expect(bot_messages(page).last).to_have_text(LABELS["zh"]["empty"])
    assert bot_messages(page).count() == 2
    shot(page, "06-empty-message-notice")


def test_thumbs_down_with_a_reason_lands_in_the_feedback_file(browser: Any, live: Live) -> None:
    page = open_app(browser, live, "en-US")
    choose_backend(page, LABELS["en"]["backend_extractive"])
    question = "How many AI investment deals were there in China in 2024?"
    ask(page, question)
    wait_for_answer(page, 1)
    buttons = page.locator("#bb-chat .message-buttons-left").last
    buttons.get_by_role("button", name="Dislike").click()
    buttons.get_by_role("button", name="Feedback").hover()
    buttons.get_by_role("button", name="wrong number").click()
    shot(page, "07-feedback")
    path = live.settings.data_dir / "feedback.jsonl"
    deadline = time.monotonic() + 20
    lines: list[dict[str, Any]] = []
    while time.monotonic() < deadline:
        if path.exists():
            lines = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
            if any(line["reason"] == "wrong number" for line in lines):
                break
        time.sleep(0.2)
    line = next(line for line in lines if line["reason"] == "wrong number")
    assert line["question"] == question and line["feedback"] == "down" and line["category"] == "feedback"
    assert line["cited"] and "[1]" in line["answer"] and line["lang"] == "en"
