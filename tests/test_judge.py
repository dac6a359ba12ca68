"""The LLM judge: reply parsing, scoring with a scripted chat, configuration, and failures that leave scores
missing instead of stopping the run. The real-server test is in test_judge_server.py."""

from __future__ import annotations

import json
from collections import deque

import pytest
from test_evaluation_metrics import HOLDS, case, record

from bluebot.config import Settings
from bluebot.embedding import HashingEmbedder
from bluebot.errors import ConfigError
from bluebot.evaluation import CaseRun, failed_record
from bluebot.judge import (
    Judge,
    JudgeReplyError,
    Messages,
    cosine,
    judge_endpoint,
    openai_judge,
    parse_json_object,
    parse_statements,
)

from servers import free_port


class ScriptedChat:
    """Replies in order (an exception is raised), with the prompts it was sent."""

    def __init__(self, *replies: str | Exception) -> None:
        self.replies: deque[str | Exception] = deque(replies)
        self.prompts: list[Messages] = []

    def __call__(self, messages: Messages) -> str:
        self.prompts.append(messages)
        reply = self.replies.popleft()
        if isinstance(reply, Exception):
            raise reply
        return reply


def answered_run(answer: str = "2024年共有投资案例1,156起[1]，披露金额近850亿元[1]。") -> CaseRun:
    return CaseRun(case("q"), record("q", answer=answer, cited=[HOLDS]))


FAITHFUL = json.dumps({"statements": [
    {"statement": "2024年共有投资案例1,156起", "supported": True},
    {"statement": "披露金额近850亿元", "supported": "yes"},
    {"statement": "全部来自北京", "supported": False},
]}, ensure_ascii=False)


@pytest.mark.parametrize(
    "reply",
    [
        '{"question": "多少起？", "noncommittal": false}',
        'Sure! Here is the JSON:\n```json\n{"question": "多少起？", "noncommittal": false}\n```',
        'The result is {"question": "多少起？", "noncommittal": false,} as asked.',  # trailing comma
        '```\n{"question": "多少起？",\n "noncommittal": false}\n```\nHope this helps.',
    ],
)
def test_json_is_found_in_what_small_models_write(reply: str) -> None:
    assert parse_json_object(reply) == {"question": "多少起？", "noncommittal": False}


def test_a_bare_list_is_the_statements_and_prose_alone_is_an_error() -> None:
    assert parse_json_object('[{"statement": "a", "supported": 1}]') == {"statements": [{"statement": "a",
                                                                                        "supported": 1}]}
    with pytest.raises(JudgeReplyError, match="no JSON object"):
        parse_json_object("I think the answer is faithful.")
    with pytest.raises(JudgeReplyError):
        parse_json_object('{"statements": [unclosed')


def test_verdicts_in_the_forms_models_use() -> None:
    parsed = parse_statements({"statements": [
        {"statement": "a", "supported": True}, {"statement": "b", "supported": "No"},
        {"statement": "c", "verdict": 1}, {"statement": "d", "verdict": 0}, {"statement": "e", "supported": "maybe"},
        "not an object",
    ]})
    assert parsed == [("a", True), ("b", False), ("c", True), ("d", False)]
    with pytest.raises(JudgeReplyError, match="no 'statements'"):
        parse_statements({"answer": "ok"})
    with pytest.raises(JudgeReplyError, match="readable verdict"):
        parse_statements({"statements": [{"statement": "a"}]})


def test_faithfulness_is_the_share_of_supported_statements_and_relevance_a_similarity() -> None:
    embedder = HashingEmbedder()
    chat = ScriptedChat(FAITHFUL, '{"question": "2024年共有多少起投资案例？", "noncommittal": false}')
    score = Judge(chat, "scripted", embedder.embed_query).score(answered_run())
    assert score is not None and score.error == ""
    assert score.faithfulness == pytest.approx(2 / 3)
    assert score.statements[2] == ("全部来自北京", False)
    assert score.relevance == pytest.approx(1.0)  # the same question came back
    faith_prompt = chat.prompts[0][1][1]
    assert "[1] 2024年中国AI产业领域" in faith_prompt and "Answer: 2024年共有投资案例1,156起" in faith_prompt
    assert chat.prompts[0][0][0] == "system" and "JSON" in chat.prompts[0][0][1]


def test_a_noncommittal_answer_is_not_relevant() -> None:
    chat = ScriptedChat(FAITHFUL, '{"question": "多少起？", "noncommittal": "true"}')
    score = Judge(chat, "scripted", HashingEmbedder().embed_query).score(answered_run())
    assert score is not None and score.relevance == 0.0


def test_relevance_is_the_cosine_to_a_different_question() -> None:
    embedder = HashingEmbedder()
    other = "杭州获投企业有多少家？"
    chat = ScriptedChat(FAITHFUL, json.dumps({"question": other, "noncommittal": False}, ensure_ascii=False))
    score = Judge(chat, "scripted", embedder.embed_query).score(answered_run())
    expected = max(0.0, cosine(embedder.embed_query(other), embedder.embed_query(case("q").question)))
    assert score is not None and score.relevance == pytest.approx(expected) and score.relevance < 1.0


def test_a_failing_judge_leaves_the_scores_missing() -> None:
    chat = ScriptedChat("I cannot do that.", ConnectionError("connection refused"))
    score = Judge(chat, "scripted", HashingEmbedder().embed_query).score(answered_run())
    assert score is not None and score.faithfulness is None and score.relevance is None
    assert "faithfulness: JudgeReplyError" in score.error and "relevance: ConnectionError" in score.error


def test_declines_and_failed_runs_are_not_judged() -> None:
    chat = ScriptedChat()
    judge = Judge(chat, "scripted", HashingEmbedder().embed_query)
    assert judge.score(CaseRun(case("q"), record("q", answer="报告中没有。", refused=True))) is None
    assert judge.score(CaseRun(case("q"), failed_record(case("q"), "local"), None, "boom")) is None
    assert chat.prompts == []


def test_the_endpoint_falls_back_to_the_answer_model_settings() -> None:
    settings = Settings(llm_model="qwen-answer", llm_base_url="http://127.0.0.1:9/v1")
    assert judge_endpoint(settings, {}) == ("http://127.0.0.1:9/v1", "qwen-answer", "")
    env = {"BLUEBOT_JUDGE_BASE_URL": "http://judge/v1", "BLUEBOT_JUDGE_MODEL": "big", "BLUEBOT_LLM_API_KEY": "k1"}
    assert judge_endpoint(settings, env) == ("http://judge/v1", "big", "k1")
    assert judge_endpoint(settings, env | {"BLUEBOT_JUDGE_API_KEY": "k2"})[2] == "k2"
    with pytest.raises(ConfigError, match="BLUEBOT_JUDGE_BASE_URL"):
        judge_endpoint(Settings(), {})


def test_an_unreachable_endpoint_marks_scores_missing_without_raising() -> None:
    base = f"http://127.0.0.1:{free_port()}/v1"  # nothing listens there
    judge = openai_judge(Settings(llm_model="none"), HashingEmbedder().embed_query,
                         env={"BLUEBOT_JUDGE_BASE_URL": base}, timeout=5)
    score = judge.score(answered_run())
    assert score is not None and score.faithfulness is None and score.relevance is None
    assert "faithfulness: " in score.error and base in judge.name
