"""The Assistant facade: the one place that wires settings, corpus, model, index, retriever and
answerers together. The CLI, the web chat and the evaluation suite all go through it."""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import cached_property

import numpy as np

from assistant.answer.extractive import CorpusNames, ExtractiveAnswerer, to_sentences
from assistant.answer.policy import PRE_GENERATION, decide
from assistant.answer.types import (
    Answer,
    Citation,
    Passage,
    Refusal,
    ShortAnswer,
)
from assistant.config import Settings, offline_environment
from assistant.corpus.loader import Corpus, corpus_signature, load_corpus
from assistant.errors import AssistantError, LLMUnavailableError
from assistant.index import sentences as sidecar
from assistant.index.embedding import Embedder, load_embedder
from assistant.index.manifest import manifest_path
from assistant.index.reader import OpenIndex, open_index
from assistant.index.rebuild import Progress, RebuildReport, rebuild
from assistant.index.status import IndexStatus, deep_check, index_status
from assistant.nlp import load_pipeline
from assistant.query import (
    Query,
    analyse,
    check_question,
    plain_question,  # noqa: F401 - web/app.py imports it from here
)
from assistant.retrieve import RetrievalConfig, Retriever

NEAREST_ON_REFUSAL = 3
# Sentence vectors kept for checking LLM answers: a few hundred answers' worth of passage and
# answer sentences (384 floats each: about 6 MB), so a long-running chat cannot grow without bound.
SENTENCE_CACHE_SIZE = 4096


REPORT_KINDS = ("digest", "report")


class Assistant:
    def __init__(self, settings: Settings,
                 embedder_factory: Callable[[str, int, int], Embedder] = load_embedder,
                 retrieval: RetrievalConfig | None = None):
        offline_environment()
        self.settings = settings
        self._embedder_factory = embedder_factory
        self.retrieval_config = retrieval or RetrievalConfig()
        self._sentence_vectors: OrderedDict[str, np.ndarray] = OrderedDict()  # least recent first

    @classmethod
    def from_settings(cls, settings: Settings | None = None, **overrides) -> Assistant:
        return cls(settings or Settings(**overrides))

    # -- wiring (each part built once, on first use) --------------------------------------------
    @cached_property
    def embedder(self) -> Embedder:
        embedder = self._embedder_factory(self.settings.embedding_model,
                                          self.settings.embed_batch_size, self.settings.torch_threads)
        embedder.models_dir = self.settings.index_dir / "models"
        return embedder

    @cached_property
    def corpus(self) -> Corpus:
        return load_corpus(self.settings.corpus_dir, self.settings.max_file_mb,
                           self.settings.max_paragraphs_per_file, self.settings.max_corpus_paragraphs)

    @cached_property
    def index(self) -> OpenIndex:
        return open_index(self.settings, self.embedder)

    @cached_property
    def nlp(self):
        return load_pipeline(self.settings.spacy_pipeline)

    @cached_property
    def sentences(self) -> sidecar.SentenceStore:
        manifest = self.index.manifest
        return sidecar.load(sidecar.sidecar_dir(self.settings.index_dir, manifest.version), self.nlp,
                            manifest.model_fingerprint)

    @cached_property
    def retriever(self) -> Retriever:
        return Retriever(self.corpus, self.index.collection, self.embedder, self.sentences,
                         self.nlp, self.retrieval_config)

    @cached_property
    def extractive(self) -> ExtractiveAnswerer:
        docs = self.corpus.documents
        context = {d.doc_id: " ".join(str(d.meta.get(k, "")) for k in
                                      ("title", "short_title", "author", "publisher", "series"))
                   for d in docs}
        texts = [p.text for p in self.corpus.paragraphs] + [p.section_path for p in self.corpus.paragraphs]
        names = CorpusNames(texts + list(context.values()), self.sentences.vocabulary)
        return ExtractiveAnswerer(self.sentences, names, context,
                                  {p.id: p for p in self.corpus.paragraphs}, self.retriever.passage,
                                  nlp=self.nlp)

    def analyse(self, question: str, history: list[dict] | None = None, llm=None) -> Query:
        """The question analysed once (resolved against the history, parsed, embedded)."""
        return analyse(question, history, self.nlp, self.corpus.documents,
                       embed=self.embedder.query_vector,
                       condense=llm.condense if llm is not None else None)

    def embed_sentences(self, texts: list[str]) -> np.ndarray:
        """L2-normalised sentence embeddings (for checking LLM answers), the most recently
        used SENTENCE_CACHE_SIZE of them kept."""
        cache = self._sentence_vectors
        missing = [t for t in dict.fromkeys(texts) if t not in cache]
        vectors = dict(zip(missing, self.embedder.query_vectors(missing))) if missing else {}
        rows = [vectors[t] if t in vectors else cache[t] for t in texts]
        for t in dict.fromkeys(texts):
            cache[t] = vectors.get(t, cache.get(t))
            cache.move_to_end(t)
        while len(cache) > SENTENCE_CACHE_SIZE:
            cache.popitem(last=False)
        return np.stack(rows) if rows else np.zeros((0, 1))

    def warm_up(self) -> None:
        """Load the model, the index, the sidecar and the parser, so the first question is fast."""
        with self._store_reads():
            self.retriever, self.extractive  # noqa: B018 - loads them
            self.analyse("warm up")

    # -- index ----------------------------------------------------------------------------------
    def status(self, deep: bool = False) -> IndexStatus:
        """Fresh or not, and why; `deep` adds sampled self-queries against the store."""
        status = index_status(self.settings, self.corpus)
        if deep and status.manifest is not None and not status.store_problems:
            with self._store_reads():
                status.deep = deep_check(self.settings, status.manifest, self.index.collection,
                                         self.embedder)
            if status.deep["failures"]:
                status.fresh = False
                status.reasons.append(f"{len(status.deep['failures'])} of {status.deep['samples']} "
                                      "sampled self-queries failed; run `assistant index rebuild --full`")
        return status

    def rebuild(self, full: bool = False, progress: Progress | None = None) -> RebuildReport:
        report = rebuild(self.settings, self.embedder, full=full, progress=progress)
        for name in ("corpus", "index", "sentences", "retriever", "extractive"):
            self.__dict__.pop(name, None)
        return report

    def doc_filter(self, doc: str | None) -> list[str] | None:
        """A doc_id, or "report" for every digest/report document; None for all."""
        if not doc or doc == "all":
            return None
        ids = [d.doc_id for d in self.corpus.documents]
        if doc in ids:
            return [doc]
        if doc in ("report", "un-report", "wesp"):
            return [d.doc_id for d in self.corpus.documents if d.kind in REPORT_KINDS]
        raise AssistantError(f"Unknown document '{doc}'. Use one of: all, report, {', '.join(ids)}.")

    def search(self, query: str, k: int = 8, doc: str | None = None) -> list[Passage]:
        return self.retriever.search(self.analyse(check_question(query)), k=k,
                                     docs=self.doc_filter(doc))

    # -- answers --------------------------------------------------------------------------------
    def ask(self, question: str, history: list[dict] | None = None, backend: str | None = None,
            doc: str | None = None) -> Answer:
        answer = None
        for event in self.stream(question, history, backend, doc):
            if isinstance(event, Answer):
                answer = event
        assert answer is not None
        return answer

    def stream(self, question: str, history: list[dict] | None = None,
               backend: str | None = None, doc: str | None = None) -> Iterator[str | Answer]:
        """Yields text deltas as an LLM writes the answer, then the final, checked Answer (the
        extractive answer exists whole at once, so it comes as the Answer alone)."""
        question = check_question(question)
        history = list(history or [])
        docs = self.doc_filter(doc)
        warnings = self._stale_warning()
        llm, backend_warning = self._llm_or_fallback(backend or self.settings.backend)
        warnings += backend_warning
        with self._store_reads():
            self.retriever, self.extractive  # noqa: B018 - load once, outside the timings
            t0 = time.perf_counter()
            query = self.analyse(question, history, llm if history else None)
            passages = self.retriever.search(query, k=8, docs=docs)
        t1 = time.perf_counter()
        answer = None
        if llm is not None:  # the policy's verdict on the question stands over the model's text
            verdict = decide(self.extractive.evidence(query, passages), PRE_GENERATION)
            if verdict is None:
                text = ""
                try:
                    for delta in llm.stream(query.resolved, passages, history):
                        text += delta
                        yield delta
                    answer = self._checked_llm_answer(question, text, passages, llm.name, warnings)
                except LLMUnavailableError as exc:  # the server went away mid-answer
                    warnings.append(str(exc))
        if answer is None:  # extractive, a policy refusal, or an LLM answer with no support
            answer = self._extractive_answer(query, passages, docs)  # whole at once: no deltas
        t2 = time.perf_counter()
        answer.resolved_question = query.resolved
        answer.warnings = warnings + answer.warnings
        answer.timings_ms = {"retrieve": (t1 - t0) * 1000, "answer": (t2 - t1) * 1000,
                             "total": (t2 - t0) * 1000}
        yield answer

    def _extractive_answer(self, query: Query, passages: list[Passage],
                           docs: list[str] | None = None) -> Answer:
        draft = self.extractive.draft(query, passages, docs)
        if draft.refused and not draft.sentences:
            return self._refusal(query.question, passages, "extractive", draft.refusal)
        sentences, cited, short_n = to_sentences(draft)
        citations = [Citation.from_passage(n, draft.passages[i]) for n, i in enumerate(cited, 1)]
        short = ShortAnswer(draft.short[0], short_n) if draft.short and short_n else None
        return Answer(query.question, sentences, citations, draft.refused, "extractive",
                      refusal=draft.refusal, short_answer=short)

    def _checked_llm_answer(self, question: str, text: str, passages: list[Passage],
                            backend: str, warnings: list[str]) -> Answer | None:
        """Check every sentence of an LLM answer against the passages it cites, leave out the
        sentences that cite no retrieved paragraph or carry a link, and renumber the citations
        that remain. None (so: fall back to extractive) if nothing is supported."""
        from assistant.answer.verify import grounded, is_refusal, parse_cited_sentences, verify

        if is_refusal(text):
            return self._refusal(question, passages, backend,
                                 Refusal("model_refused", "the model found no answer"))
        checked, dropped = grounded(verify(parse_cited_sentences(text), passages,
                                           self.embed_sentences))
        if dropped:
            warnings.append(f"{len(dropped)} sentence(s) of the {backend} answer were left out: "
                            "they cited no retrieved paragraph or carried a link.")
        if not any(s.supported for s in checked):
            warnings.append(f"The {backend} answer had no sentence supported by the brief; "
                            "answered with the extractive backend instead.")
            return None
        order: list[int] = []
        for s in checked:
            for n in s.citations:
                if n not in order:
                    order.append(n)
        for s in checked:
            s.citations = [order.index(n) + 1 for n in s.citations]
        citations = [Citation.from_passage(i + 1, passages[n - 1]) for i, n in enumerate(order)]
        for c in citations:
            c.supported = any(s.supported and c.n in s.citations for s in checked)
        return Answer(question, checked, citations, False, backend)

    # -- LLM backends ---------------------------------------------------------------------------
    def llm_backend(self, name: str):
        """The configured LLM backend `name` ("openai" or "local"), not yet checked."""
        from assistant.answer.llm import LocalBackend, OpenAIBackend

        cache = self.__dict__.setdefault("_llm_backends", {})
        if name not in cache:
            s = self.settings
            if name == "openai":
                if not s.llm_base_url or not s.llm_model:
                    raise LLMUnavailableError("The openai backend needs ASSISTANT_LLM_BASE_URL and "
                                              "ASSISTANT_LLM_MODEL; answering with the extractive "
                                              "backend.")
                cache[name] = OpenAIBackend(s.llm_base_url, s.llm_model, s.llm_api_key, s.llm_timeout)
            elif name == "local":
                cache[name] = LocalBackend(s.local_model_path)
            else:
                raise AssistantError(f"Unknown backend '{name}'. Use extractive, openai or local.")
        return cache[name]

    def _llm_or_fallback(self, name: str):
        if name == "extractive":
            return None, []
        try:
            llm = self.llm_backend(name)
            llm.check()
            return llm, []
        except LLMUnavailableError as exc:
            return None, [str(exc)]

    def available_backends(self) -> list[str]:
        """Backends that are configured and reachable now (extractive always)."""
        names = ["extractive"]
        for name in ("openai", "local"):
            if name == "openai" and not self.settings.llm_base_url:
                continue
            if self._llm_or_fallback(name)[0] is not None:
                names.append(name)
        return names

    def _refusal(self, question: str, passages: list[Passage], backend: str,
                 refusal: Refusal) -> Answer:
        nearest = [Citation.from_passage(n, p, supported=False)
                   for n, p in enumerate(passages[:NEAREST_ON_REFUSAL], 1)]
        return Answer(question, [], nearest, True, backend, refusal=refusal)

    @contextmanager
    def _store_reads(self):
        """A damaged store or a Chroma server that went away is one line saying what to do."""
        from assistant.index.store import read_errors, store_failure

        try:
            yield
        except AssistantError:
            raise
        except read_errors() as exc:
            raise store_failure(exc, self.settings.chroma_url) from exc

    def _stale_warning(self) -> list[str]:
        """Checked on every question, so the file hashing behind it runs only when a corpus
        file or the manifest was written since the last check."""
        manifest = manifest_path(self.settings.index_dir)
        key = (corpus_signature(self.settings.corpus_dir),
               manifest.stat().st_mtime_ns if manifest.exists() else None)
        cached = self.__dict__.get("_stale_cache")
        if cached and cached[0] == key:
            return list(cached[1])
        try:
            status = self.status()
        except (AssistantError, OSError):  # an unreadable index is reported by the answer path
            return []
        warnings = []
        if status.manifest and not status.fresh:
            warnings = ["The index is stale (" + "; ".join(status.reasons) + "). Answers come "
                        "from the old index; run `assistant index rebuild`."]
        self.__dict__["_stale_cache"] = (key, warnings)
        return list(warnings)
