"""The real report, the real default embedding model (google/embeddinggemma-300m), a real index."""

from __future__ import annotations

from pathlib import Path

import pytest

from bluebot.config import Settings
from bluebot.pipeline import Bot

from conftest import REPORT

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def real_bot(tmp_path_factory: pytest.TempPathFactory) -> Bot:
    root = tmp_path_factory.mktemp("real")
    corpus = root / "corpus"
    corpus.mkdir()
    (corpus / REPORT.name).write_bytes(REPORT.read_bytes())
    bot = Bot(Settings.from_env(corpus_dir=corpus, index_dir=root / "index", embed_model=None, chroma_url=""))
    report = bot.ingest()
    assert report.files == 1 and report.chunks > 15 and not report.errors
    return bot


def test_built_with_the_default_model(real_bot: Bot) -> None:
    assert real_bot.index.manifest.embed_model == "google/embeddinggemma-300m"
    assert real_bot.index.manifest.dim == 768


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        ("2024年中国AI产业领域共有多少起投资案例？", "1,156"),
        ("杭州三大千亿母基金的批复规模是多少？", "2,442"),
        ("How much was invested in AI large models in 2024?", "260亿元"),
        ("What are the disadvantages of FPGA chips?", "对使用者要求较高"),
        ("When was the Interim Measures for generative AI services issued?", "2023年7月"),
    ],
)
def test_right_passage_first(real_bot: Bot, question: str, expected: str) -> None:
    hits = real_bot.search(question, k=3)
    assert expected in hits[0].chunk.text, [h.chunk.text[:60] for h in hits]


def test_reingest_with_unchanged_corpus_embeds_nothing(real_bot: Bot, tmp_path: Path) -> None:
    assert real_bot.ingest().skipped_reason


def test_relate_finds_the_line_an_english_paraphrase_comes_from(real_bot: Bot) -> None:
    lines = [
        "针对AI发展可能带来的风险，我国已逐步形成了较为立体的治理与监管体系。",
        "算法歧视和偏见、隐私泄露、大数据杀熟、人的主体性消解等算法伦理问题受到关注。",
        "人工智能产业图谱架构 (AI发展四大核心要素: 算法、数据、算力、应用场景)",
    ]
    answer = "The four core elements of AI development are algorithm, data, compute and applications."
    scores = real_bot.relate(answer, lines)
    assert max(range(3), key=scores.__getitem__) == 2
    # The lines' vectors are kept for the next answer, each under its own text.
    assert real_bot.relate(answer, lines[::-1]) == pytest.approx(scores[::-1])
