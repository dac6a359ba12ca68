"""Bot: the one place where the stages are wired together."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from bluebot.chunking import chunk_documents
from bluebot.config import Settings
from bluebot.embedding import Embedder
from bluebot.errors import BadQuestionError, LoaderError
from bluebot.loaders import find_files, load_paths, source_name
from bluebot.retrieval import Retriever
from bluebot.store import Index, build_index, open_index, read_manifest, stale_reason
from bluebot.text import clean_input, detect_lang
from bluebot.types import Hit, Lang


@dataclass(frozen=True)
class IngestReport:
    files: int
    chunks: int
    embedded: int  # chunks whose vectors were computed (the rest were reused)
    seconds: float
    errors: list[LoaderError] = field(default_factory=list)
    skipped_reason: str = ""  # set when the index was already up to date


def load_embedder(settings: Settings) -> Embedder:
    from bluebot.embedding import SentenceTransformerEmbedder
    from bluebot.models import resolve_embedding_model

    return SentenceTransformerEmbedder(settings.embed_model, resolve_embedding_model(settings), settings.threads)


def corpus_files(paths: list[Path]) -> dict[str, str]:
    """source -> sha256 for every corpus file, without parsing them (cheap staleness check)."""
    import hashlib

    digests = {}
    for path in find_files(paths):
        try:
            digests[source_name(path)] = hashlib.sha256(path.read_bytes()).hexdigest()
        except OSError:
            continue
    return digests


MAX_QUESTION_CHARS = 2000


def prepare_question(question: str) -> str:
    """Clean user input; an empty question is an error, an over-long one is cut (callers add a notice)."""
    question = clean_input(question)
    if not question:
        raise BadQuestionError("the question is empty: type a question about the report")
    return question[:MAX_QUESTION_CHARS]


class Bot:
    def __init__(self, settings: Settings, embedder: Embedder | None = None) -> None:
        self.settings = settings
        self._embedder = embedder
        self._index: Index | None = None
        self._retriever: Retriever | None = None

    @property
    def embedder(self) -> Embedder:
        if self._embedder is None:
            self._embedder = load_embedder(self.settings)
        return self._embedder

    @property
    def index(self) -> Index:
        if self._index is None:
            s = self.settings
            self._index = open_index(s.index_dir, s.embed_model, s.chroma_url)
        return self._index

    @property
    def retriever(self) -> Retriever:
        if self._retriever is None:
            self._retriever = Retriever(self.index, self.embedder)
        return self._retriever

    def stale_reason(self, paths: list[Path] | None = None) -> str | None:
        """Why the index must be (re)built for the corpus, or None when it is current."""
        s = self.settings
        manifest = read_manifest(s.index_dir)
        if manifest is None:
            return f"there is no index in {s.index_dir}"
        return stale_reason(
            manifest, s.embed_model, s.chunk_size, s.chunk_overlap, corpus_files(paths or [s.corpus_dir])
        )

    def ingest(
        self, paths: list[Path] | None = None, rebuild: bool = False, on_embed: Callable[[int, int], None] | None = None
    ) -> IngestReport:
        s = self.settings
        start = time.perf_counter()
        paths = paths or [s.corpus_dir]
        if not rebuild and self.stale_reason(paths) is None:
            m = read_manifest(s.index_dir)
            assert m is not None
            return IngestReport(
                len(m.files), m.n_chunks, 0, time.perf_counter() - start, skipped_reason="the index is up to date"
            )
        report = load_paths(paths)
        if not report.documents:
            detail = "; ".join(str(e) for e in report.errors) or f"no .txt, .md or .pdf files under {paths}"
            raise LoaderError(f"nothing to index: {detail}")
        chunks = chunk_documents(report.documents, s.chunk_size, s.chunk_overlap)
        previous = None
        if not rebuild:
            try:
                previous = self.index
            except Exception:  # noqa: BLE001 - no usable previous index just means embedding everything
                previous = None
        manifest, embedded = build_index(
            s.index_dir,
            chunks,
            self.embedder,
            report.digests,
            s.chunk_size,
            s.chunk_overlap,
            s.chroma_url,
            previous,
            on_embed,
        )
        self._index = None
        self._retriever = None
        return IngestReport(
            len(report.documents), manifest.n_chunks, embedded, time.perf_counter() - start, report.errors
        )

    def search(self, question: str, k: int | None = None, lang: Lang | None = None) -> list[Hit]:
        question = prepare_question(question)
        return self.retriever.search(question, k or self.settings.k, lang or detect_lang(question))
