from __future__ import annotations

import re
from pathlib import Path

import pytest

from bluebot.errors import ConfigError
from bluebot.glossary import Glossary
from bluebot.numbers import strip_markers

from conftest import REPORT

SHIPPED = REPORT.parent / "glossary.tsv"


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "glossary.tsv"
    path.write_text(text, encoding="utf-8")
    return path


def test_each_term_is_glossed_once_and_the_longest_term_wins(tmp_path: Path) -> None:
    lines = "# names\n\n寒武纪\tCambricon\n母基金\tfund of funds\n千亿母基金\t100-billion-yuan fund of funds\n"
    glossary = Glossary.read(write(tmp_path, lines))
    assert len(glossary) == 3
    assert glossary.gloss("寒武纪、英伟达和寒武纪；三大千亿母基金，母基金") == (
        "寒武纪 (Cambricon)、英伟达和寒武纪；三大千亿母基金 (100-billion-yuan fund of funds)，母基金 (fund of funds)"
    )
    assert glossary.found("chips from 寒武纪 and 英伟达") == {"寒武纪": "Cambricon"}


def test_no_glossary_file_means_no_glosses(tmp_path: Path) -> None:
    glossary = Glossary.read(tmp_path / "missing.tsv")
    assert len(glossary) == 0 and glossary.gloss("寒武纪") == "寒武纪" and glossary.found("寒武纪") == {}


@pytest.mark.parametrize("line", ["寒武纪 Cambricon", "寒武纪\t", "寒武纪\tCambricon\textra", "寒武纪\t寒武纪公司"])
def test_a_malformed_line_is_an_error_naming_file_and_line(tmp_path: Path, line: str) -> None:
    path = write(tmp_path, f"火山引擎\tVolcano Engine\n{line}\n")
    with pytest.raises(ConfigError, match=r"glossary.tsv:2: expected a Chinese term, a tab and its English name"):
        Glossary.read(path)


def test_the_shipped_glossary_names_terms_of_the_report() -> None:
    glossary = Glossary.read(SHIPPED)
    report = strip_markers(REPORT.read_text(encoding="utf-8")).replace("**", "")
    assert len(glossary) > 50
    assert [t for t in glossary.terms if t not in report] == []
    assert all(english.isascii() for english in glossary.terms.values())
    # a figure in an English name would be a number no passage holds ("100-billion-yuan" for 千亿)
    assert [e for z, e in glossary.terms.items() if set(re.findall(r"\b\d+\b", e)) - set(re.findall(r"\d+", z))] == []


def test_the_names_about_a_question_share_a_content_word_with_it() -> None:
    terms = {"杭州": "Hangzhou", "投资案例": "investment deals", "母基金": "fund of funds", "AI芯片": "AI chips"}
    about = Glossary(terms).about("How many AI deals were there in Hangzhou?")
    assert about.terms == {"杭州": "Hangzhou", "投资案例": "investment deals", "AI芯片": "AI chips"}  # "of" is no word
    assert Glossary(terms).about("Which fund backs the most?").terms == {"母基金": "fund of funds"}  # funds: fund
    assert Glossary().about("anything").terms == {}
