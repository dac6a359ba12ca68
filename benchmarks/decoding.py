"""The local model's decoding loop against transformers' own generate, on the same answer prompts, interleaved.

    .venv/bin/python benchmarks/decoding.py [--per-lang 5] [--rounds 2]
    .venv/bin/python benchmarks/decoding.py --ab-int8 [--cpu-without FLAG,...] [--per-lang 5] [--rounds 2]
    .venv/bin/python benchmarks/decoding.py --ab-few-rows [--per-lang 5] [--rounds 2]

Each prompt (every n-th answerable question of each test set, with its retrieved passages) is decoded by
LocalGenerator.stream (system message's key/value cache reused, last-position logits only, prompt lookup) and by
`model.generate(prompt_lookup_num_tokens=10)` with a TextIteratorStreamer (what bluebot used before), the order
alternating from prompt to prompt, since this machine's speed drifts by the minute. Prints time to the first
token and to the last, p50/p95 for each, and whether the two wrote the same text.

--ab-int8 loads the model twice, with BLUEBOT_INT8=0 and =1, and decodes each prompt with both, alternating
which goes first (the other core may be busy with other work: both arms see the same moments); it prints the
time to the first token and the decoding rate (tokens after the first, per second of decoding). --cpu-without
hides CPU flags from LocalGenerator (as on a CPU without them: no avx512_bf16 means float32) while the int8 arm
still gets int8 layers; to run torch's and oneDNN's kernels as on that CPU, set ATEN_CPU_CAPABILITY,
ONEDNN_MAX_CPU_ISA and MKL_ENABLE_INSTRUCTIONS (benchmarks/results-int8-decoding.txt).

--ab-few-rows loads the int8 model once and decodes each prompt with its products of up to int8.FEW_ROWS rows
(decoding steps) through fbgemm and through oneDNN, alternating: on CPUs without VNNI or AMX only.
"""

from __future__ import annotations

import argparse
import functools
import statistics
import threading
import time
from collections.abc import Callable
from pathlib import Path
from unittest import mock

from answers import percentile, sample  # benchmarks/answers.py: the same questions, the same percentiles

from bluebot import generation, int8
from bluebot.config import Settings
from bluebot.generation import LocalGenerator, Messages, answer_messages
from bluebot.passages import build_passages
from bluebot.pipeline import Bot


def with_loop(generator: LocalGenerator, messages: Messages) -> tuple[float, float, str]:
    start, first, parts = time.perf_counter(), None, []
    for part in generator.stream(messages):
        first = first if first is not None else time.perf_counter() - start
        parts.append(part)
    return first or 0.0, time.perf_counter() - start, "".join(parts)


def with_generate(generator: LocalGenerator, messages: Messages) -> tuple[float, float, str]:
    import torch
    from transformers import TextIteratorStreamer

    tokenizer, model = generator._tokenizer, generator._model
    chat = [{"role": role, "content": content} for role, content in messages]
    start = time.perf_counter()
    inputs = tokenizer.apply_chat_template(chat, add_generation_prompt=True, return_tensors="pt", return_dict=True)
    streamer = TextIteratorStreamer(tokenizer, skip_prompt=True, skip_special_tokens=True)

    def run() -> None:
        with torch.inference_mode():
            model.generate(
                **inputs, streamer=streamer, max_new_tokens=generator.max_new_tokens, do_sample=False,
                pad_token_id=tokenizer.eos_token_id, prompt_lookup_num_tokens=10,
            )

    worker = threading.Thread(target=run)
    worker.start()
    first, parts = None, []
    for text in streamer:
        if text:
            first = first if first is not None else time.perf_counter() - start
            parts.append(text)
    worker.join()
    return first or 0.0, time.perf_counter() - start, "".join(parts)


def with_tokens(generator: LocalGenerator, messages: Messages) -> tuple[float, float, int, str]:
    """Time to the first token and to the last, and the number of tokens, through LocalGenerator's own loop."""
    import torch

    start, first, made = time.perf_counter(), None, []
    ids = generator._prompt_ids(messages)
    with torch.inference_mode():
        for step in generator._tokens(ids, generator.max_new_tokens):
            first = first if first is not None else time.perf_counter() - start
            made.extend(step)
    total = time.perf_counter() - start
    return first or 0.0, total, len(made), generator._tokenizer.decode(made, skip_special_tokens=True)


Arm = Callable[[Messages], tuple[float, float, int, str]]


def ab_int8(settings: Settings, prompts: list[tuple[str, Messages]], rounds: int, hidden: set[str]) -> None:
    """The model with BLUEBOT_INT8=0 against =1, each prompt decoded by both, the order alternating."""
    flags = generation._cpu_flags() - hidden
    arms: dict[str, Arm] = {}
    for label, on in (("int8 off", False), ("int8 on", True)):
        generator = LocalGenerator(settings.with_(int8=on))
        int8_flags = generation.INT8_FLAGS | flags if on and hidden else generation.INT8_FLAGS  # forced on
        with mock.patch.object(generation, "_cpu_flags", lambda: flags), mock.patch.object(
            generation, "INT8_FLAGS", int8_flags
        ):
            start = time.perf_counter()
            generator._load()
        kind = type(generator._model.lm_head).__name__
        print(f"{label}: loaded in {time.perf_counter() - start:.1f} s, {generator._model.dtype}, head {kind}")
        arms[label] = functools.partial(with_tokens, generator)
    interleave(arms, prompts, rounds)


def ab_few_rows(settings: Settings, prompts: list[tuple[str, Messages]], rounds: int) -> None:
    """One int8 model, its products of up to int8.FEW_ROWS rows through fbgemm (CPUs without VNNI) or not."""
    generator = LocalGenerator(settings.with_(int8=True))
    generator._load()
    if getattr(generator._model.lm_head, "few_rows", None) is None:
        raise SystemExit("no fbgemm products here: the CPU has VNNI or AMX, or torch lacks fbgemm")
    rows = int8.FEW_ROWS

    def arm(few_rows: int) -> Arm:
        def run(messages: Messages) -> tuple[float, float, int, str]:
            with mock.patch.object(int8, "FEW_ROWS", few_rows):
                return with_tokens(generator, messages)

        return run

    interleave({"oneDNN only": arm(0), f"fbgemm <= {rows} rows": arm(rows)}, prompts, rounds)


def interleave(arms: dict[str, Arm], prompts: list[tuple[str, Messages]], rounds: int) -> None:
    """Each prompt decoded by every arm, the order alternating (the other core may be busy with other work: the
    arms see the same moments); prints each run, then the first token's p50/p95 and the decoding rate per arm."""
    for run in arms.values():  # warm-up: the system messages' caches
        run(prompts[0][1])
        run(prompts[-1][1])
    results: dict[str, list[tuple[float, float, int]]] = {label: [] for label in arms}
    same = 0
    for round_ in range(rounds):
        for i, (case_id, messages) in enumerate(prompts):
            order = list(arms) if (i + round_) % 2 == 0 else list(reversed(arms))
            texts = {}
            for label in order:
                first, total, tokens, texts[label] = arms[label](messages)
                results[label].append((first, total, tokens))
                rate = (tokens - 1) / (total - first) if tokens > 1 else 0.0
                print(f"{case_id} {label}: first {first:5.2f} s  total {total:5.2f} s  {tokens:3d} tokens  "
                      f"decoding {rate:4.1f} tokens/s", flush=True)
            same += len(set(texts.values())) == 1
            if len(set(texts.values())) > 1:
                for label, text in texts.items():
                    print(f"    {label}: {text!r}")
    print(f"\n{len(prompts)} prompts x {rounds} rounds; the arms wrote the same text {same} times of "
          f"{len(prompts) * rounds}")
    for label, runs in results.items():
        firsts = [first for first, _, _ in runs]
        decoded = sum(tokens - 1 for _, _, tokens in runs)
        seconds = sum(total - first for first, total, _ in runs)
        print(f"{label:8s} first token p50 {statistics.median(firsts):5.2f} s p95 {percentile(firsts, 0.95):5.2f} s"
              f"   decoding {decoded / seconds:5.2f} tokens/s ({decoded} tokens after the first in {seconds:.1f} s)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--per-lang", type=int, default=5, help="questions per test set")
    parser.add_argument("--rounds", type=int, default=2, help="times each prompt is decoded by each arm")
    parser.add_argument("--sets", nargs="+", default=["eval/report_zh.jsonl", "eval/report_en.jsonl"])
    parser.add_argument("--ab-int8", action="store_true", help="BLUEBOT_INT8=0 against =1 instead")
    parser.add_argument("--ab-few-rows", action="store_true", help="int8 products of few rows: fbgemm against oneDNN")
    parser.add_argument("--cpu-without", default="", help="with --ab-int8: CPU flags hidden, comma-separated")
    args = parser.parse_args()
    bot = Bot(Settings.from_env(backend="local"))
    prompts: list[tuple[str, Messages]] = []
    for path in args.sets:
        for case in sample(Path(path), args.per_lang):
            passages = build_passages(bot.search(case.question, lang=case.lang), case.question)
            prompts.append((case.id, answer_messages(case.question, case.lang, passages, bot.glossary)))
    if args.ab_int8:
        ab_int8(bot.settings, prompts, args.rounds, {f for f in args.cpu_without.split(",") if f})
        return
    if args.ab_few_rows:
        ab_few_rows(bot.settings, prompts, args.rounds)
        return
    generator = bot.generator("local")
    assert isinstance(generator, LocalGenerator), "the local backend is not a LocalGenerator"
    with_loop(generator, prompts[0][1])  # warm-up: model load, and the system messages' caches
    with_loop(generator, prompts[-1][1])
    arms = {"loop": with_loop, "generate": with_generate}
    times: dict[str, tuple[list[float], list[float]]] = {arm: ([], []) for arm in arms}
    same = 0
    for round_ in range(args.rounds):
        for i, (case_id, messages) in enumerate(prompts):
            order = list(arms) if (i + round_) % 2 == 0 else list(reversed(arms))
            texts = {}
            for arm in order:
                first, total, texts[arm] = arms[arm](generator, messages)
                times[arm][0].append(first)
                times[arm][1].append(total)
                print(f"{case_id} {arm:8s} first {first:5.2f} s  total {total:5.2f} s", flush=True)
            same += texts["loop"] == texts["generate"]
    runs = len(prompts) * args.rounds
    print(f"\n{len(prompts)} prompts x {args.rounds} rounds; the two wrote the same text {same} times of {runs}")
    for arm, (first, total) in times.items():
        print(f"{arm:8s} first token p50 {statistics.median(first):5.2f} s p95 {percentile(first, 0.95):5.2f} s   "
              f"full p50 {statistics.median(total):5.2f} s p95 {percentile(total, 0.95):5.2f} s")


if __name__ == "__main__":
    main()
