"""checks.py: what the code does to a generated answer (citations, numbers, refusal, language)."""

from __future__ import annotations

import pytest

from bluebot.checks import (
    CHECKS,
    Check,
    Draft,
    FigureGate,
    check_answer,
    figure_evidence,
    repair_answer,
    verify,
    weak_evidence,
)
from bluebot.generation import REFUSAL
from bluebot.glossary import Glossary
from bluebot.passages import Passage, readable
from bluebot.types import Chunk, Hit, Lang

TOTAL = "2024年中国AI产业领域：共有投资案例 **1,156** 起，披露总投资金额近 **850** 亿元。"
HANGZHOU = "2024年，杭州AI产业领域获投的企业有54家，披露融资规模过亿的企业有14家。"
CHIPS = "AI芯片主要技术路线对比\n- | GPU | FPGA\n优势 | 通用性强 | 可编程\n劣势 | 功耗高 | 价格较高"


def passages(*texts: str) -> list[Passage]:
    chunks = [Chunk(f"c{i}", t, "corpus/report.txt", f"section {i}", i, "zh") for i, t in enumerate(texts)]
    return [Passage(i + 1, Hit(c, 1.0 / (i + 1), i + 1, None, 0.5), c.text) for i, c in enumerate(chunks)]


# ---------------------------------------------------------------- citations


def test_markers_to_nowhere_are_removed_and_the_rest_renumbered() -> None:
    ps = passages(HANGZHOU, TOTAL)
    checked = check_answer("2024年共有投资案例1,156起[2][7]。杭州获投企业54家[1]。", "zh", ps)
    assert checked.text == "2024年共有投资案例1,156起[1]。杭州获投企业54家[2]。"
    assert [(c.n, c.chunk.text) for c in checked.citations] == [(1, TOTAL), (2, HANGZHOU)]
    assert checked.ungrounded == []


def test_answer_without_citation_gets_the_best_supporting_passage() -> None:
    checked = check_answer("杭州获投的AI企业有54家。", "zh", passages(TOTAL, HANGZHOU))
    assert checked.text == "杭州获投的AI企业有54家[1]。"
    assert [c.chunk.text for c in checked.citations] == [HANGZHOU]


def test_marker_spellings_are_normalised() -> None:
    checked = check_answer("共有投资案例1,156起【2】，杭州有54家[资料1, 2]。", "zh", passages(HANGZHOU, TOTAL))
    assert checked.text == "共有投资案例1,156起[1]，杭州有54家[2][1]。"
    assert len(checked.citations) == 2
    # a marker after the sentence's end goes inside it, and a doubled end goes
    checked = check_answer("共有投资案例1,156起。[1]。杭州有54家。[2]", "zh", passages(TOTAL, HANGZHOU))
    assert checked.text == "共有投资案例1,156起[1]。杭州有54家[2]。"
    assert check_answer("杭州有54家[1]。。", "zh", passages(HANGZHOU)).text == "杭州有54家[1]。"


def test_a_number_from_an_uncited_passage_cites_it() -> None:
    checked = check_answer("全国共有投资案例1,156起，杭州获投企业54家[1]。", "zh", passages(HANGZHOU, TOTAL))
    assert {c.chunk.text for c in checked.citations} == {HANGZHOU, TOTAL}
    assert checked.ungrounded == []


def test_a_citation_holding_none_of_the_figures_is_dropped() -> None:
    top5 = TOTAL + "Top5地区：合计投资案例975起"
    checked = check_answer("Top5地区合计投资案例975起[1]。", "zh", passages(HANGZHOU, top5))
    assert checked.text == "Top5地区合计投资案例975起[1]。"  # [1] (Hangzhou) replaced by the passage with 975
    assert [c.chunk.text for c in checked.citations] == [top5]
    checked = check_answer("There were 1,156 deals [1] [2].", "en", passages(HANGZHOU, TOTAL))
    assert checked.text == "There were 1,156 deals [1]." and checked.citations[0].chunk.text == TOTAL


def test_text_copied_from_one_passage_and_cited_to_another_cites_the_one_it_came_from() -> None:
    neuro = "神经拟态芯片：技术研发较难，目前仍处于研究测试阶段"
    sd = "2022年9月，AI文生图核心技术Stable Diffusion底层代码开源"
    ps = passages(HANGZHOU, neuro, sd, CHIPS)
    for reply, source in [
        ("神经拟态芯片[1]。", neuro),  # a name found whole in [2]
        ("2022年9月[2]。", sd),  # a date found whole in [3]
        ("FPGA的劣势：功耗高、价格较高[1]。", CHIPS),  # after the colon, the table's words (with the GPU's)
        ("神经拟态芯片的技术研发较难，目前仍处于研究测试阶段[3]。", neuro),  # 9 in 10 of its character pairs
    ]:
        checked = check_answer(reply, "zh", ps)
        assert [c.chunk.text for c in checked.citations] == [source], reply
        assert checked.text.endswith("[1]。"), checked.text
    # words restating the question do not count: the answer's own words are the passage's
    uses = "神经拟态芯片 | 应用场景 | 研发测试场景、高能效的边缘端"
    reply = "神经拟态芯片适用于研发测试场景、高能效的边缘端[1]。"
    question = "神经拟态芯片适用于哪些场景？"
    checked = check_answer(reply, "zh", passages(CHIPS + "|神经拟态芯片|研发", uses), question=question)
    assert [c.chunk.text for c in checked.citations] == [uses]
    # nor do the pairs that straddle them ("上都", "都主" of "在投资导向上都主要引导")
    fund = "国家创业投资引导基金主要引导金融资本投早、投小、投长期、投硬科技，将吸引带动地方、社会资本近1万亿元。"
    reply = "国家创业投资引导基金和润苗直投基金在投资导向上都主要引导金融资本投早、投小、投长期、投硬科技[1]。"
    question = "国家创业投资引导基金和润苗直投基金在投资导向上有什么共同点？"
    checked = check_answer(reply, "zh", passages(HANGZHOU, fund), question=question)
    assert [c.chunk.text for c in checked.citations] == [fund]
    # an English question's Chinese reading copies the prompt's English readings; they are not the report's text
    asic = "劣势 | 研发、流片周期较长；灵活性较低"
    checked = check_answer("ASIC的劣势：研发、流片 (tape-out)周期较长；灵活性较低[1]。", "zh", passages(CHIPS, asic))
    assert [c.chunk.text for c in checked.citations] == [asic]
    # in a short answer the question's generic words are the answer's: found whole, it is re-cited
    kinds = "划分依据 | AI芯片细分市场分类\n按处理类型 | 训练芯片、推理芯片"
    question = "按处理类型划分，AI芯片可以分成哪几类？"
    checked = check_answer("训练芯片、推理芯片[1]。", "zh", passages(CHIPS, kinds), question=question)
    assert [c.chunk.text for c in checked.citations] == [kinds]
    # too short for pairs: a Latin code the question lacks, in no cited passage, cites the passage holding it
    quarters = "除2024Q2外，其他三个季度的AI领域披露投资金额均超过200亿元。"
    question = "2024年哪个季度的AI领域披露投资金额没有超过200亿元？"
    checked = check_answer("2024年Q2[1]。", "zh", passages(TOTAL, quarters), question=question)
    assert [c.chunk.text for c in checked.citations] == [quarters]
    # the cited passage holds it too, but the other one holds the question's words as well
    checked = check_answer("2024年Q2[2]。", "zh", passages(quarters, TOTAL + "Q2"), question=question)
    assert [c.chunk.text for c in checked.citations] == [quarters]
    # a cited passage that holds the text keeps its citation, though another holds it too
    checked = check_answer("神经拟态芯片[2]。", "zh", passages(HANGZHOU, neuro, CHIPS + "|神经拟态芯片"))
    assert [c.chunk.text for c in checked.citations] == [neuro]
    # a short answer joining a row's name to its cell: no passage holds it whole; its own words are the table's
    aigc = "AI文生视频市场潜力巨大，目前处于初期发展阶段"
    question = "在几种AI芯片技术路线中，哪一种目前仍处于研究测试阶段？"
    reply = "神经拟态芯片目前仍处于研究测试阶段。[2]"
    checked = check_answer(reply, "zh", passages(neuro, aigc), question=question)
    assert [c.chunk.text for c in checked.citations] == [neuro]
    # a short answer no passage holds whole, or too short to tell, stays as cited
    for reply in ("拟态的芯片[1]。", "9月[1]。"):
        assert [c.chunk.text for c in check_answer(reply, "zh", ps).citations] == [HANGZHOU], reply


def test_english_units_are_repaired_and_checked() -> None:
    checked = check_answer("China's AI sector drew nearly 850 billion yuan [1].", "en", passages(TOTAL))
    assert checked.text == "China's AI sector drew nearly 85 billion yuan [1]."
    assert checked.ungrounded == []
    dated = check_answer("In 2024年, China's AI sector drew 850亿元 [1].", "en", passages(TOTAL))
    assert dated.text == "In 2024, China's AI sector drew 85 billion yuan [1]."
    glossed = check_answer("It drew 850亿元 (85 billion yuan) in 2024年 (2024) [1].", "en", passages(TOTAL))
    wide = check_answer("85 billion yuan （85 billion yuan） [1]。", "en", passages(TOTAL))
    assert wide.text == "85 billion yuan [1]."  # Chinese brackets and full stop, in an English answer
    assert glossed.text == "It drew 85 billion yuan in 2024 [1]."
    # its own misreading, then the prompt's reading: the reading stays; other brackets are left alone
    misread = repair_answer("It drew 8,500 billion yuan (85 billion yuan), 84.3% (87.8%) [1].", "en", passages(TOTAL))
    assert misread.text == "It drew 85 billion yuan, 84.3% (87.8%) [1]."
    # a bracket the model made up itself does not replace a figure that is right
    invented = repair_answer("Nearly 85 billion yuan (8.5 billion yuan) [1].", "en", passages(TOTAL))
    assert invented.text.startswith("Nearly 85 billion yuan (")
    # names said twice, in another case or number, go; a bracket that says something else stays
    listed = "In 2024: A-rounds (A round)、machine learning (Machine learning) and Huawei (Cambricon) [1]。"
    assert repair_answer(listed, "en", passages(TOTAL)).text == (
        "In 2024: A-rounds, machine learning and Huawei (Cambricon) [1]."
    )


def test_ungrounded_numbers_are_listed_by_the_repair() -> None:
    repaired = repair_answer("2024年共有投资案例1,156起，占比12.5%，金额900亿元[1]。", "zh", passages(TOTAL))
    assert repaired.ungrounded == ["12.5%", "900亿元"] and not repaired.refused
    assert not repair_answer("About 1,156 deals and 85 billion yuan [1].", "en", passages(TOTAL)).ungrounded


def test_a_sentence_with_a_figure_no_cited_passage_states_never_reaches_the_reader() -> None:
    checked = check_answer("2024年共有投资案例1,156起[1]。同比增长12.5%[1]。", "zh", passages(TOTAL))
    assert checked.text == "2024年共有投资案例1,156起[1]。" and not checked.refused
    assert "12.5" not in checked.text and not checked.ungrounded
    english = check_answer("There were 1,156 deals [1]. They grew 40% [1].", "en", passages(TOTAL))
    assert english.text == "There were 1,156 deals [1]." and "40" not in english.text
    without = check_answer(
        "There were 1,156 deals [1]. They grew 40% [1].",
        "en",
        passages(TOTAL),
        without=frozenset({"unsupported-figures"}),
    )
    assert "40%" in without.text  # switched off by name, the check changes nothing


def test_an_answer_whose_every_figure_is_invented_is_declined() -> None:
    checked = check_answer("2024年北京AI产业领域的投资金额为100亿元[1]。", "zh", passages(TOTAL))
    assert checked.refused and checked.text == REFUSAL["zh"] and "100亿元" in checked.note


def test_an_answer_cited_to_the_wrong_passage_is_checked_against_the_one_backing_it() -> None:
    policy = "2019年6月，国家新一代人工智能治理专业委员会发布《新一代人工智能治理原则——发展负责任的人工智能》。"
    question = "2019年6月发布的人工智能治理文件叫什么？"
    checked = check_answer(
        "《新一代人工智能治理原则——发展负责任的人工智能》[1]", "zh", passages(TOTAL, policy), question=question
    )
    assert not checked.refused and checked.citations


def test_plain_numbers_from_the_question_are_not_claims() -> None:
    question = "How much had Hangzhou's three 100-billion-yuan parent funds approved?"
    checked = check_answer(
        "The three 100-billion-yuan funds approved 85 billion yuan [1].", "en", passages(TOTAL), question=question
    )
    assert checked.ungrounded == [] and not checked.refused


# ---------------------------------------------------------------- refusal and language


@pytest.mark.parametrize(
    ("reply", "lang"),
    [
        ("资料中未提及2023年的投资数据。", "zh"),
        ("报告中没有找到相关信息。", "zh"),
        ("The passages do not mention 2023 figures [1].", "en"),
        ("The report does not say.", "en"),
    ],
)
def test_the_model_saying_the_passages_lack_it_is_a_refusal(reply: str, lang: str) -> None:
    checked = check_answer(reply, lang, passages(TOTAL))  # type: ignore[arg-type]
    assert checked.refused and checked.text == REFUSAL[lang]  # type: ignore[index]
    assert checked.citations == []


def test_a_refusal_appended_to_an_answer_is_dropped() -> None:
    checked = check_answer("There were 1,156 deals [1]. The report does not say.", "en", passages(TOTAL))
    assert checked.text == "There were 1,156 deals [1]." and not checked.refused


def test_an_answer_in_the_wrong_language_is_flagged() -> None:
    assert check_answer("2024年共有投资案例1,156起[1]。", "en", passages(TOTAL)).wrong_language
    assert check_answer("There were 1,156 deals [1].", "zh", passages(TOTAL)).wrong_language
    assert not check_answer("There were 1,156 deals [1].", "en", passages(TOTAL)).wrong_language
    assert not check_answer("1,156[1]", "zh", passages(TOTAL)).wrong_language  # a bare number has no language
    assert not check_answer("GPU、ASIC、FPGA、CPU、其他[1]", "zh", passages(CHIPS)).wrong_language
    # A name answering a Chinese question is no English: "算法更新频繁...适合用哪种AI芯片？" is answered "FPGA".
    assert not check_answer("FPGA[1]。", "zh", passages(CHIPS)).wrong_language
    assert check_answer("FPGA is the one [1].", "zh", passages(CHIPS)).wrong_language


def test_weak_evidence() -> None:
    hits = [p.hit for p in passages(TOTAL)]  # similarity 0.5
    assert weak_evidence(hits, "zh", {"zh": 0.6, "en": 0.6})
    assert not weak_evidence(hits, "zh", {"zh": 0.4, "en": 0.4})
    assert not weak_evidence(hits, "zh", None)  # an uncalibrated embedding model has no floor
    assert weak_evidence([], "en", None)


def test_an_uncited_english_sentence_gets_the_chinese_passage_whose_glossary_names_it_shares() -> None:
    national = "国家创业投资引导基金主要引导金融资本投早、投小、投长期、投硬科技。"
    runmiao = "组建润苗直投基金，重点支持具备硬科技属性的本地人工智能初创企业。"
    glossary = Glossary(
        {
            "国家创业投资引导基金": "National Venture Capital Guidance Fund",
            "润苗直投基金": "Runmiao Direct Investment Fund",
            "硬科技": "hard tech",
        }
    )
    uncited = check_answer(
        "The Runmiao direct investment fund backs hard tech.", "en", passages(national, runmiao), glossary=glossary
    )
    assert [c.chunk.text for c in uncited.citations] == [runmiao]


def test_an_uncited_english_sentence_without_a_figure_cites_the_passage_closest_in_meaning() -> None:
    governance = "针对AI发展可能带来的风险，我国已逐步形成了治理体系。\n大数据杀熟、算法黑箱等问题受到关注。"
    elements = "人工智能产业图谱架构 (AI发展四大核心要素: 算法、数据、算力、应用场景)"
    glossary = Glossary({"大数据杀熟": "big data price discrimination"})
    answer = "The four core elements of AI development are algorithm, data, compute and applications."
    seen: list[str] = []

    def relate(text: str, lines: list[str]) -> list[float]:  # stands in for the embedding model
        seen.extend(lines)
        return [0.9 if "四大核心要素" in line else 0.2 for line in lines]

    ps = passages(governance, elements)
    # Words alone: "AI" and "data" (big data) in the governance passage against "AI" alone in the other.
    assert [c.chunk.text for c in check_answer(answer, "en", ps, glossary=glossary).citations] == [governance]
    checked = check_answer(answer, "en", ps, glossary=glossary, relate=relate)
    assert checked.text == answer[:-1] + " [1]." and [c.chunk.text for c in checked.citations] == [elements]
    assert len(seen) == 3  # each passage's lines, read as the model saw them

    def unused(text: str, lines: list[str]) -> list[float]:
        raise AssertionError("a sentence sharing a figure or written in Chinese is traced by it, not by meaning")

    figure = check_answer("There were 1,156 deals.", "en", passages(HANGZHOU, TOTAL), relate=unused)
    assert [c.chunk.text for c in figure.citations] == [TOTAL]
    chinese = check_answer("杭州获投的AI企业有54家。", "zh", passages(TOTAL, HANGZHOU), relate=unused)
    assert [c.chunk.text for c in chinese.citations] == [HANGZHOU]


def test_a_short_answer_several_passages_hold_cites_the_one_sharing_the_question() -> None:
    trends = "AI芯片技术趋势：ASIC市场高速增长，FPGA芯片与GPU高端芯片是重点发展方向。"
    scenarios = CHIPS + "\n应用场景 | 大规模并行计算 | 算法更新频繁、市场规模小的专用场景"
    question = "算法更新频繁、市场规模小的专用场景，适合用哪种AI芯片？"
    checked = check_answer("FPGA[1]。", "zh", passages(trends, scenarios), question=question)
    assert checked.text == "FPGA[1]。" and [c.chunk.text for c in checked.citations] == [scenarios]
    # No holder shares more of the question than the cited one (芯片 alone): the model's choice stands.
    for n, cited in ((1, trends), (2, CHIPS)):
        checked = check_answer(f"FPGA[{n}]。", "zh", passages(trends, CHIPS), question="哪种芯片最好？")
        assert [c.chunk.text for c in checked.citations] == [cited]
    # The Chinese reading of an English question: no pairs to share, the closest line in meaning decides.
    english = "Which chip suits specialised scenarios whose algorithms change often and whose market is small?"

    def relate(text: str, lines: list[str]) -> list[float]:  # stands in for the embedding model
        assert text == english
        return [0.8 if "算法更新频繁" in line else 0.3 for line in lines]

    ps = passages(trends, scenarios)
    assert check_answer("FPGA[1]。", "zh", ps, cited_for=english).citations[0].chunk.text == trends
    checked = check_answer("FPGA[1]。", "zh", ps, relate=relate, cited_for=english)
    assert [c.chunk.text for c in checked.citations] == [scenarios]


def test_figure_evidence_ends_with_the_last_clause_holding_a_figure() -> None:
    models = "受多起大额投资事件带动，2024年AI大模型领域投资金额约260亿元、占比超过30%，"
    models += "此外智能驾驶、AI芯片等领域投资金额占比较大。"
    checked = check_answer("26 billion yuan [1].", "en", passages(models))
    # what follows the figure is about AI chips; read with it, the sentence seemed to answer a question about them
    assert figure_evidence(checked) == ["受多起大额投资事件带动，2024年AI大模型领域投资金额约260亿元、占比超过30%"]
    total = check_answer("2024年共有投资案例1,156起[1]。", "zh", passages(TOTAL))
    # the comma of 1,156 is no clause end
    assert figure_evidence(total) == ["2024年中国AI产业领域：共有投资案例 **1,156** 起"]


def test_a_chart_label_is_read_with_the_lines_that_name_its_figure() -> None:
    chart = "储能产业概况\n2026年某省 储能 市场规模\n预计将达 **80** 亿元，\n同比 **↑12.5%**\n"
    chart += "2026年全国储能装机：预计超 **90** GW"
    checked = check_answer("It is expected to grow 12.5% [1].", "en", passages(chart))
    # "同比 ↑12.5%" alone does not say what grows: the model judging it said the evidence did not answer
    assert figure_evidence(checked) == ["2026年某省 储能 市场规模 预计将达 **80** 亿元， 同比 **↑12.5%**"]
    size = check_answer("8 billion yuan [1].", "en", passages(chart))
    assert figure_evidence(size) == ["2026年某省 储能 市场规模 预计将达 **80** 亿元"]
    # a line that names its own figure is read as it is
    installed = check_answer("Over 90 GW [1].", "en", passages(chart))
    assert figure_evidence(installed) == ["2026年全国储能装机：预计超 **90** GW"]
    # a short sentence is no label: the one before it is about something else
    rounds = "早期项目占比近七成；\nB轮的平均金额过5亿元。"
    assert figure_evidence(check_answer("Over 500 million yuan [1].", "en", passages(rounds))) == [
        "B轮的平均金额过5亿元。"
    ]


def test_the_figure_gate_holds_back_text_from_the_first_unknown_figure() -> None:
    gate = FigureGate("共有投资案例 **1,156** 起，披露总投资金额近 850 亿元 (85 billion yuan)。")
    assert gate.showable("共有1156起[1]，金额85") == len("共有1156起[1]，金额")  # a number may still grow
    assert gate.showable("共有1,156起[1]，增长37.5%，金额850亿元") == len("共有1,156起[1]，增长")
    assert gate.showable("There were 1,156 deals [2].") == len("There were 1,156 deals [2].")  # markers are no figures
    assert FigureGate.closed().showable("共有1,156起") == 0


def test_every_check_runs_and_the_first_decline_decides() -> None:
    invented = "2024年北京AI产业领域的投资金额为100亿元[1]。"
    checked = check_answer(invented, "zh", passages(TOTAL), question="2024年北京AI产业投资金额是多少？")
    declined = [c.name for c in checked.checks if c.action == "declined"]
    assert checked.refused and declined[0] == "unsupported-figures" and checked.draft == invented
    assert [c.name for c in checked.checks] == [c.name for c in CHECKS]
    kept = check_answer(
        invented, "zh", passages(TOTAL), question="2024年北京AI产业投资金额是多少？", without=frozenset(declined)
    )
    assert not kept.refused and {c.action for c in kept.checks if c.name in declined} == {"off"}


def test_check_names_are_the_settings_names() -> None:
    from bluebot.config import CHECK_NAMES

    assert [*CHECK_NAMES[1:-1]] == [c.name for c in CHECKS]  # weak-retrieval first, evidence-answers last
    assert all(c.__doc__ and len(c.__doc__) > 40 for c in CHECKS)  # each says what class of failure it catches


def test_a_year_the_question_asks_about_that_no_cited_passage_states_declines() -> None:
    # asked about 2023, the only passage gives 2024's figures: the answer restates 2023 with them
    for question, lang, raw in [
        ("2023年中国AI产业领域一共有多少起投资案例？", "zh", "2023年共有投资案例1,156起[1]。"),
        ("How many AI deals were there in China in 2023?", "en", "There were 1,156 deals in 2023 [1]."),
    ]:
        ps = passages(TOTAL)
        repaired = repair_answer(raw, lang, ps, question=question)
        checked = verify(Draft(question, lang, repaired.text, repaired.citations, ps), CHECKS)
        assert checked.refused and "2023" in checked.note
        assert [c.name for c in checked.checks if c.action == "declined"] == ["unstated-year"]
    # the year stated by the cited passage, or a question without a year: let through
    assert answered("共有投资案例1,156起[1]。", "zh", [TOTAL], "2024年共有多少起投资案例？", CHECKS).startswith("共有")
    assert answered("共有投资案例1,156起[1]。", "zh", [TOTAL], "共有多少起投资案例？", CHECKS).startswith("共有")
    # a year that only the cited passage's section heading states counts as stated
    chunk = Chunk("c0", "某市获投企业共312家。", "corpus/report.txt", "03 2023年某市投资分析", 0, "zh")
    ps = [Passage(1, Hit(chunk, 1.0, 1, None, 0.5), chunk.text)]
    question = "2023年某市获投企业有多少家？"
    repaired = repair_answer("共有312家[1]。", "zh", ps, question=question)
    assert not verify(Draft(question, "zh", repaired.text, repaired.citations, ps), CHECKS).refused


# ---------------------------------------------------------------- the other part of a two-part answer

CITY = "2023年某市：获投企业共312家，占比41.5%；融资金额共88.6亿元，占比52.1%。"


def answered(raw: str, lang: Lang, texts: list[str], question: str, checks: tuple[Check, ...] = ()) -> str:
    """The shown text of a model's answer: repaired, then through the given checks."""
    ps = passages(*texts)
    repaired = repair_answer(raw, lang, ps, question=question)
    return verify(Draft(question, lang, repaired.text, repaired.citations, ps), checks).text


def test_a_two_part_answer_missing_a_part_gets_the_figure_its_passage_pairs_with_the_given_one() -> None:
    how_many = "How many companies did the city fund, and what share of the total is that?"
    said = answered("They made up 41.5% of the total [1].", "en", [CITY], how_many)
    assert said == "They made up 41.5% of the total (312 companies) [1]."
    # figures given "respectively" are paired by the layout first
    districts = readable("两区合计42家、融资总金额18.25亿元，占比分别为61.9%、38.4%。")
    how_much = "How much did the two districts raise, and what share is that?"
    assert answered("They raised 1.825 billion yuan [1].", "en", [districts], how_much) == (
        "They raised 1.825 billion yuan (38.4%) [1]."
    )
    zh = answered("获投企业共312家[1]。", "zh", [CITY], "该市获投企业有多少家？占比多少？")
    assert zh == "获投企业共312家（41.5%）[1]。"


def test_a_part_the_checks_removed_is_filled_from_the_passage() -> None:
    # the model paired the wrong share with an invented total; the figure check removes that sentence
    districts = readable("两区合计42家、融资总金额18.25亿元，占比分别为61.9%、38.4%。")
    raw = "They raised 1.825 billion yuan [1]. That is 61.9% of the city's 29.5 billion yuan [1]."
    how_much = "How much did the two districts raise, and what share is that?"
    said = answered(raw, "en", [districts], how_much, CHECKS)
    assert said == "They raised 1.825 billion yuan (38.4%) [1]."


def test_no_part_is_added_where_the_passage_does_not_say_which_figure_goes_with_the_answer() -> None:
    asked = "该市获投企业有多少家？占比多少？"
    two_shares = "某市获投企业312家，占比分别为41.5%、52.1%。"
    assert answered("获投企业共312家[1]。", "zh", [two_shares], asked) == "获投企业共312家[1]。"
    # nor to an answer to a question asking for one kind, nor to one giving every kind asked
    assert answered("获投企业共312家[1]。", "zh", [CITY], "该市获投企业有多少家？") == "获投企业共312家[1]。"
    assert answered("获投企业共312家，占比41.5%[1]。", "zh", [CITY], asked) == "获投企业共312家，占比41.5%[1]。"
