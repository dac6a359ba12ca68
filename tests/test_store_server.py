"""The store against a real Chroma server (`chroma run` on loopback): same behaviour as embedded."""

from __future__ import annotations

from pathlib import Path

import pytest

from bluebot.config import Settings
from bluebot.embedding import HashingEmbedder
from bluebot.errors import IndexMismatchError, StoreError
from bluebot.pipeline import Bot

from servers import chroma_server, free_port

pytestmark = pytest.mark.server


@pytest.fixture(params=["embedded", "server"])
def mode_settings(request: pytest.FixtureRequest, settings: Settings, tmp_path: Path):  # type: ignore[no-untyped-def]
    if request.param == "embedded":
        yield settings
        return
    with chroma_server(tmp_path / "chroma-data") as url:
        yield settings.with_(chroma_url=url)


def test_ingest_search_and_incremental_update(mode_settings: Settings, corpus_dir: Path) -> None:
    bot = Bot(mode_settings, embedder=HashingEmbedder())
    first = bot.ingest()
    assert first.embedded == first.chunks > 0
    hits = bot.search("2024年杭州AI产业领域获投的企业有多少家？", k=2)
    assert "54家" in hits[0].chunk.text
    (corpus_dir / "more.md").write_text("# 新报告\n\n深圳的AI产业基金规模达到100亿元。", encoding="utf-8")
    second = bot.ingest()
    assert second.embedded == 1 and second.chunks == first.chunks + 1
    assert any(h.chunk.source.endswith("more.md") for h in bot.search("深圳AI产业基金规模", k=2))


def test_interrupted_rebuild_keeps_serving(mode_settings: Settings) -> None:
    bot = Bot(mode_settings, embedder=HashingEmbedder())
    bot.ingest()
    before = [h.chunk.id for h in bot.search("投资案例")]

    class Dying(HashingEmbedder):
        def embed_documents(self, texts: list[str], progress: bool = False) -> list[list[float]]:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        Bot(mode_settings, embedder=Dying()).ingest(rebuild=True)
    assert [h.chunk.id for h in Bot(mode_settings, embedder=HashingEmbedder()).search("投资案例")] == before


def test_index_from_one_store_is_not_read_from_another(settings: Settings, tmp_path: Path) -> None:
    Bot(settings, embedder=HashingEmbedder()).ingest()
    with chroma_server(tmp_path / "chroma-data") as url, pytest.raises(IndexMismatchError, match="CHROMA_URL"):
        Bot(settings.with_(chroma_url=url), embedder=HashingEmbedder()).search("投资")


def test_moving_the_index_to_a_server_builds_it_there(settings: Settings, tmp_path: Path) -> None:
    """BLUEBOT_CHROMA_URL set for an index built in the embedded store: ingest builds on the server (it used to
    say "the index is up to date", and the next search refused the index)."""
    Bot(settings, embedder=HashingEmbedder()).ingest()
    with chroma_server(tmp_path / "chroma-data") as url:
        bot = Bot(settings.with_(chroma_url=url), embedder=HashingEmbedder())
        assert "settings ask for the Chroma server" in (bot.stale_reason() or "")
        report = bot.ingest()
        assert not report.skipped_reason and report.chunks > 0
        assert bot.index.manifest.chroma_url == url and bot.search("投资案例")
        assert bot.stale_reason() is None


def test_unreachable_server_is_a_clear_error(settings: Settings) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    with pytest.raises(StoreError, match=r"cannot open the Chroma server at http://127\.0\.0\.1:\d+ .*chroma run"):
        Bot(settings.with_(chroma_url=url), embedder=HashingEmbedder()).ingest()


def test_server_going_away_and_coming_back(settings: Settings, tmp_path: Path) -> None:
    port = free_port()
    data = tmp_path / "chroma-data"
    with chroma_server(data, port) as url:
        s = settings.with_(chroma_url=url)
        bot = Bot(s, embedder=HashingEmbedder())
        bot.ingest()
        assert bot.search("投资案例")
    with pytest.raises(StoreError, match="vector search failed|cannot open the Chroma server"):
        bot.search("投资案例")
    with chroma_server(data, port):
        assert bot.search("投资案例")  # same Bot recovers without a restart
