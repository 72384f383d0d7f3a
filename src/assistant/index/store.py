"""Chroma access: an on-disk PersistentClient per index version (default) or a Chroma server
(ASSISTANT_CHROMA_URL) with one collection per version. Telemetry is always off."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlparse

from assistant.config import offline_environment
from assistant.errors import AssistantError, IndexCorruptError, StoreUnavailableError


def _chroma_settings():
    from chromadb.config import Settings as ChromaSettings  # chromadb: ~1 s, never on `status`

    return ChromaSettings(anonymized_telemetry=False, allow_reset=False)


def local_client(path: Path):
    offline_environment()
    import chromadb  # after offline_environment(), and never on the `index status` path

    return chromadb.PersistentClient(path=str(path), settings=_chroma_settings())


def server_client(url: str):
    offline_environment()
    import chromadb  # after offline_environment(), and never on the `index status` path

    parsed = urlparse(url if "://" in url else f"http://{url}")
    if not parsed.hostname:
        raise AssistantError(f"ASSISTANT_CHROMA_URL '{url}' is not a URL like http://127.0.0.1:8000.")
    try:
        client = chromadb.HttpClient(host=parsed.hostname, port=parsed.port or 8000,
                                     ssl=parsed.scheme == "https", settings=_chroma_settings())
        client.heartbeat()
    except Exception as exc:  # any failure to connect is "cannot reach", said once
        raise AssistantError(f"Cannot reach the Chroma server at {url} ({type(exc).__name__}). "
                             "Start it (`chroma run --host 127.0.0.1 --port 8000 --path "
                             "index/chroma-server`) or unset ASSISTANT_CHROMA_URL to use the "
                             "on-disk index.") from exc
    return client


def read_errors() -> tuple[type[BaseException], ...]:
    """What a Chroma read raises when the on-disk store is damaged or the server is gone."""
    import httpx  # called in an `except` clause: imported only once a read has failed
    from chromadb.errors import ChromaError

    return (ChromaError, httpx.HTTPError, sqlite3.DatabaseError, OSError)


def store_failure(exc: BaseException, chroma_url: str | None) -> AssistantError:
    """One line for a failed read of the store, saying what to do."""
    if chroma_url:
        return StoreUnavailableError(
            f"Cannot reach the Chroma server at {chroma_url} ({type(exc).__name__}). Start it "
            "(`chroma run --host 127.0.0.1 --port 8000 --path index/chroma-server`) or unset "
            "ASSISTANT_CHROMA_URL to use the on-disk index.")
    detail = " ".join(str(exc).split())[:160]
    return IndexCorruptError(f"The index store cannot be read ({type(exc).__name__}: {detail}). "
                             "Run `assistant index rebuild --full`.")


@contextmanager
def reading(chroma_url: str | None) -> Iterator[None]:
    """Reads of the store inside this block that fail because it is damaged, or because the
    Chroma server went away, raise one AssistantError saying what to do."""
    try:
        yield
    except AssistantError:
        raise
    except read_errors() as exc:  # evaluated only when something was raised
        raise store_failure(exc, chroma_url) from exc


def finds_itself(coll, chunk_id: str, vector) -> bool:
    """A chunk's stored vector finds that chunk first, or another with the very same vector
    (a paragraph repeated word for word embeds identically)."""
    hit = coll.query(query_embeddings=[list(vector)], n_results=1, include=["distances"])
    return bool(hit["ids"][0]) and (hit["ids"][0][0] == chunk_id or hit["distances"][0][0] <= 1e-4)


def create_collection(client, name: str):
    """A new, empty cosine collection. Embeddings are always supplied by us, so Chroma's own
    embedding function (which would download a model) is disabled."""
    return client.create_collection(name=name, embedding_function=None,
                                    configuration={"hnsw": {"space": "cosine"}},
                                    metadata={"app": "brief-assistant"})


def get_collection(client, name: str):
    return client.get_collection(name=name, embedding_function=None)


def local_row_count(store_dir: Path, collection: str) -> int:
    """Rows of `collection` in an on-disk Chroma directory, read with the standard library's
    sqlite3 (read-only) instead of importing chromadb, which alone costs about as much as the
    whole `index status` command otherwise does. Raises FileNotFoundError if the store is
    missing, sqlite3.DatabaseError if it is damaged, and LookupError if the file is readable
    but not laid out as expected (another Chroma version: ask chromadb instead)."""
    db = Path(store_dir) / "chroma.sqlite3"
    if not db.is_file():
        raise FileNotFoundError(db)
    con = sqlite3.connect(f"{db.resolve().as_uri()}?mode=ro", uri=True)
    try:
        row = con.execute(
            "SELECT COUNT(*) FROM embeddings e JOIN segments s ON e.segment_id = s.id "
            "JOIN collections c ON s.collection = c.id WHERE c.name = ? AND s.scope = 'METADATA'",
            (collection,)).fetchone()
        known = con.execute("SELECT COUNT(*) FROM collections WHERE name = ?", (collection,)).fetchone()
    except sqlite3.OperationalError as exc:
        if "no such" in str(exc):  # table or column: a layout this code does not know
            raise LookupError(str(exc)) from exc
        raise
    finally:
        con.close()
    if not known[0]:
        raise KeyError(collection)
    return int(row[0])
