"""How ingest and retrieval cost grow with corpus size: 1x, 10x and 100x the report.

    .venv/bin/python benchmarks/scale.py [--scales 1,10,100] [--embedder model|hashing] [--chroma-url URL]

The synthetic corpus is built from the report with varied text: each copy shuffles the paragraphs
within each section, swaps city names and scales every number, so no two copies share chunks and
the index really grows. Each scale is ingested into a fresh index; retrieval is timed over the
questions of the shipped test sets. Peak memory is the process's max RSS so far (it only grows).
"""

from __future__ import annotations

import argparse
import random
import re
import resource
import statistics
import tempfile
import time
from pathlib import Path

from bluebot.config import Settings
from bluebot.embedding import Embedder, HashingEmbedder
from bluebot.evaluation import load_sets
from bluebot.pipeline import Bot, load_embedder

REPORT = Path("corpus/2024-china-ai-industry-investment-blue-book.txt")
CITIES = ["杭州", "深圳", "北京", "成都", "上海", "南京", "武汉", "苏州", "合肥", "西安", "广州", "天津"]
HEADING = re.compile(r"^\d{2} \S.*$", re.M)


def variant(text: str, seed: int) -> str:
    """One synthetic copy: shuffled paragraphs per section, other cities, scaled numbers."""
    if seed == 0:
        return text
    rng = random.Random(seed)
    parts = re.split(f"({HEADING.pattern})", text, flags=re.M)
    out = []
    for part in parts:
        if HEADING.match(part):
            out.append(part)
            continue
        paras = [p for p in part.split("\n\n") if p.strip()]
        if "\t" not in part:
            rng.shuffle(paras)
        out.append("\n\n".join(paras))
    varied = "\n\n".join(out)
    city = rng.choice(CITIES[1:])
    varied = varied.replace("杭州", city)
    factor = rng.uniform(0.5, 2.0)
    return re.sub(r"\d+(?:\.\d+)?(?=亿|万|%|起|家|支|个)", lambda m: f"{float(m.group()) * factor:.1f}", varied)


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scales", default="1,10,100")
    parser.add_argument("--embedder", choices=["model", "hashing"], default="model")
    parser.add_argument("--chroma-url", default="")
    parser.add_argument("--queries", type=int, default=60, help="questions timed per scale")
    args = parser.parse_args()
    settings = Settings.from_env(chroma_url=args.chroma_url or None)
    embedder: Embedder = load_embedder(settings) if args.embedder == "model" else HashingEmbedder()
    settings = settings.with_(embed_model=embedder.name)
    report = REPORT.read_text(encoding="utf-8")
    questions = [c.question for c in load_sets([Path("eval/report_zh.jsonl"), Path("eval/report_en.jsonl")])]
    questions = random.Random(0).sample(questions, min(args.queries, len(questions)))
    print(f"embedder: {embedder.name}; store: {args.chroma_url or 'embedded'}; threads {settings.threads}")
    print(f"{'scale':>5} {'files':>5} {'chunks':>6} {'ingest s':>8} {'chunks/s':>8} {'p50 ms':>7} {'p95 ms':>7} "
          f"{'peak MB':>7}")
    for scale in (int(s) for s in args.scales.split(",")):
        with tempfile.TemporaryDirectory() as tmp:
            corpus = Path(tmp) / "corpus"
            corpus.mkdir()
            for i in range(scale):
                (corpus / f"report-{i:04d}.txt").write_text(variant(report, i), encoding="utf-8")
            bot = Bot(settings.with_(corpus_dir=corpus, index_dir=Path(tmp) / "index"), embedder=embedder)
            result = bot.ingest()
            bot.search(questions[0])
            times = []
            for q in questions:
                t = time.perf_counter()
                bot.search(q)
                times.append((time.perf_counter() - t) * 1000)
            times.sort()
            p95 = times[min(len(times) - 1, round(0.95 * (len(times) - 1)))]
            print(f"{scale:>5} {result.files:>5} {result.chunks:>6} {result.seconds:>8.1f} "
                  f"{result.chunks / result.seconds:>8.1f} {statistics.median(times):>7.1f} {p95:>7.1f} "
                  f"{peak_rss_mb():>7.0f}", flush=True)


if __name__ == "__main__":
    main()
