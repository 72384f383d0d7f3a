"""Incremental, atomic, locked rebuild of the index.

A rebuild writes a new version (a new Chroma directory, or a new collection on a server),
copies over the embeddings of unchanged chunks, embeds only new or changed ones, validates the
result, and only then switches the manifest to it. A crash or kill at any moment leaves the
previous manifest, and so the previous index, serving.
"""

from __future__ import annotations

import difflib
import random
import secrets
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from filelock import FileLock, Timeout

from assistant.config import Settings
from assistant.corpus.loader import Corpus, corpus_file_hashes, load_corpus
from assistant.errors import AssistantError, IndexCorruptError, RebuildLockedError
from assistant.index import sentences
from assistant.index.chunks import Chunk, chunk_corpus, chunking_settings
from assistant.index.embedding import Embedder
from assistant.index.manifest import Manifest, read_manifest, write_manifest
from assistant.index.store import (
    create_collection,
    finds_itself,
    get_collection,
    local_client,
    server_client,
)
from assistant.nlp import load_pipeline
from assistant.nlp import sentences as parser_sentences

LOCK_FILE = ".rebuild.lock"
VERSIONS_DIR = "versions"
FETCH_BATCH = 500  # old embeddings copied per round trip
EMBED_WINDOW = 1024  # chunks embedded (sorted by length within) and stored per round

Progress = Callable[[str, int, int], None]  # (stage, done, total)


@dataclass
class RebuildReport:
    version: str
    full: bool
    added: list[str] = field(default_factory=list)  # paragraph IDs
    changed: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    chunks_total: int = 0
    chunks_embedded: int = 0
    chunks_reused: int = 0
    warnings: list[str] = field(default_factory=list)
    reason_full: str = ""
    unchanged: bool = False  # nothing to do: the current index already matches the corpus


def acquire_lock(index_dir: Path) -> FileLock:
    index_dir.mkdir(parents=True, exist_ok=True)
    lock = FileLock(index_dir / LOCK_FILE)
    try:
        lock.acquire(timeout=0)
    except Timeout:
        raise RebuildLockedError(
            f"Another rebuild is already running on {index_dir} (lock {index_dir / LOCK_FILE}). "
            "Wait for it to finish; the current index keeps serving meanwhile.") from None
    return lock


def diff_paragraphs(old: Manifest | None, corpus: Corpus) -> tuple[list, list, list]:
    """Added, changed and removed paragraph IDs. An ID hashes the paragraph's text, so an edit
    shows as one ID replaced by another at the same place: those pairs count as changed."""
    old_docs = {d["doc_id"]: d["paragraph_ids"] for d in (old.documents if old else [])}
    added, changed, removed = [], [], []
    for doc in corpus.documents:
        before = old_docs.pop(doc.doc_id, [])
        after = [p.id for p in doc.paragraphs]
        for op, i1, i2, j1, j2 in difflib.SequenceMatcher(a=before, b=after, autojunk=False).get_opcodes():
            if op == "equal":
                continue
            pairs = min(i2 - i1, j2 - j1) if op == "replace" else 0
            changed += after[j1:j1 + pairs]
            removed += before[i1 + pairs:i2]
            added += after[j1 + pairs:j2]
    for ids in old_docs.values():
        removed += ids
    return added, changed, removed


def _new_version() -> str:
    return f"v{datetime.now(UTC):%Y%m%dT%H%M%S}-{secrets.token_hex(2)}"


def open_client(settings: Settings, version: str, create: bool):
    if settings.chroma_url:
        return server_client(settings.chroma_url), settings.chroma_url
    rel = f"{VERSIONS_DIR}/{version}"
    path = settings.index_dir / rel
    if not create and not path.is_dir():
        raise IndexCorruptError(f"The index version directory {path} is missing. "
                                "Run `assistant index rebuild --full`.")
    return local_client(path), rel


def _collection_name(settings: Settings, version: str) -> str:
    return f"{settings.collection_prefix}-{version}".replace("_", "-")[:63]


def _metadata(chunk: Chunk) -> dict:
    p = chunk.paragraph
    meta = {"paragraph_id": p.id, "doc_id": p.doc_id, "kind": p.kind.value, "label": p.label,
            "section": p.section_path, "position": p.position, "title": chunk.doc.title,
            "context": chunk.context}  # with the stored text, what was embedded (status --deep)
    if p.page is not None:
        meta["page"] = p.page
    return meta


def _nodes(chunks: list[Chunk], embeddings: list[list[float]]):
    """llama-index nodes whose SOURCE is their document: llama-index writes the source's id
    into the reserved `doc_id`/`ref_doc_id` metadata keys (overwriting ours, which left every
    chunk with doc_id "None" and made document-filtered dense search return nothing)."""
    from llama_index.core.schema import (  # llama-index: only a rebuild needs it
        NodeRelationship,
        RelatedNodeInfo,
        TextNode,
    )

    return [TextNode(id_=c.id, text=c.text, metadata=_metadata(c), embedding=e,
                     relationships={NodeRelationship.SOURCE: RelatedNodeInfo(node_id=c.paragraph.doc_id)})
            for c, e in zip(chunks, embeddings)]


def _reusable(old: Manifest | None, settings: Settings, embedder: Embedder, full: bool) -> tuple[dict, str]:
    """chunk_id -> embed_hash from the old index that may be copied, and why not if empty."""
    if full:
        return {}, "--full"
    if old is None:
        return {}, "no previous index"
    if old.model_fingerprint != embedder.info.fingerprint or old.dim != embedder.dim:
        return {}, f"embedding model changed ({old.embedding_model} -> {embedder.info.name})"
    if old.chunking != chunking_settings(settings.chunk_max_tokens):
        return {}, "chunking settings changed"
    if old.mode != ("server" if settings.chroma_url else "local"):
        return {}, "store changed (local <-> server)"
    return {cid: h for p in old.paragraphs.values() for cid, h in p["chunks"].items()}, ""


def _copy_old_embeddings(settings: Settings, old: Manifest, chunks: list[Chunk], store,
                         keep: set[str]) -> tuple[set[str], dict[str, list[float]]]:
    """Copy the stored embeddings of `chunks` from the old version into `store`, FETCH_BATCH
    at a time (so they are never all in memory). Returns the IDs copied, and the vectors of
    those in `keep` (the validation sample). An unreadable old version copies nothing, which
    just means re-embedding."""
    copied: set[str] = set()
    kept: dict[str, list[float]] = {}
    try:
        client, _ = open_client(settings, old.version, create=False)
        coll = get_collection(client, old.collection)
        for i in range(0, len(chunks), FETCH_BATCH):
            batch = {c.id: c for c in chunks[i:i + FETCH_BATCH]}
            got = coll.get(ids=list(batch), include=["embeddings"])
            found = [(batch[cid], list(map(float, e))) for cid, e in zip(got["ids"], got["embeddings"])]
            if found:
                store.add(_nodes([c for c, _ in found], [e for _, e in found]))
            copied.update(c.id for c, _ in found)
            kept.update((c.id, e) for c, e in found if c.id in keep)
    except Exception:  # noqa: BLE001 - an unreadable old version just means re-embedding the rest
        return copied, kept
    return copied, kept


def validation_sample(chunks: list[Chunk], samples: int = 5) -> list[Chunk]:
    """The chunks `validate` looks up: chosen before the build, so only their vectors are kept."""
    return random.Random(len(chunks)).sample(chunks, min(samples, len(chunks)))


def validate(coll, chunks: list[Chunk], embeddings: dict[str, list[float]], samples: int = 5) -> None:
    """Row count, and each sampled chunk finds itself (`embeddings` needs only the sample's)."""
    count = coll.count()
    if count != len(chunks):
        raise AssistantError(f"Validation failed: the new index holds {count} rows for "
                             f"{len(chunks)} chunks. The previous index is still serving.")
    for chunk in validation_sample(chunks, samples):
        if not finds_itself(coll, chunk.id, embeddings[chunk.id]):
            raise AssistantError(f"Validation failed: chunk {chunk.id} does not find itself. "
                                 "The previous index is still serving.")


def _cleanup(settings: Settings, keep: list[dict]) -> None:
    """Drop versions no manifest refers to (old ones, and partial ones from killed builds)."""
    keep_versions = {k["version"] for k in keep}
    if settings.chroma_url:
        client = server_client(settings.chroma_url)
        prefix = f"{settings.collection_prefix}-v"
        for c in client.list_collections():
            name = getattr(c, "name", c)
            if name.startswith(prefix) and not any(name == k["collection"] for k in keep):
                client.delete_collection(name)
    root = settings.index_dir / VERSIONS_DIR
    for d in root.iterdir() if root.is_dir() else []:
        if d.is_dir() and d.name not in keep_versions:
            shutil.rmtree(d, ignore_errors=True)


def _build_sidecar(settings: Settings, corpus: Corpus, embedder: Embedder, version: str,
                   old: Manifest | None, progress: Progress | None) -> dict:
    """Parse and embed the answer units of every paragraph, reusing the previous version's."""
    nlp = load_pipeline(settings.spacy_pipeline)
    previous = sentences.sidecar_dir(settings.index_dir, old.version) if old else None
    return sentences.build(corpus, nlp, embedder.index_vectors,
                           sentences.sidecar_dir(settings.index_dir, version),
                           embedder.info.fingerprint, previous, progress)


def loader_settings(settings: Settings) -> dict:
    """The loader limits a build used: a change may bring a skipped file in (or push one out)."""
    return {"max_file_mb": settings.max_file_mb,
            "max_paragraphs_per_file": settings.max_paragraphs_per_file,
            "max_corpus_paragraphs": settings.max_corpus_paragraphs}


def _unchanged(settings: Settings, embedder: Embedder, old: Manifest | None, full: bool,
               corpus: Corpus) -> RebuildReport | None:
    """A report of "nothing to do" when the corpus files (by SHA-256), the paragraphs the
    readers make of them (by ID), the loader limits, model, chunking, store and spaCy pipeline
    all match the current index and its store passes the cheap check (rows, sidecar); None
    when a build is needed."""
    _, why_not = _reusable(old, settings, embedder, full)
    if old is None or why_not:
        return None
    indexed = {d["doc_id"]: d["paragraph_ids"] for d in old.documents}
    if (old.loader != loader_settings(settings)
            or old.sidecar.get("pipeline") != settings.spacy_pipeline
            or old.corpus_files != corpus_file_hashes(settings.corpus_dir)
            or indexed != {d.doc_id: [p.id for p in d.paragraphs] for d in corpus.documents}
            or set(old.paragraphs) != {p.id for p in corpus.paragraphs}):
        return None
    from assistant.index.status import check_store  # status imports this module

    if check_store(settings, old):  # the store or the sidecar is missing, damaged or unreachable
        return None
    return RebuildReport(version=old.version, full=False, chunks_total=old.chunk_count,
                         chunks_reused=old.chunk_count, warnings=list(old.warnings),
                         unchanged=True)


def rebuild(settings: Settings, embedder: Embedder, full: bool = False,
            progress: Progress | None = None) -> RebuildReport:
    index_dir = Path(settings.index_dir)
    lock = acquire_lock(index_dir)
    try:
        try:
            old = read_manifest(index_dir)
        except IndexCorruptError:
            old = None
        corpus = load_corpus(settings.corpus_dir, settings.max_file_mb,
                             settings.max_paragraphs_per_file, settings.max_corpus_paragraphs)
        unchanged = _unchanged(settings, embedder, old, full, corpus)
        if unchanged is not None:  # (an index built before the query encoder existed gets it)
            export_warning = embedder.export_onnx([p.text for p in corpus.paragraphs[:16]])
            unchanged.warnings += [export_warning] if export_warning else []
            return unchanged
        if not corpus.documents:
            raise AssistantError(f"No readable documents in {settings.corpus_dir}; the index was "
                                 "not changed. " + " ".join(corpus.warnings))
        chunks = chunk_corpus(corpus, embedder.count_tokens, settings.chunk_max_tokens,
                              split=lambda text: parser_sentences(text, settings.spacy_pipeline))
        reusable, why_full = _reusable(old, settings, embedder, full)
        sample = {c.id for c in validation_sample(chunks)}
        # the query encoder is exported first (once per model), so it embeds the index too
        export_warning = embedder.export_onnx([c.embed_text for c in chunks[:16]])

        version = _new_version()
        client, location = open_client(settings, version, create=True)
        coll = create_collection(client, _collection_name(settings, version))
        from llama_index.vector_stores.chroma import ChromaVectorStore  # llama-index: rebuild only

        store = ChromaVectorStore(chroma_collection=coll)
        reuse = [c for c in chunks if reusable.get(c.id) == c.embed_hash]
        reused, embeddings = (_copy_old_embeddings(settings, old, reuse, store, sample)
                              if reuse else (set(), {}))
        if reuse and not reused:  # a damaged or vanished old store: everything is embedded
            reusable, why_full = {}, "the previous index could not be read"
        to_embed = [c for c in chunks if c.id not in reused]
        if progress:
            progress("embed", 0, len(to_embed))
        for i in range(0, len(to_embed), EMBED_WINDOW):
            batch = to_embed[i:i + EMBED_WINDOW]
            vectors = embedder.index_vectors([c.embed_text for c in batch]).tolist()
            embeddings.update({c.id: v for c, v in zip(batch, vectors) if c.id in sample})
            store.add(_nodes(batch, vectors))
            if progress:
                progress("embed", min(i + len(batch), len(to_embed)), len(to_embed))
        validate(coll, chunks, embeddings)
        sidecar = _build_sidecar(settings, corpus, embedder, version, old, progress)

        added, changed, removed = diff_paragraphs(old, corpus)
        paragraphs: dict[str, dict] = {}
        for c in chunks:
            entry = paragraphs.setdefault(c.paragraph.id, {"hash": c.paragraph.content_hash, "chunks": {}})
            entry["chunks"][c.id] = c.embed_hash
        files = corpus_file_hashes(settings.corpus_dir)
        previous = ([{"version": old.version, "collection": old.collection}] + old.previous
                    if old and old.mode == ("server" if settings.chroma_url else "local") else [])
        manifest = Manifest(
            version=version, mode="server" if settings.chroma_url else "local", location=location,
            collection=coll.name, embedding_model=embedder.info.name,
            model_fingerprint=embedder.info.fingerprint, dim=embedder.dim,
            chunking=chunking_settings(settings.chunk_max_tokens),
            built_at=datetime.now(UTC).isoformat(timespec="seconds"), corpus_files=files,
            skipped_files=corpus.skipped,
            documents=[{"doc_id": d.doc_id, "title": d.title, "kind": d.kind, "path": d.path,
                        "paragraphs": len(d.paragraphs), "paragraph_ids": [p.id for p in d.paragraphs]}
                       for d in corpus.documents],
            paragraphs=paragraphs, chunk_count=len(chunks),
            previous=previous[: max(0, settings.keep_versions - 1)],
            sidecar={"pipeline": settings.spacy_pipeline, "units": sidecar["units"]},
            loader=loader_settings(settings), warnings=corpus.warnings,
        )
        write_manifest(index_dir, manifest)  # the switch
        _cleanup(settings, [{"version": version, "collection": coll.name}] + manifest.previous)
        return RebuildReport(version=version, full=not reusable, added=added, changed=changed,
                             removed=removed, chunks_total=len(chunks),
                             chunks_embedded=len(to_embed), chunks_reused=len(reused),
                             warnings=corpus.warnings + ([export_warning] if export_warning else []),
                             reason_full=why_full)
    finally:
        lock.release()
