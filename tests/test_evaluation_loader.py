from __future__ import annotations

import json
from pathlib import Path

import pytest

from bluebot.errors import BadTestSetError
from bluebot.evaluation import keyword_present, load_cases, load_sets, retrieval_score, supports
from bluebot.types import Chunk

GOOD = {"id": "q1", "question": "2024年投资案例有多少起？", "keywords": ["1,156|1156"], "evidence": ["1,156"]}


def write(tmp_path: Path, lines: list[str], name: str = "set.jsonl") -> Path:
    path = tmp_path / name
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_loads_and_detects_language(tmp_path: Path) -> None:
    path = write(
        tmp_path, [json.dumps(GOOD, ensure_ascii=False), "", json.dumps({"id": "q2", "question": "How many?"})]
    )
    cases = load_cases(path)
    assert [c.id for c in cases] == ["q1", "q2"]
    assert [c.lang for c in cases] == ["zh", "en"]
    assert cases[1].answerable is True and cases[1].keywords == []


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("{not json", "line 3: not valid JSON"),
        ('{"question": "x"}', "line 3: field 'id' is required"),
        ('{"id": "z", "question": "x", "keywords": "a"}', "line 3: field 'keywords' must be a list"),
        ('{"id": "z", "question": "x", "answerable": "no"}', "line 3: field 'answerable' must be true or false"),
        ('{"id": "z", "question": "x", "lang": "fr"}', "line 3: field 'lang'"),
        ('{"id": "z", "question": "x", "history": [{"role": "bot", "content": "y"}]}', "line 3: field 'history'"),
        ('{"id": "q1", "question": "x"}', "line 3: id 'q1' already used on line 1"),
        ("[1, 2]", "line 3: expected a JSON object"),
    ],
)
def test_bad_lines_name_file_and_line(tmp_path: Path, line: str, message: str) -> None:
    path = write(tmp_path, [json.dumps(GOOD, ensure_ascii=False), "", line])
    with pytest.raises(BadTestSetError, match=message) as info:
        load_cases(path)
    assert str(path) in str(info.value)


def test_duplicate_ids_across_files(tmp_path: Path) -> None:
    a = write(tmp_path, [json.dumps(GOOD)], "a.jsonl")
    b = write(tmp_path, [json.dumps(GOOD)], "b.jsonl")
    with pytest.raises(BadTestSetError, match="also used in"):
        load_sets([a, b])


def test_empty_and_missing_files(tmp_path: Path) -> None:
    with pytest.raises(BadTestSetError, match="no cases"):
        load_cases(write(tmp_path, ["", "  "]))
    with pytest.raises(BadTestSetError, match="cannot read"):
        load_cases(tmp_path / "missing.jsonl")


def test_keyword_matching_rules() -> None:
    assert keyword_present("共有投资案例 **1,156** 起", "1,156|1156")
    assert keyword_present("About 85 Billion yuan", "85 billion|850亿")
    assert not keyword_present("46.45 percent", "45")  # a bare number matches whole numbers only
    assert keyword_present("it was 45 in total", "45")
    assert keyword_present("占比 45%", "45")
    assert not keyword_present("1456", "45")
    assert keyword_present("合计 84.3 %", "84.3%")
    assert keyword_present("According to the report, 54 companies", "54")  # ",54" once spaces are gone
    assert keyword_present("54, and 14 of them", "54") and keyword_present("54, and 14 of them", "14")
    assert not keyword_present("共有 1,156 起", "156") and not keyword_present("1,156", "1")


def test_supports_ignores_space_and_emphasis() -> None:
    chunk = Chunk("id", "共有投资案例 1,156 起，披露总投资金额近 850 亿元。", "s", "", 0, "zh")
    assert supports(chunk, ["共有投资案例 **1,156** 起"])
    assert supports(chunk, ["nothing", "总投资金额近850亿元"])
    assert not supports(chunk, ["杭州"])
    assert not supports(chunk, [])


def test_retrieval_score() -> None:
    s = retrieval_score([1, 2, None, 4])
    assert (s.n, s.hit1, s.hit3, s.hit5) == (4, 0.25, 0.5, 0.75)
    assert s.mrr == pytest.approx((1 + 0.5 + 0.25) / 4)
    assert retrieval_score([]).n == 0
