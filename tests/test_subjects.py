"""subjects.py: the years and names a question is about, and whether the cited passages mention them."""

from __future__ import annotations

import pytest

from bluebot.subjects import mentioned, pinyin_syllables, subjects, unmentioned

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
