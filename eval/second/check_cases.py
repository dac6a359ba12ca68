#!/usr/bin/env python3
"""Validate eval/second/cases.jsonl against the converted second collection.

Usage:
    python3 eval/second/check_cases.py [CORPUS_DIR]

CORPUS_DIR defaults to data/second/corpus/ (built by eval/second/fetch.py).

Checks:
  - every line is a JSON object with the required fields and types; ids "s-NNN", unique;
  - lang is "zh"/"en" and agrees with the question's script; category is a known one;
  - history only (and always) on follow-ups: alternating user/assistant turns ending with the assistant;
  - answerable cases have keywords and evidence; unanswerable ones have neither and the fixed answer;
  - every evidence string occurs in a document of the collection (white space removed, case ignored);
  - every keyword is satisfied by the case's own reference answer (a bare number only as a whole
    number), at least one of its alternatives occurs in the collection, and no forbid string is in
    the answer;
  - unanswerable cases: the tell-tale strings listed in ABSENT below occur nowhere in the collection;
  - minimum counts: answerable, unanswerable, follow-up, cross-language (a question whose evidence is
    only in documents of the other language; document language = the file name's "zh-"/"en-" prefix).
Prints a summary and exits non-zero on any problem. Standard library only.
"""

from __future__ import annotations

import hashlib
import json
import re
import sys
from collections import Counter
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO_ROOT = HERE.parents[1]
CASES = HERE / "cases.jsonl"
DEFAULT_CORPUS = REPO_ROOT / "data" / "second" / "corpus"

REQUIRED = {
    "id": str,
    "question": str,
    "answer": str,
    "keywords": list,
    "forbid": list,
    "evidence": list,
    "answerable": bool,
    "lang": str,
    "category": str,
}
OPTIONAL = {"history": list}
CATEGORIES = {"number", "list", "fact", "procedure", "multi-hop", "unanswerable", "follow-up"}
NO_ANSWER = {"zh": "报告中没有找到相关信息。", "en": "The report does not say."}
MINIMUMS = {"answerable": 60, "unanswerable": 12, "cross-language": 8, "follow-up": 4}
MAX_FOLLOW_UPS = 6

# Strings whose absence from the whole collection shows that an unanswerable case stays unanswerable
# (each is the detail the question asks for, or the setting it names).
ABSENT = {
    "GRUB 启动菜单默认等待几秒": ["GRUB_TIMEOUT", "timeout"],
    "fail2ban 默认在认证失败多少次": ["maxretry", "bantime", "findtime"],
    "systemd 是哪一年由谁开发": ["Poettering", "Lennart", "2010"],
    "smtp_tls_security_level": ["smtp_tls_security_level", "tls_security"],
    "nmcli": ["nmcli", "Wi-Fi", "wifi"],
    "PermitRootLogin": ["PermitRootLogin"],
    "shorewall 的主配置文件": ["/etc/shorewall", "shorewall.conf"],
    "CUPS 网页管理界面默认的管理员": ["lpadmin 组", "admin 用户", "cupsd.conf"],
    "What compression level does xz": ["xz -6", "xz -9", "compression level", "preset"],
    "restic keep old snapshots": ["restic forget", "retention", "keep-last", "--keep"],
    "hkp keyserver protocol use": ["11371"],
    "maximum file size on an NTFS": ["16TiB", "16 TiB", "16EiB", "256TiB"],
    "first to ship fcitx5": ["fcitx5 since", "first shipped", "fcitx5 was"],
    "sign a Git commit": ["commit -S", "gpgsign", "signingkey", "--gpg-sign"],
    "Git version introduced the init.defaultBranch": ["2.28", "git 2."],
}

CJK = re.compile(r"[\u3400-\u9fff]")
BARE_NUMBER = re.compile(r"^\d[\d,]*(\.\d+)?$")
WS = re.compile(r"\s+")


def squash(text: str) -> str:
    """Normalisation used for matching: drop ** marks and all white space, ignore case."""
    return WS.sub("", text.replace("**", "")).lower()


def alt_matches(alt: str, text: str) -> bool:
    alt = alt.strip()
    if BARE_NUMBER.match(alt):
        plain = text.replace("**", "")
        pattern = r"(?<!\d)(?<!\d[.,])" + re.escape(alt) + r"(?!\d)(?![.,]\d)"
        return re.search(pattern, plain) is not None
    return squash(alt) in squash(text)


def keyword_matches(keyword: str, text: str) -> bool:
    return any(alt_matches(a, text) for a in keyword.split("|") if a.strip())


def load_corpus(folder: Path) -> dict[str, str]:
    docs = {}
    for path in sorted(folder.glob("*")):
        if path.suffix in (".md", ".txt") and path.is_file():
            docs[path.name] = path.read_text(encoding="utf-8")
    return docs


def expected_files() -> list[tuple[str, str | None]]:
    """(file name, reference SHA-256) from fetch.py, so the two scripts cannot drift apart."""
    sys.path.insert(0, str(HERE))
    try:
        import fetch  # noqa: PLC0415
    finally:
        sys.path.pop(0)
    return [(d[2], d[3]) for d in fetch.DOCUMENTS]


def check_case(obj, where: str, docs_sq: dict[str, str], corpus_raw: str, problems: list[str]) -> set[str]:
    """Check one case; return the set of document languages holding its evidence."""

    def bad(msg: str) -> None:
        problems.append(f"{where}: {msg}")

    if not isinstance(obj, dict):
        bad("not a JSON object")
        return set()
    for key, typ in REQUIRED.items():
        if key not in obj:
            bad(f"missing field {key!r}")
        elif not isinstance(obj[key], typ):
            bad(f"field {key!r} should be {typ.__name__}")
    unknown = set(obj) - set(REQUIRED) - set(OPTIONAL)
    if unknown:
        bad(f"unknown fields {sorted(unknown)}")
    if any(k not in obj or not isinstance(obj[k], t) for k, t in REQUIRED.items()):
        return set()
    for key in ("id", "question", "answer", "category"):
        if not obj[key].strip():
            bad(f"empty {key!r}")
    for key in ("keywords", "forbid", "evidence"):
        for item in obj[key]:
            if not isinstance(item, str) or not item.strip():
                bad(f"{key!r} holds an empty or non-string item: {item!r}")
                return set()
    for kw in obj["keywords"]:
        if any(not a.strip() for a in kw.split("|")):
            bad(f"keyword {kw!r} has an empty alternative")

    if not re.fullmatch(r"s-\d{3}", obj["id"]):
        bad(f"id {obj['id']!r} is not of the form s-NNN")
    lang = obj["lang"]
    if lang not in ("zh", "en"):
        bad(f"lang {lang!r} is not zh/en")
    elif (lang == "zh") != bool(CJK.search(obj["question"])):
        bad(f"lang {lang!r} does not match the question's script")
    if obj["category"] not in CATEGORIES:
        bad(f"unknown category {obj['category']!r}")

    if obj["category"] == "follow-up":
        hist = obj.get("history")
        if not isinstance(hist, list) or not hist:
            bad("follow-up without a non-empty history list")
        else:
            for i, turn in enumerate(hist):
                if (
                    not isinstance(turn, dict)
                    or set(turn) != {"role", "content"}
                    or turn["role"] not in ("user", "assistant")
                    or not isinstance(turn["content"], str)
                    or not turn["content"].strip()
                ):
                    bad(f"history[{i}] is not a {{role, content}} turn: {turn!r}")
                    break
                expected = "user" if i % 2 == 0 else "assistant"
                if turn["role"] != expected:
                    bad(f"history[{i}] role {turn['role']!r}, expected {expected!r}")
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
        if obj["keywords"] or obj["evidence"]:
            bad("unanswerable case with keywords or evidence")
        if lang in NO_ANSWER and obj["answer"] != NO_ANSWER[lang]:
            bad(f"unanswerable case should answer {NO_ANSWER[lang]!r}")
        marks = [v for k, v in ABSENT.items() if k in obj["question"]]
        if not marks:
            bad("unanswerable case without an ABSENT entry in check_cases.py")
        corpus_sq = squash(corpus_raw)
        for mark in (m for ms in marks for m in ms):
            if squash(mark) in corpus_sq:
                bad(f"unanswerable, yet {mark!r} occurs in the collection")

    ev_langs: set[str] = set()
    for ev in obj["evidence"]:
        hits = [name for name, text in docs_sq.items() if squash(ev) in text]
        if not hits:
            bad(f"evidence not found in the collection: {ev!r}")
        ev_langs.update(name[:2] for name in hits)

    for kw in obj["keywords"]:
        if not keyword_matches(kw, obj["answer"]):
            bad(f"reference answer does not satisfy keyword {kw!r}")
        if not keyword_matches(kw, corpus_raw):
            bad(f"no alternative of keyword {kw!r} occurs in the collection")
    for fb in obj["forbid"]:
        if squash(fb) in squash(obj["answer"]):
            bad(f"reference answer contains forbidden text {fb!r}")
    return ev_langs


def main(argv: list[str]) -> int:
    corpus_dir = Path(argv[1]) if len(argv) > 1 else DEFAULT_CORPUS
    problems: list[str] = []
    if not corpus_dir.is_dir():
        print(f"error: {corpus_dir} is not a folder; build it with: python3 eval/second/fetch.py", file=sys.stderr)
        return 1
    docs = load_corpus(corpus_dir)

    for name, digest in expected_files():
        if name not in docs:
            problems.append(f"{corpus_dir}: missing {name} (run eval/second/fetch.py)")
        elif digest and hashlib.sha256(docs[name].encode("utf-8")).hexdigest() != digest:
            print(f"warning: {name} differs from the reference build", file=sys.stderr)
    docs_sq = {name: squash(text) for name, text in docs.items()}
    corpus_raw = "\n".join(docs.values())

    seen: dict[str, str] = {}
    counts: Counter[tuple[str, str]] = Counter()
    totals: Counter[str] = Counter()
    cross: list[str] = []
    lines = CASES.read_text(encoding="utf-8").splitlines()
    for lineno, line in enumerate(lines, 1):
        if not line.strip():
            continue
        where = f"{CASES.name}:{lineno}"
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            problems.append(f"{where}: malformed JSON ({exc})")
            continue
        ev_langs = check_case(obj, where, docs_sq, corpus_raw, problems)
        if not isinstance(obj, dict):
            continue
        cid = obj.get("id")
        if isinstance(cid, str):
            if cid in seen:
                problems.append(f"{where}: duplicate id {cid!r} (first in {seen[cid]})")
            seen[cid] = where
        lang, cat = str(obj.get("lang")), str(obj.get("category"))
        counts[(lang, cat)] += 1
        totals["answerable" if obj.get("answerable") else "unanswerable"] += 1
        totals[lang] += 1
        if obj.get("answerable") and ev_langs and lang not in ev_langs:
            cross.append(f"{cid} ({lang} question, {'/'.join(sorted(ev_langs))} documents)")
    totals["cross-language"] = len(cross)
    totals["follow-up"] = counts[("zh", "follow-up")] + counts[("en", "follow-up")]

    for key, minimum in MINIMUMS.items():
        if totals[key] < minimum:
            problems.append(f"only {totals[key]} {key} cases, need >= {minimum}")
    if totals["follow-up"] > MAX_FOLLOW_UPS:
        problems.append(f"{totals['follow-up']} follow-up cases, at most {MAX_FOLLOW_UPS} wanted")

    sizes = {lg: sum(len(t) for n, t in docs.items() if n.startswith(lg + "-")) for lg in ("zh", "en")}
    print(f"collection: {corpus_dir} ({len(docs)} files: zh {sizes['zh']} chars, en {sizes['en']} chars)")
    print(f"{'category':<14}{'zh':>5}{'en':>5}{'all':>6}")
    for cat in sorted(CATEGORIES):
        row = [counts[("zh", cat)], counts[("en", cat)]]
        print(f"{cat:<14}{row[0]:>5}{row[1]:>5}{sum(row):>6}")
    print(f"{'total':<14}{totals['zh']:>5}{totals['en']:>5}{totals['zh'] + totals['en']:>6}")
    print(
        f"answerable {totals['answerable']}, unanswerable {totals['unanswerable']}, "
        f"cross-language {len(cross)}: {', '.join(c.split(' ')[0] for c in cross)}"
    )
    if problems:
        print(f"\n{len(problems)} problem(s):", file=sys.stderr)
        for p in problems:
            print(f"  {p}", file=sys.stderr)
        return 1
    print("OK")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
