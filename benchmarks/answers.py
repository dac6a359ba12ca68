"""Answer latency on this machine: time to the first streamed token and to the checked answer, p50/p95.

    .venv/bin/python benchmarks/answers.py [--backend local] [--per-lang 6] [--sets eval/*.jsonl]
        [--ab-prompt-lookup]

Takes every n-th answerable question of each test set (no follow-ups, so every answer is one generation),
after one warm-up question that loads the models; model load is reported apart. Prints each answer's stage timings
(retrieve, prompt, decode, extra_calls, checks) and the first token's median per language, with English over Chinese.
Uses the index of the settings (BLUEBOT_INDEX_DIR); run `bluebot ingest` first. int8 against bf16: run it once with
BLUEBOT_INT8=0 (the int8 model keeps no bf16 weights to switch back to), or decoding alone with
`benchmarks/decoding.py --ab-int8`.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from collections.abc import Callable
from pathlib import Path

from bluebot.config import Settings
from bluebot.evaluation import answer_correct, cites_evidence, load_cases
from bluebot.generation import BF16_FLAGS, INT8_FLAGS, LocalGenerator, _cpu_flags
from bluebot.pipeline import Bot
from bluebot.report import machine
from bluebot.types import Answer, EvalCase


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def cpu() -> str:
    """The CPU, its cores and the OS, with the int8 and bf16 flags that choose the local model's arithmetic."""
    flags = sorted((INT8_FLAGS | BF16_FLAGS) & _cpu_flags())
    return f"{machine()}; {', '.join(flags) or 'no int8/bf16 flags'}"


def sample(path: Path, n: int) -> list[EvalCase]:
    cases = [c for c in load_cases(path) if c.answerable and not c.history]
    step = max(1, len(cases) // n)
    return cases[::step][:n]


def timed(bot: Bot, case: EvalCase, backend: str) -> tuple[float, float, Answer]:
    start = time.perf_counter()
    first = None
    for part in bot.ask_stream(case.question, backend=backend):
        if first is None and isinstance(part, str):  # the first text shown, not a progress event
            first = time.perf_counter() - start
        if isinstance(part, Answer):
            return first or 0.0, time.perf_counter() - start, part
    raise RuntimeError("ask_stream ended without an Answer")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--backend", default="local", choices=("local", "openai", "extractive"))
    parser.add_argument("--per-lang", type=int, default=6, help="questions per test set")
    parser.add_argument("--sets", nargs="+", default=["eval/report_zh.jsonl", "eval/report_en.jsonl"])
    parser.add_argument(
        "--ab-prompt-lookup",
        action="store_true",
        help="answer each question with and without prompt-lookup decoding, alternating which goes first",
    )
    args = parser.parse_args()
    settings = Settings.from_env(backend=args.backend)
    print(f"CPU: {cpu()}; torch threads {settings.threads}; load average {os.getloadavg()[0]:.1f}")
    bot = Bot(settings)
    cases = [c for path in args.sets for c in sample(Path(path), args.per_lang)]
    t0 = time.perf_counter()
    _, _, warm = timed(bot, cases[0], args.backend)
    print(f"warm-up (model load included): {time.perf_counter() - t0:.1f} s, backend {warm.backend}")

    if args.ab_prompt_lookup:
        ab_prompt_lookup(bot, cases, args.backend)
        return
    firsts: list[float] = []
    totals: list[float] = []
    by_lang: dict[str, list[float]] = {}
    for case in cases:
        first, total, answer = timed(bot, case, args.backend)
        firsts.append(first)
        totals.append(total)
        by_lang.setdefault(answer.lang, []).append(first)
        verdict = "correct" if answer_correct(case, answer) else "WRONG"
        cited = "cites evidence" if cites_evidence(case, answer) else "no evidence cited"
        stages = ", ".join(f"{stage} {ms / 1000:.2f}" for stage, ms in answer.timings_ms.items())
        print(f"{case.id}: first {first:4.1f} s, total {total:4.1f} s, {verdict}, {cited}: {answer.text[:90]!r}")
        print(f"    stages (s): {stages}")
    print(f"\n{len(cases)} questions, backend {args.backend}")
    for label, values in (("first token", firsts), ("full answer", totals)):
        print(f"{label:<12} p50 {percentile(values, 0.5):5.2f} s   p95 {percentile(values, 0.95):5.2f} s")
    medians = {lang: statistics.median(values) for lang, values in sorted(by_lang.items())}
    print("first token median by language: " + ", ".join(f"{lang} {m:.2f} s" for lang, m in medians.items()))
    if medians.get("zh") and "en" in medians:
        print(f"English / Chinese first token: {medians['en'] / medians['zh']:.2f}x")


def interleaved(bot: Bot, cases: list[EvalCase], backend: str, arms: dict[str, Callable[[], None]]) -> None:
    """Interleaved A/B: each question answered in both arms, alternating which goes first, so that both arms see the
    same moments of a machine whose speed drifts. Each arm's callable switches the generator to it."""
    results: dict[str, tuple[list[float], list[float]]] = {label: ([], []) for label in arms}
    labels = list(arms)
    for i, case in enumerate(cases):
        for label in labels if i % 2 == 0 else labels[::-1]:
            arms[label]()
            first, total, answer = timed(bot, case, backend)
            results[label][0].append(first)
            results[label][1].append(total)
            print(f"{case.id} {label}: first {first:4.1f} s, total {total:4.1f} s: {answer.text[:70]!r}")
    arms[labels[0]]()
    for label, (firsts, totals) in results.items():
        print(
            f"{label:<26} first token p50 {percentile(firsts, 0.5):5.2f} s p95 {percentile(firsts, 0.95):5.2f} s   "
            f"full answer p50 {percentile(totals, 0.5):5.2f} s p95 {percentile(totals, 0.95):5.2f} s"
        )


def local_generator(bot: Bot, backend: str, flag: str) -> LocalGenerator:
    generator = bot.generator(backend)
    if not isinstance(generator, LocalGenerator):
        raise SystemExit(f"{flag} needs the local backend, not {backend}")
    return generator


def ab_prompt_lookup(bot: Bot, cases: list[EvalCase], backend: str) -> None:
    """Prompt-lookup decoding against plain greedy decoding."""
    generator = local_generator(bot, backend, "--ab-prompt-lookup")
    tokens = generator.lookup_tokens

    def lookup(n: int) -> Callable[[], None]:
        return lambda: setattr(generator, "lookup_tokens", n)

    interleaved(bot, cases, backend, {f"prompt lookup, {tokens} tokens": lookup(tokens), "plain greedy": lookup(0)})


if __name__ == "__main__":
    main()
