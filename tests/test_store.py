from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from bluebot.config import Settings
from bluebot.embedding import HashingEmbedder
from bluebot.errors import IndexMismatchError, IndexMissingError
from bluebot.pipeline import Bot
from bluebot.store import corpus_digest, current_build, open_index, read_manifest, stale_reason


class ExplodingEmbedder(HashingEmbedder):
    """Dies after n documents, like an ingest killed midway."""

    def __init__(self, after: int) -> None:
        super().__init__()
        self.after = after
        self.seen = 0

    def embed_documents(self, texts: list[str], progress: bool = False) -> list[list[float]]:
        self.seen += len(texts)
        if self.seen > self.after:
            raise KeyboardInterrupt("killed")
        return super().embed_documents(texts)


class CountingEmbedder(HashingEmbedder):
    def __init__(self) -> None:
        super().__init__()
        self.embedded = 0

    def embed_documents(self, texts: list[str], progress: bool = False) -> list[list[float]]:
        self.embedded += len(texts)
        return super().embed_documents(texts)


def test_manifest_records_what_built_the_index(bot: Bot, settings: Settings) -> None:
    m = read_manifest(settings.index_dir)
    assert m is not None
    assert m.embed_model == "hashing-test-embedder"
    assert (m.chunk_size, m.chunk_overlap) == (200, 40)
    assert [Path(f).name for f in m.files] == ["report.txt"]
    assert m.n_chunks == len(bot.index.chunks) > 0
    assert m.dim == 256 and m.built_at and m.bluebot_version and len(m.corpus_digest) == 64
    data = json.loads((current_build(settings.index_dir) / "manifest.json").read_text())  # type: ignore[operator]
    assert data["build_id"] == m.build_id


def test_second_ingest_is_a_no_op(bot: Bot) -> None:
    before = bot.index.manifest.build_id
    report = bot.ingest()
    assert report.skipped_reason == "the index is up to date"
    assert bot.index.manifest.build_id == before


def test_changed_corpus_is_detected_and_only_new_chunks_embedded(settings: Settings, corpus_dir: Path) -> None:
    embedder = CountingEmbedder()
    bot = Bot(settings, embedder=embedder)
    first = bot.ingest()
    assert embedder.embedded == first.chunks
    text = (corpus_dir / "report.txt").read_text(encoding="utf-8")
    (corpus_dir / "report.txt").write_text(text.replace("54家", "55家"), encoding="utf-8")
    assert "changed: " in (bot.stale_reason() or "")
    second = bot.ingest()
    assert second.embedded == 1  # the Hangzhou chunk only
    assert any("55家" in c.text for c in bot.index.chunks)
    assert not any("54家" in c.text for c in bot.index.chunks)


def test_new_and_deleted_files(settings: Settings, corpus_dir: Path) -> None:
    bot = Bot(settings, embedder=HashingEmbedder())
    bot.ingest()
    (corpus_dir / "extra.md").write_text("# Extra\n\nA second report about robots.", encoding="utf-8")
    assert "new: " in (bot.stale_reason() or "")
    bot.ingest()
    assert {Path(c.source).name for c in bot.index.chunks} == {"report.txt", "extra.md"}
    (corpus_dir / "extra.md").unlink()
    assert "removed: " in (bot.stale_reason() or "")
    bot.ingest()
    assert {Path(c.source).name for c in bot.index.chunks} == {"report.txt"}


def test_changed_settings_make_the_index_stale(bot: Bot, settings: Settings) -> None:
    other = Bot(settings.with_(chunk_size=300, chunk_overlap=40), embedder=HashingEmbedder())
    assert "chunks of 200/40" in (other.stale_reason() or "")


def test_another_store_makes_the_index_stale(bot: Bot, settings: Settings) -> None:
    """Vectors in the embedded store are of no use to a Chroma server, and the other way round: ingest must build."""
    m = read_manifest(settings.index_dir)
    assert m is not None and m.chroma_url == ""  # the manifest records the store its vectors went to
    url = "http://chroma-host:8000"
    args = (m.embed_model, m.chunk_size, m.chunk_overlap, m.files)
    assert corpus_digest(m.files) == m.corpus_digest and stale_reason(m, *args) is None
    assert stale_reason(m, *args, chroma_url=url) == (
        "index vectors live in the embedded store, settings ask for the Chroma server at http://chroma-host:8000"
    )
    on_server = replace(m, chroma_url=url)
    assert stale_reason(on_server, *args, chroma_url=url) is None
    assert stale_reason(on_server, *args) == (
        "index vectors live in the Chroma server at http://chroma-host:8000, settings ask for the embedded store"
    )
    other = stale_reason(on_server, *args, chroma_url="http://other-host:8000")
    assert other is not None and other.endswith("settings ask for the Chroma server at http://other-host:8000")
    with pytest.raises(IndexMismatchError, match=r"in the embedded store, not the Chroma server.*or unset"):
        open_index(settings.index_dir, m.embed_model, url)


def test_bot_sees_a_change_of_store(bot: Bot, settings: Settings) -> None:
    """Setting BLUEBOT_CHROMA_URL for an index built in the embedded store: ingest builds instead of saying
    "the index is up to date" (the next search would refuse the index)."""
    moved = Bot(settings.with_(chroma_url="http://chroma-host:8000"), embedder=HashingEmbedder())
    assert "settings ask for the Chroma server at http://chroma-host:8000" in (moved.stale_reason() or "")


def test_query_with_another_model_is_refused(bot: Bot, settings: Settings) -> None:
    with pytest.raises(IndexMismatchError, match=r"built with embedding model hashing-test-embedder.*ingest --rebuild"):
        open_index(settings.index_dir, "google/embeddinggemma-300m")


def test_missing_index_names_the_command(settings: Settings) -> None:
    bot = Bot(settings, embedder=HashingEmbedder())
    with pytest.raises(IndexMissingError, match="bluebot ingest"):
        bot.search("投资案例")


def test_corrupt_manifest_names_the_fix(bot: Bot, settings: Settings) -> None:
    build = current_build(settings.index_dir)
    assert build is not None
    (build / "manifest.json").write_text("{not json", encoding="utf-8")
    with pytest.raises(IndexMissingError, match="ingest --rebuild"):
        open_index(settings.index_dir, "hashing-test-embedder")


def test_interrupted_rebuild_leaves_the_previous_index_serving(bot: Bot, settings: Settings) -> None:
    before = bot.index.manifest.build_id
    hits_before = [h.chunk.id for h in bot.search("投资案例")]
    dying = Bot(settings, embedder=ExplodingEmbedder(after=1))
    with pytest.raises(KeyboardInterrupt):
        dying.ingest(rebuild=True)
    assert not list(settings.index_dir.glob(".tmp-*"))  # the half build was cleaned away
    fresh = Bot(settings, embedder=HashingEmbedder())
    assert fresh.index.manifest.build_id == before
    assert [h.chunk.id for h in fresh.search("投资案例")] == hits_before


def test_rebuild_swaps_and_keeps_one_previous_build(bot: Bot, settings: Settings) -> None:
    first = bot.index.manifest.build_id
    bot.ingest(rebuild=True)
    second = bot.index.manifest.build_id
    bot.ingest(rebuild=True)
    third = bot.index.manifest.build_id
    assert len({first, second, third}) == 3
    builds = sorted(p.name for p in settings.index_dir.glob("build-*"))
    assert builds == sorted([f"build-{second}", f"build-{third}"])
