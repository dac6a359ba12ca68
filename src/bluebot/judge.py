"""An optional LLM judge for `bluebot eval --judge`: faithfulness and answer relevance in the manner of Ragas,
through any OpenAI-compatible endpoint.

These are model-graded scores, reported apart from the rule-based metrics. A judge that fails on a case (no
answer, unreadable JSON, endpoint down) leaves that case's score missing; it never stops the run.
"""

from __future__ import annotations

import json
import math
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from bluebot.config import Settings
from bluebot.errors import ConfigError
from bluebot.evaluation import CaseRun, record_failed

Messages = list[tuple[str, str]]
Chat = Callable[[Messages], str]
Embed = Callable[[str], list[float]]

MAX_STATEMENTS = 10

SYSTEM = "You are a strict evaluator. Reply with one JSON object and nothing else: no prose, no code fences."

FAITHFULNESS_PROMPT = """\
Passages:
{passages}

Question: {question}
Answer: {answer}

Split the answer into short standalone factual statements (at most {max_statements}; ignore citation marks \
like [1]). For each statement decide whether the passages above support it: true if the passages state it or \
it follows directly from them, false otherwise. Amounts in different units are equal when their values are \
equal (420亿元 = 42 billion yuan; 7成 = 70%).

Reply with exactly this JSON shape:
{{"statements": [{{"statement": "...", "supported": true}}]}}"""

RELEVANCE_PROMPT = """\
Answer: {answer}

Write the one question this answer responds to, in the language of the answer. Also say whether the answer \
is noncommittal: evasive, vague, or saying it does not know.

Reply with exactly this JSON shape:
{{"question": "...", "noncommittal": false}}"""


class JudgeReplyError(ValueError):
    """The judge's reply holds no usable JSON."""


@dataclass(frozen=True)
class JudgeScore:
    """One case's judge scores; None where the judge could not score it (error says why)."""

    faithfulness: float | None = None
    relevance: float | None = None
    statements: tuple[tuple[str, bool], ...] = ()
    error: str = ""


_FENCE = re.compile(r"```(?:json)?\s*(.*?)```", re.S | re.I)
_TRAILING_COMMA = re.compile(r",\s*([}\]])")


def parse_json_object(text: str) -> dict[str, Any]:
    """The first JSON object in a reply. Small models wrap it in code fences or prose, or leave trailing commas;
    all of that is tolerated. A bare list is taken as the statements list."""
    candidates = [m.group(1) for m in _FENCE.finditer(text)] + [text]
    decoder = json.JSONDecoder()
    for candidate in candidates:
        for start, char in enumerate(candidate):
            if char not in "{[":
                continue
            for attempt in (candidate[start:], _TRAILING_COMMA.sub(r"\1", candidate[start:])):
                try:
                    value, _ = decoder.raw_decode(attempt)
                except json.JSONDecodeError:
                    continue
                if isinstance(value, dict):
                    return value
                if isinstance(value, list):
                    return {"statements": value}
    raise JudgeReplyError(f"no JSON object in the judge's reply: {text[:120]!r}")


def _flag(value: Any) -> bool | None:
    """A yes/no field as models write it: true, "yes", 1, "supported", "1"."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float):
        return value >= 1 if value in (0, 1) else None
    if isinstance(value, str):
        word = value.strip().lower()
        if word in ("true", "yes", "1", "supported", "support", "y"):
            return True
        if word in ("false", "no", "0", "unsupported", "not supported", "n"):
            return False
    return None


def parse_statements(obj: Mapping[str, Any]) -> list[tuple[str, bool]]:
    """[(statement, supported)] from a faithfulness reply; entries without a readable verdict are dropped."""
    items = obj.get("statements")
    if not isinstance(items, list):
        raise JudgeReplyError("the judge's reply has no 'statements' list")
    parsed = []
    for item in items[:MAX_STATEMENTS]:
        if not isinstance(item, dict):
            continue
        verdict = next((_flag(item[k]) for k in ("supported", "verdict", "faithful") if k in item), None)
        if verdict is not None:
            parsed.append((str(item.get("statement", "")).strip(), verdict))
    if not parsed:
        raise JudgeReplyError("the judge's reply has no statement with a readable verdict")
    return parsed


def parse_relevance(obj: Mapping[str, Any]) -> tuple[str, bool]:
    question = obj.get("question")
    if not isinstance(question, str) or not question.strip():
        raise JudgeReplyError("the judge's reply has no 'question'")
    return question.strip(), bool(_flag(obj.get("noncommittal", False)))


def cosine(a: list[float], b: list[float]) -> float:
    dot = sum(x * y for x, y in zip(a, b, strict=True))
    norm = math.sqrt(sum(x * x for x in a)) * math.sqrt(sum(y * y for y in b))
    return dot / norm if norm else 0.0


class Judge:
    """Ragas-style scores from a chat function (messages -> reply text) and an embedding function."""

    def __init__(self, chat: Chat, name: str, embed: Embed | None = None) -> None:
        self.chat = chat
        self.name = name
        self.embed = embed

    def _ask(self, prompt: str) -> dict[str, Any]:
        return parse_json_object(self.chat([("system", SYSTEM), ("user", prompt)]))

    def faithfulness(self, question: str, answer: str, passages: list[str]) -> tuple[float, list[tuple[str, bool]]]:
        """Share of the answer's statements that the passages support (Ragas: faithfulness)."""
        listed = "\n\n".join(f"[{i}] {p}" for i, p in enumerate(passages, start=1)) or "(none)"
        prompt = FAITHFULNESS_PROMPT.format(
            passages=listed, question=question, answer=answer, max_statements=MAX_STATEMENTS
        )
        statements = parse_statements(self._ask(prompt))
        return sum(ok for _, ok in statements) / len(statements), statements

    def relevance(self, question: str, answer: str) -> float:
        """Ragas answer relevancy: the similarity of the question to one written back from the answer alone,
        0 when the answer is noncommittal."""
        if self.embed is None:
            raise JudgeReplyError("answer relevance needs an embedding model")
        generated, noncommittal = parse_relevance(self._ask(RELEVANCE_PROMPT.format(answer=answer)))
        if noncommittal:
            return 0.0
        return max(0.0, min(1.0, cosine(self.embed(generated), self.embed(question))))

    def score(self, run: CaseRun) -> JudgeScore | None:
        """Both scores for an answered case; None for failed runs and declines, which have no claims to judge."""
        record = run.record
        if record_failed(record) or record.get("refused"):
            return None
        question, answer = run.case.question, record["answer"]
        errors: list[str] = []
        faithful: float | None = None
        statements: list[tuple[str, bool]] = []
        relevant: float | None = None
        try:
            faithful, statements = self.faithfulness(question, answer, [c["text"] for c in record["citations"]])
        except Exception as exc:  # noqa: BLE001 - a judge failure marks the score missing, never stops the run
            errors.append(f"faithfulness: {_describe(exc)}")
        try:
            relevant = self.relevance(question, answer)
        except Exception as exc:  # noqa: BLE001 - as above
            errors.append(f"relevance: {_describe(exc)}")
        return JudgeScore(faithful, relevant, tuple(statements), "; ".join(errors))


def _describe(exc: Exception) -> str:
    text = str(exc).splitlines()[0][:200] if str(exc) else ""
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def judge_endpoint(settings: Settings, env: Mapping[str, str] | None = None) -> tuple[str, str, str]:
    """(base URL, model, API key): BLUEBOT_JUDGE_* first, then the answer model's BLUEBOT_LLM_* settings."""
    env = os.environ if env is None else env
    base_url = env.get("BLUEBOT_JUDGE_BASE_URL", "").strip() or settings.llm_base_url
    model = env.get("BLUEBOT_JUDGE_MODEL", "").strip() or settings.llm_model
    key = (
        env.get("BLUEBOT_JUDGE_API_KEY", "").strip()
        or env.get("BLUEBOT_LLM_API_KEY", "").strip()
        or env.get("OPENAI_API_KEY", "").strip()
    )
    if not base_url and not key:
        raise ConfigError(
            "--judge needs an OpenAI-compatible endpoint: set BLUEBOT_JUDGE_BASE_URL (a local server) "
            "or BLUEBOT_JUDGE_API_KEY, and BLUEBOT_JUDGE_MODEL"
        )
    return base_url, model, key


def openai_judge(
    settings: Settings, embed: Embed | None, env: Mapping[str, str] | None = None, timeout: float = 120.0
) -> Judge:
    """A Judge over ChatOpenAI. JSON mode is asked for; an endpoint that rejects it is asked again without."""
    import openai
    from langchain_openai import ChatOpenAI
    from pydantic import SecretStr

    base_url, model, key = judge_endpoint(settings, env)
    client = ChatOpenAI(
        model=model,
        base_url=base_url or None,
        api_key=SecretStr(key or "no-key"),  # local servers take any key; the client insists on one
        timeout=timeout,
        max_retries=1,
        temperature=0,
        max_tokens=768,
    )
    json_mode = [True]

    def chat(messages: Messages) -> str:
        if json_mode[0]:
            try:
                reply = client.invoke(messages, response_format={"type": "json_object"})
            except openai.BadRequestError:
                json_mode[0] = False  # e.g. an endpoint without response_format support: plain text then
            else:
                return _content(reply.content)
        return _content(client.invoke(messages).content)

    return Judge(chat, f"{model} at {base_url or 'api.openai.com'}", embed)


def _content(content: Any) -> str:
    if isinstance(content, str):
        return content
    return "".join(part.get("text", "") if isinstance(part, dict) else str(part) for part in content)
