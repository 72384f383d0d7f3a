"""The Assistant facade: the one place that wires settings, corpus, model, index and answerers
together. The CLI, the web chat and the evaluation suite all go through it."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from functools import cached_property

from assistant.answer.llm import Backends
from assistant.answer.policy import PRE_GENERATION, decide
from assistant.answer.types import Answer, Passage
from assistant.answer.verify import checked_answer
from assistant.config import Settings, offline_environment
from assistant.corpus.loader import Corpus, load_corpus
from assistant.engine import Engine
from assistant.errors import LLMUnavailableError
from assistant.index.embedding import Embedder, VectorCache, load_embedder
from assistant.index.reader import open_index
from assistant.index.rebuild import Progress, RebuildReport, rebuild
from assistant.index.status import IndexStatus, StaleWatch, deep_check, index_status
from assistant.index.store import reading
from assistant.nlp import load_pipeline
from assistant.query import Query, analyse, check_question
from assistant.retrieve import RetrievalConfig


class Assistant:
    def __init__(self, settings: Settings,
                 embedder_factory: Callable[[str, int, int], Embedder] = load_embedder,
                 retrieval: RetrievalConfig | None = None):
        offline_environment()
        self.settings = settings
        self._embedder_factory = embedder_factory
        self.retrieval_config = retrieval or RetrievalConfig()
        self.backends = Backends(settings)
        self.embed_sentences = VectorCache(lambda texts: self.embedder.query_vectors(texts),
                                           settings.sentence_cache_size)
        self._stale = StaleWatch(settings)
        # The corpus and the engine reflect one index version: a rebuild drops both together.
        self._lock = threading.RLock()
        self._corpus: Corpus | None = None
        self._engine: Engine | None = None

    @classmethod
    def from_settings(cls, settings: Settings | None = None, **overrides) -> Assistant:
        return cls(settings or Settings(**overrides))

    # -- wiring (each part built on first use) --------------------------------------------------
    @cached_property
    def embedder(self) -> Embedder:
        s = self.settings
        embedder = self._embedder_factory(s.embedding_model, s.embed_batch_size, s.torch_threads)
        embedder.models_dir = s.index_dir / "models"
        return embedder

    @cached_property
    def nlp(self):
        return load_pipeline(self.settings.spacy_pipeline)

    @property
    def corpus(self) -> Corpus:
        with self._lock:
            if self._corpus is None:
                s = self.settings
                self._corpus = load_corpus(s.corpus_dir, s.max_file_mb, s.max_paragraphs_per_file,
                                           s.max_corpus_paragraphs)
            return self._corpus

    @property
    def engine(self) -> Engine:
        """The index, sidecar, retriever and extractive answerer of the current version."""
        with self._lock:
            if self._engine is None:
                with reading(self.settings.chroma_url):
                    self._engine = Engine.open(self.settings, self.corpus, self.embedder,
                                               self.nlp, self.retrieval_config)
            return self._engine

    def warm_up(self) -> None:
        """Load the model, the index, the sidecar and the parser, so the first question is fast."""
        self.engine  # noqa: B018 - builds it
        self.analyse("warm up")

    def analyse(self, question: str, history: list[dict] | None = None, llm=None) -> Query:
        """The question analysed once (resolved against the history, parsed, embedded)."""
        return analyse(question, history, self.nlp, self.corpus.documents,
                       embed=self.embedder.query_vector,
                       condense=llm.condense if llm is not None else None)

    def available_backends(self) -> list[str]:
        return self.backends.available()

    # -- index ----------------------------------------------------------------------------------
    def status(self, deep: bool = False) -> IndexStatus:
        """Fresh or not, and why; `deep` adds sampled self-queries against the store."""
        status = index_status(self.settings, self.corpus)
        if deep and status.manifest is not None and not status.store_problems:
            with reading(self.settings.chroma_url):  # the store alone: no sidecar, no BM25
                index = open_index(self.settings, self.embedder)
                status.deep = deep_check(self.settings, status.manifest, index.collection,
                                         self.embedder)
            if status.deep["failures"]:
                status.fresh = False
                status.reasons.append(f"{len(status.deep['failures'])} of {status.deep['samples']} "
                                      "sampled self-queries failed; run `assistant index rebuild --full`")
        return status

    def rebuild(self, full: bool = False, progress: Progress | None = None) -> RebuildReport:
        report = rebuild(self.settings, self.embedder, full=full, progress=progress)
        with self._lock:  # the next question loads the new version, corpus and all
            self._corpus = self._engine = None
        return report

    def search(self, query: str, k: int | None = None, doc: str | None = None) -> list[Passage]:
        with reading(self.settings.chroma_url):
            return self.engine.retriever.search(self.analyse(check_question(query)), k=k,
                                                docs=self.corpus.select(doc))

    # -- answers --------------------------------------------------------------------------------
    def ask(self, question: str, history: list[dict] | None = None, backend: str | None = None,
            doc: str | None = None) -> Answer:
        *_, answer = self.stream(question, history, backend, doc)
        assert isinstance(answer, Answer)
        return answer

    def stream(self, question: str, history: list[dict] | None = None,
               backend: str | None = None, doc: str | None = None) -> Iterator[str | Answer]:
        """Yields text deltas as an LLM writes the answer, then the final, checked Answer (the
        extractive answer exists whole at once, so it comes as the Answer alone)."""
        question = check_question(question)
        history = list(history or [])
        docs = self.corpus.select(doc)
        warnings = self._stale.warnings(self.status)
        llm, backend_warnings = self.backends.ready(backend or self.settings.backend)
        warnings += backend_warnings
        engine = self.engine  # loaded outside the timings
        t0 = time.perf_counter()
        with reading(self.settings.chroma_url):
            query = self.analyse(question, history, llm if history else None)
            passages = engine.retriever.search(query, docs=docs)
        t1 = time.perf_counter()
        answer = None
        if llm is not None:  # the policy's verdict on the question stands over the model's text
            verdict = decide(engine.extractive.evidence(query, passages), PRE_GENERATION)
            if verdict is None:
                text = ""
                try:
                    for delta in llm.stream(query.resolved, passages, history):
                        text += delta
                        yield delta
                    answer, checks = checked_answer(question, text, passages, llm.name,
                                                    self.embed_sentences)
                    warnings += checks
                except LLMUnavailableError as exc:  # the server went away mid-answer
                    warnings.append(str(exc))
        if answer is None:  # extractive, a policy refusal, or an LLM answer with no support
            answer = engine.extractive_answer(query, passages, docs)
        t2 = time.perf_counter()
        answer.resolved_question = query.resolved
        answer.warnings = warnings + answer.warnings
        answer.timings_ms = {"retrieve": (t1 - t0) * 1000, "answer": (t2 - t1) * 1000,
                             "total": (t2 - t0) * 1000}
        yield answer
