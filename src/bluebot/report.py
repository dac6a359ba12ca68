"""What an evaluation run shows people: the Markdown report with its tables and failed cases, the accuracy chart,
and the comparison of two runs. The numbers all come from evaluation.metrics over (case, results line) pairs."""

from __future__ import annotations

import json
import os
import platform
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

from bluebot import __version__
from bluebot.evaluation import (
    NO_CATEGORY,
    Breakdown,
    CaseRun,
    Metrics,
    Pair,
    breakdown,
    check_rows,
    forbidden_found,
    missing_keywords,
    pair_results,
    record_correct,
    record_failed,
    stage_times,
)
from bluebot.judge import JudgeScore
from bluebot.types import EvalCase

DEFINITIONS = """\
- **Answer accuracy**: every keyword present (one of its `|` alternatives), no forbidden text; an unanswerable \
case is correct only when the bot declined. A failed case counts as wrong.
- **hit@k, MRR**: rank of the first retrieved passage holding the case's evidence (answerable cases with \
evidence); MRR averages 1/rank, 0 when no passage holds it.
- **Citation precision**: of the passages the answers cite, the share that hold the evidence (answerable cases \
with evidence, counted over passages).
- **Citation recall**: of the retrieved passages that hold the evidence, the share the answer cites (same cases, \
counted over passages). A declined answerable case cites nothing and lowers it.
- **Grounded numbers**: of the numbers in the answers, the share found in a cited passage after unit \
normalisation (420亿元 = 42 billion yuan); years, counts up to 10 and numbers the question itself states \
are not checked. Declines are not counted.
- **Refusal precision**: of the declines, the share on unanswerable cases. **Refusal recall**: of the \
unanswerable cases, the share declined.
- **Latency p50/p95**: nearest-rank percentiles of the time to the checked answer.
- Failed cases (the run raised) count as wrong answers and as not declined; they are left out of the \
retrieval, citation, number and latency metrics. A dash means the group has no case to measure."""


# ---------------------------------------------------------------- run details


def machine() -> str:
    """The CPU, its cores and the OS, so a results table says what it was measured on."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    system = f"{platform.system()} {platform.release()}"
    return f"{cpu}, {os.cpu_count()} cores, {system}, Python {platform.python_version()}"


@dataclass(frozen=True)
class RunInfo:
    date: str
    backend: str  # the backend asked for
    answered_by: dict[str, int]  # the backends that actually answered (fallbacks show here), with counts
    embed_model: str
    llm_model: str
    machine: str
    test_sets: tuple[str, ...]
    version: str = __version__
    judge: str = ""


def run_info(
    backend: str,
    embed_model: str,
    llm_model: str,
    test_sets: Iterable[str],
    records: Iterable[dict[str, Any]],
    judge: str = "",
) -> RunInfo:
    answered: dict[str, int] = {}
    for record in records:
        if not record_failed(record):
            answered[record["backend"]] = answered.get(record["backend"], 0) + 1
    date = datetime.now().astimezone().isoformat(timespec="seconds")
    return RunInfo(date, backend, answered, embed_model, llm_model, machine(), tuple(test_sets), judge=judge)


# ---------------------------------------------------------------- formatting


def _num(value: float | None) -> str:
    return "–" if value is None else f"{value:.3f}"


def _ratio(value: float | None, part: int, whole: int) -> str:
    return "–" if value is None else f"{value:.3f} ({part}/{whole})"


def _ms(value: int | None) -> str:
    return "–" if value is None else f"{value:,}"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def _quote(text: str) -> str:
    # the report's tables are tab-separated; a leading tab would turn a quoted row into a code block
    lines = [" | ".join(c.strip() for c in line.split("\t") if c.strip()) for line in text.strip().splitlines()]
    return "\n".join("> " + line if line else ">" for line in lines) or ">"


# (label, cell) for the summary table's rows
SUMMARY_ROWS: list[tuple[str, Callable[[Metrics], str]]] = [
    ("cases", lambda m: str(m.n)),
    ("answer accuracy", lambda m: _ratio(m.accuracy, m.correct, m.n)),
    ("failed (errors)", lambda m: str(m.errors)),
    ("retrieval hit@1", lambda m: _num(m.hit1)),
    ("retrieval hit@3", lambda m: _num(m.hit3)),
    ("retrieval hit@5", lambda m: _num(m.hit5)),
    ("retrieval MRR", lambda m: _num(m.mrr)),
    ("citation precision", lambda m: _ratio(m.citation_precision, m.cited_supporting, m.cited)),
    ("citation recall", lambda m: _ratio(m.citation_recall, m.retrieved_supporting_cited, m.retrieved_supporting)),
    ("grounded numbers", lambda m: _ratio(m.grounded_rate, m.grounded_numbers, m.numbers)),
    ("refusal precision", lambda m: _ratio(m.refusal_precision, m.declined, m.refused)),
    ("refusal recall", lambda m: _ratio(m.refusal_recall, m.declined, m.unanswerable)),
    ("latency p50 (ms)", lambda m: _ms(m.p50_ms)),
    ("latency p95 (ms)", lambda m: _ms(m.p95_ms)),
]


def summary_table(b: Breakdown) -> str:
    """Metrics as rows; all cases, then each language, as columns."""
    groups = [("all", b.overall), *b.by_lang.items()]
    return _table(
        ["metric", *(g for g, _ in groups)], [[label, *(cell(m) for _, m in groups)] for label, cell in SUMMARY_ROWS]
    )


def category_table(b: Breakdown) -> str:
    langs = list(b.by_lang)
    rows = []
    for category, m in b.by_category.items():
        per_lang = b.by_category_lang[category]
        rows.append(
            [
                category,
                str(m.n),
                _ratio(m.accuracy, m.correct, m.n),
                *(_num(per_lang[lang].accuracy) if lang in per_lang else "–" for lang in langs),
                _num(m.hit5),
                _num(m.mrr),
                _num(m.citation_precision),
                _num(m.citation_recall),
                _num(m.grounded_rate),
                _num(m.refusal_recall),
            ]
        )
    header = [
        "category",
        "cases",
        "accuracy",
        *(f"accuracy {lang}" for lang in langs),
        "hit@5",
        "MRR",
        "cit. precision",
        "cit. recall",
        "grounded",
        "refusal recall",
    ]
    return _table(header, rows)


def text_table(b: Breakdown) -> str:
    """The console summary: one line per group."""
    head = (
        f"{'group':<14} {'n':>4} {'acc':>6} {'hit@1':>6} {'hit@5':>6} {'MRR':>6} {'citP':>6} {'citR':>6} "
        f"{'ground':>6} {'refP':>6} {'refR':>6} {'p50 ms':>7} {'p95 ms':>7} {'err':>4}"
    )
    lines = [head]
    groups = [("all", b.overall), *b.by_lang.items(), *((f"  {c}", m) for c, m in b.by_category.items())]
    for name, m in groups:
        lines.append(
            f"{name[:14]:<14} {m.n:>4} {_num(m.accuracy):>6} {_num(m.hit1):>6} {_num(m.hit5):>6} {_num(m.mrr):>6} "
            f"{_num(m.citation_precision):>6} {_num(m.citation_recall):>6} {_num(m.grounded_rate):>6} "
            f"{_num(m.refusal_precision):>6} {_num(m.refusal_recall):>6} {_ms(m.p50_ms):>7} {_ms(m.p95_ms):>7} "
            f"{m.errors:>4}"
        )
    return "\n".join(lines)


def timing_table(pairs: list[Pair]) -> str:
    """p50 / p95 per stage (rows) and language (columns), in ms."""
    times = stage_times(pairs)
    groups = [g for g in ("all", "zh", "en") if g in times]
    stages = list(dict.fromkeys(stage for g in groups for stage in times[g]))
    rows = [
        [stage, *(" / ".join(_ms(v) for v in times[g].get(stage, (None, None))) for g in groups)] for stage in stages
    ]
    return _table(["stage (p50 / p95 ms)", *groups], rows)


CHECK_HEADER = [
    "check",
    "declined",
    "of unanswerable",
    "of answerable",
    "decisive, unanswerable (lost without it)",
    "decisive, correct draft (won without it)",
    "changed",
    "off",
]


def check_table(pairs: list[Pair]) -> str:
    """What each verification check did; the decisive columns are what switching it off would change."""
    rows = [
        [
            r.name,
            str(r.declined),
            str(r.declined_unanswerable),
            str(r.declined_answerable),
            str(r.decisive_right),
            str(r.decisive_cost),
            str(r.changed),
            str(r.off),
        ]
        for r in check_rows(pairs)
    ]
    return _table(CHECK_HEADER, rows) if rows else "(no check ran: extractive answers, or an older results file)"


# ---------------------------------------------------------------- failed cases


def why_wrong(case: EvalCase, record: dict[str, Any], error: str = "") -> str:
    if record_failed(record):
        return f"the run failed: {error}" if error else "the run failed (no answer)"
    if not case.answerable:
        return "answered a question the report does not answer, instead of declining"
    if record["refused"]:
        return "declined a question the report answers"
    reasons = []
    if missing := missing_keywords(case, record["answer"]):
        reasons.append("missing " + ", ".join(f"`{k}`" for k in missing))
    if found := forbidden_found(case, record["answer"]):
        reasons.append("contains forbidden " + ", ".join(f"`{f}`" for f in found))
    return "; ".join(reasons)


def failure_markdown(case: EvalCase, record: dict[str, Any], error: str = "", judge: JudgeScore | None = None) -> str:
    parts = [f"### {case.id} · {case.lang} · {case.category or NO_CATEGORY}", f"**Question:** {case.question}"]
    if case.history:
        parts.append("**Earlier turns:**\n" + "\n".join(f"- {t.role}: {t.content}" for t in case.history))
    if case.answerable:
        expected = case.answer or "(no reference answer)"
        keywords = ", ".join(f"`{k}`" for k in case.keywords) or "(none)"
        forbid = f"; must not contain {', '.join(f'`{f}`' for f in case.forbid)}" if case.forbid else ""
        parts.append(f"**Expected:** {expected}\n\nkeywords: {keywords}{forbid}")
    else:
        parts.append("**Expected:** decline (the report does not hold the answer)")
    declined = "(declined) " if record["refused"] else ""
    got = "(no answer)" if record_failed(record) else declined + record["answer"]
    parts.append(f"**Got** ({record.get('backend', '?')}):\n\n{_quote(got)}")
    parts.append(f"**Why wrong:** {why_wrong(case, record, error)}")
    if judge is not None:
        parts.append(
            f"**Judge (model-graded):** faithfulness {_num(judge.faithfulness)}, "
            f"answer relevance {_num(judge.relevance)}"
        )
    if record["citations"]:
        cited = [
            f"**[{c.get('n', '?')}]** {c.get('section') or '(no section)'} ({c.get('source', '')})\n\n"
            f"{_quote(c['text'])}"
            for c in record["citations"]
        ]
        parts.append("**Cited passages:**\n\n" + "\n\n".join(cited))
    else:
        parts.append("**Cited passages:** none")
    return "\n\n".join(parts)


def failures_markdown(
    pairs: list[Pair], errors: dict[str, str] | None = None, judge: dict[str, JudgeScore] | None = None
) -> str:
    errors, judge = errors or {}, judge or {}
    failed = [(c, r) for c, r in pairs if not record_correct(c, r)]
    if not failed:
        return f"## Failed cases (0 of {len(pairs)})\n\nEvery case passed."
    body = "\n\n---\n\n".join(failure_markdown(c, r, errors.get(c.id, ""), judge.get(c.id)) for c, r in failed)
    return f"## Failed cases ({len(failed)} of {len(pairs)})\n\n{body}"


def judge_markdown(pairs: list[Pair], scores: dict[str, JudgeScore | None], name: str) -> str:
    """The judge's scores, kept apart and labelled: a model's opinion, not the rule-based checks above."""

    def row(group: str, group_pairs: list[Pair]) -> list[str]:
        judged = [s for c, _ in group_pairs if (s := scores.get(c.id)) is not None]
        faithful = [s.faithfulness for s in judged if s.faithfulness is not None]
        relevant = [s.relevance for s in judged if s.relevance is not None]
        missing = sum(1 for s in judged if s.faithfulness is None or s.relevance is None)
        return [
            group,
            str(len(judged)),
            _num(sum(faithful) / len(faithful) if faithful else None),
            _num(sum(relevant) / len(relevant) if relevant else None),
            str(missing),
        ]

    langs = sorted({c.lang for c, _ in pairs}, reverse=True)
    rows = [row("all", pairs), *(row(lang, [p for p in pairs if p[0].lang == lang]) for lang in langs)]
    failures = sorted({s.error for s in scores.values() if s is not None and s.error})
    notes = "\n".join(f"- {e}" for e in failures[:5])
    return (
        f"## LLM judge scores (model-graded, not rule-based)\n\nJudge: `{name}`. These scores are a language "
        "model's opinion, in the manner of Ragas. **Faithfulness**: share of the answer's statements that the "
        "cited passages support. **Answer relevance**: cosine similarity between the question and a question the "
        "judge writes back from the answer alone (0 when it finds the answer noncommittal). Declines and failed "
        "cases are not judged; a missing score means the judge failed on that case.\n\n"
        + _table(["group", "judged", "faithfulness", "answer relevance", "missing scores"], rows)
        + (f"\n\nJudge failures seen:\n{notes}" if notes else "")
    )


# ---------------------------------------------------------------- the chart

CJK_FONTS = (
    "WenQuanYi Micro Hei",
    "Noto Sans CJK SC",
    "Noto Sans SC",
    "Source Han Sans SC",
    "SimHei",
    "Microsoft YaHei",
    "PingFang SC",
)
_ASCII = re.compile(r"^[\x20-\x7e]*$")
_CJK_FILE = re.compile(r"wqy|cjk|sourcehan|simhei|msyh|pingfang", re.I)


@lru_cache(maxsize=1)
def cjk_font() -> str | None:
    """An installed font with Chinese glyphs, or None (then non-ASCII labels are replaced, not drawn as boxes)."""
    from matplotlib import font_manager

    def known() -> str | None:
        installed = {f.name for f in font_manager.fontManager.ttflist}
        return next((name for name in CJK_FONTS if name in installed), None)

    if (name := known()) is not None:
        return name
    # matplotlib's font list is cached from its first run; a font installed later (make browser-deps) is not in it
    for path in font_manager.findSystemFonts():
        if _CJK_FILE.search(Path(path).name):
            try:
                font_manager.fontManager.addfont(path)
            except (OSError, RuntimeError, ValueError):
                continue
    return known()


def accuracy_chart(b: Breakdown, path: Path) -> dict[str, str]:
    """A PNG of answer accuracy by category (and overall), one bar per language. Returns the labels that had to
    be replaced by ASCII ones (no CJK font installed), so the report can say which is which."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    font = cjk_font()
    groups: list[tuple[str, Metrics, dict[str, Metrics]]] = [("all", b.overall, b.by_lang)]
    groups += [(cat, m, b.by_category_lang[cat]) for cat, m in b.by_category.items()]
    replaced: dict[str, str] = {}
    labels = []
    for i, (name, _, _) in enumerate(groups):
        if font is None and not _ASCII.match(name):
            replaced[f"category {i}"] = name
            name = f"category {i}"
        labels.append(name)
    langs = list(b.by_lang)
    width = 0.8 / max(1, len(langs))
    fig = Figure(figsize=(max(6.0, 1.0 + 0.9 * len(groups) * max(1, len(langs)) / 2), 4.6), dpi=110)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    family = [font, "DejaVu Sans"] if font else ["DejaVu Sans"]
    colours = {"zh": "#c0392b", "en": "#2471a3"}
    for j, lang in enumerate(langs):
        xs, heights, counts = [], [], []
        for i, (_, _, per_lang) in enumerate(groups):
            m = per_lang.get(lang)
            if m is None or m.accuracy is None:
                continue
            xs.append(i + (j - (len(langs) - 1) / 2) * width)
            heights.append(m.accuracy)
            counts.append(m.n)
        bars = ax.bar(xs, heights, width * 0.95, label=lang, color=colours.get(lang))
        for bar, n in zip(bars, counts, strict=True):
            ax.annotate(
                f"{bar.get_height():.2f}\nn={n}",
                (bar.get_x() + bar.get_width() / 2, bar.get_height()),
                ha="center",
                va="bottom",
                fontsize=7,
                family=family,
            )
    ax.set_xticks(
        range(len(groups)),
        labels,
        rotation=20 if len(groups) > 6 else 0,
        ha="right" if len(groups) > 6 else "center",
        family=family,
    )
    ax.set_ylim(0, 1.15)
    ax.set_ylabel("answer accuracy", family=family)
    ax.set_title("Answer accuracy by category and language", family=family)
    ax.axvline(0.5, color="#999999", linewidth=0.8)  # "all" apart from the categories
    # outside the axes: inside, it covers the labels of bars at 1.0
    ax.legend(title="language", prop={"family": family}, loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8)
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, format="png")
    return replaced


# ---------------------------------------------------------------- the report


@dataclass(frozen=True)
class ReportFiles:
    markdown: Path
    chart: Path
    results: Path | None = None


CHART_NAME = "accuracy.png"
CHECKS_NOTE = (
    "Each check reads every answer, even one an earlier check declined. A decline is decisive when no other check "
    "declined the same answer: switching the check off (`bluebot eval --without NAME`) would then have shown the "
    "model's draft. A check earns its place by its decisive declines of unanswerable questions against the correct "
    "drafts it declined."
)


def markdown_report(
    info: RunInfo,
    pairs: list[Pair],
    errors: dict[str, str] | None = None,
    judge: dict[str, JudgeScore | None] | None = None,
    chart_labels: dict[str, str] | None = None,
) -> str:
    errors = errors or {}
    b = breakdown(pairs)
    answered = ", ".join(f"{name} ({n})" for name, n in info.answered_by.items()) or "none"
    lines = [
        "# bluebot evaluation report",
        "",
        f"- date: {info.date}",
        f"- backend: {info.backend} (answers came from: {answered})",
        f"- embedding model: {info.embed_model}",
        f"- language model: {info.llm_model}" + ("" if info.backend != "extractive" else " (not used: extractive)"),
        f"- machine: {info.machine}",
        f"- test sets: {', '.join(info.test_sets)} ({len(pairs)} cases)",
        f"- bluebot {info.version}",
        f"- failed cases (errors): {len(errors)}",
    ]
    if info.judge:
        lines.append(f"- LLM judge: {info.judge} (model-graded scores are in their own section)")
    lines += ["", "## Summary", "", summary_table(b), "", f"![accuracy by category and language]({CHART_NAME})"]
    if chart_labels:
        lines.append("\nChart labels: " + ", ".join(f"{k} = {v}" for k, v in chart_labels.items()))
    lines += ["", "## By category", "", category_table(b)]
    lines += ["", "## Where the time goes", "", timing_table(pairs)]
    lines += ["", "## Checks", "", CHECKS_NOTE, "", check_table(pairs), "", "## Definitions", "", DEFINITIONS]
    if errors:
        lines += ["", "## Errors", "", *(f"- `{cid}`: {message}" for cid, message in errors.items())]
    if judge is not None:
        lines += ["", judge_markdown(pairs, judge, info.judge)]
    scored = {k: v for k, v in (judge or {}).items() if v is not None}
    lines += ["", failures_markdown(pairs, errors, scored), ""]
    return "\n".join(lines)


def write_report(
    out_dir: Path,
    info: RunInfo,
    pairs: list[Pair],
    errors: dict[str, str] | None = None,
    judge: dict[str, JudgeScore | None] | None = None,
) -> ReportFiles:
    """report.md and accuracy.png in out_dir (created if needed)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    chart = out_dir / CHART_NAME
    replaced = accuracy_chart(breakdown(pairs), chart)
    markdown = out_dir / "report.md"
    markdown.write_text(markdown_report(info, pairs, errors, judge, replaced), encoding="utf-8")
    return ReportFiles(markdown, chart)


def save_run(out_dir: Path, info: RunInfo, runs: list[CaseRun]) -> ReportFiles:
    """A finished run as files: results.jsonl (EVAL_FORMAT.md), report.md and accuracy.png."""
    out_dir.mkdir(parents=True, exist_ok=True)
    results = out_dir / "results.jsonl"
    results.write_text("".join(json.dumps(r.record, ensure_ascii=False) + "\n" for r in runs), encoding="utf-8")
    errors = {r.case.id: r.error for r in runs if r.error}
    files = write_report(out_dir, info, [(r.case, r.record) for r in runs], errors)
    return ReportFiles(files.markdown, files.chart, results)


# ---------------------------------------------------------------- comparing two runs


@dataclass(frozen=True)
class Change:
    id: str
    question: str
    lang: str
    category: str


@dataclass(frozen=True)
class Comparison:
    """What changed from run A to run B, over the cases both runs answered."""

    a_name: str
    b_name: str
    fixed: list[Change]
    broken: list[Change]
    a: Breakdown
    b: Breakdown
    only_a: list[str] = field(default_factory=list)
    only_b: list[str] = field(default_factory=list)
    unknown: list[str] = field(default_factory=list)  # result ids the test set does not have

    def as_dict(self) -> dict[str, Any]:
        return {
            "a": self.a_name,
            "b": self.b_name,
            "fixed": [c.__dict__ for c in self.fixed],
            "broken": [c.__dict__ for c in self.broken],
            "only_a": self.only_a,
            "only_b": self.only_b,
            "unknown": self.unknown,
            "metrics_a": self.a.as_dict(),
            "metrics_b": self.b.as_dict(),
        }


def _verdict(case: EvalCase, record: dict[str, Any]) -> bool:
    """The run's own verdict when the line carries one, else the rules applied now."""
    return record["correct"] if isinstance(record.get("correct"), bool) else record_correct(case, record)


def compare_runs(
    cases: list[EvalCase], a: list[dict[str, Any]], b: list[dict[str, Any]], a_name: str = "A", b_name: str = "B"
) -> Comparison:
    pairs_a, unknown_a = pair_results(cases, a)
    pairs_b, unknown_b = pair_results(cases, b)
    by_a = {c.id: r for c, r in pairs_a}
    by_b = {c.id: r for c, r in pairs_b}
    common = [c for c in cases if c.id in by_a and c.id in by_b]
    fixed, broken = [], []
    for case in common:
        before, after = _verdict(case, by_a[case.id]), _verdict(case, by_b[case.id])
        if before != after:
            (fixed if after else broken).append(Change(case.id, case.question, case.lang, case.category))
    return Comparison(
        a_name,
        b_name,
        fixed,
        broken,
        breakdown([(c, by_a[c.id]) for c in common]),
        breakdown([(c, by_b[c.id]) for c in common]),
        only_a=[i for i in by_a if i not in by_b],
        only_b=[i for i in by_b if i not in by_a],
        unknown=sorted(set(unknown_a) | set(unknown_b)),
    )


# (label, value) for the delta table; latencies in ms, the rest rates
DELTA_ROWS: list[tuple[str, Callable[[Metrics], float | None]]] = [
    ("answer accuracy", lambda m: m.accuracy),
    ("retrieval hit@1", lambda m: m.hit1),
    ("retrieval hit@3", lambda m: m.hit3),
    ("retrieval hit@5", lambda m: m.hit5),
    ("retrieval MRR", lambda m: m.mrr),
    ("citation precision", lambda m: m.citation_precision),
    ("citation recall", lambda m: m.citation_recall),
    ("grounded numbers", lambda m: m.grounded_rate),
    ("refusal precision", lambda m: m.refusal_precision),
    ("refusal recall", lambda m: m.refusal_recall),
    ("latency p50 (ms)", lambda m: m.p50_ms),
    ("latency p95 (ms)", lambda m: m.p95_ms),
    ("failed (errors)", lambda m: m.errors),
]


def metric_deltas(a: Metrics, b: Metrics) -> dict[str, tuple[float | None, float | None, float | None]]:
    """label -> (A, B, B - A); the delta is None when either side has nothing to measure."""
    out = {}
    for label, value in DELTA_ROWS:
        va, vb = value(a), value(b)
        out[label] = (va, vb, None if va is None or vb is None else vb - va)
    return out


def _fmt(label: str, value: float | None, signed: bool = False) -> str:
    if value is None:
        return "–"
    if "ms" in label or "errors" in label:
        return f"{value:+,.0f}" if signed else f"{value:,.0f}"
    return f"{value:+.3f}" if signed else f"{value:.3f}"


def comparison_markdown(c: Comparison) -> str:
    def changes(title: str, items: list[Change]) -> list[str]:
        out = [f"## {title} ({len(items)})", ""]
        out += [f"- `{x.id}` ({x.lang}, {x.category or NO_CATEGORY}): {x.question}" for x in items] or ["none"]
        return [*out, ""]

    n = c.a.overall.n
    lines = [
        f"# Comparison: {c.a_name} → {c.b_name}",
        "",
        f"{n} cases in both runs; accuracy {_num(c.a.overall.accuracy)} → {_num(c.b.overall.accuracy)}, "
        f"{len(c.fixed)} fixed, {len(c.broken)} broken.",
        "",
    ]
    lines += changes("Fixed (wrong in A, right in B)", c.fixed)
    lines += changes("Broken (right in A, wrong in B)", c.broken)
    groups = [("all", c.a.overall, c.b.overall)]
    groups += [(lang, m, c.b.by_lang[lang]) for lang, m in c.a.by_lang.items() if lang in c.b.by_lang]
    for name, ma, mb in groups:
        rows = [
            [label, _fmt(label, va), _fmt(label, vb), _fmt(label, d, signed=True)]
            for label, (va, vb, d) in metric_deltas(ma, mb).items()
        ]
        lines += [f"## Metrics: {name} ({ma.n} cases)", "", _table(["metric", "A", "B", "B − A"], rows), ""]
    rows = []
    for category, ma in c.a.by_category.items():
        mb = c.b.by_category[category]
        delta = None if ma.accuracy is None or mb.accuracy is None else mb.accuracy - ma.accuracy
        rows.append([category, str(ma.n), _num(ma.accuracy), _num(mb.accuracy), _fmt("", delta, signed=True)])
    lines += ["## Accuracy by category", "", _table(["category", "cases", "A", "B", "B − A"], rows), ""]
    if c.only_a or c.only_b or c.unknown:
        lines += ["## Not compared", ""]
        if c.only_a:
            lines.append(f"- only in A: {', '.join(c.only_a)}")
        if c.only_b:
            lines.append(f"- only in B: {', '.join(c.only_b)}")
        if c.unknown:
            lines.append(f"- not in the test set: {', '.join(c.unknown)}")
    return "\n".join(lines).rstrip() + "\n"
