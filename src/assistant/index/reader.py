"""Open the current index version for queries, checking it matches the configured model."""

from __future__ import annotations

from dataclasses import dataclass

from assistant.config import Settings
from assistant.errors import (
    AssistantError,
    IndexCorruptError,
    IndexMismatchError,
    IndexMissingError,
)
from assistant.index.embedding import Embedder
from assistant.index.manifest import Manifest, read_manifest
from assistant.index.rebuild import open_client
from assistant.index.store import get_collection, store_failure


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
    try:
        client, _ = open_client(settings, manifest.version, create=False)
        coll = get_collection(client, manifest.collection)
        count = coll.count()
    except AssistantError:  # the Chroma server cannot be reached: already one line
        raise
    # chromadb, sqlite3 and Chroma's Rust core raise many types for a damaged store; all
    # mean the same to the user, so this boundary catches everything
    except Exception as exc:
        raise store_failure(exc, settings.chroma_url) from exc
    if count != manifest.chunk_count:
        raise IndexCorruptError(f"The index holds {count} chunks but its manifest lists "
                                f"{manifest.chunk_count}. Run `assistant index rebuild --full`.")
    return OpenIndex(manifest, coll)
