"""The parts that depend on one index version, built together and replaced together.

The retriever's BM25 index, the sentence sidecar and the extractive answerer's corpus names
are all derived from the corpus and the index that were current when they were built; after
a rebuild the :class:`~assistant.chat.Assistant` drops its ``Engine`` and the next question
builds a new one, so no part can outlive the others.
"""

from __future__ import annotations

from dataclasses import dataclass

from assistant.answer.extractive import CorpusNames, ExtractiveAnswerer, to_sentences
from assistant.answer.types import Answer, Citation, Passage, ShortAnswer, refusal_answer
from assistant.config import Settings
from assistant.corpus.loader import Corpus
from assistant.index import sentences as sidecar
from assistant.index.embedding import Embedder
from assistant.index.reader import OpenIndex, open_index
from assistant.query import Query
from assistant.retrieve import RetrievalConfig, Retriever

# Document metadata that names what a document is about, for the answerer's check that the
# question's subject is mentioned somewhere in the corpus.
DOC_CONTEXT_KEYS = ("title", "short_title", "author", "publisher", "series")


@dataclass
class Engine:
    corpus: Corpus
    index: OpenIndex
    sentences: sidecar.SentenceStore
    retriever: Retriever
    extractive: ExtractiveAnswerer

    @classmethod
    def open(cls, settings: Settings, corpus: Corpus, embedder: Embedder, nlp,
             retrieval: RetrievalConfig) -> Engine:
        """Open the current index version and build everything that reads it."""
        index = open_index(settings, embedder)
        manifest = index.manifest
        sentences = sidecar.load(sidecar.sidecar_dir(settings.index_dir, manifest.version), nlp,
                                 manifest.model_fingerprint)
        retriever = Retriever(corpus, index.collection, embedder, sentences, nlp, retrieval)
        context = {d.doc_id: " ".join(str(d.meta.get(k, "")) for k in DOC_CONTEXT_KEYS)
                   for d in corpus.documents}
        paragraphs = corpus.paragraphs
        texts = [p.text for p in paragraphs] + [p.section_path for p in paragraphs]
        names = CorpusNames(texts + list(context.values()), sentences.vocabulary)
        extractive = ExtractiveAnswerer(sentences, names, context, {p.id: p for p in paragraphs},
                                        retriever.passage, nlp=nlp)
        return cls(corpus, index, sentences, retriever, extractive)

    def extractive_answer(self, query: Query, passages: list[Passage],
                          docs: list[str] | None = None) -> Answer:
        """The grounded answer: sentences of the passages, each cited, or a refusal."""
        draft = self.extractive.draft(query, passages, docs)
        if draft.refused and not draft.sentences:
            assert draft.refusal is not None
            return refusal_answer(query.question, passages, "extractive", draft.refusal)
        sentences, cited, short_n = to_sentences(draft)
        citations = [Citation.from_passage(n, draft.passages[i]) for n, i in enumerate(cited, 1)]
        short = ShortAnswer(draft.short[0], short_n) if draft.short and short_n else None
        return Answer(query.question, sentences, citations, draft.refused, "extractive",
                      refusal=draft.refusal, short_answer=short)
