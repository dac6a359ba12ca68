"""Ingest time for the report and retrieval latency over the shipped test sets, on this machine.

    .venv/bin/python benchmarks/retrieval.py [--sets eval/*.jsonl] [--repeat 1]

Model load is timed separately and excluded from the latency figures.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import tempfile
import time
from pathlib import Path

from bluebot.config import Settings
from bluebot.evaluation import load_sets
from bluebot.pipeline import Bot, load_embedder


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sets", nargs="+", default=["eval/report_zh.jsonl", "eval/report_en.jsonl"])
    parser.add_argument("--repeat", type=int, default=1, help="passes over the questions")
    args = parser.parse_args()
    settings = Settings.from_env()
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, torch threads {settings.threads}")
    print(f"embedding model: {settings.embed_model}, chunks {settings.chunk_size}/{settings.chunk_overlap}")

    t0 = time.perf_counter()
    embedder = load_embedder(settings)
    print(f"model load: {time.perf_counter() - t0:.1f} s")

    with tempfile.TemporaryDirectory() as tmp:
        bot = Bot(settings.with_(index_dir=Path(tmp) / "index"), embedder=embedder)
        report = bot.ingest(rebuild=True)
        print(f"ingest: {report.files} file(s), {report.chunks} chunks in {report.seconds:.1f} s "
              f"({report.chunks / report.seconds:.1f} chunks/s)")
        questions = [c.question for c in load_sets(Path(p) for p in args.sets)]
        bot.search(questions[0])  # first query opens Chroma and BM25
        timings: dict[str, list[float]] = {"zh": [], "en": []}
        from bluebot.text import detect_lang

        for _ in range(args.repeat):
            for q in questions:
                t = time.perf_counter()
                bot.search(q)
                timings[detect_lang(q)].append((time.perf_counter() - t) * 1000)
    every = [v for vs in timings.values() for v in vs]
    for label, values in [*timings.items(), ("all", every)]:
        if values:
            print(f"retrieval {label:>3}: n={len(values):>4}  p50 {statistics.median(values):6.1f} ms  "
                  f"p95 {percentile(values, 0.95):6.1f} ms  max {max(values):6.1f} ms")


if __name__ == "__main__":
    main()
