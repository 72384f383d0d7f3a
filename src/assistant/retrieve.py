"""Hybrid retrieval: dense (the Chroma collection) over the chunks and BM25 (bm25s) over
the paragraphs, tokenised with the product's one text toolkit (the lemma stems of
``assistant.nlp``, plus numbers as tokens), fused with weighted reciprocal rank fusion and
collapsed to paragraphs. Priors: bylines and captions do not crowd out body text unless the
question asks about the document itself, and a question that names a document (its aliases
in corpus metadata) prefers that document's paragraphs."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Literal, get_args

from assistant.answer.evidence import MIN_ACRONYM, numbers
from assistant.answer.types import Passage
from assistant.corpus.loader import Corpus
from assistant.corpus.models import PERIPHERAL_KINDS, Kind
from assistant.errors import AssistantError
from assistant.index.embedding import Embedder
from assistant.index.sentences import SentenceStore
from assistant.nlp import token_terms
from assistant.query import Query

RetrievalMode = Literal["hybrid", "dense", "bm25"]
RETRIEVAL_MODES: tuple[str, ...] = get_args(RetrievalMode)


@dataclass(frozen=True)
class RetrievalConfig:
    """The retriever's knobs. Unless a comment says otherwise, a value was set by hand while
    tuning on the dev split (the test split tunes nothing)."""

    mode: RetrievalMode = "hybrid"  # ranks best in bench/retrieval.py (README, "Retrieval")
    # paragraphs a search returns: the answerer reads the first non-heading ones, a refusal
    # shows the nearest, an LLM gets them all as its data
    top_k: int = 8
    k_each: int = 30  # chunks taken from each retriever before fusion
    rrf_k: float = 60.0  # reciprocal rank fusion constant: the usual one (Cormack et al., 2009)
    w_dense: float = 1.0  # weight of the dense ranking in the fusion (equal: plain RRF)
    w_bm25: float = 1.0  # weight of the BM25 ranking in the fusion
    peripheral_weight: float = 0.35  # score multiplier for byline/caption/... on content questions
    meta_boost: float = 1.5  # ... and for them on questions about the document itself
    scope_boost: float = 1.5  # for paragraphs of the document a question names
    per_named_document: int = 2  # best paragraphs of each named document moved into the top k
    list_item_factor: float = 0.99  # an introduced list item's score: just below its introduction's

    def __post_init__(self) -> None:
        if self.mode not in RETRIEVAL_MODES:  # "hybird" must not silently run hybrid
            raise AssistantError(f"Unknown retrieval mode '{self.mode}'. Use one of: "
                                 f"{', '.join(RETRIEVAL_MODES)}.")


def bm25_tokens(terms: list[str], text: str) -> list[str]:
    """BM25 tokens: the toolkit's terms plus the text's numbers ("#4.3")."""
    return list(terms) + [f"#{n}" for n in sorted(numbers(text))]


class Retriever:
    """Built once per index version; `search` is cheap."""

    def __init__(self, corpus: Corpus, collection, embedder: Embedder, sentences: SentenceStore,
                 nlp, config: RetrievalConfig | None = None):
        import bm25s  # bm25s (and scipy): ~0.3 s, for answering only, never on `index status`

        self.embedder, self.collection = embedder, collection
        self._chunk_count = collection.count()
        self.config = config or RetrievalConfig()
        self._paragraphs = {p.id: p for p in corpus.paragraphs}
        self._docs = {d.doc_id: d for d in corpus.documents}
        # section paths parsed in batches: one nlp() call each took about 0.1 s, minutes for
        # a corpus with thousands of sections
        sections = sorted({p.section_path for p in corpus.paragraphs})
        section_terms = {s: token_terms(d) for s, d in zip(sections, nlp.pipe(sections))}
        self._bm25_ids = [p.id for p in corpus.paragraphs if p.id in sentences.docs]
        tokens = [bm25_tokens(token_terms(sentences.docs[pid])
                              + section_terms[self._paragraphs[pid].section_path],
                              f"{self._paragraphs[pid].text} {self._paragraphs[pid].section_path}")
                  for pid in self._bm25_ids]
        self._bm25 = bm25s.BM25()
        self._bm25.index(tokens, show_progress=False)

    # -- the two retrievers, each returning paragraph ids best first with their scores --------
    def dense(self, vector: list[float], docs: list[str] | None = None,
              k: int | None = None) -> list[tuple[str, float]]:
        """Chunks nearest to the query vector, straight from the Chroma collection the
        rebuild wrote through llama-index (querying it through llama-index as well would add
        a second of imports to every cold start and nothing else). The score is the one
        llama-index's Chroma store reports, exp(-cosine distance), which the refusal model
        was fitted on."""
        k = min(k or self.config.k_each, self._chunk_count)
        if k <= 0:
            return []
        where = {"doc_id": {"$in": list(docs)}} if docs else None
        res = self.collection.query(query_embeddings=[list(vector)], n_results=k, where=where,
                                    include=["metadatas", "distances"])
        return _collapse((meta["paragraph_id"], math.exp(-float(dist)))
                         for meta, dist in zip(res["metadatas"][0], res["distances"][0]))

    def bm25(self, query: Query, docs: list[str] | None = None) -> list[tuple[str, float]]:
        tokens = bm25_tokens(query.terms, query.resolved)
        if not tokens or not self._bm25_ids:
            return []
        k = min(len(self._bm25_ids), self.config.k_each)
        ids, scores = self._bm25.retrieve([tokens], k=k, show_progress=False)
        out = []
        for i, score in zip(ids[0], scores[0]):
            pid = self._bm25_ids[int(i)]
            if score > 0 and (not docs or self._paragraphs[pid].doc_id in docs):
                out.append((pid, float(score)))
        return out

    # -- fusion -------------------------------------------------------------------------------
    def search(self, query: Query, k: int | None = None,
               docs: list[str] | None = None) -> list[Passage]:
        """The `k` best paragraphs (the configured `top_k` by default), of `docs` if given."""
        cfg = self.config
        k = cfg.top_k if k is None else k
        vector = query.vector
        if vector is None and cfg.mode != "bm25":
            vector = self.embedder.query_vector(query.resolved)
        dense = self.dense(vector, docs) if cfg.mode != "bm25" else []
        sparse = self.bm25(query, docs) if cfg.mode != "dense" else []
        fused: dict[str, float] = {}
        for weight, ranking in ((cfg.w_dense, dense), (cfg.w_bm25, sparse)):
            ranking = [(pid, s) for pid, s in ranking if pid in self._paragraphs]  # stale index
            for rank, (pid, _) in enumerate(ranking):
                fused[pid] = fused.get(pid, 0.0) + weight / (cfg.rrf_k + rank + 1)
        wanted = query.meta_kinds
        scoped = set(query.scope) if set(query.scope) != set(self._docs) else set()
        for pid, score in fused.items():
            p = self._paragraphs[pid]
            if p.kind in wanted:
                score = score * cfg.meta_boost + 1.0 / cfg.rrf_k
            elif p.kind in PERIPHERAL_KINDS or p.kind is Kind.FOOTNOTE:
                score *= cfg.peripheral_weight
            fused[pid] = score * (cfg.scope_boost if p.doc_id in scoped else 1.0)
        dense_score = dict(dense)
        ranked = sorted(fused.items(), key=lambda kv: -kv[1])
        if len(query.scope) > 1:  # a question that names two documents gets both in the top k
            ranked = _each_document_first(ranked, query.scope, self._paragraphs, k,
                                          cfg.per_named_document)
        ranked = self._with_list_items(ranked)[:k]
        return [self.passage(pid, score, dense_score.get(pid, 0.0)) for pid, score in ranked]

    def _with_list_items(self, ranked: list[tuple[str, float]]) -> list[tuple[str, float]]:
        """A paragraph that introduces a list ("three areas stand out ...:") brings its items
        right after it, so one answer can draw on all of them."""
        out: list[tuple[str, float]] = []
        seen: set[str] = set()
        for pid, score in ranked:
            if pid in seen:
                continue
            out.append((pid, score))
            seen.add(pid)
            p = self._paragraphs[pid]
            if p.kind is Kind.LIST_ITEM or not p.text.rstrip().endswith(":"):
                continue
            doc = self._docs[p.doc_id]
            for item in doc.paragraphs[p.position + 1:]:
                if item.kind is not Kind.LIST_ITEM:
                    break
                if item.id not in seen:
                    out.append((item.id, score * self.config.list_item_factor))
                    seen.add(item.id)
        return out

    def passage(self, pid: str, score: float = 0.0, dense: float = 0.0) -> Passage:
        p = self._paragraphs[pid]
        doc = self._docs[p.doc_id]
        footnote = None
        for label in p.footnote_refs:
            note = doc.footnote(label)
            if note is not None:
                footnote = f"footnote {label}: {short_reference(note.text)}"
        return Passage(pid, p.doc_id, doc.title, p.label, p.kind.value, p.section_path, p.page,
                       p.text, score, dense, footnote)


def short_reference(note: str) -> str:
    """"Some Agency, ..., Annual Review of Trade and Growth 2021, (...), p.12." ->
    "ARTG 2021, p. 12": the longest run of capitalised title words becomes its initials."""
    runs = re.findall(r"((?:[A-Z][a-z]+(?:\s+(?:and|of|the|on|for)\s+|\s+)){2,}[A-Z][a-z]+)\s*(\d{4})?", note)
    page = re.search(r"\bpp?\.\s*(\d+(?:[-–]\d+)?)", note)
    if not runs:
        return note
    words, year = max(runs, key=lambda r: (bool(r[1]), len(r[0])))
    initials = "".join(w[0] for w in words.split() if w[0].isupper())
    ref = f"{initials} {year}".strip() if len(initials) >= MIN_ACRONYM else words
    return f"{ref}, p. {page.group(1)}" if page else ref


def _each_document_first(ranked: list[tuple[str, float]], doc_ids: list[str], paragraphs: dict,
                         k: int, each: int) -> list[tuple[str, float]]:
    """The `each` best paragraphs of every named document move into the top k (in score order;
    equal scores stay in `ranked` order, whatever the string hash seed)."""
    keep: list[tuple[str, float]] = []
    for doc_id in doc_ids:
        keep += [r for r in ranked if paragraphs[r[0]].doc_id == doc_id][:each]
    chosen = set(keep) | set(ranked[: max(0, k - len(set(keep)))])
    top = [r for r in ranked if r in chosen]  # `ranked` is in score order already
    return top + [r for r in ranked if r not in chosen]


def _collapse(hits) -> list[tuple[str, float]]:
    """Chunk hits to paragraphs: each paragraph keeps its best (first) chunk's score."""
    seen: dict[str, float] = {}
    for pid, score in hits:
        if pid not in seen:
            seen[pid] = float(score)
    return list(seen.items())
