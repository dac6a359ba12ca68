from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from bluebot import cli
from bluebot.config import Settings
from bluebot.embedding import HashingEmbedder
from bluebot.errors import GenerationError
from bluebot.generation import Messages, english_names
from bluebot.names import BATCH, NAMES_FILE, candidate_terms, read_names, update_names
from bluebot.pipeline import Bot

TEXT = (
    "2024年，杭州市获投企业集中在滨江区。《生成式人工智能服务管理暂行办法》于2023年7月发布。\n"
    "2024年AI芯片投资细分赛道\n- ✓ 存算一体AI芯片\n- ✓ 高性能计算芯片\n"
)


class Namer:
    """Names each numbered term of the prompt from a dictionary (a term it does not know is left out of the reply),
    or raises on the nth call."""

    def __init__(self, names: dict[str, str], fail_on: int | None = None) -> None:
        self.names = names
        self.fail_on = fail_on
        self.asked: list[list[str]] = []
        self.name = "local:namer"

    def stream(self, messages: Messages, max_tokens: int | None = None) -> Iterator[str]:
        terms = messages[-1][1].split("\n")
        self.asked.append(terms)
        if self.fail_on == len(self.asked):
            raise GenerationError("the local model failed while answering: out of memory")
        yield "\n".join(f"{t} = {self.names[t]}" for t in terms if t in self.names)


def test_candidate_terms_are_the_documents_names_quoted_titles_and_list_items() -> None:
    terms = candidate_terms([TEXT])
    assert {"杭州市", "生成式人工智能服务管理暂行办法", "存算一体AI芯片", "高性能计算芯片"} <= set(terms)
    assert all(not re.search(r"[，。；：]", t) for t in terms)  # no sentence is a term
    assert all(re.search(r"[\u4e00-\u9fff]", t) for t in terms)  # every term has Chinese to name
    assert candidate_terms([TEXT], limit=2) == terms[:2]


class Replies:
    name = "local:replies"

    def __init__(self, *replies: str) -> None:
        self.replies = list(replies)
        self.asked: list[list[str]] = []

    def stream(self, messages: Messages, max_tokens: int | None = None) -> Iterator[str]:
        self.asked.append(messages[-1][1].split("\n"))
        yield self.replies.pop(0)


def test_english_names_keep_the_terms_the_model_named_in_english() -> None:
    reply = "杭州 = Hangzhou\n滨江 = 滨江\n寒武纪 =   Cambricon  Technologies \n"
    assert english_names(["杭州", "滨江", "寒武纪", "余杭"], Replies(reply)) == {
        "杭州": "Hangzhou",
        "寒武纪": "Cambricon Technologies",
    }  # Chinese back and no reply at all are both left out
    assert english_names([], Replies()) == {}
    assert english_names(["标杆示范"], Replies("1. Benchmark demos")) == {"标杆示范": "Benchmark demos"}


def test_one_term_named_in_its_own_place_keeps_the_name() -> None:
    # asked for one term, the model wrote the English on both sides of "=": the name is still the term's
    assert english_names(["场景"], Replies("scene = scene")) == {"场景": "scene"}
    assert english_names(["应用场景"], Replies("Application scenario = Application scenario")) == {
        "应用场景": "Application scenario"
    }
    assert english_names(["场景"], Replies("场景 = 场景")) == {}  # Chinese back: still left out
    assert english_names(["场景", "应用"], Replies("scene = scene")) == {}  # two terms: a line must repeat its term


def test_a_name_counts_only_for_the_term_its_line_repeats() -> None:
    terms = ["训练芯片", "推理芯片", "云端芯片", "预测分析等"]
    # a line skipped, lines out of order, a name said twice, a trailing 等 dropped, a line naming no term of the list
    reply = (
        "1. 推理芯片 = inference chip\n云端芯片 = cloud chip = cloud chip\n预测分析 = predictive analysis\n芯片 = chip"
    )
    assert english_names(terms, Replies(reply)) == {
        "推理芯片": "inference chip",
        "云端芯片": "cloud chip",
        "预测分析等": "predictive analysis",
    }
    assert english_names(["城市群", "城市圈"], Replies("城市 = city")) == {}  # the copy begins both: no guess


def test_a_reply_that_names_too_few_terms_is_asked_again_in_halves(tmp_path: Path) -> None:
    text = "、".join(f"“测试名称{chr(0x4E00 + i)}”" for i in range(4))
    terms = candidate_terms([text])
    loop = "Intel = Intel = Intel"  # a reply that stopped repeating the terms
    halves = [f"{t} = name {i}" for i, t in enumerate(terms)]
    model = Replies(loop, "\n".join(halves[:2]), "\n".join(halves[2:]))
    assert update_names(tmp_path, [text], model, model.name).named == 4
    assert model.asked == [terms, terms[:2], terms[2:]]
    assert read_names(tmp_path).terms == {t: f"name {i}" for i, t in enumerate(terms)}


def test_common_words_and_fragments_of_longer_words_are_not_terms() -> None:
    text = (
        "类别：训练芯片、推理芯片、其他\n"  # 其他 ("other") is a common word, even as a list item
        # 大模 only ever runs on into 大模型 (a line break is no side)
        "大模型融资活跃。大模型估值上升。国产大模\n型发展。"
        "北京和上海的企业"  # place names stay, however common
    )
    terms = candidate_terms([text])
    assert {"训练芯片", "推理芯片", "北京", "上海"} <= set(terms)
    assert "其他" not in terms and "大模" not in terms


def test_terms_are_named_once_and_the_file_follows_the_corpus(tmp_path: Path) -> None:
    terms = candidate_terms([TEXT])
    known = {t: f"name {i}" for i, t in enumerate(terms) if t != "滨江区"}
    namer = Namer(known)
    report = update_names(tmp_path, [TEXT], namer, namer.name)
    assert (report.terms, report.named, report.asked) == (len(terms), len(terms) - 1, len(terms))
    assert len(namer.asked) == -(-len(terms) // BATCH) and all(len(batch) <= BATCH for batch in namer.asked)
    assert read_names(tmp_path).terms == known
    assert "#? 滨江区" in (tmp_path / NAMES_FILE).read_text(encoding="utf-8")  # recorded, so not asked again

    again = update_names(tmp_path, [TEXT], namer, namer.name)
    assert again.asked == 0 and len(namer.asked) == -(-len(terms) // BATCH)

    update_names(tmp_path, ["杭州市获投企业集中在滨江区。"], namer, namer.name)  # the other text was removed
    assert set(read_names(tmp_path).terms) == {"杭州市"}


def test_names_made_the_way_before_are_made_again(tmp_path: Path) -> None:
    old = "# English names of the corpus's Chinese terms, made by `bluebot ingest` with m (2026-12-05).\n"
    old += "杭州市\tHangzhou\n"
    (tmp_path / NAMES_FILE).write_text(old, encoding="utf-8")
    namer = Namer({"杭州市": "Hangzhou City", "滨江区": "Binjiang District"})
    assert update_names(tmp_path, ["杭州市获投企业集中在滨江区。"], namer, namer.name).asked == 2
    assert read_names(tmp_path).terms["杭州市"] == "Hangzhou City"
    assert update_names(tmp_path, ["杭州市获投企业集中在滨江区。"], namer, namer.name).asked == 0  # now current


def test_a_failing_model_keeps_the_names_made_before_it(tmp_path: Path) -> None:
    texts = [TEXT] + [f"“测试名称{chr(0x4E00 + i)}”" for i in range(BATCH)]
    namer = Namer({t: "a name" for t in candidate_terms(texts)}, fail_on=2)
    with pytest.raises(GenerationError):
        update_names(tmp_path, texts, namer, namer.name)
    assert len(read_names(tmp_path)) == BATCH  # the first batch's names are on disk
    namer.fail_on = None
    assert update_names(tmp_path, texts, namer, namer.name).asked == len(candidate_terms(texts)) - BATCH


def test_the_corpus_glossary_corrects_the_names_ingest_made(settings: Settings) -> None:
    (settings.corpus_dir / "report.txt").write_text(TEXT, encoding="utf-8")
    (settings.corpus_dir / "glossary.tsv").write_text("杭州市\tHangzhou\n", encoding="utf-8")
    namer = Namer({"杭州市": "Hangzhou City", "滨江区": "Binjiang District"})
    bot = Bot(dataclasses.replace(settings, backend="local"), embedder=HashingEmbedder(), generator=namer)
    bot.ingest()
    assert bot.glossary.terms == {"杭州市": "Hangzhou"}  # no names made yet: the corpus glossary alone
    assert bot.name_terms().named == 2
    assert read_names(settings.index_dir).terms["杭州市"] == "Hangzhou City"
    assert bot.glossary.terms == {"杭州市": "Hangzhou", "滨江区": "Binjiang District"}  # the correction wins


def test_ingest_without_a_language_model_warns_and_keeps_the_index(
    cli_env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["ingest"]) == 0
    out, err = capsys.readouterr()
    assert "indexed 1 files" in out
    assert err.strip().splitlines()[-1].startswith("warning: no English names made for the corpus's terms:")
    assert not (cli_env / "index" / NAMES_FILE).exists()
    assert cli.main(["ingest", "--no-names"]) == 0
    assert "warning" not in capsys.readouterr().err
