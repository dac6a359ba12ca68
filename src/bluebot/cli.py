"""bluebot command line: setup | ingest | search | ask | eval | serve."""

from __future__ import annotations

import argparse
import json
import os
import sys
from dataclasses import asdict
from pathlib import Path
from typing import Any

from bluebot import __version__
from bluebot.config import BACKENDS, CHECK_NAMES, Settings
from bluebot.errors import BluebotError, ConfigError
from bluebot.types import EvalCase

OFFLINE_ENV = {"GRADIO_ANALYTICS_ENABLED": "False", "ANONYMIZED_TELEMETRY": "False", "TOKENIZERS_PARALLELISM": "false"}


def _quiet_env() -> None:
    for key, value in OFFLINE_ENV.items():
        os.environ.setdefault(key, value)


def _settings(args: argparse.Namespace) -> Settings:
    without = getattr(args, "without", None)
    return Settings.from_env(
        k=getattr(args, "k", None),
        backend=getattr(args, "backend", None),
        without=frozenset(without) if without else None,
    )


def _bot(settings: Settings):  # type: ignore[no-untyped-def]
    from bluebot.pipeline import Bot

    return Bot(settings)


def _progress_bar(desc: str, unit: str = "chunk"):  # type: ignore[no-untyped-def]
    from tqdm import tqdm

    bar: dict[str, tqdm] = {}

    def update(done: int, total: int) -> None:
        if "bar" not in bar:
            bar["bar"] = tqdm(total=total, desc=desc, unit=unit, file=sys.stderr)
        bar["bar"].update(done - bar["bar"].n)
        if done >= total:
            bar["bar"].close()

    return update


def cmd_setup(args: argparse.Namespace) -> int:
    from bluebot.models import setup_models

    settings = _settings(args)
    setup_models(settings, progress=lambda msg: print(msg, file=sys.stderr), llm=not args.no_llm)
    if not args.no_ingest:
        return cmd_ingest(argparse.Namespace(paths=[], rebuild=False, no_names=args.no_llm))
    return 0


def cmd_ingest(args: argparse.Namespace) -> int:
    settings = _settings(args)
    bot = _bot(settings)
    paths = [Path(p) for p in args.paths] or [settings.corpus_dir]
    report = bot.ingest(paths, rebuild=args.rebuild, on_embed=_progress_bar("embedding"))
    for error in report.errors:
        print(f"skipped: {error}", file=sys.stderr)
    if report.skipped_reason:
        print(f"{report.skipped_reason}: {report.files} files, {report.chunks} chunks in {settings.index_dir}")
    else:
        print(
            f"indexed {report.files} files into {report.chunks} chunks ({report.embedded} embedded, "
            f"{report.chunks - report.embedded} reused) in {report.seconds:.1f} s -> {settings.index_dir}"
        )
    if not getattr(args, "no_names", False):
        _name_terms(bot)
    return 0


def _name_terms(bot) -> None:  # type: ignore[no-untyped-def]
    """Ingest's naming stage; without a language model the index is still usable, so a failure is a warning."""
    from bluebot.errors import GenerationError, ModelError
    from bluebot.names import NAMES_FILE

    try:
        names = bot.name_terms(on_progress=_progress_bar("naming terms", unit="term"))
    except (ModelError, GenerationError) as exc:
        print(f"warning: no English names made for the corpus's terms: {exc}", file=sys.stderr)
        return
    print(
        f"English names for {names.named} of {names.terms} terms ({names.asked} asked of the model) in "
        f"{names.seconds:.1f} s -> {bot.settings.index_dir / NAMES_FILE}"
    )


def _hit_json(hit) -> dict:  # type: ignore[no-untyped-def]
    c = hit.chunk
    return {
        "chunk_id": c.id,
        "score": hit.score,
        "similarity": hit.similarity,
        "dense_rank": hit.dense_rank,
        "keyword_rank": hit.keyword_rank,
        "section": c.section,
        "source": c.source,
        "text": c.text,
    }


def cmd_search(args: argparse.Namespace) -> int:
    settings = _settings(args)
    hits = _bot(settings).search(args.question, k=args.k)
    if args.json:
        print(json.dumps([_hit_json(h) for h in hits], ensure_ascii=False, indent=2))
        return 0
    for rank, hit in enumerate(hits, start=1):
        c = hit.chunk
        print(f"[{rank}] score {hit.score:.4f}  {c.section or '(no section)'}  ({c.source}#{c.position}, {c.id})")
        print("    " + c.text.replace("\n", "\n    "))
        print()
    return 0


def cmd_ask(args: argparse.Namespace) -> int:
    from bluebot.evaluation import result_record
    from bluebot.types import Answer

    settings = _settings(args)
    bot = _bot(settings)
    if args.json:
        print(json.dumps(result_record(bot.ask(args.question, k=args.k)), ensure_ascii=False, indent=2))
        return 0
    live = sys.stdout.isatty()  # stream for a person; a pipe gets only the checked answer
    streamed: list[str] = []
    answer: Answer | None = None
    for part in bot.ask_stream(args.question, k=args.k):
        if isinstance(part, Answer):
            answer = part
        elif live and isinstance(part, str):
            streamed.append(part)
            print(part, end="", flush=True)
    assert answer is not None  # ask_stream always ends with its Answer
    if not live:
        print(answer.text)
    elif "".join(streamed).strip() != answer.text:
        # The checks changed the text (citations, units, fallback): show what the bot actually stands by.
        print(f"\n\nchecked answer:\n{answer.text}")
    else:
        print()
    if answer.notice:
        print(f"\nnote: {answer.notice}")
    if answer.ungrounded_numbers:
        print(f"check these numbers, not found in the cited passages: {', '.join(answer.ungrounded_numbers)}")
    for c in answer.citations:
        chunk = c.chunk
        print(f"\n[{c.n}] {chunk.section or '(no section)'}  ({chunk.source}#{chunk.position})")
        print("    " + chunk.text.replace("\n", "\n    "))
    print(f"\n({answer.backend}, {answer.latency_ms / 1000:.1f} s)", file=sys.stderr)
    return 0


def _open_out(path: str):  # type: ignore[no-untyped-def]
    """The results file, opened before the run so a bad path fails in a second, not after an hour."""
    try:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        return open(path, "w", encoding="utf-8")  # noqa: SIM115 - the caller closes it
    except OSError as exc:
        raise ConfigError(f"cannot write the results file {path}: {exc.strerror}") from None


def _eval_answers(args: argparse.Namespace, settings: Settings, cases: list[EvalCase]) -> int:
    """Every case through the whole pipeline with a progress bar; a failing case is recorded and the run goes on.
    One result line per case (EVAL_FORMAT.md), the metrics table, and with --report the Markdown report."""
    from tqdm import tqdm

    from bluebot.evaluation import breakdown, iter_eval
    from bluebot.report import check_table, run_info, text_table, timing_table, write_report

    bot = _bot(settings)
    backend = args.backend or settings.backend
    judge = None
    if args.judge:
        from bluebot.judge import openai_judge

        # the bot's own embedder compares the question with the one the judge writes back (answer relevance)
        judge = openai_judge(settings, embed=lambda text: bot.embedder.embed_query(text))
    runs = []
    errors: dict[str, str] = {}
    judged: dict[str, Any] = {}
    out = _open_out(args.out) if args.out else None
    try:
        with tqdm(total=len(cases), desc="eval", unit="case", file=sys.stderr) as bar:
            for run in iter_eval(bot, cases, backend):
                runs.append(run)
                if run.error:
                    errors[run.case.id] = run.error
                    tqdm.write(f"{run.case.id}: failed: {run.error}", file=sys.stderr)
                if out:  # written as it goes: an interrupted run keeps the lines done so far
                    out.write(json.dumps(run.record, ensure_ascii=False) + "\n")
                    out.flush()
                if judge is not None:
                    judged[run.case.id] = judge.score(run)
                bar.update(1)
                bar.set_postfix_str(f"correct {sum(bool(r.record['correct']) for r in runs)}/{len(runs)}")
    finally:
        if out:
            out.close()
    pairs = [(r.case, r.record) for r in runs]
    scores = breakdown(pairs)
    if args.report:
        info = run_info(
            backend,
            settings.embed_model,
            settings.llm_model,
            args.files,
            [r.record for r in runs],
            judge=judge.name if judge else "",
        )
        files = write_report(Path(args.report), info, pairs, errors, judged if judge else None)
        print(f"report: {files.markdown} (chart {files.chart})", file=sys.stderr)
    if args.json:
        result = scores.as_dict() | {"errors": [{"id": k, "error": v} for k, v in errors.items()]}
        if judge is not None:
            result["judge"] = {k: asdict(v) if v else None for k, v in judged.items()}
        print(json.dumps(result, ensure_ascii=False, indent=2))
        return 0
    print(text_table(scores))
    print(f"\nchecks:\n{check_table(pairs)}\n\ntimes:\n{timing_table(pairs)}")
    if errors:
        print(f"\n{len(errors)} case(s) failed to run:")
        for case_id, message in errors.items():
            print(f"  {case_id}: {message}")
    return 0


def _eval_retrieval(args: argparse.Namespace, settings: Settings, cases: list[EvalCase]) -> int:
    """Retrieval alone (no answers): hit@k and MRR per language, quick enough to run after every change."""
    from bluebot.evaluation import first_supporting_rank, retrieval_score

    bot = _bot(settings)
    ranks: dict[str, list[int | None]] = {"zh": [], "en": []}
    misses = []
    for case in cases:
        if not case.answerable or not case.evidence:
            continue
        question = (
            case.question
            if not case.history
            else " ".join([t.content for t in case.history if t.role == "user"] + [case.question])
        )
        hits = bot.search(question, k=5, lang=case.lang)
        rank = first_supporting_rank(hits, case.evidence)
        ranks[case.lang].append(rank)
        if rank is None:
            misses.append(case)
    rows = {lang: retrieval_score(r) for lang, r in ranks.items() if r}
    rows["all"] = retrieval_score([r for rs in ranks.values() for r in rs])
    if args.json:
        print(json.dumps({k: asdict(v) for k, v in rows.items()}, indent=2))
    else:
        print(f"{'lang':<5} {'n':>4} {'hit@1':>6} {'hit@3':>6} {'hit@5':>6} {'MRR':>6}")
        for lang, s in rows.items():
            print(f"{lang:<5} {s.n:>4} {s.hit1:>6.3f} {s.hit3:>6.3f} {s.hit5:>6.3f} {s.mrr:>6.3f}")
        for case in misses:
            print(f"miss: {case.id} {case.question}", file=sys.stderr)
    return 0


def _eval_compare(args: argparse.Namespace) -> int:
    """What changed between two results files, scored against the test set they were run on."""
    from bluebot.evaluation import load_results, load_sets
    from bluebot.report import compare_runs, comparison_markdown

    set_files = [*args.files, *(args.cases or [])]
    if not set_files:
        raise ConfigError(
            "--compare needs the test set the runs used, for keywords and evidence: "
            "bluebot eval --compare A.jsonl B.jsonl eval/report_zh.jsonl eval/report_en.jsonl"
        )
    cases = load_sets(Path(p) for p in set_files)
    a_path, b_path = (Path(p) for p in args.compare)
    comparison = compare_runs(cases, load_results(a_path), load_results(b_path), str(a_path), str(b_path))
    text = comparison_markdown(comparison)
    if args.report:
        Path(args.report).mkdir(parents=True, exist_ok=True)
        (Path(args.report) / "compare.md").write_text(text, encoding="utf-8")
    if args.json:
        print(json.dumps(comparison.as_dict(), ensure_ascii=False, indent=2))
    else:
        print(text, end="")
    return 0


def cmd_eval(args: argparse.Namespace) -> int:
    from bluebot.evaluation import load_sets

    if args.compare:
        return _eval_compare(args)
    if args.cases:
        raise ConfigError("--cases goes with --compare; to run test sets name them as arguments")
    if not args.files:
        raise ConfigError("name at least one test-set file: bluebot eval eval/report_zh.jsonl")
    settings = _settings(args)
    cases = load_sets(Path(p) for p in args.files)
    if args.retrieval_only:
        if args.out or args.report or args.judge:
            raise ConfigError("--out, --report and --judge need answers: drop --retrieval-only")
        return _eval_retrieval(args, settings, cases)
    return _eval_answers(args, settings, cases)


def cmd_serve(args: argparse.Namespace) -> int:
    from bluebot.server import launch_options, prepare
    from bluebot.ui import build_app

    settings = _settings(args)
    options = launch_options(args.host, args.port)  # a bad BLUEBOT_AUTH fails before the slow start-up
    bot = prepare(_bot(settings))
    build_app(bot, settings).launch(**options)
    return 0


EXAMPLES = {
    "setup": "examples:\n  bluebot setup              # fetch models, build the index\n"
    "  bluebot setup --no-llm     # embedding model and index only",
    "ingest": "examples:\n  bluebot ingest                       # index corpus/ (skips work when up to date)\n"
    "  bluebot ingest --rebuild             # re-embed everything\n"
    "  bluebot ingest corpus/ more/report.pdf",
    "search": 'examples:\n  bluebot search "2024年AI大模型领域投资金额"\n'
    '  bluebot search "How many AI deals were there in 2024?" --k 3 --json',
    "ask": 'examples:\n  bluebot ask "2024年中国AI产业领域共有多少起投资案例？"\n'
    '  bluebot ask "How much was invested in large AI models in 2024?" --backend extractive\n'
    '  bluebot ask "What share did the top five regions take?" --json',
    "eval": "examples:\n  bluebot eval eval/report_zh.jsonl eval/report_en.jsonl --retrieval-only\n"
    "  bluebot eval eval/report_zh.jsonl eval/report_en.jsonl --out results.jsonl --report eval-report/\n"
    "  bluebot eval eval/report_en.jsonl --backend extractive --out results-extractive.jsonl\n"
    "  bluebot eval --compare results-extractive.jsonl results.jsonl --cases eval/report_en.jsonl\n"
    "  bluebot eval eval/report_zh.jsonl --without evidence-answers --out without.jsonl",
    "serve": "examples:\n  bluebot serve                        # http://127.0.0.1:7860\n"
    "  bluebot serve --port 8080 --backend extractive\n"
    "  BLUEBOT_AUTH=reader:secret bluebot serve --host 0.0.0.0   # others can reach it: ask for a login",
}


WITHOUT_HELP = f"switch one verification check off (repeatable): {', '.join(CHECK_NAMES)}"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="bluebot",
        description="Cited answers about the 2024 China AI Industry Investment Blue Book, in Chinese or English.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"bluebot {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    def add(name: str, help_: str) -> argparse.ArgumentParser:
        return sub.add_parser(
            name,
            help=help_,
            description=help_,
            epilog=EXAMPLES.get(name),
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )

    p = add("setup", "fetch and verify the models (offline mirror if needed), then build the index")
    p.add_argument("--no-llm", action="store_true", help="skip the local language model")
    p.add_argument("--no-ingest", action="store_true", help="do not build the index")
    p.set_defaults(func=cmd_setup)

    p = add("ingest", "index corpus files (.txt .md .pdf); folders are searched recursively")
    p.add_argument("paths", nargs="*", help="files or folders (default: corpus/)")
    p.add_argument("--rebuild", action="store_true", help="re-embed everything even if the index is current")
    p.add_argument(
        "--no-names",
        action="store_true",
        help="do not ask the language model for English names of the corpus's new Chinese terms (index/names.tsv)",
    )
    p.set_defaults(func=cmd_ingest)

    p = add("search", "show the passages retrieved for a question")
    p.add_argument("question")
    p.add_argument("--k", type=int, default=5, help="number of passages (default 5)")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=cmd_search)

    p = add("ask", "answer a question from the report, with the passages it cites")
    p.add_argument("question")
    p.add_argument("--backend", choices=BACKENDS, help="answer backend (default: BLUEBOT_BACKEND or local)")
    p.add_argument("--k", type=int, help="number of passages to retrieve")
    p.add_argument("--json", action="store_true", help="print the result object of EVAL_FORMAT.md")
    p.add_argument("--without", action="append", choices=CHECK_NAMES, metavar="CHECK", help=WITHOUT_HELP)
    p.set_defaults(func=cmd_ask)

    p = add("eval", "evaluate on test sets (EVAL_FORMAT.md): answers, retrieval, citations, numbers, refusals")
    p.add_argument("files", nargs="*", help="test-set JSONL files")
    p.add_argument("--retrieval-only", action="store_true", help="score retrieval only (hit@k, MRR)")
    p.add_argument("--backend", choices=BACKENDS, help="answer backend")
    p.add_argument("--out", help="write one result line per case to this JSONL file (full pipeline)")
    p.add_argument("--report", metavar="DIR", help="write report.md and accuracy.png here (with --compare: compare.md)")
    p.add_argument(
        "--judge",
        action="store_true",
        help="also score faithfulness and answer relevance with an LLM judge (BLUEBOT_JUDGE_BASE_URL, "
        "BLUEBOT_JUDGE_MODEL, BLUEBOT_JUDGE_API_KEY; default: the BLUEBOT_LLM_* endpoint)",
    )
    p.add_argument("--compare", nargs=2, metavar=("A", "B"), help="compare two results files (fixed, broken, deltas)")
    p.add_argument("--cases", nargs="+", metavar="FILE", help="with --compare: the test set the runs used")
    p.add_argument("--json", action="store_true", help="print metrics as JSON")
    p.add_argument("--without", action="append", choices=CHECK_NAMES, metavar="CHECK", help=WITHOUT_HELP)
    p.set_defaults(func=cmd_eval)

    p = add("serve", "open the chat app in the browser (builds a missing or stale index first)")
    p.add_argument("--host", default="127.0.0.1", help="interface to bind (default 127.0.0.1, this machine only)")
    p.add_argument("--port", type=int, default=7860, help="port (default 7860)")
    p.add_argument("--backend", choices=BACKENDS, help="default answer backend (users can change it in the app)")
    p.add_argument("--k", type=int, help="default number of passages")
    p.set_defaults(func=cmd_serve)
    return parser


def main(argv: list[str] | None = None) -> int:
    _quiet_env()
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except BluebotError as exc:
        print(f"bluebot: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("bluebot: interrupted", file=sys.stderr)
        return 130
