"""The index: a Chroma collection (embedded or server) and a BM25 keyword index, with a manifest.

Each build lives in its own folder index/build-<id>/ (chunks.jsonl, bm25/, chroma/, manifest.json);
index/CURRENT names the live one and is replaced atomically, so an interrupted build never
touches the index being served. In server mode the vectors go to collection chunks-<id> on the
Chroma server and everything else stays in the build folder.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from bluebot import __version__
from bluebot.embedding import Embedder
from bluebot.errors import IndexMismatchError, IndexMissingError, StoreError
from bluebot.text import keyword_tokens
from bluebot.types import Chunk

MANIFEST_VERSION = 1
FIX_INGEST = "run `bluebot ingest`"
FIX_REBUILD = "run `bluebot ingest --rebuild`"
_KEEP_OLD_BUILDS = 1  # the previous build stays for a server still reading it


@dataclass(frozen=True)
class Manifest:
    build_id: str
    embed_model: str
    chunk_size: int
    chunk_overlap: int
    corpus_digest: str
    files: dict[str, str]  # source -> sha256
    n_chunks: int
    dim: int
    built_at: str
    bluebot_version: str = __version__
    version: int = MANIFEST_VERSION
    chroma_url: str = ""

    @classmethod
    def read(cls, path: Path) -> Manifest:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            return cls(**data)
        except (OSError, ValueError, TypeError) as exc:
            raise IndexMissingError(f"the index manifest {path} is unreadable ({exc}); {FIX_REBUILD}") from None


def corpus_digest(files: dict[str, str]) -> str:
    import hashlib

    return hashlib.sha256(json.dumps(sorted(files.items())).encode()).hexdigest()


def store_name(chroma_url: str) -> str:
    """Where an index's vectors live, for messages: the Chroma server at a URL, or the embedded store."""
    return f"the Chroma server at {chroma_url}" if chroma_url else "the embedded store"


def stale_reason(
    manifest: Manifest,
    embed_model: str,
    chunk_size: int,
    chunk_overlap: int,
    files: dict[str, str],
    *,
    chroma_url: str = "",
) -> str | None:
    """Why the index no longer matches the corpus and settings, or None when it does. chroma_url is the store
    the settings ask for ("" is the embedded one): vectors in another store are as good as missing."""
    if manifest.version != MANIFEST_VERSION:
        return f"index format {manifest.version} is not the current {MANIFEST_VERSION}"
    if manifest.embed_model != embed_model:
        return f"index built with embedding model {manifest.embed_model}, settings ask for {embed_model}"
    if manifest.chroma_url != chroma_url:
        return f"index vectors live in {store_name(manifest.chroma_url)}, settings ask for {store_name(chroma_url)}"
    if (manifest.chunk_size, manifest.chunk_overlap) != (chunk_size, chunk_overlap):
        return (
            f"index built with chunks of {manifest.chunk_size}/{manifest.chunk_overlap}, "
            f"settings ask for {chunk_size}/{chunk_overlap}"
        )
    if manifest.corpus_digest != corpus_digest(files):
        added = sorted(set(files) - set(manifest.files))
        removed = sorted(set(manifest.files) - set(files))
        changed = sorted(s for s in set(files) & set(manifest.files) if files[s] != manifest.files[s])
        parts = [
            f"{label}: {', '.join(names)}"
            for label, names in (("new", added), ("removed", removed), ("changed", changed))
            if names
        ]
        return "the corpus changed (" + "; ".join(parts) + ")"
    return None


def _chroma_client(path: Path | None, url: str) -> Any:
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    chroma_settings = ChromaSettings(anonymized_telemetry=False)
    try:
        if url:
            parsed = urlparse(url)
            if not parsed.hostname:
                raise StoreError(f"BLUEBOT_CHROMA_URL={url!r} is not a URL like http://127.0.0.1:8000")
            client = chromadb.HttpClient(
                host=parsed.hostname, port=parsed.port or 8000, ssl=parsed.scheme == "https", settings=chroma_settings
            )
            client.heartbeat()
            return client
        assert path is not None
        return chromadb.PersistentClient(path=str(path), settings=chroma_settings)
    except StoreError:
        raise
    except Exception as exc:  # chromadb raises many kinds; all mean the store is unusable
        where = f"the Chroma server at {url}" if url else f"the Chroma index at {path}"
        hint = "start it (`chroma run --path DIR --port PORT`) or unset BLUEBOT_CHROMA_URL" if url else FIX_REBUILD
        raise StoreError(f"cannot open {where} ({type(exc).__name__}: {exc}); {hint}") from None


def _collection_name(build_id: str) -> str:
    return f"chunks-{build_id}"


@dataclass
class Index:
    """One opened build: chunks, vectors and keyword index, ready to query."""

    root: Path
    manifest: Manifest
    chunks: list[Chunk]
    chroma_url: str = ""
    _collection: Any = field(default=None, repr=False)
    _bm25: Any = field(default=None, repr=False)
    _by_id: dict[str, Chunk] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        self._by_id = {c.id: c for c in self.chunks}

    def chunk(self, chunk_id: str) -> Chunk:
        return self._by_id[chunk_id]

    @property
    def collection(self) -> Any:
        if self._collection is None:
            client = _chroma_client(None if self.chroma_url else self.root / "chroma", self.chroma_url)
            try:
                self._collection = client.get_collection(
                    _collection_name(self.manifest.build_id), embedding_function=None
                )
            except Exception as exc:
                raise IndexMissingError(
                    f"the vector collection of build {self.manifest.build_id} is missing ({exc}); {FIX_REBUILD}"
                ) from None
        return self._collection

    def dense(self, vector: Sequence[float], n: int) -> list[tuple[Chunk, float]]:
        """Nearest chunks by cosine similarity, best first."""
        if len(vector) != self.manifest.dim:
            raise IndexMismatchError(
                f"query vector has {len(vector)} dimensions, the index {self.manifest.dim}; {FIX_REBUILD}"
            )
        n = min(n, len(self.chunks))
        if n == 0:
            return []
        try:
            res = self.collection.query(query_embeddings=[list(vector)], n_results=n, include=["distances"])
        except IndexMissingError:
            raise
        except Exception as exc:
            self._collection = None  # reconnect next time: the server may come back
            raise StoreError(f"vector search failed ({type(exc).__name__}: {exc})") from None
        return [
            (self._by_id[i], 1.0 - d)
            for i, d in zip(res["ids"][0], res["distances"][0], strict=True)
            if i in self._by_id
        ]

    def keyword(self, query: str, n: int) -> list[tuple[Chunk, float]]:
        """BM25 over jieba tokens, best first; chunks with no shared token are left out."""
        tokens = [t for t in keyword_tokens(query) if t in self._vocab]
        if not tokens or not self.chunks:
            return []
        docs, scores = self._bm25.retrieve([tokens], k=min(n, len(self.chunks)), show_progress=False, n_threads=1)
        return [(self.chunks[int(d)], float(s)) for d, s in zip(docs[0], scores[0], strict=True) if s > 0]

    @property
    def _vocab(self) -> dict[str, int]:
        return self._bm25.vocab_dict


def _write_chunks(path: Path, chunks: list[Chunk]) -> None:
    with path.open("w", encoding="utf-8") as f:
        for c in chunks:
            f.write(json.dumps(asdict(c), ensure_ascii=False) + "\n")


def _read_chunks(path: Path) -> list[Chunk]:
    try:
        return [Chunk(**json.loads(line)) for line in path.read_text(encoding="utf-8").splitlines() if line]
    except (OSError, ValueError, TypeError) as exc:
        raise IndexMissingError(f"the index chunks file {path} is unreadable ({exc}); {FIX_REBUILD}") from None


def _build_bm25(chunks: list[Chunk]) -> Any:
    import bm25s

    retriever = bm25s.BM25()
    # the section heading is searchable too: "南京" finds the Nanjing pages' chunks
    corpus = [keyword_tokens(f"{c.section}\n{c.text}") or ["<empty>"] for c in chunks]
    retriever.index(corpus, show_progress=False)
    return retriever


def current_build(index_dir: Path) -> Path | None:
    pointer = index_dir / "CURRENT"
    try:
        name = pointer.read_text(encoding="utf-8").strip()
    except OSError:
        return None
    build = index_dir / name
    return build if name and (build / "manifest.json").exists() else None


def read_manifest(index_dir: Path) -> Manifest | None:
    build = current_build(index_dir)
    return Manifest.read(build / "manifest.json") if build else None


def open_index(index_dir: Path, embed_model: str, chroma_url: str = "") -> Index:
    """Open the live build; refuses an index built with another embedding model."""
    import bm25s

    build = current_build(index_dir)
    if build is None:
        raise IndexMissingError(f"no index in {index_dir}/ yet; {FIX_INGEST}")
    manifest = Manifest.read(build / "manifest.json")
    if manifest.embed_model != embed_model:
        raise IndexMismatchError(
            f"the index was built with embedding model {manifest.embed_model}, but the embedding model is "
            f"{embed_model}; {FIX_REBUILD} or set BLUEBOT_EMBED_MODEL={manifest.embed_model}"
        )
    if manifest.chroma_url != chroma_url:
        back = f"set BLUEBOT_CHROMA_URL={manifest.chroma_url}" if manifest.chroma_url else "unset BLUEBOT_CHROMA_URL"
        raise IndexMismatchError(
            f"the index vectors live in {store_name(manifest.chroma_url)}, not {store_name(chroma_url)}; "
            f"{FIX_REBUILD} or {back}"
        )
    chunks = _read_chunks(build / "chunks.jsonl")
    try:
        bm25 = bm25s.BM25.load(str(build / "bm25"), show_progress=False)
    except (OSError, ValueError) as exc:
        raise IndexMissingError(f"the keyword index in {build} is unreadable ({exc}); {FIX_REBUILD}") from None
    return Index(build, manifest, chunks, chroma_url, _bm25=bm25)


def build_index(
    index_dir: Path,
    chunks: list[Chunk],
    embedder: Embedder,
    files: dict[str, str],
    chunk_size: int,
    chunk_overlap: int,
    chroma_url: str = "",
    previous: Index | None = None,
    on_embed: Callable[[int, int], None] | None = None,
) -> tuple[Manifest, int]:
    """Write a new build and make it live. Vectors of unchanged chunks are copied from previous
    (same model) instead of re-embedded. Returns the manifest and the number of chunks embedded."""
    index_dir.mkdir(parents=True, exist_ok=True)
    build_id = f"{datetime.now(UTC):%Y%m%dT%H%M%S%f}-{uuid.uuid4().hex[:6]}"  # sorts by time
    tmp = index_dir / f".tmp-{build_id}"
    tmp.mkdir()
    try:
        vectors = _reuse_vectors(previous, embedder.name, chunks)
        todo = [i for i, c in enumerate(chunks) if c.id not in vectors]
        batch = 16
        if on_embed and todo:
            on_embed(0, len(todo))
        for start in range(0, len(todo), batch):
            ids = todo[start : start + batch]
            texts = [f"{chunks[i].section}\n{chunks[i].text}" for i in ids]
            for i, vec in zip(ids, embedder.embed_documents(texts), strict=True):
                vectors[chunks[i].id] = vec
            if on_embed:
                on_embed(min(start + batch, len(todo)), len(todo))
        dim = len(next(iter(vectors.values()))) if vectors else 0

        client = _chroma_client(None if chroma_url else tmp / "chroma", chroma_url)
        try:
            collection = client.create_collection(
                _collection_name(build_id), embedding_function=None, configuration={"hnsw": {"space": "cosine"}}
            )
            for start in range(0, len(chunks), 256):
                part = chunks[start : start + 256]
                collection.add(
                    ids=[c.id for c in part],
                    embeddings=[vectors[c.id] for c in part],
                    documents=[c.text for c in part],
                    metadatas=[
                        {"source": c.source, "section": c.section, "position": c.position, "lang": c.lang} for c in part
                    ],
                )
        except Exception as exc:
            raise StoreError(f"writing vectors failed ({type(exc).__name__}: {exc})") from None
        del client, collection

        _write_chunks(tmp / "chunks.jsonl", chunks)
        bm25 = _build_bm25(chunks)
        bm25.save(str(tmp / "bm25"), show_progress=False)
        manifest = Manifest(
            build_id=build_id,
            embed_model=embedder.name,
            chunk_size=chunk_size,
            chunk_overlap=chunk_overlap,
            corpus_digest=corpus_digest(files),
            files=dict(sorted(files.items())),
            n_chunks=len(chunks),
            dim=dim,
            built_at=datetime.now(UTC).isoformat(timespec="seconds"),
            chroma_url=chroma_url,
        )
        (tmp / "manifest.json").write_text(json.dumps(asdict(manifest), ensure_ascii=False, indent=2), "utf-8")
        final = index_dir / f"build-{build_id}"
        tmp.rename(final)
        _swap_current(index_dir, final.name)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    _prune(index_dir, keep=final.name, chroma_url=chroma_url)
    return manifest, len(todo)


def _reuse_vectors(previous: Index | None, model: str, chunks: list[Chunk]) -> dict[str, list[float]]:
    if previous is None or previous.manifest.embed_model != model:
        return {}
    wanted = [c.id for c in chunks if c.id in previous._by_id]
    if not wanted:
        return {}
    try:
        got = previous.collection.get(ids=wanted, include=["embeddings"])
    except Exception:
        return {}  # an unreadable old build just means embedding everything again
    return {i: list(map(float, e)) for i, e in zip(got["ids"], got["embeddings"], strict=True)}


def _swap_current(index_dir: Path, name: str) -> None:
    tmp = index_dir / f".CURRENT-{os.getpid()}"
    tmp.write_text(name + "\n", encoding="utf-8")
    os.replace(tmp, index_dir / "CURRENT")


def _prune(index_dir: Path, keep: str, chroma_url: str) -> None:
    """Remove builds older than the previous one, and temp folders of ingests that died long ago."""
    builds = sorted((p for p in index_dir.glob("build-*") if p.is_dir() and p.name != keep), reverse=True)
    for old in builds[_KEEP_OLD_BUILDS:]:
        if chroma_url:
            with contextlib.suppress(Exception):  # a collection already gone is fine
                _chroma_client(None, chroma_url).delete_collection(_collection_name(old.name.removeprefix("build-")))
        shutil.rmtree(old, ignore_errors=True)
    for tmp in index_dir.glob(".tmp-*"):
        if time.time() - tmp.stat().st_mtime > 3600:
            shutil.rmtree(tmp, ignore_errors=True)
