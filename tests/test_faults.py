"""Faults from outside the process: an ingest killed with SIGKILL, a damaged index."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bluebot.config import Settings
from bluebot.embedding import HashingEmbedder
from bluebot.errors import IndexMissingError
from bluebot.pipeline import Bot
from bluebot.store import current_build

SLOW_INGEST = """
import sys, time
from pathlib import Path
from bluebot.config import Settings
from bluebot.embedding import HashingEmbedder
from bluebot.pipeline import Bot

class Slow(HashingEmbedder):
    def embed_documents(self, texts, progress=False):
        print("embedding", flush=True)
        time.sleep(0.5)
        return super().embed_documents(texts)

s = Settings(corpus_dir=Path(sys.argv[1]), index_dir=Path(sys.argv[2]), embed_model="hashing-test-embedder",
             chunk_size=60, chunk_overlap=10)
Bot(s, embedder=Slow()).ingest(rebuild=True)
print("finished", flush=True)
"""


def test_sigkill_during_ingest_leaves_the_previous_index_serving(bot: Bot, settings: Settings, tmp_path: Path) -> None:
    before = bot.index.manifest.build_id
    answer_before = [h.chunk.id for h in bot.search("获投企业")]
    # more text, so that the killed ingest is surely mid-way
    (settings.corpus_dir / "more.txt").write_text("人工智能产业投资持续活跃。" * 200, encoding="utf-8")
    proc = subprocess.Popen(
        [sys.executable, "-c", SLOW_INGEST, str(settings.corpus_dir), str(settings.index_dir)],
        stdout=subprocess.PIPE,
        text=True,
        env=dict(os.environ, PYTHONUNBUFFERED="1"),
    )
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "embedding"
    time.sleep(0.2)
    proc.send_signal(signal.SIGKILL)
    proc.wait(10)
    assert proc.returncode == -signal.SIGKILL
    assert list(settings.index_dir.glob(".tmp-*"))  # the killed build's leftovers, never made live
    survivor = Bot(settings, embedder=HashingEmbedder())
    assert survivor.index.manifest.build_id == before
    assert [h.chunk.id for h in survivor.search("获投企业")] == answer_before
    assert "new: " in (survivor.stale_reason() or "")  # and the next ingest picks the new file up
    survivor.ingest()
    assert any(c.source.endswith("more.txt") for c in survivor.index.chunks)


@pytest.mark.parametrize("damage", ["chunks", "bm25", "current"])
def test_damaged_index_names_the_fix(bot: Bot, settings: Settings, damage: str) -> None:
    build = current_build(settings.index_dir)
    assert build is not None
    if damage == "chunks":
        (build / "chunks.jsonl").write_text('{"id": broken', encoding="utf-8")
    elif damage == "bm25":
        for f in (build / "bm25").iterdir():
            f.unlink()
    else:
        (settings.index_dir / "CURRENT").write_text("build-does-not-exist\n", encoding="utf-8")
    with pytest.raises(IndexMissingError, match=r"bluebot ingest"):
        Bot(settings, embedder=HashingEmbedder()).search("获投企业")
