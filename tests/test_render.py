"""The sources panel's HTML: escaping, and which sentences of a passage are highlighted."""

from __future__ import annotations

import pytest

from bluebot.render import claims_by_citation, passage_html, sources_html, split_sentences, supporting_sentences
from bluebot.types import Chunk
from bluebot.ui import LABELS

from fakes import CHUNK, answer

EN = LABELS["en"]


def test_sentences_keep_every_character() -> None:
    text = "共有投资案例 **1,156** 起。\n\nTop5地区占比84.3%；金额744.3亿元。It grew 36.2% in 2025. Next"
    parts = split_sentences(text)
    assert "".join(parts) == text
    assert "Top5地区占比84.3%；" in parts and "It grew 36.2% in 2025." in parts


def test_claims_follow_their_markers() -> None:
    claims = claims_by_citation("China had 1,156 deals [1]. Top five regions: 975 deals. [2] Both grew [1, 2].")
    assert claims[1] == ["China had 1,156 deals .", "Both grew ."]
    assert claims[2] == ["Top five regions: 975 deals.", "Both grew ."]
    assert claims_by_citation("共有1,156起[1][2]。") == {1: ["共有1,156起。"], 2: ["共有1,156起。"]}


@pytest.mark.parametrize(
    ("claim", "expected"),
    [
        ("Top5地区合计投资案例975起，占比84.3%", [False, True]),  # Chinese: shared numbers and terms
        ("The top five regions had 975 deals, 84.3% of all.", [False, True]),  # English answer, Chinese passage
        ("China recorded 1156 AI deals in 2024.", [True, False]),  # "1,156" in the passage
        ("The report is about AI.", [False, False]),  # nothing specific shared: no highlight
    ],
)
def test_the_supporting_sentence_is_highlighted(claim: str, expected: list[bool]) -> None:
    passage = "2024年中国AI产业共有投资案例 **1,156** 起。\nTop5地区：合计投资案例975起，占比**84.3%**。"
    marks = supporting_sentences(passage, [claim])
    assert [m for m, s in zip(marks, split_sentences(passage), strict=True) if s.strip()] == expected


def test_table_rows_are_highlighted_by_terms() -> None:
    table = "\tGPU\tFPGA\tASIC\n优势\t通用性强\t可编程\t功耗比好\n劣势\t功耗高\t价格较高\t周期较长\n"
    marks = supporting_sentences(table, ["FPGA的劣势是价格较高"])
    rows = [s for s in split_sentences(table) if s.strip()]
    assert [m for m, s in zip(marks, split_sentences(table), strict=True) if s.strip()] == [False, False, True]
    assert rows[2].startswith("劣势")


def test_passage_text_is_escaped_and_emphasis_kept() -> None:
    chunk = Chunk(
        "c<1>", "<script>alert('x')</script> 共有 **975** 起 & more。", "corpus/a&b.txt", "<h1>s</h1>", 0, "zh"
    )
    html = passage_html(chunk, ["共有975起"])
    assert "<script>" not in html and "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in html
    assert "<strong>975</strong>" in html and "&amp; more" in html and html.startswith("<mark>")
    panel = sources_html(answer(text="共有975起[1]。", chunks=[chunk]), EN)
    assert "<h1>" not in panel and "&lt;h1&gt;s&lt;/h1&gt;" in panel and "corpus/a&amp;b.txt" in panel
    assert 'data-chunk="c&lt;1&gt;"' in panel


def test_the_question_is_escaped_too() -> None:
    panel = sources_html(answer(question="<img src=x onerror=alert(1)>?"), EN)
    assert "<img" not in panel and "&lt;img src=x onerror=alert(1)&gt;?" in panel


def test_panel_shows_number_section_file_and_highlight() -> None:
    panel = sources_html(answer(text="2024年共有投资案例1,156起[1]。"), EN)
    assert '<span class="bb-n">[1]</span>' in panel
    assert f'<span class="bb-section">{CHUNK.section}</span>' in panel
    assert "corpus/report.txt · passage 5" in panel and "local:fake · 1.2 s" in panel
    assert "<mark>根据统计，2024年中国AI产业领域：共有投资案例 <strong>1,156</strong>" in panel


def test_empty_panel_invites_a_question() -> None:
    assert "Click an earlier answer" in sources_html(None, EN)


def test_a_rewritten_follow_up_shows_what_was_searched() -> None:
    panel = sources_html(answer(question="金额呢？", standalone_question="2024年AI产业<投资>金额"), EN)
    assert "searched as: 2024年AI产业&lt;投资&gt;金额" in panel
    assert "searched as" not in sources_html(answer(standalone_question=answer().question), EN)


def test_amounts_match_across_languages_and_units() -> None:
    passage = "投资地域\nTop5地区：合计投资案例975起，占比84.3%；合计投资金额744.3亿元，占比87.8%。"
    claim = "The top five regions had 975 deals and 74.43 billion yuan."
    marks = supporting_sentences(passage, [claim])
    marked = [s for m, s in zip(marks, split_sentences(passage), strict=True) if m]
    assert marked == ["Top5地区：合计投资案例975起，占比84.3%；", "合计投资金额744.3亿元，占比87.8%。"]
