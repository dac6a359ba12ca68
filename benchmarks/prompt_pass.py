"""The local model's pass over the answer prompt (the time before the first token), per language, on this machine.

    .venv/bin/python benchmarks/prompt_pass.py [--per-lang 4] [--rounds 2]

The prompts are the ones bluebot writes for every n-th answerable dev question: a Chinese question's prompt (its
passages best last), and an English question's Chinese reading (the passages with the English names of their terms).
Each is run through LocalGenerator._prefill after a warm-up that loads the model and caches the system message; the
time and the tokens per second of the part after the cached system message are printed, with p50 per language and
the CPU's model and int8/bf16 flags. To compare two commits, run it from each (PYTHONPATH=OTHER/src), alternating.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

from answers import cpu, sample  # benchmarks/answers.py: the same questions, the same CPU line

from bluebot.config import Settings
from bluebot.generation import LocalGenerator
from bluebot.passages import build_passages
from bluebot.pipeline import Bot


def main() -> None:
    import torch

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--per-lang", type=int, default=4, help="questions per dev set")
    parser.add_argument("--rounds", type=int, default=2, help="times each prompt is run")
    args = parser.parse_args()
    bot = Bot(Settings.from_env(backend="local"))
    generator = bot.generator("local")
    if not isinstance(generator, LocalGenerator):
        raise SystemExit("benchmarks/prompt_pass.py needs the local backend")
    generator._load()
    print(f"CPU: {cpu()}; torch threads {torch.get_num_threads()}; int8 {'on' if generator.int8 else 'off'}")
    prompts: list[tuple[str, str, list[int]]] = []
    for lang in ("zh", "en"):
        for case in sample(Path(f"eval/report_{lang}.jsonl"), args.per_lang):
            passages = build_passages(bot.search(case.question, lang=lang), case.question)
            prompts.append((case.id, lang, generator._prompt_ids(bot.messages(case.question, lang, passages))))
    times: dict[str, list[float]] = {"zh": [], "en": []}
    with torch.inference_mode():
        generator._prefill(prompts[0][2])  # warm-up: the system message's cache
        system = len(next(iter(generator._prefixes)))  # the system message's tokens, cached
        for _ in range(args.rounds):
            for case_id, lang, ids in prompts:
                start = time.perf_counter()
                generator._prefill(ids)
                seconds = time.perf_counter() - start
                times[lang].append(seconds)
                print(
                    f"{case_id}: {len(ids)} tokens ({len(ids) - system} after the cached system message), "
                    f"{seconds:5.2f} s, {(len(ids) - system) / seconds:5.0f} tokens/s",
                    flush=True,
                )
    for lang, values in times.items():
        print(f"{lang}: prompt pass p50 {statistics.median(values):5.2f} s over {len(values)}")


if __name__ == "__main__":
    main()
