"""Bot: the one place where the stages are wired together."""

from __future__ import annotations

import collections.abc
import contextlib
import re
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from bluebot.checks import (
    CHECKS,
    EVIDENCE_FLOORS,
    Check,
    Checked,
    Draft,
    EvidenceAnswers,
    FigureGate,
    WeakRetrieval,
    check_answer,
    repair_answer,
    verify,
)
from bluebot.chunking import chunk_documents
from bluebot.config import BACKENDS, Settings
from bluebot.embedding import Embedder
from bluebot.errors import BadQuestionError, ConfigError, GenerationError, LoaderError, ModelError
from bluebot.generation import (
    REFUSAL,
    ChoiceScorer,
    ExtractiveGenerator,
    Generator,
    Messages,
    add_marker,
    answer_messages,
    english_reading,
    kept_figures,
    make_generator,
    rewrite_fallback,
    rewrite_question,
    translate_answer,
    translate_terms,
    untranslated_terms,
)
from bluebot.glossary import GLOSSARY_FILE, Glossary
from bluebot.loaders import find_files, load_paths, source_name
from bluebot.names import NamesReport, read_names, update_names
from bluebot.numbers import asks_two_things, strip_glosses
from bluebot.passages import Passage, build_passages
from bluebot.retrieval import Retriever
from bluebot.store import Index, build_index, open_index, read_manifest, stale_reason
from bluebot.text import clean_input, detect_lang
from bluebot.types import Answer, CheckOutcome, Hit, Lang, Progress, Turn


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


_EXTRACTIVE_NOTICE: dict[Lang, str] = {
    "zh": "抽取式回答：未使用大模型，直接摘录报告原文。",
    "en": "Extractive answer: sentences quoted from the report, no language model used.",
}


class Clock:
    """Milliseconds per stage of one answer, and when its first character was shown."""

    def __init__(self) -> None:
        self.started = time.perf_counter()
        self.ms: dict[str, int] = {}
        self.first_token_ms: int | None = None

    def elapsed_ms(self) -> int:
        return round((time.perf_counter() - self.started) * 1000)

    def add(self, stage: str, seconds: float) -> None:
        self.ms[stage] = self.ms.get(stage, 0) + round(seconds * 1000)

    @contextlib.contextmanager
    def stage(self, name: str) -> Iterator[None]:
        start = time.perf_counter()
        try:
            yield
        finally:
            self.add(name, time.perf_counter() - start)

    def first_token(self) -> None:
        if self.first_token_ms is None:
            self.first_token_ms = self.elapsed_ms()

    def streamed(
        self, deltas: Iterator[str], first: str, rest: str, gate: FigureGate | None = None
    ) -> collections.abc.Generator[str, None, str]:
        """A model's stream passed on as far as the gate lets it (all of it without one; nothing through a closed one),
        its time to the first delta counted as stage first (the pass over the prompt) and the rest as stage rest.
        Returns the whole text."""
        text, shown = "", 0
        start = time.perf_counter()
        for delta in deltas:
            if not text:
                self.add(first, time.perf_counter() - start)
                start = time.perf_counter()
            text += delta
            limit = gate.showable(text) if gate else len(text)
            if limit > shown:
                self.first_token()
                yield text[shown:limit]
                shown = limit
        self.add(rest if text else first, time.perf_counter() - start)
        return text


class Bot:
    def __init__(
        self, settings: Settings, embedder: Embedder | None = None, generator: Generator | None = None
    ) -> None:
        self.settings = settings
        self._embedder = embedder
        self._index: Index | None = None
        self._retriever: Retriever | None = None
        self._injected = generator  # tests: serves every LLM backend ("local", "openai")
        self._generators: dict[str, Generator] = {}
        self._extractive = ExtractiveGenerator()
        self.evidence_floors = EVIDENCE_FLOORS.get(settings.embed_model)
        self._glossary: Glossary | None = None
        self._documents: dict[str, list[float]] = {}  # embeddings of passage lines, for relate()

    @property
    def glossary(self) -> Glossary:
        """The corpus's names in English: those ingest made (names.py), corrected by corpus/glossary.tsv."""
        if self._glossary is None:
            made = read_names(self.settings.index_dir)
            self._glossary = made.corrected(Glossary.read(self.settings.corpus_dir / GLOSSARY_FILE))
        return self._glossary

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
            manifest,
            s.embed_model,
            s.chunk_size,
            s.chunk_overlap,
            corpus_files(paths or [s.corpus_dir]),
            chroma_url=s.chroma_url,
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
        self._glossary = None
        return IngestReport(
            len(report.documents), manifest.n_chunks, embedded, time.perf_counter() - start, report.errors
        )

    def name_terms(self, on_progress: Callable[[int, int], None] | None = None) -> NamesReport:
        """English names for the indexed corpus's Chinese terms that have none yet (names.py), made by the settings'
        language model: ModelError or GenerationError when there is none or it fails."""
        backend = self.settings.backend
        if backend == "extractive":
            raise ModelError("the extractive backend has no language model to name terms with")
        llm = self.generator(backend)
        texts = [chunk.text for chunk in self.index.chunks]
        report = update_names(self.settings.index_dir, texts, llm, llm.name, on_progress)
        self._glossary = None
        return report

    def relate(self, text: str, others: list[str]) -> list[float]:
        """Cosine similarity of text, embedded as a query, to each of others, embedded as documents."""
        # The passages' lines repeat from question to question, so their vectors are kept (a local copy: the app
        # may answer two questions at once).
        vectors = {t: self._documents[t] for t in others if t in self._documents}
        if missing := [t for t in dict.fromkeys(others) if t not in vectors]:
            vectors.update(zip(missing, self.embedder.embed_documents(missing), strict=True))
            if len(self._documents) > 4096:
                self._documents = {}
            self._documents.update(vectors)
        query = self.embedder.embed_query(text)
        return [sum(a * b for a, b in zip(query, vectors[t], strict=True)) for t in others]

    def search(self, question: str, k: int | None = None, lang: Lang | None = None) -> list[Hit]:
        question = prepare_question(question)
        return self.retriever.search(question, k or self.settings.k, lang or detect_lang(question))

    def generator(self, backend: str) -> Generator:
        """The language model of an LLM backend, created on first use and kept (loading one takes seconds)."""
        if self._injected is not None:
            return self._injected
        if backend not in self._generators:
            self._generators[backend] = make_generator(backend, self.settings)
        return self._generators[backend]

    def checks(self, llm: Generator | None) -> list[Check]:
        """The verification steps, in order: retrieval's floor, the checks in code, then the model's reading of the
        evidence where the backend can score replies (the local model)."""
        steps: list[Check] = [WeakRetrieval(self.evidence_floors), *CHECKS]
        if isinstance(llm, ChoiceScorer):
            steps.append(EvidenceAnswers(llm))
        return steps

    def ask_stream(
        self, question: str, history: Sequence[Turn] = (), backend: str | None = None, k: int | None = None
    ) -> Iterator[str | Progress | Answer]:
        """Text deltas as they are generated, then the checked Answer, whose text replaces the streamed one; Progress
        events say what it is doing meanwhile.

        retrieve -> passages -> write (one generation in the question's language) -> repair (citations, units) ->
        verify (the named checks of checks()). The stream holds back text from the first figure that no passage
        states; the checks then remove or decline it. Without a model, or when it fails, an extractive answer."""
        clock = Clock()
        cleaned = clean_input(question)
        question = prepare_question(question)
        lang = detect_lang(question)
        backend = backend or self.settings.backend
        if backend not in BACKENDS:
            raise ConfigError(f"unknown backend {backend!r}: choose one of {', '.join(BACKENDS)}")
        notices = [f"the question was cut to {MAX_QUESTION_CHARS} characters"] if len(cleaned) > len(question) else []
        llm: Generator | None = None
        if backend != "extractive":
            try:
                llm = self.generator(backend)
            except (ModelError, GenerationError) as exc:
                notices.append(str(exc))
        standalone = question
        if history:
            try:
                with clock.stage("rewrite"):
                    standalone = rewrite_question(question, history, lang, llm)
            except (ModelError, GenerationError) as exc:
                notices.append(str(exc))
                llm = None  # the model just failed; do not wait for it a second time
                standalone = rewrite_fallback(question, history)
        yield Progress("search")
        with clock.stage("retrieve"):
            hits = self.search(standalone, k=k, lang=lang)
            passages = build_passages(hits, standalone)
        name = llm.name if llm is not None else "extractive"
        without = self.settings.without
        checked: Checked | None = None
        weak = WeakRetrieval(self.evidence_floors)
        if weak.name not in without and weak(Draft(standalone, lang, "", [], passages)).decline:
            checked = Checked(
                REFUSAL[lang], refused=True, checks=[CheckOutcome(weak.name, "declined", "before generation")]
            )
            clock.first_token()
            yield checked.text
        elif llm is not None:
            yield Progress("read", len(passages))
            try:
                repaired = yield from self._write(standalone, lang, passages, llm, clock)
                if repaired.wrong_language:
                    notices.append(f"{llm.name} did not answer in {'Chinese' if lang == 'zh' else 'English'}")
                elif repaired.refused:
                    checked = repaired
                else:
                    if lang == "en" and untranslated_terms(repaired.text):
                        try:
                            with clock.stage("extra_calls"):
                                repaired = replace(repaired, text=translate_terms(repaired.text, llm, self.glossary))
                        except (ModelError, GenerationError) as exc:
                            notices.append(f"Chinese terms left untranslated: {exc}")
                    draft = Draft(standalone, lang, repaired.text, repaired.citations, passages, self.glossary)
                    yield Progress("check")
                    with clock.stage("checks"):
                        checked = verify(draft, self.checks(llm)[1:], without)
                if checked is not None and checked.note:
                    notices.append(checked.note)
            except (ModelError, GenerationError) as exc:
                notices.append(str(exc))
                checked = None
        if checked is None:
            text = self._extractive.answer(standalone, lang, passages, self.glossary)
            clock.first_token()
            yield text
            checked = check_answer(text, lang, passages, extractive=True)
            name = self._extractive.name
            notices = notices or [_EXTRACTIVE_NOTICE[lang]]
        yield Answer(
            question=question,
            text=checked.text,
            citations=checked.citations,
            lang=lang,
            retrieved=hits,
            backend=name,
            refused=checked.refused,
            standalone_question=standalone,
            notice="; ".join(notices),
            ungrounded_numbers=checked.ungrounded,
            latency_ms=clock.elapsed_ms(),
            first_token_ms=clock.first_token_ms,
            timings_ms=dict(clock.ms),
            checks=checked.checks,
            draft=checked.draft,
        )

    def reads_in_chinese(self, question: str, lang: Lang, passages: Sequence[Passage]) -> bool:
        """Whether the answer's first generation reads an English question with the Chinese prompt (_write): with
        english_path "auto", one asking for one thing whose passages are Chinese. English passages are read in
        English, in one generation (the Chinese reading is for Chinese passages, which the small model reads better
        in Chinese)."""
        path = self.settings.english_path
        if lang != "en" or path == "direct":
            return False
        if path == "chinese":
            return True
        return not asks_two_things(question) and detect_lang("\n".join(p.text for p in passages)) == "zh"

    def messages(
        self, question: str, lang: Lang, passages: Sequence[Passage], in_chinese: bool | None = None
    ) -> Messages:
        """The prompt of the answer's first generation (by default as reads_in_chinese decides): in the question's
        language, a Chinese one's passages best last; or, for an English question read in Chinese, the Chinese prompt
        with the English names of the passages' terms that share a word with the question."""
        if in_chinese is None:
            in_chinese = self.reads_in_chinese(question, lang, passages)
        if in_chinese:
            return answer_messages(question, "zh", passages, self.glossary.about(question), english_names=True)
        return answer_messages(question, lang, passages, self.glossary, best_last=lang == "zh")

    def _write(
        self, question: str, lang: Lang, passages: list[Passage], llm: Generator, clock: Clock
    ) -> collections.abc.Generator[str, None, Checked]:
        """The model's answer from the passages, streamed through the figure gate, then repaired (repair_answer).

        English questions (english_path "auto"): one asking for one thing, over Chinese passages, is read in Chinese
        and the answer translated as it streams (the small local model reads Chinese passages better in Chinese:
        answering in English it declined or paraphrased loosely); one asking for two things is answered in English,
        since read in Chinese the model dropped the second part, and so is one over English passages. An English
        answer that declines or comes back in Chinese is read again in Chinese. english_path "direct" and "chinese"
        take one way for every English question."""
        path = self.settings.english_path
        if self.reads_in_chinese(question, lang, passages):
            translated = yield from self._read_in_chinese(question, passages, llm, clock, ("prompt", "decode"))
            if translated is not None:
                return translated
        messages = self.messages(question, lang, passages, in_chinese=False)
        sources = "\n".join(p.text if lang == "zh" else english_reading(p.text, self.glossary) for p in passages)
        raw = yield from clock.streamed(llm.stream(messages), "prompt", "decode", FigureGate(sources))
        repaired = repair_answer(raw, lang, passages, question=question, glossary=self.glossary, relate=self.relate)
        if lang == "en" and path != "chinese" and (repaired.refused or repaired.wrong_language):
            translated = yield from self._read_in_chinese(question, passages, llm, clock, ("extra_calls",) * 2)
            if translated is not None:
                return translated
        return repaired

    def _read_in_chinese(
        self, question: str, passages: list[Passage], llm: Generator, clock: Clock, stages: tuple[str, str]
    ) -> collections.abc.Generator[str, None, Checked | None]:
        """The answer to an English question read with the Chinese prompt (the passages with the English reading of
        their terms) and translated as it streams; None when that reading declines or gives no citation."""
        messages = self.messages(question, "en", passages, in_chinese=True)
        raw = yield from clock.streamed(llm.stream(messages), *stages, FigureGate.closed())
        zh = repair_answer(raw, "zh", passages, relate=self.relate, cited_for=question)
        if zh.refused or zh.wrong_language or not zh.citations:
            return None
        # The translator gets the answer without its markers: "2,047个项目 [2]" came back as "3,047 projects [2]".
        # The English answer cites the passages the Chinese one cited, under the numbers the model saw.
        number = {p.hit.chunk.id: p.n for p in passages}
        # Its copies of the passages' English readings go too: glossed again, "流片 (tape-out)" came back as
        # "tape-out (tape-out)".
        text = strip_glosses(re.sub(r"\s*\[\d+\]", "", zh.text)).strip()
        sources = "\n".join(english_reading(p.text, self.glossary) for p in passages)
        deltas = translate_answer(text, llm, self.glossary, question)
        english = yield from clock.streamed(deltas, "extra_calls", "extra_calls", FigureGate(sources))
        english = kept_figures(english.strip(), text, self.glossary, question)
        for citation in zh.citations:
            english = add_marker(english.rstrip(), number[citation.chunk.id], "en")
        en = repair_answer(english, "en", passages, question=question, glossary=self.glossary)
        return None if en.refused or en.wrong_language else en

    def ask(
        self, question: str, history: Sequence[Turn] = (), backend: str | None = None, k: int | None = None
    ) -> Answer:
        for part in self.ask_stream(question, history, backend, k):
            if isinstance(part, Answer):
                return part
        raise GenerationError("the answer stream ended without an answer")  # unreachable: ask_stream always ends so
