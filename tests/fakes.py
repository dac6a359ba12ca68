"""A deterministic stand-in for Bot.ask_stream: a queue of replies and a history of calls (STYLE.md)."""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from bluebot.errors import BadQuestionError
from bluebot.types import Answer, Chunk, Citation, Hit, Turn

CHUNK = Chunk(
    id="c-total",
    text="根据统计，2024年中国AI产业领域：共有投资案例 **1,156** 起，披露总投资金额近 **850** 亿元。\n"
    "Top5地区：合计投资案例975起，占比**84.3%**。",
    source="corpus/report.txt",
    section="02 中国AI产业投融资市场分析—总体投资分析",
    position=4,
    lang="zh",
)


def answer(
    question: str = "2024年中国AI产业共有多少起投资案例？",
    text: str = "2024年中国AI产业领域共有投资案例1,156起[1]。",
    chunks: Sequence[Chunk] = (CHUNK,),
    **fields: object,
) -> Answer:
    hits = [Hit(chunk=c, score=1.0 / (i + 1)) for i, c in enumerate(chunks)]
    citations = [] if fields.get("refused") else [Citation(i + 1, c) for i, c in enumerate(chunks)]
    values: dict[str, object] = {"lang": "zh", "backend": "local:fake", "latency_ms": 1200} | fields
    return Answer(question=question, text=text, citations=citations, retrieved=hits, **values)  # type: ignore[arg-type]


@dataclass
class Call:
    question: str
    history: tuple[Turn, ...]
    backend: str | None
    k: int | None


class FakeBot:
    """Replies in order: an Answer is streamed word by word and then yielded whole; an exception is raised."""

    def __init__(self, replies: Iterable[Answer | Exception] = ()) -> None:
        self.replies: deque[Answer | Exception] = deque(replies)
        self.calls: list[Call] = []

    def ask_stream(
        self, question: str, history: Sequence[Turn] = (), backend: str | None = None, k: int | None = None
    ) -> Iterator[str | Answer]:
        if not question.strip():
            raise BadQuestionError("the question is empty: type a question about the report")
        self.calls.append(Call(question, tuple(history), backend, k))
        reply = self.replies.popleft()
        if isinstance(reply, Exception):
            raise reply
        yield from re.findall(r"\S{1,4}\s*|\s+", reply.text)  # a few characters at a time, like tokens
        yield reply


class Spy:
    """The real bot, with a record of the conversation each question came with."""

    def __init__(self, bot: Any) -> None:
        self.bot = bot
        self.histories: list[tuple[Turn, ...]] = []

    def ask_stream(
        self, question: str, history: Sequence[Turn] = (), backend: str | None = None, k: int | None = None
    ) -> Iterator[str | Answer]:
        self.histories.append(tuple(history))
        return self.bot.ask_stream(question, history, backend, k)
