"""Documents -> Chunks: cleaned, split at paragraph then sentence ends, tables split by rows
with the header repeated, each chunk labelled with its section and a stable id."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from dataclasses import dataclass

from bluebot.text import detect_lang
from bluebot.types import Chunk, Document

# Page headings of the report: "02 中国AI产业投融资市场分析—总体投资分析", "05 AI产业发展趋势探讨".
# Numbered sub-points ("01 全球AI发展历经三次浪潮，已开启...") carry a comma and stay in the text.
_PAGE_HEADING = re.compile(r"^(0[1-9]|[1-9]\d)\s+[^\s，,。；;：:]{2}[^，,。；;]{0,38}$")
_MD_HEADING = re.compile(r"^#{1,3}\s+(.+?)\s*#*$")
_SENTENCE_END = re.compile(r"(?<=[。！？；!?])|(?<=[.;])(?=\s)")
_DEBRIS = re.compile(r"^[-–•·✓\s]*$")  # empty bullets and check marks left where pictures were
_NUMBER_CHAR = re.compile(r"[\d.,%]")


@dataclass(frozen=True)
class _Block:
    section: str
    text: str
    table_header: str = ""  # set for table blocks: the row repeated at the top of each piece


def clean_text(text: str) -> str:
    """Drop emphasis marks and layout debris; keep paragraphs and tab-separated rows."""
    text = text.replace("**", "").replace("\u00a0", " ").replace("\u3000", " ").replace("\r\n", "\n")
    lines = []
    for line in text.split("\n"):
        if "\t" in line:
            cells = [c.strip() for c in line.split("\t")]
            line = "\t".join(cells) if any(cells) else ""
        else:
            line = re.sub(r"[ \t]+", " ", line).strip()
        lines.append("" if _DEBRIS.match(line) else line)
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


def _heading(line: str) -> str | None:
    if m := _MD_HEADING.match(line):
        return m.group(1)
    return line if _PAGE_HEADING.match(line) else None


def _blocks(text: str) -> Iterator[_Block]:
    """Section-sized runs of prose and whole tables, in order. Consecutive tab-separated lines form
    a table; a short line just above it (blank lines aside) is its title and travels with it."""
    section = ""
    prose: list[str] = []  # lines, "" marking paragraph breaks
    table: list[str] = []

    def flush_prose() -> Iterator[_Block]:
        text = "\n".join(prose).strip()
        prose.clear()
        if text:
            yield _Block(section, re.sub(r"\n{2,}", "\n\n", text))

    def flush_table() -> Iterator[_Block]:
        # rows whose data cells are all empty held pictures (logos) in the PDF
        rows = [" | ".join(c or "-" for c in cells) for cells in (r.split("\t") for r in table) if any(cells[1:])]
        table.clear()
        while prose and not prose[-1]:
            prose.pop()
        title = prose.pop() if prose and len(prose[-1]) <= 40 else ""
        yield from flush_prose()
        header = "\n".join(x for x in (title, rows[0]) if x)
        yield _Block(section, "\n".join(rows[1:]), table_header=header)

    for line in text.split("\n"):
        if "\t" in line:
            table.append(line)
            continue
        if table:
            yield from flush_table()
        if (heading := _heading(line)) is not None:
            yield from flush_prose()
            section = heading
        else:
            prose.append(line)
    if table:
        yield from flush_table()
    yield from flush_prose()


def _sentences(text: str) -> list[str]:
    return [s for s in _SENTENCE_END.split(text) if s.strip()]


def _inside_number(text: str, i: int) -> bool:
    """True when a cut before text[i] would fall between two parts of one number (2,318 / 52.3%)."""
    return 0 < i < len(text) and bool(_NUMBER_CHAR.match(text[i - 1])) and bool(_NUMBER_CHAR.match(text[i]))


def _hard_split(text: str, size: int) -> list[str]:
    """Split an over-long sentence near size characters, preferring commas, never inside a number."""
    pieces = []
    while len(text) > size:
        commas = [
            i + 1
            for i in range(size // 2, size)
            if text[i] in "，,、：: "
            and not _inside_number(text, i + 1)
            and not (text[i] == "," and text[i - 1].isdigit() and text[i + 1 : i + 2].isdigit())
        ]
        cut = commas[-1] if commas else size
        while _inside_number(text, cut) and cut > 1:
            cut -= 1
        pieces.append(text[:cut])
        text = text[cut:]
    return [*pieces, text] if text else pieces


def _pack(units: list[str], size: int, overlap: int, sep: str) -> list[str]:
    """Greedy packing of units into pieces of at most size characters, repeating the tail of the
    previous piece (whole units, up to overlap characters) at the start of the next."""
    pieces: list[list[str]] = []
    current: list[str] = []
    length = 0
    for unit in units:
        if current and length + len(unit) > size:
            pieces.append(current)
            tail: list[str] = []
            for prev in reversed(current):
                if sum(map(len, tail)) + len(prev) > overlap:
                    break
                tail.insert(0, prev)
            current, length = tail, sum(map(len, tail))
        current.append(unit)
        length += len(unit)
    if current and (not pieces or current != pieces[-1][-len(current) :]):
        pieces.append(current)
    return [sep.join(p).strip() for p in pieces if "".join(p).strip()]


def _split_block(block: _Block, size: int, overlap: int) -> list[str]:
    if block.table_header:
        rows = block.text.split("\n")
        budget = max(size - len(block.table_header), size // 2)
        return [f"{block.table_header}\n{piece}" for piece in _pack(rows, budget, 0, "\n")]
    # units are sentences; a paragraph's last sentence keeps its line break
    units = []
    for para in (p.strip() for p in block.text.split("\n")):
        if para:
            pieces = [u for s in _sentences(para) for u in _hard_split(s, size)]
            pieces[-1] += "\n"
            units.extend(pieces)
    return _pack(units, size, overlap, "")


def chunk_document(doc: Document, size: int = 400, overlap: int = 80) -> list[Chunk]:
    """Split one document into chunks of at most size characters (tables by rows, header repeated)."""
    chunks: list[Chunk] = []
    seen: set[str] = set()
    pieces = [(b.section, t) for b in _blocks(clean_text(doc.text)) for t in _split_block(b, size, overlap)]
    for position, (section, text) in enumerate(pieces):
        digest = hashlib.sha256(f"{doc.source}\n{section}\n{text}".encode()).hexdigest()[:16]
        chunk_id = digest if digest not in seen else f"{digest}-{position}"
        seen.add(chunk_id)
        chunks.append(Chunk(chunk_id, text, doc.source, section, position, detect_lang(text)))
    return chunks


def chunk_documents(docs: list[Document], size: int = 400, overlap: int = 80) -> list[Chunk]:
    return [c for d in docs for c in chunk_document(d, size, overlap)]
