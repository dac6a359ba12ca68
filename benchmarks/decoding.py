"""The local model's decoding loop against transformers' own generate, on the same answer prompts, interleaved.

    .venv/bin/python benchmarks/decoding.py [--per-lang 5] [--rounds 2]

Each prompt (every n-th answerable question of each test set, with its retrieved passages) is decoded by
LocalGenerator.stream (system message's key/value cache reused, last-position logits only, prompt lookup) and by
`model.generate(prompt_lookup_num_tokens=10)` with a TextIteratorStreamer (what bluebot used before), the order
alternating from prompt to prompt, since this machine's speed drifts by the minute. Prints time to the first
token and to the last, p50/p95 for each, and whether the two wrote the same text.
"""

from __future__ import annotations

import argparse
import statistics
import threading
import time
from pathlib import Path

from answers import percentile, sample  # benchmarks/answers.py: the same questions, the same percentiles

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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--per-lang", type=int, default=5, help="questions per test set")
    parser.add_argument("--rounds", type=int, default=2, help="times each prompt is decoded by each arm")
    parser.add_argument("--sets", nargs="+", default=["eval/report_zh.jsonl", "eval/report_en.jsonl"])
    args = parser.parse_args()
    bot = Bot(Settings.from_env(backend="local"))
    generator = bot.generator("local")
    assert isinstance(generator, LocalGenerator), "the local backend is not a LocalGenerator"
    prompts: list[tuple[str, Messages]] = []
    for path in args.sets:
        for case in sample(Path(path), args.per_lang):
            passages = build_passages(bot.search(case.question, lang=case.lang), case.question)
            prompts.append((case.id, answer_messages(case.question, case.lang, passages, bot.glossary)))
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
