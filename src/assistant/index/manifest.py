"""The manifest: what the current index holds and how it was built. Writing it (atomically,
with os.replace) is the switch from one index version to the next."""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from assistant.errors import IndexCorruptError

MANIFEST = "manifest.json"
SCHEMA = 1


@dataclass
class Manifest:
    version: str
    mode: str  # "local" | "server"
    location: str  # local: path relative to the index dir; server: the URL
    collection: str
    embedding_model: str
    model_fingerprint: str
    dim: int
    chunking: dict
    built_at: str
    corpus_files: dict[str, str]  # relative path -> sha256 (skipped files included)
    skipped_files: list[str]
    documents: list[dict]  # doc_id, title, kind, path, paragraphs, paragraph_ids
    paragraphs: dict[str, dict]  # paragraph_id -> {"hash": ..., "chunks": {chunk_id: embed_hash}}
    chunk_count: int
    previous: list[dict] = field(default_factory=list)  # older versions kept for rollback
    sidecar: dict = field(default_factory=dict)  # {"pipeline", "units"}: the sentence sidecar
    loader: dict = field(default_factory=dict)  # the loader limits the corpus was read with
    warnings: list[str] = field(default_factory=list)  # the loader's warnings at that build
    schema: int = SCHEMA

    @property
    def paragraph_count(self) -> int:
        return len(self.paragraphs)


def manifest_path(index_dir: Path) -> Path:
    return Path(index_dir) / MANIFEST


def read_manifest(index_dir: Path) -> Manifest | None:
    """The current manifest, None if the index was never built; IndexCorruptError if unreadable."""
    path = manifest_path(index_dir)
    if not path.exists():
        return None
    try:
        data = json.loads(path.read_text("utf-8"))
        if not isinstance(data, dict):
            raise TypeError(f"a JSON {type(data).__name__}, not an object")
        if data.get("schema") != SCHEMA:
            raise ValueError(f"schema {data.get('schema')!r}, expected {SCHEMA}")
        manifest = Manifest(**data)
        if not isinstance(manifest.paragraphs, dict) or not isinstance(manifest.documents, list):
            raise TypeError("paragraphs or documents of the wrong shape")
        return manifest
    except (OSError, ValueError, TypeError, UnicodeDecodeError) as exc:
        raise IndexCorruptError(f"The index manifest {path} is unreadable ({exc}). Run "
                                "`assistant index rebuild --full` to build a new index.") from exc


def write_manifest(index_dir: Path, manifest: Manifest) -> None:
    """Atomic: a reader sees the old manifest or the new one, never a partial file."""
    index_dir = Path(index_dir)
    index_dir.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".manifest-", suffix=".json", dir=index_dir)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(manifest.__dict__, f, ensure_ascii=False, indent=1)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, manifest_path(index_dir))
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
