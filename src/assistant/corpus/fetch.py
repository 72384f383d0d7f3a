"""`assistant corpus fetch`: download the originals listed in sources.toml that are missing."""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import httpx

from assistant.corpus.loader import FETCHED_FILE, load_sources
from assistant.errors import FetchError


@dataclass
class Fetched:
    file: str
    url: str
    sha256: str
    bytes: int


def pending(corpus_dir: Path) -> list[dict]:
    """Sources marked `fetch = true` whose file is not in the corpus directory."""
    return [s for s in load_sources(corpus_dir)
            if s.get("fetch") and s.get("url") and not (corpus_dir / s["file"]).exists()]


def fetch_one(source: dict, corpus_dir: Path, timeout: float) -> Fetched:
    name, url = source["file"], source["url"]
    target = corpus_dir / name
    h = hashlib.sha256()
    size = 0
    fd, tmp = tempfile.mkstemp(prefix=".fetch-", dir=corpus_dir)
    try:
        with os.fdopen(fd, "wb") as out, httpx.stream("GET", url, timeout=timeout,
                                                      follow_redirects=True) as resp:
            resp.raise_for_status()
            for block in resp.iter_bytes():
                out.write(block)
                h.update(block)
                size += len(block)
        with open(tmp, "rb") as f:
            head = f.read(5)
        if name.lower().endswith(".pdf") and head != b"%PDF-":
            raise FetchError(f"{name}: {url} did not return a PDF; nothing was saved.")
        os.replace(tmp, target)
    except httpx.HTTPStatusError as exc:
        raise FetchError(f"{name}: {url} answered HTTP {exc.response.status_code}; nothing was "
                         "saved. Check the URL in corpus/sources.toml.") from None
    except httpx.HTTPError as exc:
        raise FetchError(f"{name}: cannot download {url} ({type(exc).__name__}: no network "
                         "access?). Indexing works without it; run `assistant corpus fetch` "
                         "again where the network is reachable.") from None
    finally:
        Path(tmp).unlink(missing_ok=True)
    record = Fetched(name, url, h.hexdigest(), size)
    _record(corpus_dir, record)
    return record


def _record(corpus_dir: Path, rec: Fetched) -> None:
    path = corpus_dir / FETCHED_FILE
    data = json.loads(path.read_text("utf-8")) if path.exists() else {}
    data[rec.file] = {"url": rec.url, "sha256": rec.sha256, "bytes": rec.bytes,
                      "fetched_at": datetime.now(UTC).isoformat(timespec="seconds")}
    path.write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")
