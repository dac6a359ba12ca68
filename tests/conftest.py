from __future__ import annotations

from pathlib import Path

import pytest

from bluebot.config import Settings
from bluebot.embedding import HashingEmbedder
from bluebot.pipeline import Bot

REPORT = Path(__file__).resolve().parents[1] / "corpus" / "2024-china-ai-industry-investment-blue-book.txt"

SAMPLE_REPORT = """\
02 中国AI产业投融资市场分析—总体投资分析

根据统计，2024年中国AI产业领域：共有投资案例 **1,156** 起，披露总投资金额近 **850** 亿元。

Top5地区：合计投资案例975起，占比**84.3%**；合计投资金额744.3亿元，占比**87.8%**。

03 AI投资热点领域—AI芯片

AI芯片主要技术路线对比

\tGPU\tFPGA\tASIC
优势\t通用性强\t可编程\t功耗比好
劣势\t功耗高\t价格较高\t周期较长

04 杭州市AI产业发展与投资—杭州AI产业投资分析

2024年，杭州AI产业领域获投的企业有54家，披露融资规模过亿的企业有14家。
"""


@pytest.fixture
def corpus_dir(tmp_path: Path) -> Path:
    d = tmp_path / "corpus"
    d.mkdir()
    (d / "report.txt").write_text(SAMPLE_REPORT, encoding="utf-8")
    return d


@pytest.fixture
def settings(tmp_path: Path, corpus_dir: Path) -> Settings:
    return Settings(
        corpus_dir=corpus_dir,
        index_dir=tmp_path / "index",
        data_dir=tmp_path / "data",
        embed_model="hashing-test-embedder",
        chunk_size=200,
        chunk_overlap=40,
        backend="extractive",
    )


@pytest.fixture
def bot(settings: Settings) -> Bot:
    b = Bot(settings, embedder=HashingEmbedder())
    b.ingest()
    return b


@pytest.fixture
def cli_env(tmp_path: Path, corpus_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The `bluebot` command on the sample corpus: hashing embedder, extractive answers, index in tmp_path."""
    from bluebot import pipeline

    monkeypatch.setenv("BLUEBOT_CORPUS_DIR", str(corpus_dir))
    monkeypatch.setenv("BLUEBOT_INDEX_DIR", str(tmp_path / "index"))
    monkeypatch.setenv("BLUEBOT_EMBED_MODEL", "hashing-test-embedder")
    monkeypatch.setenv("BLUEBOT_CHUNK_SIZE", "200")
    monkeypatch.setenv("BLUEBOT_CHUNK_OVERLAP", "40")
    monkeypatch.setenv("BLUEBOT_BACKEND", "extractive")
    monkeypatch.setattr(pipeline, "load_embedder", lambda settings: HashingEmbedder())
    return tmp_path
