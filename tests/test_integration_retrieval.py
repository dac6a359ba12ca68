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
