"""Ingest's last stage: the English names of a corpus's Chinese terms, made once by the language model and kept beside
the index in names.tsv, for English questions and answers about Chinese documents.

An English answer copies a name it sees next to the Chinese: an English prompt's passages carry the names of their
terms (generation.english_reading), and Chinese left in an English answer is looked up before the model is asked.
Which terms: the document's proper names (jieba's part-of-speech tags), its nouns that general Chinese rarely
uses (jieba's dictionary frequency), names in quotation or book-title marks, and the items of its short lists and
tables.
Each is named once: a later ingest asks the model only for terms it has not seen. The file is plain text to review;
corpus/glossary.tsv (glossary.py) corrects it and wins over it.
"""

from __future__ import annotations

import collections
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from bluebot.errors import ConfigError
from bluebot.generation import Generator, english_names
from bluebot.glossary import Glossary
from bluebot.passages import readable, short_item
from bluebot.text import has_chinese, keyword_tokens

NAMES_FILE = "names.tsv"
MAX_TERMS = 600  # the most frequent candidates; about 160 for the report, 290 for a 114,000-character manual
BATCH = 20  # terms per model call; the report's 148 terms took 216 s in all (2 threads, 5th-generation Xeon)
MAX_NAME_CHARS = 60  # a longer reply is an explanation, not a name
# The way names are made, written on names.tsv's first line: a file without it was made the way before (numbered
# replies, which put names on the wrong terms) and is made again.
_METHOD = "each term repeated in the reply"
_UNNAMED = "#? "  # a term the model gave no English name: recorded so that it is not asked again

_PROPER = {"nr", "ns", "nt", "nz", "nrt", "nrfg"}  # jieba's person, place, organisation and other proper names
_RARE = 20  # a noun at most this frequent in jieba's dictionary (most are absent) is the document's own term
_QUOTED = re.compile(r"[《“「]([^》”」\n]{2,24})[》”」]")
_NOT_A_TERM = re.compile(r"[，。；：！？,;:!?]")  # a sentence or clause, not a name


def _term(text: str) -> str | None:
    text = text.strip(" *-·•…。.、")
    if 2 <= len(text) <= 24 and has_chinese(text) and not _NOT_A_TERM.search(text):
        return text
    return None


def _list_items(text: str) -> Iterable[str]:
    """The short items of lists and tables: bullet lines, and what readable() puts after a caption ("AI芯片细分赛道：
    存算一体AI芯片、高性能计算芯片") or in a table cell's line."""
    for line in text.split("\n"):
        item = short_item(line.strip())
        if item:
            yield item
    for line in readable(text).split("\n"):
        _, colon, rest = line.partition("：")
        if colon and "、" in rest:
            yield from rest.split("、")


def candidate_terms(texts: Iterable[str], limit: int = MAX_TERMS) -> list[str]:
    """The Chinese terms of the texts worth an English name, most frequent first (then in order of appearance).
    Not a term: a word general Chinese often uses (its list items and quotations too: 其他, 工具), unless jieba tags
    it a proper name, and a fragment of a longer word (_fragment)."""
    import jieba
    import jieba.posseg

    keyword_tokens("")  # initialises jieba quietly
    texts = list(texts)
    counts: collections.Counter[str] = collections.Counter()
    proper: set[str] = set()
    for text in texts:
        tagged = list(jieba.posseg.cut(text))
        proper.update(w for w, flag in tagged if flag in _PROPER)
        words = [w for w, flag in tagged if flag in _PROPER or _rare_noun(w, flag, jieba.dt.FREQ)]
        quoted = [m.group(1) for m in _QUOTED.finditer(text)]
        for raw in (*words, *quoted, *_list_items(text)):
            if term := _term(raw):
                counts[term] += 1
    whole = "\n".join(texts)
    terms = [
        term
        for term, _ in counts.most_common()  # most_common keeps first-seen order among equals
        if (term in proper or jieba.dt.FREQ.get(term, 0) < _RARE) and not _fragment(term, whole)
    ]
    return terms[:limit]


def _fragment(term: str, text: str) -> bool:
    """Whether term, met at least twice, always runs on into the same Chinese character on one side: then it is part
    of a longer word (大模 of 大模型), and naming it would split that word. A line break is no side: text taken from a
    PDF breaks lines inside words."""
    spans = [m.span() for m in re.finditer(re.escape(term), text)]
    after = [text[end : end + 1] for _, end in spans]
    before = [text[start - 1 : start] if start else "" for start, _ in spans]
    for side in (after, before):
        seen = [c for c in side if c not in ("", "\n")]
        if len(seen) >= 2 and len(set(seen)) == 1 and has_chinese(seen[0]):
            return True
    return False


def _rare_noun(word: str, flag: str, frequency: dict[str, int]) -> bool:
    return (flag.startswith("n") or flag in ("vn", "eng", "x")) and frequency.get(word.strip(), 0) < _RARE


@dataclass(frozen=True)
class NamesReport:
    terms: int  # candidate terms in the corpus
    named: int  # of them, with an English name in the file
    asked: int  # terms the model was asked for this time
    seconds: float


def read_names(index_dir: Path) -> Glossary:
    """The names made for the corpus at index_dir (empty before the first ingest that made them)."""
    return Glossary.read(index_dir / NAMES_FILE)


def _header(path: Path) -> str:
    try:
        with path.open(encoding="utf-8") as file:
            return file.readline()
    except (OSError, UnicodeDecodeError):
        return ""


def _tried(path: Path) -> set[str]:
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (FileNotFoundError, UnicodeDecodeError):
        return set()
    return {line[len(_UNNAMED) :].strip() for line in lines if line.startswith(_UNNAMED)}


def update_names(
    index_dir: Path,
    texts: Sequence[str],
    generator: Generator,
    model: str,
    on_progress: Callable[[int, int], None] | None = None,
) -> NamesReport:
    """Name the candidate terms of texts that names.tsv does not hold yet, BATCH per model call, and rewrite the file
    with the names of the corpus's current terms (those of removed documents go). The model's GenerationError or
    ModelError propagates; the names made before it are kept."""
    import time

    start = time.perf_counter()
    path = index_dir / NAMES_FILE
    try:
        known = read_names(index_dir).terms
    except ConfigError:  # a hand-broken file: made again
        known = {}
    tried = _tried(path)
    if known and _METHOD not in _header(path):  # made the way before the last change: made again
        known, tried = {}, set()
    terms = candidate_terms(texts)
    missing = [t for t in terms if t not in known and t not in tried]
    names = {t: known[t] for t in terms if t in known}
    unnamed = {t for t in terms if t in tried}
    try:
        for first in range(0, len(missing), BATCH):
            batch = missing[first : first + BATCH]
            made = _named(batch, generator)
            names.update(made)
            unnamed.update(t for t in batch if t not in made)
            if on_progress:
                on_progress(min(first + BATCH, len(missing)), len(missing))
    finally:
        _write(path, terms, names, unnamed, model)
    return NamesReport(len(terms), len(names), len(missing), time.perf_counter() - start)


def _named(terms: list[str], generator: Generator) -> dict[str, str]:
    """English names for terms; when the reply names fewer than half of them (it went wrong as a whole: the model
    looped on one name, or stopped repeating the terms), the rest are asked again in halves."""
    made = {t: n for t, n in english_names(terms, generator).items() if len(n) <= MAX_NAME_CHARS}
    rest = [t for t in terms if t not in made]
    if len(terms) > 1 and 2 * len(rest) > len(terms):
        half = (len(rest) + 1) // 2
        made |= _named(rest[:half], generator) | _named(rest[half:], generator)
    return made


def _write(path: Path, terms: Sequence[str], names: dict[str, str], unnamed: set[str], model: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = [
        f"# English names of the corpus's Chinese terms, made by `bluebot ingest` with {model} ({date.today()}), "
        f"{_METHOD}.",
        "# One term per line: the Chinese, a tab, the English. Corrections go in corpus/glossary.tsv, which wins.",
        f"# Lines starting with {_UNNAMED.strip()!r} are terms the model gave no English name.",
    ]
    for term in terms:
        if term in names:
            lines.append(f"{term}\t{names[term]}")
        elif term in unnamed:
            lines.append(f"{_UNNAMED}{term}")
    staged = path.with_suffix(".tmp")
    staged.write_text("\n".join(lines) + "\n", encoding="utf-8")
    staged.replace(path)
