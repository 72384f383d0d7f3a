"""Hybrid retrieval: dense (Chroma, through llama-index) and BM25 (bm25s, through llama-index's
BM25 retriever) over the same chunks, fused with weighted reciprocal rank fusion, collapsed to
paragraphs, with a prior that keeps bylines and captions from crowding out body text unless the
question asks about the document itself."""

from __future__ import annotations

import re
from dataclasses import dataclass

from assistant.answer.types import Passage
from assistant.corpus.loader import Corpus
from assistant.corpus.models import PERIPHERAL_KINDS, Kind
from assistant.corpus.text import normalise
from assistant.index.chunks import Chunk
from assistant.index.embedding import Embedder

# Numbers ("8.0", "2,412") stay whole tokens; bm25s' default pattern would drop them.
TOKEN_PATTERN = r"(?u)\b\d+(?:[.,]\d+)*\b|\b\w\w+\b"
# Questions about the document itself, and the paragraph kinds that answer them.
META_INTENTS: list[tuple[re.Pattern, frozenset]] = [
    (re.compile(r"\b(who (wrote|authored|is the author)|author|written by|byline|writer)\b", re.IGNORECASE),
     frozenset({Kind.BYLINE, Kind.BIO, Kind.METADATA})),
    (re.compile(r"\b(publish\w*|publication|date[ds]?|when was (it|this|the)|released?|"
                r"reading time|min(ute)?s? read|how long .{0,30}\bread|opinion( piece)?|series|"
                r"(type|kind|sort) of (article|piece|text|document)|title[ds]?|called|"
                r"publisher|outlet|think tank|url|link|web ?site)\b", re.IGNORECASE),
     frozenset({Kind.METADATA})),
    (re.compile(r"\b(photo\w*|picture|image|caption|pictured|illustrat\w+)\b", re.IGNORECASE),
     frozenset({Kind.CAPTION})),
    (re.compile(r"\b(footnote|sources?|cites?|cited|reference[sd]?)\b", re.IGNORECASE),
     frozenset({Kind.FOOTNOTE})),
    (re.compile(r"\b(bio|biography|background|career|who is|who was|ambassador|positions?)\b", re.IGNORECASE),
     frozenset({Kind.BIO, Kind.BYLINE})),
]


@dataclass
class RetrievalConfig:
    mode: str = "hybrid"  # hybrid | dense | bm25
    k_each: int = 30  # chunks taken from each retriever before fusion
    rrf_k: float = 60.0
    w_dense: float = 1.0
    w_bm25: float = 1.0
    peripheral_weight: float = 0.35  # score multiplier for byline/caption/... on content questions
    meta_boost: float = 1.5  # ... and for them on questions about the document itself


def meta_kinds(question: str) -> frozenset:
    """The peripheral kinds a question about the document itself asks for (empty if none)."""
    kinds: frozenset = frozenset()
    for pattern, wanted in META_INTENTS:
        if pattern.search(question):
            kinds |= wanted
    return kinds


class Retriever:
    """Built once per index version; `search` is cheap."""

    def __init__(self, corpus: Corpus, chunks: list[Chunk], collection, embedder: Embedder,
                 config: RetrievalConfig | None = None):
        import Stemmer
        from llama_index.core import VectorStoreIndex
        from llama_index.core.schema import TextNode
        from llama_index.retrievers.bm25 import BM25Retriever
        from llama_index.vector_stores.chroma import ChromaVectorStore

        self.corpus, self.embedder = corpus, embedder
        self.config = config or RetrievalConfig()
        self._paragraphs = {p.id: p for p in corpus.paragraphs}
        self._docs = {d.doc_id: d for d in corpus.documents}
        store = ChromaVectorStore(chroma_collection=collection)
        self._vector_index = VectorStoreIndex.from_vector_store(store, embed_model=embedder.model)
        nodes = [TextNode(id_=c.id, text=c.embed_text,
                          metadata={"paragraph_id": c.paragraph.id, "doc_id": c.paragraph.doc_id})
                 for c in chunks]
        self._bm25 = BM25Retriever.from_defaults(
            nodes=nodes, similarity_top_k=min(len(nodes), self.config.k_each),
            stemmer=Stemmer.Stemmer("english"), language="english", token_pattern=TOKEN_PATTERN)

    # -- the two retrievers, each returning paragraph ids best first with their scores --------
    def dense(self, query: str, vector: list[float] | None = None, docs: list[str] | None = None,
              k: int | None = None) -> list[tuple[str, float]]:
        from llama_index.core.schema import QueryBundle
        from llama_index.core.vector_stores import FilterOperator, MetadataFilter, MetadataFilters

        filters = MetadataFilters(filters=[MetadataFilter(key="doc_id", value=list(docs),
                                                          operator=FilterOperator.IN)]) if docs else None
        retriever = self._vector_index.as_retriever(similarity_top_k=k or self.config.k_each,
                                                    filters=filters)
        bundle = QueryBundle(query_str=query, embedding=vector)
        return _collapse((n.node.metadata["paragraph_id"], n.score or 0.0)
                         for n in retriever.retrieve(bundle))

    def bm25(self, query: str, docs: list[str] | None = None) -> list[tuple[str, float]]:
        hits = self._bm25.retrieve(normalise(query))
        return _collapse((n.node.metadata["paragraph_id"], n.score or 0.0) for n in hits
                         if n.score and n.score > 0 and (not docs or n.node.metadata["doc_id"] in docs))

    # -- fusion -------------------------------------------------------------------------------
    def search(self, query: str, k: int = 8, docs: list[str] | None = None,
               vector: list[float] | None = None) -> list[Passage]:
        cfg = self.config
        if vector is None and cfg.mode != "bm25":
            vector = self.embedder.model.get_query_embedding(query)
        dense = self.dense(query, vector, docs) if cfg.mode != "bm25" else []
        sparse = self.bm25(query, docs) if cfg.mode != "dense" else []
        fused: dict[str, float] = {}
        for weight, ranking in ((cfg.w_dense, dense), (cfg.w_bm25, sparse)):
            ranking = [(pid, s) for pid, s in ranking if pid in self._paragraphs]  # stale index
            for rank, (pid, _) in enumerate(ranking):
                fused[pid] = fused.get(pid, 0.0) + weight / (cfg.rrf_k + rank + 1)
        wanted = meta_kinds(query)
        for pid in fused:
            kind = self._paragraphs[pid].kind
            if kind in wanted:
                fused[pid] = fused[pid] * cfg.meta_boost + 1.0 / cfg.rrf_k
            elif kind in PERIPHERAL_KINDS or kind is Kind.FOOTNOTE:
                fused[pid] *= cfg.peripheral_weight
        dense_score = dict(dense)
        ranked = self._with_list_items(sorted(fused.items(), key=lambda kv: -kv[1]))[:k]
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
                    out.append((item.id, score * 0.99))
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
                       p.text, score, dense, footnote, doc.kind)


def short_reference(note: str) -> str:
    """"United Nations, ..., World Economic Situation and Prospects 2021, (...), p.116." ->
    "WESP 2021, p. 116": the longest run of capitalised title words becomes its initials."""
    runs = re.findall(r"((?:[A-Z][a-z]+(?:\s+(?:and|of|the|on|for)\s+|\s+)){2,}[A-Z][a-z]+)\s*(\d{4})?", note)
    page = re.search(r"\bpp?\.\s*(\d+(?:[-–]\d+)?)", note)
    if not runs:
        return note
    words, year = max(runs, key=lambda r: (bool(r[1]), len(r[0])))
    initials = "".join(w[0] for w in words.split() if w[0].isupper())
    ref = f"{initials} {year}".strip() if len(initials) >= 2 else words
    return f"{ref}, p. {page.group(1)}" if page else ref


def _collapse(hits) -> list[tuple[str, float]]:
    """Chunk hits to paragraphs: each paragraph keeps its best (first) chunk's score."""
    seen: dict[str, float] = {}
    for pid, score in hits:
        if pid not in seen:
            seen[pid] = float(score)
    return list(seen.items())
