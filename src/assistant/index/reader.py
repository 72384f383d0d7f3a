"""Open the current index version for queries, checking it matches the configured model."""

from __future__ import annotations

from dataclasses import dataclass

from assistant.config import Settings
from assistant.errors import IndexCorruptError, IndexMismatchError, IndexMissingError
from assistant.index.embedding import Embedder
from assistant.index.manifest import Manifest, read_manifest
from assistant.index.rebuild import open_client
from assistant.index.store import get_collection


@dataclass
class OpenIndex:
    manifest: Manifest
    collection: object  # chromadb Collection


def open_index(settings: Settings, embedder: Embedder) -> OpenIndex:
    manifest = read_manifest(settings.index_dir)
    if manifest is None:
        raise IndexMissingError(f"No index in {settings.index_dir}. Build it with "
                                "`assistant index rebuild` (or `make run`).")
    if manifest.model_fingerprint != embedder.info.fingerprint or manifest.dim != embedder.dim:
        raise IndexMismatchError(
            f"The index was built with {manifest.embedding_model} ({manifest.dim}-d vectors) but "
            f"the configured model is {embedder.info.name} ({embedder.dim}-d). "
            "Run `assistant index rebuild --full`.")
    client, _ = open_client(settings, manifest.version, create=False)
    try:
        coll = get_collection(client, manifest.collection)
        count = coll.count()
    except Exception as exc:
        raise IndexCorruptError(f"The index collection {manifest.collection} cannot be read "
                                f"({type(exc).__name__}: {exc}). Run `assistant index rebuild --full`.") from exc
    if count != manifest.chunk_count:
        raise IndexCorruptError(f"The index holds {count} chunks but its manifest lists "
                                f"{manifest.chunk_count}. Run `assistant index rebuild --full`.")
    return OpenIndex(manifest, coll)
