"""subjects.py: the years and names a question is about, and whether the cited passages mention them."""

from __future__ import annotations

import pytest

from bluebot.glossary import Glossary
from bluebot.numbers import find_amounts, strip_markers
from bluebot.subjects import (
    mentioned,
    named_elsewhere,
    names_missing,
    pinyin_syllables,
    subjects,
    unmentioned,
)

HANGZHOU = "2024年，杭州AI产业领域获投的企业有54家，主要集中在滨江、余杭、西湖、萧山等地。"
CLOUD = "国内公有云大模型市场中火山引擎以46.4%的市场份额领跑，百度智能云、阿里云紧随其后。"


@pytest.mark.parametrize(
    ("question", "lang", "expected"),
    [
        ("深圳有多少家AI企业？", "zh", ["深圳"]),
        ("2023年中国AI产业领域的投资金额是多少？", "zh", ["2023"]),  # China is the report's scope
        ("杭州获投AI企业主要集中在哪些区？", "zh", ["杭州"]),  # 集中 is no place, though jieba knows 集中区
        ("DeepSeek-R1的训练成本是多少？", "zh", ["DeepSeek"]),
        ("How many AI companies are based in Shenzhen?", "en", ["Shenzhen"]),
        ("What are GPUs typically used for?", "en", ["GPU"]),
        ("Which AI governance document did China release in June 2019?", "en", ["2019"]),  # months are not pinyin
        ("What does the National Venture Capital Guide Fund aim to attract?", "en", []),  # "Guide" reads as pinyin
        ("When were China's Ethical Norms for New Generation Artificial Intelligence issued?", "en", []),
        ("Hangzhou's 22 support policies are grouped into which four areas?", "en", []),  # sentence start
        ("What share does Alibaba Cloud have, and what about NVIDIA?", "en", ["Alibaba", "NVIDIA"]),
        ("What is the size of the Zhejiang Sci-Tech Innovation Parent Fund Phase III?", "en", ["Zhejiang"]),
    ],
)
def test_subjects(question: str, lang: str, expected: list[str]) -> None:
    assert subjects(question, lang) == expected


def test_pinyin_words() -> None:
    assert pinyin_syllables("Shenzhen") == 2 and pinyin_syllables("Xiaoshan") == 2
    assert pinyin_syllables("Generative") == 0 and pinyin_syllables("Tencent") == 0
    assert pinyin_syllables("Generation") == 0  # not gen-er-a-ti-o-n: interjections and lone vowels do not count


def test_a_subject_is_mentioned_as_written_or_in_pinyin() -> None:
    assert mentioned("Hangzhou", [HANGZHOU]) and mentioned("Binjiang", [HANGZHOU])
    assert not mentioned("Shenzhen", [HANGZHOU])
    assert mentioned("Baidu", [CLOUD]) and mentioned("2024", [HANGZHOU]) and not mentioned("2023", [HANGZHOU])
    assert mentioned("deepseek", ["DeepSeek系列开源大模型"])  # case does not matter


def test_unmentioned_subjects() -> None:
    assert unmentioned("深圳有多少家AI企业？", "zh", [HANGZHOU]) == ["深圳"]
    assert unmentioned("杭州有多少家AI企业获投？", "zh", [HANGZHOU]) == []
    assert unmentioned("How many AI firms got funding in Shenzhen in 2023?", "en", [HANGZHOU]) == ["Shenzhen", "2023"]
    assert unmentioned("How many AI firms got funding in Hangzhou in 2024?", "en", [HANGZHOU]) == []


@pytest.mark.parametrize(
    ("question", "lang", "answer", "missing"),
    [
        ("2024年投资案例数排名前五的是哪五个地区？", "zh", "Top5地区：合计投资案例975起，占比84.3%", True),
        ("2024年以来有哪些城市设立了人工智能产业基金？", "zh", "深圳、北京、成都等城市设立了基金。", False),
        ("Which companies has Zhejiang's fund invested in?", "en", "Zhejiang's fund backed 14 companies.", True),
        ("Which cities have set up AI funds?", "en", "Shenzhen, Beijing and Chengdu set up AI funds.", False),
        ("Which companies compete in AI chips?", "en", "NVIDIA, Intel and Cambricon compete.", False),
        ("Which companies compete in AI chips?", "en", "The report names Cambricon.", False),
        ("Which cities set up AI funds?", "en", "Funds were set up in 成都.", False),
        # a verb left in Chinese names nothing: the answer gives a count, not the companies
        ("Which companies has Zhejiang's fund invested in?", "en", "14 firms disclosed 融资 over 100 million.", True),
        ("2024年投资金额是多少？", "zh", "850亿元", False),  # no names asked
    ],
)
def test_an_answer_to_which_places_or_companies_must_name_some(question: str, lang, answer: str, missing: bool) -> None:
    assert names_missing(question, lang, answer) is missing


GLOSSARY = Glossary(
    {
        "火山引擎": "Volcano Engine",
        "百度智能云": "Baidu AI Cloud",
        "阿里云": "Alibaba Cloud",
        "公有云大模型": "public-cloud large model",
        "“3+N”杭州产业基金集群": '"3+N" Hangzhou industrial fund cluster',
        "润苗直投基金": "Runmiao Direct Investment Fund",
        "社会资本": "private capital",
    }
)
FUNDS = (
    "- 01 引导“3+N”杭州产业基金集群撬动社会资本、金融资本，投向人工智能关联方向的产业基金规模超 1,000亿元。\n"
    "- 02 组建润苗直投基金，重点支持具备硬科技属性的本地人工智能初创企业。"
)


@pytest.mark.parametrize(
    ("question", "lang", "answer", "texts", "owners"),
    [
        # the figure's clause names another company, or its sentence another fund and a place, and not the asked one
        ("百度智能云在国内公有云大模型市场的份额是多少？", "zh", "46.4%[1]", [CLOUD], ["火山引擎"]),
        (
            "What share of the public-cloud large-model market does Alibaba Cloud hold?",
            "en",
            "46.4% [1]",
            [CLOUD],
            ["火山引擎"],
        ),
        ("润苗直投基金的规模有多大？", "zh", "1,000亿元[1]", [FUNDS], ["“3+N”杭州产业基金集群", "杭州"]),
        # the figure is about what was asked, even when written differently (杭州“3+N”基金集群, Hangzhou's 3+N)
        ("火山引擎的市场份额是多少？", "zh", "46.4%[1]", [CLOUD], []),
        ("What share does Volcano Engine hold?", "en", "46.4% [1]", [CLOUD], []),
        ("杭州“3+N”基金集群和润苗直投基金的规模分别是多少？", "zh", "超1,000亿元[1]", [FUNDS], []),
        ("How much has Hangzhou's 3+N cluster steered into AI funds?", "en", "Over 100 billion yuan [1]", [FUNDS], []),
        # the question names no proper name: nothing to judge
        ("国内公有云大模型市场的领先份额是多少？", "zh", "46.4%[1]", [CLOUD], []),
        # one place that holds the figure names nothing, or names the asked one: it may be the asked one's
        ("百度智能云的份额是多少？", "zh", "46.4%[1]", [CLOUD, "百度智能云份额 46.4%"], []),
    ],
)
def test_a_figure_that_belongs_to_another_name(
    question: str, lang: str, answer: str, texts: list[str], owners: list[str]
) -> None:
    claims = [a for a in find_amounts(strip_markers(answer)) if not a.exempt]
    assert named_elsewhere(question, lang, claims, texts, GLOSSARY) == owners


def test_proper_names_are_the_capitalised_ones() -> None:
    assert set(GLOSSARY.proper_names.terms) == {
        "火山引擎",
        "百度智能云",
        "阿里云",
        "“3+N”杭州产业基金集群",
        "润苗直投基金",
    }
