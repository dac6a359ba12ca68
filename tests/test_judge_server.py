"""The judge against a real OpenAI-compatible server on loopback (llama-cpp-python serving the small GGUF)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from test_judge import answered_run

from bluebot.config import Settings
from bluebot.embedding import HashingEmbedder
from bluebot.judge import openai_judge

from servers import SMALL_MODEL, small_model_server

pytestmark = [pytest.mark.server, pytest.mark.slow]

ALIAS = SMALL_MODEL


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    yield from small_model_server(tmp_path_factory)


def test_the_judge_scores_an_answer_through_the_server(server: str, monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("BLUEBOT_JUDGE_API_KEY", "BLUEBOT_LLM_API_KEY", "OPENAI_API_KEY"):
        monkeypatch.delenv(var, raising=False)
    env = {"BLUEBOT_JUDGE_BASE_URL": server, "BLUEBOT_JUDGE_MODEL": ALIAS}
    judge = openai_judge(Settings(), HashingEmbedder().embed_query, env=env)
    score = judge.score(answered_run())
    assert score is not None
    print(f"\njudge {judge.name}: {score}")
    # JSON mode makes even the 0.5B model's replies parse; what it decides is its own business
    assert score.faithfulness is not None and 0.0 <= score.faithfulness <= 1.0, score.error
    assert score.statements and all(isinstance(ok, bool) for _, ok in score.statements)
    assert score.relevance is not None and 0.0 <= score.relevance <= 1.0, score.error
