"""The chat handlers with a fake bot: no browser, no models."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import gradio as gr
import pytest

from bluebot.config import Settings
from bluebot.errors import IndexMissingError
from bluebot.evaluation import load_cases
from bluebot.feedback import REASONS
from bluebot.types import Chunk, Progress, Turn
from bluebot.ui import EXAMPLES, LABELS, ChatHandlers, Records, build_app, preferred_lang

from fakes import CHUNK, FakeBot, answer


def make(tmp_path: Path, *replies: Any) -> tuple[FakeBot, ChatHandlers]:
    bot = FakeBot(replies)
    return bot, ChatHandlers(bot, Settings(data_dir=tmp_path / "data"))


def ask(h: ChatHandlers, message: str, chat: list | None = None, records: Records | None = None, **kw: Any) -> list:
    """Every update the handler streams, as (box, chat, records, sources, shown) tuples."""
    args = {"backend": "local", "k": 5, "lang": "en"} | kw
    return list(h.respond(message, chat or [], records or {}, args["backend"], args["k"], args["lang"]))


def text(message: dict) -> str:
    return message["content"]


def test_streams_then_shows_the_checked_answer_with_its_sources(tmp_path: Path) -> None:
    final = answer(text="2024年中国AI产业领域共有投资案例1,156起[1]。")
    bot, h = make(tmp_path, final)
    updates = ask(h, "2024年中国AI产业共有多少起投资案例？", k=3.0)
    assert bot.calls[0].k == 3 and bot.calls[0].backend == "local" and bot.calls[0].history == ()
    drafts = [text(u[1][-1]) for u in updates[1:-1]]
    assert len(drafts) >= 1 and all(d.endswith("▌") for d in drafts)  # streamed, with a cursor
    box, chat, records, sources, shown = updates[-1]
    assert box == "" and text(chat[-1]) == final.text and shown == 1 and records[1].answer is final
    assert '<span class="bb-n">[1]</span>' in sources and CHUNK.section in sources and CHUNK.source in sources


def test_the_checked_text_replaces_the_streamed_draft(tmp_path: Path) -> None:
    class RepairingBot(FakeBot):
        def ask_stream(self, question, history=(), backend=None, k=None):  # type: ignore[no-untyped-def]
            yield "共有投资案例 1,000 起"
            yield answer(text="共有投资案例1,156起[1]。")

    h = ChatHandlers(RepairingBot(), Settings(data_dir=tmp_path))
    chat = ask(h, "多少起？")[-1][1]
    assert text(chat[-1]) == "共有投资案例1,156起[1]。"


def test_the_chat_says_what_the_bot_is_doing_while_the_reader_waits(tmp_path: Path) -> None:
    class WorkingBot(FakeBot):
        def ask_stream(self, question, history=(), backend=None, k=None):  # type: ignore[no-untyped-def]
            yield Progress("search")
            yield Progress("read", 4)
            yield "共有投资案例1,156起"
            yield Progress("check")
            yield answer(text="共有投资案例1,156起[1]。")

    h = ChatHandlers(WorkingBot(), Settings(data_dir=tmp_path))
    shown = [text(u[1][-1]) for u in ask(h, "多少起？", lang="zh")]
    assert LABELS["zh"]["search"] in shown and LABELS["zh"]["read"].format(n=4) in shown
    assert any(s.startswith("共有投资案例1,156起") and s.endswith(LABELS["zh"]["check"]) for s in shown)
    assert shown[-1] == "共有投资案例1,156起[1]。"
    assert all(set(LABELS[lang]) == set(LABELS["en"]) for lang in LABELS)


@pytest.mark.parametrize("message", ["", "   ", "\n\t", "\u200b"])
def test_empty_message_gets_a_friendly_notice_and_no_call(tmp_path: Path, message: str) -> None:
    bot, h = make(tmp_path)
    updates = ask(h, message, lang="zh")
    assert bot.calls == [] and len(updates) == 1
    chat = updates[0][1]
    assert chat == [{"role": "assistant", "content": LABELS["zh"]["empty"]}]


def test_a_bluebot_error_becomes_a_chat_message(tmp_path: Path) -> None:
    _, h = make(tmp_path, IndexMissingError("there is no index in index/: run `bluebot ingest`"))
    _, chat, records, sources, shown = ask(h, "How many deals?")[-1]
    assert chat[-2] == {"role": "user", "content": "How many deals?"}
    assert text(chat[-1]) == "⚠️ Sorry, that did not work: there is no index in index/: run `bluebot ingest`"
    assert records == {} and shown is None and "bb-empty" in sources


def test_an_unexpected_exception_is_one_line_without_a_traceback(tmp_path: Path) -> None:
    _, h = make(tmp_path, RuntimeError("CUDA exploded at 0xdeadbeef"))
    message = text(ask(h, "How many deals?")[-1][1][-1])
    assert message == "⚠️ Sorry, something went wrong on our side (RuntimeError). Please try again."


def test_a_stream_without_its_answer_is_reported_not_shown_half_done(tmp_path: Path) -> None:
    class BrokenBot(FakeBot):
        def ask_stream(self, question, history=(), backend=None, k=None):  # type: ignore[no-untyped-def]
            yield "共有"

    h = ChatHandlers(BrokenBot(), Settings(data_dir=tmp_path))
    _, chat, records, _, shown = ask(h, "多少起？")[-1]
    assert text(chat[-1]) == "⚠️ Sorry, something went wrong on our side (RuntimeError). Please try again."
    assert records == {} and shown is None


def test_follow_up_sends_the_conversation_as_turns(tmp_path: Path) -> None:
    first = answer(question="2024年有多少起AI投资案例？", text="共有1,156起[1]。")
    bot, h = make(tmp_path, first, answer(question="金额呢？", text="近850亿元[1]。"))
    _, chat, records, _, _ = ask(h, "2024年有多少起AI投资案例？")[-1]
    chat.append({"role": "assistant", "content": LABELS["en"]["empty"]})  # a notice in between is not a turn
    ask(h, "金额呢？", chat=chat, records=records)
    assert bot.calls[1].history == (Turn("user", "2024年有多少起AI投资案例？"), Turn("assistant", "共有1,156起[1]。"))


@pytest.mark.parametrize(
    ("fields", "requested", "expected"),
    [
        ({"refused": True}, "local", "> ℹ️ Not in the report"),
        ({"backend": "extractive", "notice": "the local model failed"}, "local", "> ⚠️ The language model is unav"),
        ({"backend": "extractive"}, "extractive", None),
        ({"backend": "extractive", "notice": "Extractive answer"}, "extractive", "> ℹ️ Note: Extractive answer"),
        ({"notice": "the question was cut to 2000 characters"}, "local", "> ℹ️ Note: the question was cut"),
        ({"ungrounded_numbers": ["999"]}, "local", "> ⚠️ Check these numbers, they were not found in the cited"),
    ],
)
def test_notices_sit_under_the_answer(
    tmp_path: Path, fields: dict[str, Any], requested: str, expected: str | None
) -> None:
    _, h = make(tmp_path, answer(**fields))
    message = text(ask(h, "q", backend=requested)[-1][1][-1])
    assert message.startswith("2024年")
    if expected is None:
        assert ">" not in message
    else:
        assert expected in message


def test_a_refusal_shows_the_passages_that_were_read(tmp_path: Path) -> None:
    _, h = make(tmp_path, answer(text="报告中没有相关内容。", refused=True))
    sources = ask(h, "q")[-1][3]
    assert "cites no passage" in sources and "closest passages" in sources and CHUNK.source in sources


def like(index: int, liked: bool | str) -> gr.LikeData:
    return gr.LikeData(None, {"index": index, "value": ["…"], "liked": liked})


def feedback_lines(tmp_path: Path) -> list[dict[str, Any]]:
    path = tmp_path / "data" / "feedback.jsonl"
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_thumbs_down_with_a_reason_is_a_test_set_line(tmp_path: Path) -> None:
    first = answer(question="2024年有多少起AI投资案例？", text="共有1,156起[1]。", lang="zh")
    _, h = make(tmp_path, first, answer(question="金额呢？", text="近850亿元[1]。"))
    _, chat, records, _, _ = ask(h, "2024年有多少起AI投资案例？")[-1]
    _, chat, records, _, _ = ask(h, "金额呢？", chat=chat, records=records)[-1]
    given = h.feedback(records, {}, "zh", like(3, "Dislike"))
    # the flag menu reports one click twice: one line
    given = h.feedback(records, given, "zh", like(3, LABELS["zh"]["reason_0"]))
    given = h.feedback(records, given, "zh", like(3, LABELS["zh"]["reason_0"]))
    h.feedback(records, given, "zh", like(1, True))
    down, reasoned, up = feedback_lines(tmp_path)
    assert reasoned["id"].startswith("fb-") and len({down["id"], reasoned["id"], up["id"]}) == 3
    assert reasoned["question"] == "金额呢？" and reasoned["answer"] == "近850亿元[1]。"
    assert reasoned["history"] == [
        {"role": "user", "content": "2024年有多少起AI投资案例？"},
        {"role": "assistant", "content": "共有1,156起[1]。"},
    ]
    assert reasoned["category"] == "feedback" and reasoned["lang"] == "zh" and reasoned["cited"] == [CHUNK.id]
    assert (down["feedback"], down["reason"]) == ("down", "")
    assert (reasoned["feedback"], reasoned["reason"]) == ("down", REASONS[0])
    assert (up["feedback"], up["history"], up["question"]) == ("up", [], "2024年有多少起AI投资案例？")
    assert reasoned["timestamp"].endswith("+00:00")


def test_the_feedback_file_loads_as_a_test_set(tmp_path: Path) -> None:
    from bluebot.evaluation import load_sets

    _, h = make(tmp_path, answer())
    _, _, records, _, _ = ask(h, "q")[-1]
    h.feedback(records, {}, "en", like(1, "wrong source"))
    (case,) = load_sets([tmp_path / "data" / "feedback.jsonl"])
    assert case.category == "feedback" and case.question == "2024年中国AI产业共有多少起投资案例？"


def test_feedback_on_a_notice_or_a_withdrawn_choice_writes_nothing(tmp_path: Path) -> None:
    _, h = make(tmp_path, answer())
    _, _, records, _, _ = ask(h, "q")[-1]
    h.feedback(records, {}, "en", like(0, False))  # the user's own message
    h.feedback(records, {1: "Like"}, "en", like(1, ""))  # un-liked
    assert not (tmp_path / "data" / "feedback.jsonl").exists()


def test_clicking_an_earlier_message_shows_its_sources_again(tmp_path: Path) -> None:
    other = Chunk("c-hz", "2024年，杭州AI产业领域获投的企业有54家。", "corpus/report.txt", "04 杭州", 9, "zh")
    _, h = make(tmp_path, answer(), answer(question="杭州呢？", text="杭州有54家企业获投[1]。", chunks=[other]))
    _, chat, records, _, _ = ask(h, "q")[-1]
    _, chat, records, latest, shown = ask(h, "杭州呢？", chat=chat, records=records)[-1]
    assert shown == 3 and "c-hz" in latest and "c-total" not in latest
    for clicked in (0, 1):  # the question or its answer
        sources, shown = h.select(records, "en", gr.SelectData(None, {"index": clicked, "value": "…"}))
        assert shown == 1 and "c-total" in sources and "c-hz" not in sources


def test_switching_language_relabels_everything(tmp_path: Path) -> None:
    _, h = make(tmp_path, answer())
    _, _, records, _, shown = ask(h, "q")[-1]
    title, chatbot, box, send, examples, heading, sources, settings, backend, k, lang = h.relabel("zh", records, shown)
    assert "蓝皮书" in title["value"] and chatbot["label"] == "对话" and send["value"] == "发送"
    assert chatbot["feedback_options"] == ["Like", "Dislike", "数字有误", "出处有误", "报告中没有"]
    assert box["placeholder"].startswith("例如") and settings["label"] == "设置" and k["label"] == "检索段落数"
    assert ("本地模型", "local") in backend["choices"] and heading["value"] == "### 出处"
    assert "出处：" in sources and "c-total" in sources  # the shown answer's sources, relabelled
    assert h.relabel("en", records, shown)[3]["value"] == "Send"


def test_both_languages_have_every_label() -> None:
    assert LABELS["en"].keys() == LABELS["zh"].keys()


@pytest.mark.parametrize(
    ("header", "lang"),
    [("zh-CN,zh;q=0.9,en;q=0.8", "zh"), ("en-US,en;q=0.9,zh;q=0.8", "en"), ("fr-FR, zh-TW;q=0.5", "zh"), ("", "en")],
)
def test_the_browser_language_picks_the_labels(header: str, lang: str) -> None:
    assert preferred_lang(header) == lang


def test_the_app_builds_with_a_named_api_and_a_bounded_queue(tmp_path: Path) -> None:
    _, h = make(tmp_path)
    demo = build_app(h.bot, h.settings)
    named = [d.api_name for d in demo.fns.values() if d.api_visibility == "public"]
    assert named == ["ask"]
    ask_fn = next(d for d in demo.fns.values() if d.api_name == "ask")
    assert ask_fn.concurrency_limit == 2 and demo._queue.max_size == 32


def test_examples_are_questions_the_report_answers() -> None:
    """The app's example buttons show bluebot at its best: each is an answerable dev-set question standing alone
    (no earlier turns), in both languages, never one the bot declines by design."""
    eval_dir = Path(__file__).resolve().parents[1] / "eval"
    cases = {c.question: c for path in sorted(eval_dir.glob("report_*.jsonl")) for c in load_cases(path)}
    for question in EXAMPLES:
        assert question in cases, f"{question!r} is not a dev-set question"
        case = cases[question]
        assert case.answerable and not case.history and case.keywords, case.id
    assert {cases[q].lang for q in EXAMPLES} == {"zh", "en"}
