"""Bot: the one place where the stages are wired together."""

from __future__ import annotations

import collections.abc
import re
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from bluebot.checks import (
    EVIDENCE_FLOORS,
    MAX_DOUBT,
    Checked,
    check_answer,
    figure_evidence,
    missing_parts,
    refusal,
    weak_evidence,
)
from bluebot.chunking import chunk_documents
from bluebot.config import BACKENDS, Settings
from bluebot.embedding import Embedder
from bluebot.errors import BadQuestionError, ConfigError, GenerationError, LoaderError, ModelError
from bluebot.generation import (
    REFUSAL,
    SUPPORT_CHOICES,
    ChoiceScorer,
    ExtractiveGenerator,
    Generator,
    add_marker,
    answer_messages,
    kept_figures,
    make_generator,
    rewrite_fallback,
    rewrite_question,
    support_messages,
    translate_answer,
    translate_terms,
    untranslated_terms,
)
from bluebot.glossary import GLOSSARY_FILE, Glossary
from bluebot.loaders import find_files, load_paths, source_name
from bluebot.numbers import asks_two_things, strip_glosses
from bluebot.passages import Passage, build_passages
from bluebot.retrieval import Retriever
from bluebot.store import Index, build_index, open_index, read_manifest, stale_reason
from bluebot.text import clean_input, detect_lang
from bluebot.types import Answer, Hit, Lang, Turn


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


def _result(steps: collections.abc.Generator[str, None, Checked | None]) -> Checked | None:
    """What a streaming step returns, its text deltas unread (the second reading is not streamed)."""
    while True:
        try:
            next(steps)
        except StopIteration as done:
            return done.value


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
        """The corpus's names in English (corpus/glossary.tsv); empty when the corpus has none."""
        if self._glossary is None:
            self._glossary = Glossary.read(self.settings.corpus_dir / GLOSSARY_FILE)
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
            self._retriever = Retriever(self.index, self.embedder, glossary=self.glossary)
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

    def ask_stream(
        self, question: str, history: Sequence[Turn] = (), backend: str | None = None, k: int | None = None
    ) -> Iterator[str | Answer]:
        """Text deltas as they are generated, then the checked Answer, whose text replaces the streamed one
        (citations renumbered, units repaired, or an extractive answer when the model failed)."""
        started = time.perf_counter()
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
                standalone = rewrite_question(question, history, lang, llm)
            except (ModelError, GenerationError) as exc:
                notices.append(str(exc))
                llm = None  # the model just failed; do not wait for it a second time
                standalone = rewrite_fallback(question, history)
        hits = self.search(standalone, k=k, lang=lang)
        passages = build_passages(hits, standalone)
        name = llm.name if llm is not None else "extractive"
        checked: Checked | None = None
        if weak_evidence(hits, lang, self.evidence_floors):
            checked = refusal(lang)
            yield checked.text
        elif llm is not None:
            parts: list[str] = []
            try:
                # An English question that asks for one thing is read in Chinese first (_read_in_chinese); when
                # that reading declines, the model answers in English as it does questions asking for two.
                read_in_chinese = lang == "en" and not asks_two_things(standalone)
                translated = None
                if read_in_chinese:
                    translated = yield from self._read_in_chinese(
                        standalone, passages, llm, self.glossary, english_terms=True
                    )
                if translated is not None:
                    checked = translated
                else:
                    for delta in llm.stream(answer_messages(standalone, lang, passages, self.glossary)):
                        parts.append(delta)
                        yield delta
                    checked = check_answer(
                        "".join(parts), lang, passages, question=standalone, glossary=self.glossary, relate=self.relate
                    )
                if read_in_chinese and not checked.wrong_language:
                    pass  # the Chinese reading was made, and the second reading below would repeat it
                elif checked.refused and not checked.note and lang == "en":
                    checked = self._second_reading(standalone, passages, llm, self.glossary) or checked
                elif checked.wrong_language and lang == "en":  # answered in Chinese: translated, as above
                    checked = self._translated("".join(parts), standalone, passages, llm, self.glossary) or checked
                elif lang == "en" and not checked.refused and (missing := missing_parts(standalone, checked.text)):
                    checked = self._fuller_reading(standalone, passages, llm, checked, missing, self.glossary)
                if checked.note:
                    notices.append(checked.note)
                if checked.wrong_language:
                    notices.append(f"{llm.name} did not answer in {'Chinese' if lang == 'zh' else 'English'}")
                    checked = None
            except (ModelError, GenerationError) as exc:
                notices.append(str(exc))
        if checked is not None and not checked.refused and isinstance(llm, ChoiceScorer):
            try:
                confirmed = self._confirm_figures(standalone, lang, checked, llm)
                if confirmed is not checked:
                    notices.append(confirmed.note)
                checked = confirmed
            except (ModelError, GenerationError) as exc:
                notices.append(str(exc))
        if checked is not None and llm is not None and lang == "en" and untranslated_terms(checked.text):
            try:
                checked = replace(checked, text=translate_terms(checked.text, llm, self.glossary))
            except (ModelError, GenerationError) as exc:
                notices.append(f"Chinese terms left untranslated: {exc}")
        if checked is None:
            text = self._extractive.answer(standalone, lang, passages, self.glossary)
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
            latency_ms=round((time.perf_counter() - started) * 1000),
        )

    @staticmethod
    def _confirm_figures(question: str, lang: Lang, checked: Checked, scorer: ChoiceScorer) -> Checked:
        """An answer's figures must answer the question, not merely sit in a passage about something close to it
        (the Top-5 regions' total for "the AI-chip amount"): the model reads the sentences holding them and says
        whether they answer the question. One forward pass over a short prompt, no decoding. Answers whose
        figures all come from one sentence only."""
        evidence = figure_evidence(checked)
        if len(evidence) != 1:
            # Figures from several sentences answer a question of several parts, which one yes or no does not
            # judge well (a correct two-part answer scored 0.47); every declined answer above had one sentence.
            return checked
        _, doubt = scorer.choice_probabilities(support_messages(question, evidence), SUPPORT_CHOICES)
        if doubt <= MAX_DOUBT:
            return checked
        note = f"the sentences holding the answer's figures do not answer the question (doubt {doubt:.2f})"
        return Checked(REFUSAL[lang], refused=True, note=note)

    def _fuller_reading(
        self,
        question: str,
        passages: list[Passage],
        llm: Generator,
        checked: Checked,
        missing: set[str],
        glossary: Glossary | None,
    ) -> Checked:
        """An English answer that lacks part of what the question asks for ("how many deals ..., and what share"
        answered with two percentages; "when, and by whom" with a date), against the second reading: the one that
        lacks less, the first when neither does."""
        second = self._second_reading(question, passages, llm, glossary)
        if second is not None and missing_parts(question, second.text) < missing:
            return second
        return checked

    def _read_in_chinese(
        self,
        question: str,
        passages: list[Passage],
        llm: Generator,
        glossary: Glossary | None = None,
        english_terms: bool = False,
    ) -> collections.abc.Generator[str, None, Checked | None]:
        """The answer to an English question read with the Chinese prompt and translated; None when that reading
        declines. Answering in English, the small local model paraphrases the Chinese passages' terms loosely
        ("small brain" and "body" for 小脑 and 肢体, "high-performance" for 高性价比) or keeps one item of four, and
        reading in Chinese it drops the second part of a two-part question, so a question asking for one thing is
        read this way first (BENCHMARKS.md, "English questions read in Chinese"). english_terms gives the passages
        with the English reading of their terms, which lets the model match the question's words to them
        ("performance per watt" to 性能功耗比). Streams the translation as it is generated."""
        messages = answer_messages(question, "zh", passages, glossary, english_terms=english_terms)
        raw = "".join(llm.stream(messages))
        return (yield from self._translating(raw, question, passages, llm, glossary))

    def _second_reading(
        self, question: str, passages: list[Passage], llm: Generator, glossary: Glossary | None = None
    ) -> Checked | None:
        """An English question asked again with the Chinese prompt and the answer translated, when the model declined
        it or left out a kind of figure it asks for. The small local model reads the Chinese passages better in
        Chinese: of 8 answerable English test questions it declined, it answered all 8 in Chinese, while 4 of 6
        unanswerable ones it had rightly declined were still declined (by the model or the figure check). None
        when the second reading declines too. The passages are the report's text alone here: with the English
        reading of their figures beside them, the Chinese answer copied the reading and left out the question's
        second part (measured on the English test set, tenth session)."""
        return _result(self._read_in_chinese(question, passages, llm, glossary))

    def _translated(
        self, raw: str, question: str, passages: list[Passage], llm: Generator, glossary: Glossary | None = None
    ) -> Checked | None:
        """A Chinese answer to an English question, checked as Chinese and translated; None when it is no answer."""
        return _result(self._translating(raw, question, passages, llm, glossary))

    def _translating(
        self, raw: str, question: str, passages: list[Passage], llm: Generator, glossary: Glossary | None = None
    ) -> collections.abc.Generator[str, None, Checked | None]:
        """_translated, yielding the translation as it is generated."""
        zh = check_answer(raw, "zh", passages, relate=self.relate, cited_for=question)
        if zh.refused or zh.wrong_language or not zh.citations:
            return None
        # The translator gets the answer without its markers: "1,162个项目 [2]" came back as "2,162 projects [2]".
        # The English answer cites the passages the Chinese one cited, under the numbers the model saw.
        number = {p.hit.chunk.id: p.n for p in passages}
        # Its copies of the passages' English readings go too: glossed again, "流片 (tape-out)" came back as
        # "tape-out (tape-out)".
        text = strip_glosses(re.sub(r"\s*\[\d+\]", "", zh.text)).strip()
        parts: list[str] = []
        for delta in translate_answer(text, llm, glossary, question):
            parts.append(delta)
            yield delta
        english = kept_figures("".join(parts).strip(), text, glossary, question)
        for citation in zh.citations:
            english = add_marker(english.rstrip(), number[citation.chunk.id], "en")
        en = check_answer(english, "en", passages, question=question, glossary=glossary)
        return None if en.refused or en.wrong_language else en

    def ask(
        self, question: str, history: Sequence[Turn] = (), backend: str | None = None, k: int | None = None
    ) -> Answer:
        for part in self.ask_stream(question, history, backend, k):
            if isinstance(part, Answer):
                return part
        raise GenerationError("the answer stream ended without an answer")  # unreachable: ask_stream always ends so
