"""Retrieval quality by chunk size and fusion weights, on the shipped test sets.

    .venv/bin/python benchmarks/tune_retrieval.py [--sizes 250,300,400] [--sets eval/*.jsonl]

Builds one index per chunk size in a temporary folder with the configured embedding model, then
scores hit@1/3/5 and MRR per language for several dense/keyword fusion weights. Prints a table.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from bluebot.config import Settings
from bluebot.evaluation import first_supporting_rank, load_sets, retrieval_score
from bluebot.pipeline import Bot, load_embedder
from bluebot.retrieval import Fusion, Retriever

WEIGHTS = [(1.0, 0.0), (1.0, 0.3), (1.0, 0.6), (1.0, 1.0), (0.0, 1.0)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="250,300,400")
    parser.add_argument("--sets", nargs="+", default=["eval/report_zh.jsonl", "eval/report_en.jsonl"])
    args = parser.parse_args()
    cases = [c for c in load_sets(Path(p) for p in args.sets) if c.answerable and c.evidence]
    base = Settings.from_env()
    embedder = load_embedder(base)
    query_vectors: dict[str, list[float]] = {}
    print(
        f"{'size':>4} {'overlap':>7} {'chunks':>6} {'lang':>4} {'dense':>5} {'kw':>4} "
        f"{'hit@1':>6} {'hit@3':>6} {'hit@5':>6} {'MRR':>6}"
    )
    for size in (int(s) for s in args.sizes.split(",")):
        with tempfile.TemporaryDirectory() as tmp:
            settings = base.with_(index_dir=Path(tmp), chunk_size=size, chunk_overlap=size // 5)
            bot = Bot(settings, embedder=embedder)
            bot.ingest(rebuild=True)
            for dense_w, kw_w in WEIGHTS:
                for lang in ("zh", "en"):
                    subset = [c for c in cases if c.lang == lang]
                    retriever = Retriever(bot.index, embedder, {lang: Fusion(dense_w, kw_w)})
                    ranks = []
                    for case in subset:
                        q = " ".join([t.content for t in case.history if t.role == "user"] + [case.question])
                        if q not in query_vectors:
                            query_vectors[q] = embedder.embed_query(q)
                        retriever.embedder = _Cached(embedder, query_vectors)  # type: ignore[assignment]
                        ranks.append(first_supporting_rank(retriever.search(q, 5, lang), case.evidence))
                    s = retrieval_score(ranks)
                    print(
                        f"{size:>4} {size // 5:>7} {bot.index.manifest.n_chunks:>6} {lang:>4} {dense_w:>5} {kw_w:>4} "
                        f"{s.hit1:>6.3f} {s.hit3:>6.3f} {s.hit5:>6.3f} {s.mrr:>6.3f}",
                        flush=True,
                    )


class _Cached:
    """Query vectors computed once per question: the embedder is the slow part of this sweep."""

    def __init__(self, embedder, cache: dict[str, list[float]]) -> None:  # type: ignore[no-untyped-def]
        self.embedder, self.cache, self.name = embedder, cache, embedder.name

    def embed_query(self, text: str) -> list[float]:
        if text not in self.cache:
            self.cache[text] = self.embedder.embed_query(text)
        return self.cache[text]


if __name__ == "__main__":
    main()
