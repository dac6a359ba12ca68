"""How much report text the model must read to have the evidence: for each prompt budget (characters of report
text in all passages, and per passage), how many answerable test questions still have a piece of their evidence
in the passages the model sees, and how long the passages are on average. Retrieval only, no model.

    .venv/bin/python benchmarks/prompt_budget.py [--sets eval/report_zh.jsonl eval/report_en.jsonl]

Follow-up questions are left out (their retrieval depends on the rewrite). Uses the index of the settings
(BLUEBOT_INDEX_DIR); run `bluebot ingest` first.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from bluebot import passages
from bluebot.config import Settings
from bluebot.evaluation import load_cases
from bluebot.pipeline import Bot
from bluebot.text import normalize_for_match

TOTALS = (1400, 1200, 1100, 1000, 900, 800)
PER_PASSAGE = (360, 320, 280)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sets = [Path("eval/report_zh.jsonl"), Path("eval/report_en.jsonl")]
    parser.add_argument("--sets", nargs="+", type=Path, default=sets)
    args = parser.parse_args()
    bot = Bot(Settings.from_env())
    cases = [c for path in args.sets for c in load_cases(path) if c.answerable and not c.history and c.evidence]
    hits = {c.id: bot.search(c.question, lang=c.lang) for c in cases}
    default = (passages.TOTAL_CHARS, passages.PASSAGE_CHARS)
    print(f"{len(cases)} answerable questions with evidence; default budget {default[0]} / {default[1]}")
    print(f"{'total':>6} {'per':>5} {'evidence kept':>14} {'avg chars':>10}  questions losing it")
    for total in TOTALS:
        for per in PER_PASSAGE:
            lost, size = [], 0
            for case in cases:
                built = passages.build_passages(hits[case.id], case.question, total, per)
                shown = normalize_for_match("\n".join(p.text for p in built))
                size += sum(len(p.text) for p in built)
                if not any(normalize_for_match(e) in shown for e in case.evidence):
                    lost.append(case.id)
            kept = f"{len(cases) - len(lost)}/{len(cases)}"
            print(f"{total:>6} {per:>5} {kept:>14} {size // len(cases):>10}  {' '.join(lost)}")


if __name__ == "__main__":
    main()
