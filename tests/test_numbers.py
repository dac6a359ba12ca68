from __future__ import annotations

from decimal import Decimal

import pytest

from bluebot.numbers import (
    annotate_english,
    asked_kinds,
    asks_two_things,
    english,
    english_dates,
    figure_kind,
    find_amounts,
    repair_english,
    strip_glosses,
    ungrounded,
)

PASSAGE = (
    "根据清科创业私募通数据统计，2024年中国AI产业领域：共有投资案例 **1,156** 起，披露总投资金额近 **850** 亿元。\n"
    "Top5地区：合计投资案例975起，占比**84.3%**；合计投资金额744.3亿元，占比**87.8%**。\n"
    "2024年AI领域投资轮次偏早期，A轮及A轮之前投资案例数占比近**7成**；A轮、B轮的平均投资金额均过亿元。"
)


def only(text: str):  # type: ignore[no-untyped-def]
    found = [a for a in find_amounts(text) if not a.exempt]
    assert len(found) == 1, found
    return found[0]


@pytest.mark.parametrize(
    ("text", "english_text"),
    [
        ("850亿元", "85 billion yuan"),
        ("近 **850** 亿元", "85 billion yuan"),
        ("821亿美元", "82.1 billion US dollars"),
        ("2033年 821 亿美元", "82.1 billion US dollars"),
        ("1万亿", "1 trillion"),
        ("近1万亿元", "1 trillion yuan"),
        ("达 **2,442** 亿元", "244.2 billion yuan"),
        ("38.65亿元", "3.865 billion yuan"),
        ("总规模**30.02亿元**", "3.002 billion yuan"),
        ("5,000 亿美元", "500 billion US dollars"),
        ("5万元", "50,000 yuan"),
        ("占比**84.3%**", "84.3%"),
        ("近7成", "70%"),
        ("均过亿元", "100 million yuan"),
        ("共有投资案例 1,156 起", "1,156"),
    ],
)
def test_chinese_amounts_in_english(text: str, english_text: str) -> None:
    assert english(only(text)) == english_text


@pytest.mark.parametrize(
    ("text", "value", "unit"),
    [
        ("85 billion yuan", Decimal("85e9"), "CNY"),
        ("RMB 3.0bn", Decimal("3e9"), "CNY"),
        ("$82.1 billion", Decimal("82.1e9"), "USD"),
        ("82.1 billion US dollars", Decimal("82.1e9"), "USD"),
        ("1 trillion", Decimal("1e12"), "count"),
        ("84.3 percent", Decimal("84.3"), "percent"),
        ("100 million yuan", Decimal("1e8"), "CNY"),
        ("1,156 deals", Decimal(1156), "count"),
    ],
)
def test_english_amounts(text: str, value: Decimal, unit: str) -> None:
    amount = only(text)
    assert (amount.value, amount.unit) == (value, unit)


def test_years_markers_names_and_small_counts_are_not_claims() -> None:
    text = "In 2024 [1], 2024年Q2 Top5 DeepSeek-R1 3D 5大工程 2023—2033 [12]"
    assert [a for a in find_amounts(text) if not a.exempt] == []


def test_chinese_answer_grounding() -> None:
    assert ungrounded("2024年共有投资案例1,156起，披露总投资金额近850亿元[1]。", [PASSAGE]) == []
    assert [a.text for a in ungrounded("披露总投资金额近900亿元[1]。", [PASSAGE])] == ["900亿元"]
    assert ungrounded("A轮及以前的案例占比近7成，平均投资金额过亿元。", [PASSAGE]) == []


def test_english_answer_grounding_after_unit_normalisation() -> None:
    assert ungrounded("Nearly 85 billion yuan across 1,156 deals [1].", [PASSAGE]) == []
    assert ungrounded("The top five took 74.43 billion yuan, 87.8 percent of the total.", [PASSAGE]) == []
    text = "About 70% of deals were Series A or earlier; rounds averaged over 100 million yuan."
    assert ungrounded(text, [PASSAGE]) == []
    assert [a.text for a in ungrounded("It was 850 billion yuan.", [PASSAGE])] == ["850 billion yuan"]


@pytest.mark.parametrize(
    ("question", "kinds"),
    [
        ("How many deals did the top five regions account for, and what share of all deals is that?",
         {"count", "percent"}),
        ("How much of that went into large models?", {"money"}),
        ("How large is the global computing-power market projected to be in 2025?", {"money"}),
        ("When were the Interim Measures issued, and by whom?", {"date"}),
        ("What growth rate does the report expect through 2033?", {"percent"}),
        ("Who leads the public-cloud large-model market, and with what market share?", {"percent"}),
        ("Which AI chip approach is criticised for poor performance per watt?", set()),
        ("As of when? And how many projects?", {"date", "count"}),
        ("When the chip market is segmented by type, which types are listed?", set()),  # when, not a question word
        ("Which is bigger: the 2024 investment in large models, or the 3+N cluster's?", {"two figures"}),
        ("How does Hangzhou's fund capital compare with the national fund's?", {"two figures"}),
        ("该市获投企业有多少家？占比多少？", {"count", "percent"}),
        ("两区的融资金额是多少，占全市的比例有多大？", {"money", "percent"}),
        ("这类项目占多少？", {"percent"}),
        ("该基金投资了多少亿元？", {"money"}),
        ("报告把案例数最多的阶段称为什么？", set()),  # a measure named, none asked for
        ("该市提出了哪几项举措？", set()),  # which ones, not how many
        ("该市有几家企业获投？", {"count"}),
    ],
)
def test_the_kinds_of_figure_a_question_asks_for(question: str, kinds: set[str]) -> None:
    assert asked_kinds(question) == kinds


@pytest.mark.parametrize(
    ("question", "two"),
    [
        ("How many deals did the top five regions account for, and what share of all deals is that?", True),
        ("Who leads the public-cloud large-model market, and with what market share?", True),
        ("When were the Interim Measures issued, and by whom?", True),
        ("How many AI companies raised money, and how many of them raised over 100 million yuan?", True),
        ("How does Hangzhou's fund capital compare with the national fund's?", True),
        ("What does DeepSeek mean for applications, and what does it mean for chips?", True),
        ("How large is the global computing-power market projected to be in 2025?", False),
        ("As of when does the report give the figure of 1,540 projects?", False),
        ("Which segments attracted investment in Hangzhou and Beijing?", False),  # "and" joins two names
        ("What are the advantages and disadvantages of FPGAs?", False),
    ],
)
def test_a_question_asking_for_two_things(question: str, two: bool) -> None:
    assert asks_two_things(question) is two


def test_the_kind_of_figure_an_amount_is() -> None:
    kinds = [figure_kind(a) for a in find_amounts("2024年，975起、744.3亿元，占比84.3%；另有3家。")]
    assert kinds == ["date", "count", "money", "percent", "count"]
    english = find_amounts("975 deals, 74.43 billion yuan, 3 areas")
    assert [figure_kind(a) for a in english] == ["count", "money", "count"]
    assert [figure_kind(a) for a in find_amounts("phase 3 of the fund")] == [None]  # a small bare number
    # a scaled number with a measure word is a count
    assert [figure_kind(a) for a in find_amounts("约1.2万家企业，1.2万亿元")] == ["count", "money"]


def test_magnitudes_written_without_digits_are_amounts() -> None:
    funds = "杭州三大千亿母基金累计决策批复基金353支；将释放万亿级市场空间。"
    assert [english(a) for a in find_amounts(funds) if not a.exempt] == ["100 billion", "353", "1 trillion"]
    assert ungrounded("Hangzhou has three 100 billion yuan funds of funds [1].", [funds]) == []
    repaired, still = repair_english("Hangzhou has three 1,000 billion yuan funds of funds [1].", [funds[:9]])
    assert repaired == "Hangzhou has three 100 billion yuan funds of funds [1]." and still == []
    assert [a.text for a in find_amounts("千亿母基金")] == ["千亿"]  # also at the start of a text
    # part of a larger numeral, or the magnitude of the digits before it: not a bare magnitude
    assert [a.text for a in find_amounts("数百亿元、三千亿元、近1万亿元、超 1,000亿元")] == ["1万亿元", "1,000亿元"]
    # a prompt keeps 千亿母基金 whole for the glossary; 过亿元 still gets its reading
    assert annotate_english("三大千亿母基金，均过亿元") == "三大千亿母基金，均过亿元 (100 million yuan)"


def test_counts_of_different_things_do_not_match() -> None:
    hangzhou = "2024年，杭州AI产业领域获投的企业有54家。"
    assert ungrounded("杭州共有54家企业获投。", [hangzhou]) == []
    assert [a.text for a in ungrounded("杭州发生了54起投资案例。", [hangzhou])] == ["54"]
    assert ungrounded("杭州有54个企业获投。", [hangzhou]) == []  # 个 counts anything
    # an English count is known by its noun, a few words on at most
    assert ungrounded("54 companies raised money.", [hangzhou]) == []
    assert [a.text for a in ungrounded("There were 54 AI investment deals in Hangzhou.", [hangzhou])] == ["54"]
    assert ungrounded("54 projects", [hangzhou]) == []  # a noun with no measure word of its own counts anything
    assert find_amounts("353 funds and 22 support policies")[1].measure == "条"


def test_a_count_is_not_an_amount_with_the_same_digits() -> None:
    forecast = "2025年中国智能算力市场规模预计将达 259 亿美元"
    assert [a.text for a in ungrounded("China has built 259 intelligent computing centers.", [forecast])] == ["259"]
    assert [a.text for a in ungrounded("杭州有503个项目。", ["投资金额503亿元"])] == ["503"]
    assert ungrounded("259 [1]", [forecast]) == []  # a bare number says nothing of what it counts
    assert ungrounded("It grew 36.2 percent.", ["同比 ↑36.2%"]) == []


def test_percent_is_not_a_count_and_currencies_do_not_mix() -> None:
    assert ungrounded("84.3 billion yuan", [PASSAGE])  # 84.3% is a share, not an amount
    assert ungrounded("85 billion US dollars", [PASSAGE])  # 850亿元 is yuan


def test_rounded_numbers_are_grounded_at_their_precision() -> None:
    assert ungrounded("about 3.0 billion yuan", ["总规模30.02亿元"]) == []
    assert ungrounded("about 3.1 billion yuan", ["总规模30.02亿元"])


def test_wan_and_wanyi() -> None:
    assert ungrounded("50,000 yuan", ["补贴5万元"]) == []
    assert ungrounded("nearly 1 trillion yuan", ["将吸引带动地方、社会资本近1万亿元"]) == []
    assert ungrounded("nearly 1,000 billion yuan", ["近1万亿元"]) == []  # the same value, awkwardly put
    assert ungrounded("nearly 10,000 billion yuan", ["近1万亿元"])  # the slip the test sets forbid


def test_repair_fixes_the_power_of_ten_slip() -> None:
    text, left = repair_english("China's AI sector drew nearly 850 billion yuan in 2024 [1].", [PASSAGE])
    assert text == "China's AI sector drew nearly 85 billion yuan in 2024 [1]."
    assert left == []
    text, left = repair_english("The top five regions got RMB 744.3 billion and 8.5 billion [1].", [PASSAGE])
    assert "74.43 billion yuan" in text and "85 billion yuan" in text
    assert left == []


def test_repair_keeps_what_it_cannot_fix() -> None:
    text, left = repair_english("It was 123 billion yuan [1].", [PASSAGE])
    assert text == "It was 123 billion yuan [1]."
    assert [a.text for a in left] == ["123 billion yuan"]
    # two passage amounts with the same digits: which one the model meant is unknown, so it stays flagged
    text, left = repair_english("It was 850 billion yuan.", ["投资850亿元", "基金8.5亿元"])
    assert "850 billion" in text and len(left) == 1


def test_repair_takes_one_value_written_twice_as_one_candidate() -> None:
    # 千亿 and 1,000亿元 have the same digits and the same value: "1,000 billion yuan" is a slip for either
    passage = "三大千亿母基金撬动社会资本，投向人工智能关联方向的产业基金规模超 1,000亿元。"
    text, left = repair_english("Hangzhou has mobilized 1,000 billion yuan [1].", [passage])
    assert text == "Hangzhou has mobilized 100 billion yuan [1]." and left == []


def test_annotate_english() -> None:
    assert annotate_english("披露总投资金额近 850 亿元，占比近7成，2024年") == (
        "披露总投资金额近 850 亿元 (85 billion yuan)，占比近7成 (70%)，2024年"
    )
    # a plain count reads the same in English; dates do not
    assert annotate_english("投资案例975起，2021年9月发布，截至2025年初，2024年11月底，2023年7月7日") == (
        "投资案例975起，2021年9月 (September 2021)发布，截至2025年初 (early 2025)，"
        "2024年11月底 (end of November 2024)，2023年7月7日 (July 7, 2023)"
    )


def test_glosses_copied_into_a_chinese_answer_are_stripped() -> None:
    glossed = annotate_english("披露总投资金额近 850 亿元，2021年9月发布") + "，流片 (tape-out)周期较长"
    assert strip_glosses(glossed) == "披露总投资金额近 850 亿元，2021年9月发布，流片周期较长"
    # Chinese in brackets, a term in full-width brackets and brackets without a letter or digit stay
    kept = "人工智能（AI）产业 (含芯片)，占比( )，（AI大模型）"
    assert strip_glosses(kept) == kept
    # a reading copied into full-width brackets goes
    assert strip_glosses("预计将达259亿美元（25.9 billion US dollars）[4]。") == "预计将达259亿美元[4]。"


def test_chinese_dates_in_english_text() -> None:
    text = "Published in 2021年9月, by 2025年初 and 2024年11月底; the 2024年 report, 2023年7月7日 [1]."
    assert english_dates(text) == (
        "Published in September 2021, by early 2025 and end of November 2024; the 2024 report, July 7, 2023 [1]."
    )
