from __future__ import annotations

import pytest

from bluebot.errors import BadQuestionError
from bluebot.pipeline import Bot
from bluebot.retrieval import Fusion, Retriever, fuse


def test_rrf_adds_reciprocal_ranks() -> None:
    scores = fuse([(["a", "b", "c"], 1.0), (["c", "a"], 1.0)], k=60)
    assert scores["a"] == pytest.approx(1 / 61 + 1 / 62)
    assert scores["c"] == pytest.approx(1 / 63 + 1 / 61)
    assert scores["b"] == pytest.approx(1 / 62)
    assert sorted(scores, key=scores.__getitem__, reverse=True) == ["a", "c", "b"]


def test_weights_scale_and_zero_weight_drops_a_ranking() -> None:
    scores = fuse([(["a"], 2.0), (["b"], 0.0)], k=60)
    assert scores == {"a": pytest.approx(2 / 61)}


def test_hits_carry_ranks_similarity_and_metadata(bot: Bot) -> None:
    hits = bot.search("2024年杭州AI产业领域获投的企业有多少家？", k=3)
    assert 1 <= len(hits) <= 3
    top = hits[0]
    assert "54家" in top.chunk.text
    assert top.chunk.section.startswith("04 杭州")
    assert top.keyword_rank == 1
    assert top.similarity is not None and -1.0 <= top.similarity <= 1.0
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)


def test_fusion_is_chosen_by_language(bot: Bot) -> None:
    keyword_only = Retriever(bot.index, bot.embedder, {"zh": Fusion(0.0, 1.0), "en": Fusion(1.0, 0.0)})
    zh = keyword_only.search("获投企业 54家", k=2, lang="zh")
    assert all(h.dense_rank is None or h.keyword_rank is not None for h in zh)
    assert zh[0].keyword_rank == 1
    en = keyword_only.search("companies invested Hangzhou", k=2, lang="en")
    assert all(h.keyword_rank is None for h in en)  # keyword ranking not used for English


def test_empty_question_is_a_clear_error(bot: Bot) -> None:
    with pytest.raises(BadQuestionError, match="empty"):
        bot.search("  \n\t ")
    with pytest.raises(BadQuestionError, match="empty"):
        bot.search("\x00\x01")


def test_k_larger_than_corpus(bot: Bot) -> None:
    hits = bot.search("投资", k=50)
    assert len(hits) == len(bot.index.chunks)
    assert len({h.chunk.id for h in hits}) == len(hits)
