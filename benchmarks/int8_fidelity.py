"""How often int8 changes the local model's greedy choices, teacher-forced on real answers.

    .venv/bin/python benchmarks/int8_fidelity.py [--per-lang 10]

For every n-th answerable question of each test set (the prompt built as the app builds it: search, passages,
answer messages), the bf16 model writes its answer with LocalGenerator's own decoding loop. Each model then reads
the same prompt and that answer, in passes shaped like decoding steps (the prompt, then the answer 11 tokens at a
time, as a token and its 10 prompt-lookup guesses), and every position whose most likely token is not the one bf16
wrote counts as a change. bf16 read back this way is the floor: its own products differ with the number of rows.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from answers import sample  # benchmarks/answers.py: the same questions

from bluebot.config import Settings
from bluebot.generation import LocalGenerator, Messages, answer_messages
from bluebot.passages import build_passages
from bluebot.pipeline import Bot

STEP_ROWS = 11  # a decoding step with prompt lookup: the token and up to 10 guesses


def answer_ids(generator: LocalGenerator, messages: Messages) -> tuple[list[int], list[int]]:
    import torch

    ids = generator._prompt_ids(messages)
    with torch.inference_mode():
        made = [t for step in generator._tokens(ids, generator.max_new_tokens) for t in step]
    return ids, made


def changes(generator: LocalGenerator, ids: list[int], answer: list[int]) -> tuple[int, list[float]]:
    """How many positions of the answer have another most likely token than the answer's, and by how much (in
    logits) the model preferred its own choice there."""
    import torch

    with torch.inference_mode():
        cache, logits = generator._prefill(ids)
        rows = [logits]
        for start in range(0, len(answer) - 1, STEP_ROWS):
            chunk = answer[start : start + STEP_ROWS]
            out = generator._model(input_ids=torch.tensor([chunk]), cache=cache, use_cache=True)
            rows.extend(out.logits[0])
        gaps = []
        for row, token in zip(rows, answer, strict=False):
            best = int(row.argmax())
            if best != token:
                gaps.append(float(row[best] - row[token]))
    return len(gaps), gaps


def load(settings: Settings, prepare: Callable[[Any], object] | None = None) -> LocalGenerator:
    generator = LocalGenerator(settings)
    generator._load()
    if prepare is not None:
        import torch

        with torch.inference_mode():
            prepare(generator._model)
    return generator


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--per-lang", type=int, default=10, help="questions per test set")
    parser.add_argument("--sets", nargs="+", default=["eval/report_zh.jsonl", "eval/report_en.jsonl"])
    args = parser.parse_args()
    settings = Settings.from_env(backend="local")
    bot = Bot(settings)
    prompts: list[tuple[str, Messages]] = []
    for path in args.sets:
        for case in sample(Path(path), args.per_lang):
            passages = build_passages(bot.search(case.question, lang=case.lang), case.question)
            prompts.append((case.id, answer_messages(case.question, case.lang, passages, bot.glossary)))

    from bluebot.int8 import quantize_model

    reference = load(settings.with_(int8=False))
    written = []
    for case_id, messages in prompts:
        t = time.perf_counter()
        written.append(answer_ids(reference, messages))
        print(f"{case_id}: bf16 wrote {len(written[-1][1])} tokens in {time.perf_counter() - t:.1f} s", flush=True)
    variants: dict[str, Callable[[], LocalGenerator]] = {
        "bf16 (floor)": lambda: reference,
        "int8, head in bf16": lambda: load(settings.with_(int8=False), lambda m: quantize_model(m, head=False)),
        "int8 (BLUEBOT_INT8=1)": lambda: load(settings.with_(int8=False), quantize_model),
    }
    total = sum(len(answer) for _, answer in written)
    for label, make in variants.items():
        generator = make()
        counts, gaps = [], []
        for ids, answer in written:
            count, where = changes(generator, ids, answer)
            counts.append(count)
            gaps.extend(where)
        detail = ", ".join(f"{case_id} {n}" for (case_id, _), n in zip(prompts, counts, strict=True) if n)
        gap = f"; logit gaps {', '.join(f'{g:.2f}' for g in sorted(gaps))}" if gaps else ""
        print(f"{label}: {sum(counts)} of {total} tokens changed, in {sum(map(bool, counts))} of {len(prompts)} "
              f"answers ({detail or 'none'}){gap}", flush=True)
        del generator


if __name__ == "__main__":
    main()
