"""llama.cpp's prompt pass and decoding on bluebot's own answer prompts, through the prebuilt xllamacpp wheel.

    .venv/bin/pip install xllamacpp      # not a bluebot dependency: only this benchmark uses it
    .venv/bin/python benchmarks/llamacpp.py [--per-lang 8] [--threads 2]

Builds the Chinese answer prompt bluebot would send for the first answerable questions of each dev set (the
retrieved passages, best last for Chinese questions), then asks llama.cpp for a greedy answer to each and prints
its prompt tokens, time to the first token and whole time. The GGUF is the verified one `bluebot setup` keeps
beside the models. Compare with the prompt pass of the default runtime in BENCHMARKS.md (transformers, bf16).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from bluebot.config import Settings
from bluebot.evaluation import load_cases
from bluebot.models import LLM_MIRRORS
from bluebot.passages import build_passages
from bluebot.pipeline import Bot
from bluebot.report import machine

SETS = [Path("eval/report_zh.jsonl"), Path("eval/report_en.jsonl")]


def prompts(bot: Bot, per_lang: int) -> list[tuple[str, list[tuple[str, str]]]]:
    out = []
    for path in SETS:
        cases = [c for c in load_cases(path) if c.answerable and not c.history][:per_lang]
        for case in cases:
            hits = bot.search(case.question, lang=case.lang)
            passages = build_passages(hits, case.question)
            out.append((case.id, bot.messages(case.question, case.lang, passages)))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-lang", type=int, default=8)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    try:
        import xllamacpp as xlc
    except ImportError:
        raise SystemExit("xllamacpp is not installed: run .venv/bin/pip install xllamacpp") from None
    settings = Settings.from_env()
    gguf = settings.models_dir / LLM_MIRRORS["1.5b"].gguf_name
    if not gguf.is_file():
        raise SystemExit(f"no GGUF at {gguf}: run .venv/bin/bluebot setup")
    bot = Bot(settings)
    todo = prompts(bot, args.per_lang)

    params = xlc.CommonParams()
    params.model.path = str(gguf)
    params.n_ctx = 4096
    params.cpuparams.n_threads = args.threads
    params.cpuparams_batch.n_threads = args.threads
    params.sampling.temp = 0.0
    params.sampling.top_k = 1
    start = time.perf_counter()
    server = xlc.Server(params)
    print(f"{machine()}; xllamacpp {xlc.__version__}: {xlc.get_system_info().strip()}")
    print(f"load {time.perf_counter() - start:.2f} s")
    firsts, totals = [], []
    for case_id, messages in todo:
        request = {
            "messages": [{"role": role, "content": content} for role, content in messages],
            "max_tokens": 160,
            "temperature": 0,
            "stream": True,
            "cache_prompt": False,
        }
        first: list[float] = []
        text: list[str] = []
        tokens: list[int] = []
        start = time.perf_counter()

        def chunk(payload: str | dict, first=first, text=text, tokens=tokens, start=start) -> None:
            data = json.loads(payload) if isinstance(payload, str) else payload
            if not isinstance(data, dict):
                return
            for choice in data.get("choices", []):
                if delta := choice.get("delta", {}).get("content"):
                    if not first:
                        first.append(time.perf_counter() - start)
                    text.append(delta)
            if timings := data.get("timings"):  # llama.cpp's own count of the prompt tokens it evaluated
                tokens.append(timings.get("prompt_n", 0))

        server.handle_chat_completions(json.dumps(request), chunk)
        total = time.perf_counter() - start
        firsts.append(first[0] if first else total)
        totals.append(total)
        prompt_tokens = tokens[-1] if tokens else "?"
        answer = "".join(text)
        print(f"{case_id}: {prompt_tokens} prompt tokens, first {firsts[-1]:.2f} s, whole {total:.2f} s: {answer!r}")
    firsts.sort()
    totals.sort()
    print(f"p50 first token {firsts[len(firsts) // 2]:.2f} s, whole answer {totals[len(totals) // 2]:.2f} s")


if __name__ == "__main__":
    main()
