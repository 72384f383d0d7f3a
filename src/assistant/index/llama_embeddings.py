"""The hashed bag-of-words test double, as a llama-index embedding model. Kept apart from
``embedding.py`` so that deciding *which* model to use never imports llama-index."""

from __future__ import annotations

import hashlib
import itertools
import re

import numpy as np
from llama_index.core.embeddings import BaseEmbedding

_WORD = re.compile(r"[a-z0-9]+(?:[.,][0-9]+)?")


class HashingEmbedding(BaseEmbedding):
    """Deterministic hashed bag-of-words (unigrams + bigrams), L2-normalised. Test double."""

    dim: int = 384

    def _vec(self, text: str) -> list[float]:
        words = _WORD.findall(text.lower())
        v = np.zeros(self.dim, dtype=np.float32)
        for tok in words + [f"{a} {b}" for a, b in itertools.pairwise(words)]:
            h = int.from_bytes(hashlib.blake2b(tok.encode(), digest_size=8).digest(), "little")
            v[h % self.dim] += 1.0 if (h >> 40) & 1 else -1.0
        n = np.linalg.norm(v)
        return (v / n if n else v).tolist()

    def _get_text_embedding(self, text: str) -> list[float]:
        return self._vec(text)

    def _get_query_embedding(self, query: str) -> list[float]:
        return self._vec(query)

    async def _aget_query_embedding(self, query: str) -> list[float]:
        return self._vec(query)
