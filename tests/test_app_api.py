"""The app's API through gradio_client: the real Bot (hashing embedder, extractive answers) on loopback."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import gradio as gr
import httpx
import pytest
from gradio_client import Client

from bluebot.config import Settings
from bluebot.pipeline import Bot
from bluebot.server import launch_options
from bluebot.types import Turn
from bluebot.ui import LABELS, build_app

from conftest import REPORT
from fakes import Spy
from servers import free_port


def serve(bot: Bot | Spy, settings: Settings, env: dict[str, str] | None = None) -> tuple[gr.Blocks, str]:
    demo = build_app(bot, settings)
    options = launch_options(port=free_port(), env=env or {}) | {"prevent_thread_lock": True, "quiet": True}
    _, url, _ = demo.launch(**options)
    return demo, url


@pytest.fixture
def spy(bot: Bot) -> Spy:
    return Spy(bot)


@pytest.fixture
def app(spy: Spy, settings: Settings) -> Iterator[str]:
    demo, url = serve(spy, settings)
    yield url
    demo.close()


def last_text(chat: list[dict[str, Any]]) -> str:
    return "".join(part["text"] for part in chat[-1]["content"] if part.get("type") == "text")


def test_ask_is_the_one_named_endpoint(app: str) -> None:
    info = Client(app, verbose=False).view_api(print_info=False, return_format="dict")
    assert list(info["named_endpoints"]) == ["/ask"]
    params = [p["parameter_name"] for p in info["named_endpoints"]["/ask"]["parameters"]]
    assert params == ["message", "chat", "backend", "k", "lang"]


def test_ask_returns_the_cited_answer_and_its_sources(app: str) -> None:
    client = Client(app, verbose=False)
    box, chat, sources = client.predict(
        "2024年中国AI产业共有多少起投资案例？", [], "extractive", 3, "en", api_name="/ask"
    )
    assert box == "" and [m["role"] for m in chat] == ["user", "assistant"]
    assert "[1]" in last_text(chat) and "1,156" in last_text(chat)
    assert '<span class="bb-n">[1]</span>' in sources and "<mark>" in sources


def test_ask_streams(app: str) -> None:
    job = Client(app, verbose=False).submit(
        "How many AI deals were there in 2024?", [], "extractive", 3, "en", api_name="/ask"
    )
    job.result(timeout=60)
    updates = job.outputs()
    assert len(updates) >= 2  # the "searching" placeholder first, the answer last
    assert last_text(updates[0][1]) == LABELS["en"]["thinking"].strip()
    assert "[1]" in last_text(updates[-1][1])


def test_follow_ups_in_one_client_session_share_the_conversation(app: str, spy: Spy) -> None:
    client = Client(app, verbose=False)
    _, chat, _ = client.predict("杭州AI产业领域获投的企业有多少家？", [], "extractive", 3, "zh", api_name="/ask")
    first = last_text(chat).split("\n\n> ")[0]  # the answer as given, without the notices shown under it
    _, chat, _ = client.predict("其中融资过亿的呢？", chat, "extractive", 3, "zh", api_name="/ask")
    assert [m["role"] for m in chat] == ["user", "assistant"] * 2 and last_text(chat)
    assert spy.histories[-1] == (Turn("user", "杭州AI产业领域获投的企业有多少家？"), Turn("assistant", first))


def test_an_empty_message_is_a_notice_not_an_error(app: str) -> None:
    _, chat, _ = Client(app, verbose=False).predict("  ", [], "extractive", 3, "zh", api_name="/ask")
    assert last_text(chat) == LABELS["zh"]["empty"]


def test_login_from_bluebot_auth(bot: Bot, settings: Settings) -> None:
    demo, url = serve(bot, settings, env={"BLUEBOT_AUTH": "reader:s3cret"})
    try:
        with pytest.raises(Exception):  # noqa: B017 - the client reports a refused login in several ways
            Client(url, verbose=False)
        client = Client(url, auth=("reader", "s3cret"), verbose=False)
        assert "/ask" in client.view_api(print_info=False, return_format="dict")["named_endpoints"]
    finally:
        demo.close()


@pytest.mark.parametrize(
    "path",
    [
        Path(__file__).resolve().parents[1] / "pyproject.toml",  # the working directory
        Path(__file__).resolve().parents[1] / "corpus" / REPORT.name,
        Path("/etc/passwd"),
    ],
)
def test_no_file_on_disk_is_served(app: str, path: Path) -> None:
    for route in (f"gradio_api/file={path}", f"file={path}"):
        response = httpx.get(f"{app}{route}", timeout=10)
        assert response.status_code >= 400, (route, response.status_code)
        assert "bluebot" not in response.text and "root:" not in response.text
