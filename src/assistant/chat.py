"""The Assistant facade: the one place that wires settings, corpus, model and index together.
The CLI, the web chat and the evaluation suite all go through it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property

from assistant.config import Settings, offline_environment
from assistant.corpus.loader import Corpus, load_corpus
from assistant.index.embedding import Embedder, load_embedder
from assistant.index.reader import OpenIndex, open_index
from assistant.index.rebuild import Progress, RebuildReport, rebuild
from assistant.index.status import IndexStatus, index_status


@dataclass
class Hit:
    paragraph_id: str
    chunk_id: str
    score: float


class Assistant:
    def __init__(self, settings: Settings,
                 embedder_factory: Callable[[str, int], Embedder] = load_embedder):
        offline_environment()
        self.settings = settings
        self._embedder_factory = embedder_factory

    @classmethod
    def from_settings(cls, settings: Settings | None = None, **overrides) -> Assistant:
        return cls(settings or Settings(**overrides))

    @cached_property
    def embedder(self) -> Embedder:
        return self._embedder_factory(self.settings.embedding_model, self.settings.embed_batch_size)

    @cached_property
    def corpus(self) -> Corpus:
        return load_corpus(self.settings.corpus_dir, self.settings.max_file_mb)

    @cached_property
    def index(self) -> OpenIndex:
        return open_index(self.settings, self.embedder)

    def status(self) -> IndexStatus:
        return index_status(self.settings)

    def rebuild(self, full: bool = False, progress: Progress | None = None) -> RebuildReport:
        report = rebuild(self.settings, self.embedder, full=full, progress=progress)
        for name in ("corpus", "index"):
            self.__dict__.pop(name, None)
        return report

    def dense_search(self, query: str, k: int = 5) -> list[Hit]:
        """Nearest chunks by embedding, collapsed to their best-scoring paragraph."""
        vector = self.embedder.model.get_query_embedding(query)
        res = self.index.collection.query(query_embeddings=[vector], n_results=min(k * 3, 50),
                                          include=["metadatas", "distances"])
        hits: dict[str, Hit] = {}
        for cid, meta, dist in zip(res["ids"][0], res["metadatas"][0], res["distances"][0]):
            pid = meta["paragraph_id"]
            if pid not in hits:
                hits[pid] = Hit(pid, cid, 1.0 - float(dist))
        return list(hits.values())[:k]
