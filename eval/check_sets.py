#!/usr/bin/env python3
"""Validate the hand-checked question sets: the dev split (eval/report_zh.jsonl, eval/report_en.jsonl)
and the locked test split (eval/test_zh.jsonl, eval/test_en.jsonl), which nobody tunes on.

Checks (see /work/shared/EVAL_FORMAT.md for the format), for both splits:
  - every line is a JSON object with the required fields and types; ids unique across files;
    lang is "zh"/"en" and matches the file; history only on follow-ups, well formed;
  - answerable cases have keywords and evidence; unanswerable ones have neither;
  - every evidence string occurs in the report (after removing ** and all white space, ignoring case);
  - every keyword is satisfied by the case's own reference answer and no forbid string occurs in it;
  - Chinese answerable cases: every keyword holding a digit has an alternative found in the report
    (skipped for English, where units are converted);
  - minimum counts per language and category, and per language and in all, for each split;
  - ids unique across all four files (dev ids zh-/en-, test ids tzh-/ten-);
  - no test question repeats a dev question word for word (ignoring case, white space and punctuation).
Prints a summary and exits non-zero on any problem. Standard library only.
"""
from __future__ import annotations

import json
import re
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
REPORT = ROOT / "corpus" / "2024-china-ai-industry-investment-blue-book.txt"
FILES = {"zh": ROOT / "eval" / "report_zh.jsonl", "en": ROOT / "eval" / "report_en.jsonl"}
TEST_FILES = {"zh": ROOT / "eval" / "test_zh.jsonl", "en": ROOT / "eval" / "test_en.jsonl"}

REQUIRED = {
    "id": str, "question": str, "answer": str, "keywords": list, "forbid": list,
    "evidence": list, "answerable": bool, "lang": str, "category": str,
}
OPTIONAL = {"history": list}
MINIMUMS = {  # per language
    "number": 18, "table": 6, "list": 5, "policy/date": 5,
    "multi-hop": 4, "follow-up": 4, "unanswerable": 11,
}
MIN_TOTAL = 130
TEST_MINIMUMS = {  # per language, for the locked test split
    "number": 9, "table": 4, "list": 3, "policy/date": 3,
    "multi-hop": 3, "follow-up": 3, "fact": 2, "unanswerable": 7,
}
TEST_MIN_PER_LANG = 32
TEST_MIN_TOTAL = 64

SPLITS = [  # name, files, id prefix per language, minimums per language, minimum per language, minimum in all
    ("dev", FILES, {"zh": "zh-", "en": "en-"}, MINIMUMS, 0, MIN_TOTAL),
    ("test", TEST_FILES, {"zh": "tzh-", "en": "ten-"}, TEST_MINIMUMS, TEST_MIN_PER_LANG, TEST_MIN_TOTAL),
]
CJK = re.compile(r"[\u3400-\u9fff]")
BARE_NUMBER = re.compile(r"^\d[\d,]*(\.\d+)?$")
WS = re.compile(r"\s+")


def squash(text: str) -> str:
    """Report-style normalisation: drop ** marks and all white space, ignore case."""
    return WS.sub("", text.replace("**", "")).lower()


def alt_matches(alt: str, text: str) -> bool:
    """Does one keyword alternative occur in text? A bare number must match as a whole number."""
    alt = alt.strip()
    if BARE_NUMBER.match(alt):
        plain = text.replace("**", "")
        pattern = r"(?<!\d)(?<!\d[.,])" + re.escape(alt) + r"(?!\d)(?![.,]\d)"
        return re.search(pattern, plain) is not None
    return squash(alt) in squash(text)


def keyword_matches(keyword: str, text: str) -> bool:
    return any(alt_matches(a, text) for a in keyword.split("|") if a.strip())


def question_key(text: str) -> str:
    """A question reduced to its letters and digits, lower case: for spotting repeated questions."""
    return "".join(ch for ch in text.lower() if ch.isalnum())


def check_case(obj, where: str, lang: str, report_sq: str, report_raw: str, problems: list[str],
               prefix: str | None = None) -> None:
    def bad(msg: str) -> None:
        problems.append(f"{where}: {msg}")

    if not isinstance(obj, dict):
        bad("not a JSON object")
        return
    for key, typ in REQUIRED.items():
        if key not in obj:
            bad(f"missing field {key!r}")
        elif not isinstance(obj[key], typ):
            bad(f"field {key!r} should be {typ.__name__}")
    unknown = set(obj) - set(REQUIRED) - set(OPTIONAL)
    if unknown:
        bad(f"unknown fields {sorted(unknown)}")
    if any(k not in obj or not isinstance(obj[k], t) for k, t in REQUIRED.items()):
        return

    for key in ("id", "question", "answer", "category"):
        if not obj[key].strip():
            bad(f"empty {key!r}")
    for key in ("keywords", "forbid", "evidence"):
        for item in obj[key]:
            if not isinstance(item, str) or not item.strip():
                bad(f"{key!r} holds an empty or non-string item: {item!r}")
        if key == "keywords":
            for item in obj[key]:
                if isinstance(item, str) and any(not a.strip() for a in item.split("|")):
                    bad(f"keyword {item!r} has an empty alternative")
    if any(not isinstance(x, str) for k in ("keywords", "forbid", "evidence") for x in obj[k]):
        return

    if obj["lang"] not in ("zh", "en"):
        bad(f"lang {obj['lang']!r} is not zh/en")
    elif obj["lang"] != lang:
        bad(f"lang {obj['lang']!r} in the {lang} file")
    prefix = prefix or f"{lang}-"
    if not obj["id"].startswith(prefix):
        bad(f"id {obj['id']!r} should start with {prefix}")
    has_cjk = bool(CJK.search(obj["question"]))
    if lang == "zh" and not has_cjk:
        bad("Chinese question without Chinese characters")
    if lang == "en" and has_cjk:
        bad("English question contains Chinese characters")

    # history: only (and always) on follow-ups
    if obj["category"] == "follow-up":
        hist = obj.get("history")
        if not isinstance(hist, list) or not hist:
            bad("follow-up without a non-empty history list")
        else:
            for i, turn in enumerate(hist):
                if (not isinstance(turn, dict) or set(turn) != {"role", "content"}
                        or turn["role"] not in ("user", "assistant")
                        or not isinstance(turn["content"], str) or not turn["content"].strip()):
                    bad(f"history[{i}] is not a {{role, content}} turn: {turn!r}")
                    break
                expected = "user" if i % 2 == 0 else "assistant"
                if turn["role"] != expected:
                    bad(f"history[{i}] role {turn['role']!r}, expected {expected!r} (turns alternate, user first)")
                    break
            else:
                if hist[-1]["role"] != "assistant":
                    bad("history should end with an assistant turn")
    elif "history" in obj:
        bad("history on a case that is not a follow-up")

    if obj["answerable"]:
        if obj["category"] == "unanswerable":
            bad("category unanswerable but answerable is true")
        if not obj["keywords"]:
            bad("answerable case without keywords")
        if not obj["evidence"]:
            bad("answerable case without evidence")
    else:
        if obj["category"] != "unanswerable":
            bad("answerable is false but category is not unanswerable")
        if obj["keywords"]:
            bad("unanswerable case with keywords")
        if obj["evidence"]:
            bad("unanswerable case with evidence")

    for ev in obj["evidence"]:
        if squash(ev) not in report_sq:
            bad(f"evidence not found in the report: {ev!r}")

    for kw in obj["keywords"]:
        if not keyword_matches(kw, obj["answer"]):
            bad(f"reference answer does not satisfy keyword {kw!r}")
        if lang == "zh" and obj["answerable"] and re.search(r"\d", kw) and not keyword_matches(kw, report_raw):
            bad(f"number keyword {kw!r}: no alternative occurs in the report")
    for fb in obj["forbid"]:
        if squash(fb) in squash(obj["answer"]):
            bad(f"reference answer contains forbidden text {fb!r}")


def check_split(name, files, prefixes, minimums, min_per_lang, min_total, report_sq, report_raw,
                seen_ids, problems) -> dict[str, set[str]]:
    """Check one split's files; print its summary; return its question keys per language."""
    counts: Counter[tuple[str, str]] = Counter()
    totals: Counter[str] = Counter()
    questions: dict[str, set[str]] = {lang: set() for lang in files}

    for lang, path in files.items():
        if not path.exists():
            problems.append(f"{path}: missing")
            continue
        for lineno, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if not line.strip():
                continue
            where = f"{path.name}:{lineno}"
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as exc:
                problems.append(f"{where}: malformed JSON ({exc})")
                continue
            check_case(obj, where, lang, report_sq, report_raw, problems, prefixes[lang])
            if isinstance(obj, dict):
                cid = obj.get("id")
                if isinstance(cid, str):
                    if cid in seen_ids:
                        problems.append(f"{where}: duplicate id {cid!r} (first in {seen_ids[cid]})")
                    else:
                        seen_ids[cid] = where
                if isinstance(obj.get("question"), str):
                    questions[lang].add(question_key(obj["question"]))
                counts[(lang, str(obj.get("category")))] += 1
                totals[lang] += 1

    for lang in files:
        for cat, minimum in minimums.items():
            if counts[(lang, cat)] < minimum:
                problems.append(f"{name} {lang}: only {counts[(lang, cat)]} {cat!r} cases, need >= {minimum}")
        if totals[lang] < min_per_lang:
            problems.append(f"{name} {lang}: only {totals[lang]} cases, need >= {min_per_lang}")
    total = sum(totals.values())
    if total < min_total:
        problems.append(f"{name}: only {total} cases in total, need >= {min_total}")

    order = list(minimums)
    cats = sorted({c for _, c in counts}, key=lambda c: (c not in minimums, order.index(c) if c in minimums else 0, c))
    print(f"[{name}]")
    print(f"{'category':<14}" + "".join(f"{lang:>6}" for lang in files) + f"{'all':>6}")
    for cat in cats:
        row = [counts[(lang, cat)] for lang in files]
        print(f"{cat:<14}" + "".join(f"{n:>6}" for n in row) + f"{sum(row):>6}")
    print(f"{'total':<14}" + "".join(f"{totals[lang]:>6}" for lang in files) + f"{total:>6}")
    print()
    return questions


def main() -> int:
    problems: list[str] = []
    report_raw = REPORT.read_text(encoding="utf-8")
    report_sq = squash(report_raw)
    seen_ids: dict[str, str] = {}  # across all four files
    questions: dict[str, dict[str, set[str]]] = {}

    for name, files, prefixes, minimums, min_per_lang, min_total in SPLITS:
        questions[name] = check_split(name, files, prefixes, minimums, min_per_lang, min_total,
                                      report_sq, report_raw, seen_ids, problems)

    dev_questions = set().union(*questions["dev"].values())
    for lang, keys in questions["test"].items():
        for key in sorted(keys & dev_questions):
            problems.append(f"test {lang}: a test question repeats a dev question: {key!r}")

    if problems:
        print(f"{len(problems)} problem(s):")
        for p in problems:
            print("  " + p)
        return 1
    print("OK: all checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
