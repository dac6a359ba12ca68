"""Retrieved hits -> the numbered passages the model reads: each chunk laid out so that a small model can read it
(table cells and infographic figures next to their labels), then cut to its lines most relevant to the question so
that the prompt stays short."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from bluebot.numbers import find_amounts
from bluebot.text import CJK_RANGES, has_chinese, keyword_tokens
from bluebot.types import Hit


@dataclass(frozen=True)
class Passage:
    """Retrieved hit number n as the model sees it: the chunk laid out by readable() and trimmed to its lines most
    relevant to the question."""

    n: int
    hit: Hit
    text: str


# The prompt budget. MODELS.md measured ~5 s to the first token for a 1,700-token prompt on this machine, and the
# target is < 4 s, so the model sees at most this many characters of report text (~1 token per Chinese character).
# benchmarks/prompt_budget.py: with the layout below, 1,000 characters in all and up to 360 per passage hold the
# evidence of all 117 answerable test questions (900 lose one; 320 per passage cuts the table for two English
# questions, whose words cannot pick the table's lines), 975 characters on average.
PASSAGE_CHARS = 360
TOTAL_CHARS = 1000

_SENTENCE = re.compile(r"(?<=[。！？；!?;])")
_ASKS_PERCENT = re.compile(r"占比|比例|比重|份额|增速|增长率|百分之|CAGR|share|proportion|percent|rate\b|growth", re.I)
_ASKS_MONEY = re.compile(
    r"金额|规模|多少钱|融资|投资额|资本|how much|amount|size|big|large|capital|worth|raise|money", re.I
)
_ASKS_COUNT = re.compile(r"多少[起家个支条项]|几[起家个支条项]|多少|how many|number of", re.I)


def split_pieces(text: str, limit: int = 120) -> list[str]:
    """Lines, with long prose lines split at sentence ends; table rows stay whole."""
    out: list[str] = []
    for line in text.split("\n"):
        line = line.strip()
        if not line:
            continue
        if len(line) <= limit or " | " in line:
            out.append(line)
        else:
            out.extend(s.strip() for s in _SENTENCE.split(line) if s.strip())
    return out


def token_weight(token: str) -> float:
    # Longer Chinese words are more specific ("批复规模" tells more than "规模"); numbers and Latin terms are names.
    if has_chinese(token):
        return float(min(len(token), 4))
    return 2.0 if len(token) > 1 else 0.5


def asked_units(question: str) -> set[str]:
    asked = set()
    if _ASKS_PERCENT.search(question):
        asked.add("percent")
    if _ASKS_MONEY.search(question):
        asked.update(("CNY", "USD"))
    if _ASKS_COUNT.search(question):
        asked.add("count")
    return asked


def relevance(piece: str, question_tokens: set[str], asked: set[str]) -> float:
    """Token overlap with the question, plus a bonus when the piece holds the kind of number asked for."""
    tokens = set(keyword_tokens(piece))
    score = sum(token_weight(t) for t in tokens & question_tokens)
    if asked and any(not a.exempt and a.unit in asked for a in find_amounts(piece)):
        score += 2.0
    return score


def trim(text: str, question: str, budget: int = PASSAGE_CHARS) -> str:
    """The passage cut to its most relevant lines, in their original order. A line next to a relevant one
    shares half its score: an infographic's label can sit above its figure."""
    if len(text) <= budget:
        return text
    pieces = split_pieces(text)
    q_tokens, asked = set(keyword_tokens(question)), asked_units(question)
    own = [relevance(p, q_tokens, asked) for p in pieces]
    score = [
        s + 0.5 * max(own[i - 1] if i else 0.0, own[i + 1] if i + 1 < len(own) else 0.0) for i, s in enumerate(own)
    ]
    keep: set[int] = set()
    used = 0
    for i in sorted(range(len(pieces)), key=lambda i: (-score[i], i)):
        if used + len(pieces[i]) > budget and keep:
            continue
        keep.add(i)
        used += len(pieces[i]) + 1
    return "\n".join(pieces[i] for i in sorted(keep))


def build_passages(
    hits: Sequence[Hit], question: str, total: int = TOTAL_CHARS, per_passage: int = PASSAGE_CHARS
) -> list[Passage]:
    """Number the hits [1]..[n], lay them out readably and trim them to fit the prompt budget; hits that no longer
    fit are dropped."""
    passages: list[Passage] = []
    used = 0
    for hit in hits:
        text = trim(readable(hit.chunk.text), question, min(per_passage, total - used))
        if passages and used + len(text) > total:
            break
        passages.append(Passage(len(passages) + 1, hit, text))
        used += len(text)
    return passages


# ---------------------------------------------------------------- layout

# An infographic figure as the PDF gives it: the figure on one line, its label on the next ("达 3,176 亿元" /
# "批复规模"). A figure line is a number with at most a qualifier around it.
_QUALIFIERS = re.compile(r"预计|将|超过|超|突破|达到|达|约|近|高达|同比|增长|↑|↓|以上|累计|共|[，,。；:：\s]")
_FIGURE_LINE_CHARS = 24
_LABEL_LINE_CHARS = 30


def _figure_line(line: str) -> bool:
    # a figure has a unit or a measure word: "268支", "达 3,176 亿元"; "2025.07" over "目录" is a date
    amounts = [a for a in find_amounts(line) if not a.exempt and (a.measure or not a.bare)]
    if not amounts or len(line) > _FIGURE_LINE_CHARS or " | " in line:
        return False
    rest = line
    for a in amounts:
        rest = rest.replace(a.text.strip(), "")
    return len(re.findall(f"[{CJK_RANGES}A-Za-z]", _QUALIFIERS.sub("", rest))) <= 2


def _label_line(line: str) -> bool:
    """A short caption: Chinese words, no figure (a year is fine), not a sentence, list item or table row."""
    return (
        0 < len(line) <= _LABEL_LINE_CHARS
        and has_chinese(line)
        and all(a.exempt for a in find_amounts(line))
        and not line.endswith(("。", "；", ";", "！", "？"))
        and not line.startswith(("-", "•", "·"))
        and " | " not in line
    )


def _cells(row: str) -> list[str]:
    return [c.strip() for c in row.split(" | ")]


def _table_lines(header: list[str], cells: list[str]) -> list[str]:
    """One line per cell, named by its column and row: under "- | GPU | FPGA", the row "优势 | 通用性强 | 低能耗"
    becomes "GPU的优势：通用性强" and "FPGA的优势：低能耗". A two-column table keeps one line per row:
    "AI芯片细分市场分类（按应用场景）：云端芯片、边缘端芯片、终端芯片"."""
    row = cells[0] if cells[0] != "-" else ""
    template = "{column}（{row}）" if len(header) == 2 else "{column}的{row}"
    lines = []
    for column, cell in zip(header[1:], cells[1:], strict=False):
        if not cell or cell == "-":
            continue
        name = template.format(column=column, row=row) if row else column
        lines.append(f"{name}：{cell}" if name and name != "-" else cell)
    return lines


_LIST_ITEM = re.compile(r"^[-•·]\s*(?:[✓√]\s*)?(?P<item>.*)$")
_LIST_ITEM_CHARS = 30


def short_item(line: str) -> str | None:
    """The text of a short list item ("- ✓ 存算一体AI芯片" -> "存算一体AI芯片"; "" for an empty bullet), or None."""
    m = _LIST_ITEM.match(line)
    if m is None or len(m.group("item")) >= _LIST_ITEM_CHARS or m.group("item").endswith(("。", "；", ";")):
        return None
    return m.group("item").strip()


def _join_list(out: list[str], items: list[str], after: str | None) -> bool:
    """Short list items on one line under their caption: the line above when it is one, else the line below
    (the PDF sometimes prints the caption under the list). True when the line below was used."""
    above = next((i for i in range(len(out) - 1, -1, -1) if out[i]), None)
    if above is not None and _label_line(out[above]):
        out[above] = f"{out[above]}：{'、'.join(items)}"
        del out[above + 1 :]
        return False
    if after is not None and _label_line(after):
        out.append(f"{after}：{'、'.join(items)}")
        return True
    out.append("、".join(items))
    return False


# "A、B，占比分别为X、Y": each figure goes with its item, "A（占比X）、B（占比Y）". The small model paired them wrongly
# ("31 companies ... 47.5%"); written out, nothing is left to count.
_RESPECTIVELY = re.compile(
    r"(?P<items>[^，。；,;：:]+)，(?P<label>[^，。；,;、]{0,8}?)分别(?:为|是|达到|达|约)(?P<values>[^，。；,;]+)"
)


def respectively(line: str) -> str:
    """ "合计31家、融资总金额26.45亿元，占比分别为68.2%、47.5%" ->
    "合计31家（占比68.2%）、融资总金额26.45亿元（占比47.5%）". The last items before the comma take the figures
    in order; a line whose counts do not match is left as it is."""

    def pair(m: re.Match[str]) -> str:
        items, values = m.group("items").split("、"), m.group("values").split("、")
        if len(values) < 2 or len(items) < len(values):
            return m.group(0)
        first = len(items) - len(values)
        paired = [f"{item}（{m.group('label')}{value}）" for item, value in zip(items[first:], values, strict=True)]
        return "、".join(items[:first] + paired)

    return _RESPECTIVELY.sub(pair, line)


def readable(text: str) -> str:
    """A chunk laid out for a reader that cannot see the page: each table cell on a line of its own, named by its
    column and row (a small model cannot count columns); an infographic's figure joined to the label printed
    under it ("批复规模：达 3,176 亿元"); a list of short items on one line after its caption ("2024年AI芯片投资细分
    赛道：存算一体AI芯片、高性能计算芯片"); figures given "respectively" next to their items (the one rewording:
    "分别为" goes, its label goes with each figure). The words and figures themselves are unchanged."""
    lines = [line.strip() for line in text.split("\n")]
    out: list[str] = []
    header: list[str] | None = None
    i = 0
    while i < len(lines):
        line = lines[i]
        if " | " in line:
            if header is None:
                header = _cells(line)
                # that it is a table, and its columns: a question may say "in the comparison table"
                out.append("表格：" + "、".join(c for c in header if c and c != "-"))
            else:
                out.extend(_table_lines(header, _cells(line)))
            i += 1
            continue
        if i + 1 < len(lines) and _figure_line(line) and _label_line(lines[i + 1]):
            out.append(f"{lines[i + 1]}：{line.rstrip('，,')}")
            i += 2
            continue
        j, items = i, []
        while j < len(lines) and (lines[j] == "" or (item := short_item(lines[j])) is not None):
            if lines[j] and item:
                items.append(item)
            j += 1
        if len(items) >= 2:
            below = next((k for k in range(j, len(lines)) if lines[k]), len(lines))
            if _join_list(out, items, lines[below] if below < len(lines) else None):
                j = below + 1
            i = j
            continue
        out.append(respectively(line))
        i += 1
    return "\n".join(out)
