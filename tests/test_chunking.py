from __future__ import annotations

import re

from bluebot.chunking import chunk_document, clean_text
from bluebot.types import Document

from conftest import REPORT, SAMPLE_REPORT


def _doc(text: str, source: str = "corpus/r.txt") -> Document:
    return Document(source=source, text=text)


def test_clean_text_removes_emphasis_and_debris() -> None:
    text = clean_text("共有投资案例 **1,156** 起\n- ✓\n \n- ✓ 通用AI大模型\n\n\n\n下一段")
    assert "**" not in text
    assert "- ✓\n" not in text
    assert "通用AI大模型" in text
    assert "\n\n\n" not in text


def test_splits_at_chinese_sentence_ends_within_size() -> None:
    sentence = "人工智能产业投资持续活跃，资本关注度不断提升。"  # 24 characters
    text = "05 AI产业发展趋势探讨\n\n" + "".join(sentence for _ in range(20))
    chunks = chunk_document(_doc(text), size=100, overlap=0)
    assert len(chunks) > 1
    for chunk in chunks:
        assert len(chunk.text) <= 100
        assert chunk.text.endswith("。"), chunk.text


def test_other_sentence_ends_split_too() -> None:
    text = "这是第一句！这是第二句？这是第三句；这是第四句。" * 6
    chunks = chunk_document(_doc(text), size=40, overlap=0)
    assert all(c.text[-1] in "。！？；" for c in chunks)


def test_numbers_are_never_split() -> None:
    # one long "sentence" with no punctuation forces a hard split
    text = "投资金额" + "".join(f"{i},156.{i}亿元" for i in range(100, 160))
    numbers = set(re.findall(r"\d[\d,.]*\d", text))
    chunks = chunk_document(_doc(text), size=60, overlap=0)
    assert len(chunks) > 3
    for chunk in chunks:
        for number in re.findall(r"\d[\d,.]*\d", chunk.text):
            assert number in numbers, f"{number!r} is a broken number in {chunk.text!r}"


def test_overlap_repeats_the_tail_of_the_previous_chunk() -> None:
    text = "".join(f"第{i}句话讲述了一个事实。" for i in range(30))
    chunks = chunk_document(_doc(text), size=80, overlap=30)
    assert len(chunks) > 3
    for prev, nxt in zip(chunks, chunks[1:], strict=False):
        shared = max(n for n in range(len(nxt.text) + 1) if prev.text.endswith(nxt.text[:n]))
        assert 0 < shared <= 30, (prev.text, nxt.text)
        assert nxt.text[:shared].endswith("。")  # whole sentences only


def test_table_rows_keep_header_and_title() -> None:
    chunks = chunk_document(_doc(SAMPLE_REPORT), size=60, overlap=10)
    table = [c for c in chunks if "|" in c.text]
    assert len(table) == 2, [c.text for c in table]  # one row per piece at this size
    for piece in table:
        lines = piece.text.split("\n")
        assert lines[0] == "AI芯片主要技术路线对比"
        assert lines[1] == "- | GPU | FPGA | ASIC"
    assert table[0].text.endswith("优势 | 通用性强 | 可编程 | 功耗比好")
    assert table[1].text.endswith("劣势 | 功耗高 | 价格较高 | 周期较长")


def test_small_table_stays_whole() -> None:
    chunks = chunk_document(_doc(SAMPLE_REPORT), size=400, overlap=50)
    table = [c for c in chunks if "|" in c.text]
    assert len(table) == 1
    assert "优势" in table[0].text and "劣势" in table[0].text


def test_section_metadata_and_positions() -> None:
    chunks = chunk_document(_doc(SAMPLE_REPORT), size=200, overlap=20)
    by_text = {c.text.split("\n")[0]: c for c in chunks}
    first = next(c for c in chunks if "1,156" in c.text)
    assert first.section == "02 中国AI产业投融资市场分析—总体投资分析"
    hz = next(c for c in chunks if "54家" in c.text)
    assert hz.section == "04 杭州市AI产业发展与投资—杭州AI产业投资分析"
    assert [c.position for c in chunks] == list(range(len(chunks)))
    assert all(c.lang == "zh" and c.source == "corpus/r.txt" for c in chunks)
    assert by_text


def test_ids_are_stable_and_unique() -> None:
    a = chunk_document(_doc(SAMPLE_REPORT), size=200, overlap=20)
    b = chunk_document(_doc(SAMPLE_REPORT), size=200, overlap=20)
    assert [c.id for c in a] == [c.id for c in b]
    assert len({c.id for c in a}) == len(a)
    other = chunk_document(_doc(SAMPLE_REPORT, source="corpus/other.txt"), size=200, overlap=20)
    assert not {c.id for c in a} & {c.id for c in other}


def test_editing_one_section_keeps_ids_elsewhere() -> None:
    before = chunk_document(_doc(SAMPLE_REPORT), size=200, overlap=20)
    after = chunk_document(_doc(SAMPLE_REPORT.replace("54家", "55家")), size=200, overlap=20)
    changed = {c.id for c in before} ^ {c.id for c in after}
    assert len(changed) == 2  # the Hangzhou chunk, old and new


def test_real_report_chunks() -> None:
    text = REPORT.read_text(encoding="utf-8")
    chunks = chunk_document(_doc(text), size=300, overlap=60)
    assert all(len(c.text) <= 300 for c in chunks)
    sections = {c.section for c in chunks}
    assert "02 中国AI产业投融资市场分析—总体投资分析" in sections
    assert "05 AI产业发展趋势探讨" in sections
    assert not any("**" in c.text for c in chunks)
    joined = "".join(c.text for c in chunks)
    for fact in ("1,156", "850 亿元", "2,442 亿元", "30.02亿元", "46.4%"):
        assert fact in joined
    # the comparison table: every piece repeats the column header
    rows = [c for c in chunks if "GPU | FPGA | ASIC" in c.text]
    assert rows and all("AI芯片主要技术路线对比" in c.text for c in rows)
