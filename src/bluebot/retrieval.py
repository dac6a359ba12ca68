"""Question -> ranked Hits: dense and keyword retrieval fused by weighted reciprocal rank fusion,
with weights chosen by the question's language."""

from __future__ import annotations

from dataclasses import dataclass

from bluebot.embedding import Embedder
from bluebot.store import Index
from bluebot.text import detect_lang
from bluebot.types import Hit, Lang

RRF_K = 60


@dataclass(frozen=True)
class Fusion:
    dense: float
    keyword: float  # BM25 over the question's own words


# BM25 runs on jieba tokens of a Chinese report: it sharpens Chinese questions, but an English
# question shares few tokens with the text and its keyword hits are mostly noise (MODELS.md:
# top-1 fell from 18/22 to 10/22 when fused). Measured on eval/ with `bluebot eval --retrieval-only`.
# A keyword search of an English question on the Chinese of the names it mentions (from the glossary) was tried and
# removed: with the hand-written glossary it changed nothing on the English dev questions (hit@1 0.92 either way),
# with the names ingest makes it lost (hit@1 0.92 -> 0.80; 0.88 at a quarter of the weight): generic names ("investment
# scale", "China") made its ranking noise. The cross-lingual embedding model carries English questions alone.
DEFAULT_FUSION: dict[Lang, Fusion] = {"zh": Fusion(1.0, 1.0), "en": Fusion(1.0, 0.0)}


def fuse(rankings: list[tuple[list[str], float]], k: int = RRF_K) -> dict[str, float]:
    """Weighted reciprocal rank fusion: score(id) = sum over rankings of weight / (k + rank)."""
    scores: dict[str, float] = {}
    for ids, weight in rankings:
        if weight <= 0:
            continue
        for rank, chunk_id in enumerate(ids, start=1):
            scores[chunk_id] = scores.get(chunk_id, 0.0) + weight / (k + rank)
    return scores


class Retriever:
    def __init__(
        self,
        index: Index,
        embedder: Embedder,
        fusion: dict[Lang, Fusion] | None = None,
        depth: int = 30,
    ) -> None:
        self.index = index
        self.embedder = embedder
        self.fusion = fusion or DEFAULT_FUSION
        self.depth = depth  # how deep each retriever looks before fusion

    def search(self, question: str, k: int = 5, lang: Lang | None = None) -> list[Hit]:
        lang = lang or detect_lang(question)
        weights = self.fusion[lang]
        dense = self.index.dense(self.embedder.embed_query(question), self.depth)
        keyword = self.index.keyword(question, self.depth) if weights.keyword > 0 else []
        dense_ids = [c.id for c, _ in dense]
        keyword_ids = [c.id for c, _ in keyword]
        scores = fuse([(dense_ids, weights.dense), (keyword_ids, weights.keyword)])
        similarity = {c.id: s for c, s in dense}
        dense_rank = {cid: r for r, cid in enumerate(dense_ids, start=1)}
        keyword_rank = {cid: r for r, cid in enumerate(keyword_ids, start=1)}
        best = sorted(scores, key=lambda cid: (-scores[cid], dense_rank.get(cid, 10**6)))[:k]
        return [
            Hit(
                self.index.chunk(cid),
                round(scores[cid], 6),
                dense_rank.get(cid),
                keyword_rank.get(cid),
                similarity.get(cid),
            )
            for cid in best
        ]
