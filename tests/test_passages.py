from __future__ import annotations

from bluebot.passages import build_passages, readable, respectively, trim
from bluebot.types import Chunk, Hit

TOTAL = "2024年中国AI产业领域：共有投资案例 1,156 起，披露总投资金额近 850 亿元。"
HANGZHOU = "2024年，杭州AI产业领域获投的企业有54家，披露融资规模过亿的企业有14家。"
CHIPS = "AI芯片主要技术路线对比\n- | GPU | FPGA\n优势 | 通用性强 | 可编程\n劣势 | 功耗高 | 价格较高"
CLASSES = "划分依据 | AI芯片细分市场分类\n按处理类型 | 训练芯片、推理芯片\n按应用场景 | 云端芯片、边缘端芯片"
# The report's infographics as the PDF gives them: each figure on the line above its label.
FUNDS = (
    "截至2025年初，产业基金集群\n1,540个\n累计投资市域内产业项目\n达 503亿元\n投资金额\n"
    "2025年中国 智能算力 市场规模\n预计将达 259 亿美元，\n同比 ↑36.2%"
)


def hits(*texts: str) -> list[Hit]:
    chunks = [Chunk(f"c{i}", t, "corpus/report.txt", f"section {i}", i, "zh") for i, t in enumerate(texts)]
    return [Hit(c, 1.0 / (i + 1), i + 1, None, 0.5) for i, c in enumerate(chunks)]


def test_table_cells_are_named_by_their_column_and_row() -> None:
    assert readable(CHIPS).split("\n") == [
        "AI芯片主要技术路线对比",
        "表格：GPU、FPGA",
        "GPU的优势：通用性强",
        "FPGA的优势：可编程",
        "GPU的劣势：功耗高",
        "FPGA的劣势：价格较高",
    ]
    assert readable(CLASSES).split("\n") == [
        "表格：划分依据、AI芯片细分市场分类",
        "AI芯片细分市场分类（按处理类型）：训练芯片、推理芯片",
        "AI芯片细分市场分类（按应用场景）：云端芯片、边缘端芯片",
    ]
    # an empty cell says nothing
    assert readable("- | GPU | FPGA\n劣势 | - | 价格较高").endswith("\nFPGA的劣势：价格较高")


def test_an_infographic_figure_joins_the_label_under_it() -> None:
    assert readable(FUNDS).split("\n") == [
        "截至2025年初，产业基金集群",
        "累计投资市域内产业项目：1,540个",
        "投资金额：达 503亿元",
        # a label above its figure, and a figure followed by another figure, stay as they are
        "2025年中国 智能算力 市场规模",
        "预计将达 259 亿美元，",
        "同比 ↑36.2%",
    ]
    # a sentence, a list item or a long line is not a label, a date is not a figure; prose keeps its lines
    for text in ("达 503亿元\n投资金额增长较快。", "达 503亿元\n- 投资金额", "2025.07\n目录", TOTAL + "\n" + HANGZHOU):
        assert readable(text) == text


def test_short_list_items_join_their_caption_above_or_below() -> None:
    above = "图表标题\n2024年AI芯片投资细分赛道\n\n- ✓ 存算一体AI芯片\n- ✓ 智能驾驶芯片\n- ✓\n正文。"
    joined = "2024年AI芯片投资细分赛道：存算一体AI芯片、智能驾驶芯片"
    assert readable(above).split("\n") == ["图表标题", joined, "正文。"]
    below = "总规模30.02亿元，是重要战略布局。\n- 人工智能+制造\n- 人工智能+海洋\n\n基金重点投向领域\n其他。"
    assert readable(below).split("\n") == [
        "总规模30.02亿元，是重要战略布局。",
        "基金重点投向领域：人工智能+制造、人工智能+海洋",
        "其他。",
    ]
    sentences = "- ✓ 算力提升是AI芯片技术迭代的主要方向；\n- ✓ 训练芯片市场快速增长；"
    assert readable(sentences) == sentences  # items that are sentences stay on their lines
    assert readable("标题\n- 一项") == "标题\n- 一项"  # one item is not a list


def test_figures_given_respectively_go_next_to_their_items() -> None:
    line = "获投企业主要分布在滨江、余杭等地，合计42家、融资总金额38.65亿元，占比分别为77.8%、59.3%。"
    paired = "获投企业主要分布在滨江、余杭等地，合计42家（占比77.8%）、融资总金额38.65亿元（占比59.3%）。"
    assert respectively(line) == paired
    assert readable("投资地域\n" + line) == "投资地域\n" + paired
    # the last items take the figures; no label is fine
    assert respectively("天使轮、A轮、B轮，分别为10起、20起。") == "天使轮、A轮（10起）、B轮（20起）。"
    # more figures than items, or one figure: left as written
    for text in ("北京、上海，投资额分别为10亿元、20亿元、30亿元。", "北京，投资额分别为10亿元。", TOTAL):
        assert respectively(text) == text


def test_trim_keeps_the_relevant_lines_in_order() -> None:
    text = "\n".join(["无关的第一行内容" * 3, "投资地域", "Top5地区：合计投资案例975起，占比84.3%。", "其他内容" * 8])
    kept = trim(text, "Top5地区合计有多少起案例？", budget=60)
    assert "975起" in kept and "其他内容" not in kept
    cells = trim(readable(CHIPS + "\n" + "应用场景 | 并行计算 | 专用场景"), "FPGA的劣势是什么", budget=30)
    assert "FPGA的劣势：价格较高" in cells and "优势" not in cells and "应用场景" not in cells


def test_passages_are_numbered_laid_out_and_fit_the_prompt_budget() -> None:
    built = build_passages(hits(TOTAL * 10, HANGZHOU * 10, CHIPS * 10), "杭州获投企业有多少家", total=500)
    assert [p.n for p in built] == list(range(1, len(built) + 1))
    assert sum(len(p.text) for p in built) <= 500
    (table,) = build_passages(hits(CHIPS), "FPGA的劣势")
    assert "FPGA的劣势：价格较高" in table.text and table.hit.chunk.text == CHIPS  # citations keep the report's text
