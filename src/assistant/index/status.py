"""Is the index fresh, and if not, why. Cheap: reads the manifest, hashes corpus files and
counts the store's rows; never loads the model. `deep_check` (``index status --deep``) goes
further: sampled self-queries against the store and the query encoder."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from assistant.config import Settings
from assistant.corpus.loader import corpus_file_hashes, corpus_signature
from assistant.errors import AssistantError
from assistant.index import sentences
from assistant.index.chunks import chunking_settings
from assistant.index.embedding import resolve_model
from assistant.index.manifest import Manifest, manifest_path, read_manifest
from assistant.index.rebuild import open_client
from assistant.index.store import finds_itself, get_collection, local_row_count


@dataclass
class IndexStatus:
    fresh: bool
    reasons: list[str] = field(default_factory=list)
    manifest: Manifest | None = None
    store_problems: list[str] = field(default_factory=list)  # empty: the store opens, rows match
    deep: dict | None = None  # the result of deep_check, when it ran

    def to_json(self) -> dict:
        m = self.manifest
        return {
            "fresh": self.fresh,
            "reasons": self.reasons,
            "paragraphs": m.paragraph_count if m else 0,
            "chunks": m.chunk_count if m else 0,
            "embedding_model": m.embedding_model if m else None,
            "built_at": m.built_at if m else None,
            "version": m.version if m else None,
            "store": ({"mode": m.mode, "location": m.location, "collection": m.collection,
                       "ok": not self.store_problems, "problems": self.store_problems}
                      if m else None),
            "skipped_files": m.skipped_files if m else [],
            "documents": [{k: d[k] for k in ("doc_id", "title", "kind", "paragraphs")}
                          for d in (m.documents if m else [])],
            **({"deep": self.deep} if self.deep is not None else {}),
        }


def index_status(settings: Settings, corpus=None) -> IndexStatus:
    """`corpus` (a loaded Corpus) lets the check also see paragraphs the readers now produce
    differently from what was indexed (e.g. after an upgrade), not only changed files."""
    manifest = read_manifest(settings.index_dir)  # IndexCorruptError propagates: it is an answer
    if manifest is None:
        return IndexStatus(False, ["never built: run `assistant index rebuild`"])
    reasons: list[str] = []
    info, _ = resolve_model(settings.embedding_model)
    if info.fingerprint != manifest.model_fingerprint:
        reasons.append(f"embedding model changed: index built with {manifest.embedding_model}, "
                       f"configured {info.name}; run `assistant index rebuild --full`")
    if manifest.chunking != chunking_settings(settings.chunk_max_tokens):
        reasons.append("chunking settings changed; run `assistant index rebuild`")
    if manifest.sidecar.get("pipeline") != settings.spacy_pipeline:
        reasons.append(f"spaCy pipeline changed (index: {manifest.sidecar.get('pipeline') or 'none'}, "
                       f"configured: {settings.spacy_pipeline}); run `assistant index rebuild`")
    if manifest.mode != ("server" if settings.chroma_url else "local"):
        reasons.append(f"index was built for the {manifest.mode} store; run `assistant index rebuild`")
    current = corpus_file_hashes(settings.corpus_dir)
    for rel in sorted(set(current) | set(manifest.corpus_files)):
        if rel not in manifest.corpus_files:
            reasons.append(f"corpus file added: {rel}")
        elif rel not in current:
            reasons.append(f"corpus file removed: {rel}")
        elif current[rel] != manifest.corpus_files[rel]:
            reasons.append(f"corpus file changed: {rel}")
    if corpus is not None and not reasons:
        indexed, current_ids = set(manifest.paragraphs), {p.id for p in corpus.paragraphs}
        if indexed != current_ids:
            reasons.append(f"{len(current_ids - indexed)} paragraphs are not indexed and "
                           f"{len(indexed - current_ids)} no longer exist (the readers changed); "
                           "run `assistant index rebuild`")
    problems = check_store(settings, manifest)
    reasons += [f"{p}; run `assistant index rebuild --full`" for p in problems]
    return IndexStatus(not reasons, reasons, manifest, problems)


def check_store(settings: Settings, manifest: Manifest) -> list[str]:
    """What is wrong with the stored index, cheaply: the store opens and holds exactly the
    manifest's chunks, and the sentence sidecar is there. Empty when all is well."""
    problems: list[str] = []
    try:
        if manifest.mode == "local":
            try:
                rows = local_row_count(Path(settings.index_dir) / manifest.location, manifest.collection)
            except LookupError:  # a Chroma layout we do not read directly: ask chromadb
                rows = _client_row_count(settings, manifest)
        else:
            rows = _client_row_count(settings, manifest)
        if rows != manifest.chunk_count:
            problems.append(f"the store holds {rows} chunks, the manifest lists {manifest.chunk_count}")
    except FileNotFoundError:
        problems.append(f"the store is missing ({manifest.location})")
    except KeyError:
        problems.append(f"the store has no collection {manifest.collection}")
    except sqlite3.DatabaseError as exc:
        problems.append(f"the store is damaged ({exc})")
    except AssistantError as exc:  # a Chroma server that cannot be reached
        problems.append(str(exc).split(". ")[0])
    side = sentences.sidecar_dir(settings.index_dir, manifest.version)
    missing = [f for f in sentences.FILES if not (side / f).is_file()]
    if missing:
        problems.append(f"the sentence sidecar lacks {', '.join(missing)}")
    return problems


def _client_row_count(settings: Settings, manifest: Manifest) -> int:
    client, _ = open_client(settings, manifest.version, create=False)
    try:
        return get_collection(client, manifest.collection).count()
    except (ValueError, LookupError) as exc:  # chromadb's NotFoundError is a ValueError
        raise KeyError(manifest.collection) from exc


def deep_check(settings: Settings, manifest: Manifest, collection, embedder, samples: int = 20) -> dict:
    """Sampled self-queries: for chunks spread across the index, (1) the stored vector finds
    its own chunk first, and (2) the query encoder, given the text that was embedded, gives
    the stored vector back (cosine >= 0.99). Reports what failed."""
    ids = [cid for entry in manifest.paragraphs.values() for cid in entry["chunks"]]
    step = max(1, len(ids) // max(1, samples))
    picked = ids[::step][:samples]
    got = collection.get(ids=picked, include=["embeddings", "documents", "metadatas"])
    failures: dict[str, str] = {}  # chunk id -> what went wrong
    stored = dict(zip(got["ids"], got["embeddings"]))
    embedded = {cid: f"{meta['context']}\n\n{doc}"  # the text that was embedded
                for cid, doc, meta in zip(got["ids"], got["documents"], got["metadatas"])
                if meta and "context" in meta}
    for cid in picked:
        if cid not in stored:
            failures[cid] = "not in the store"
            continue
        if not finds_itself(collection, cid, stored[cid]):
            failures[cid] = "its own vector does not find it"
    checked = [cid for cid in picked if cid in embedded]
    if checked:
        vectors = embedder.query_vectors([embedded[cid] for cid in checked])
        for cid, v in zip(checked, vectors):
            w = np.asarray(stored[cid], dtype=np.float32)
            cos = float(v @ w / max(1e-12, float(np.linalg.norm(w))))
            if cos < 0.99:
                failures.setdefault(cid, f"the query encoder gives cosine {cos:.3f} to its stored vector")
    return {"samples": len(picked), "passed": len(picked) - len(failures),
            "failures": [f"{cid}: {why}" for cid, why in failures.items()],
            "encoder_checked": len(checked), "query_encoder": embedder.query_encoder}


class StaleWatch:
    """The warning an answer carries when the index is stale. Checked before every question,
    so the file hashing behind it runs only when a corpus file or the manifest was written
    since the last check."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self._seen: tuple | None = None  # (corpus signature, manifest mtime) last checked
        self._warnings: list[str] = []

    def warnings(self, status: Callable[[], IndexStatus]) -> list[str]:
        manifest = manifest_path(self.settings.index_dir)
        key = (corpus_signature(self.settings.corpus_dir),
               manifest.stat().st_mtime_ns if manifest.exists() else None)
        if key != self._seen:
            try:
                current = status()
            except (AssistantError, OSError):  # an unreadable index is reported by the answer
                return []
            self._warnings = []
            if current.manifest and not current.fresh:
                self._warnings = ["The index is stale (" + "; ".join(current.reasons) + "). "
                                  "Answers come from the old index; run `assistant index rebuild`."]
            self._seen = key
        return list(self._warnings)
