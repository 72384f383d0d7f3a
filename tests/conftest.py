"""Shared fixtures. Unit tests use the real corpus text; fakes only at the edges (a hashed
bag-of-words embedder for fast index tests). Tests marked `slow` use the real bundled model."""

from __future__ import annotations

import os
import shutil
import socket
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT / "corpus"
OPED = CORPUS / "oped-road-back-to-multilateralism.md"
RAW_OPED = ROOT.parent / "shared" / "corpus" / "oped-road-back-to-multilateralism.txt"
BUNDLED = "bundled:all-MiniLM-L6-v2"


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def dense_search(assistant, query: str, k: int = 5) -> list[str]:
    """The ids of the k paragraphs nearest to `query` by the index's vectors alone (the
    retriever's dense half): index checks in tests."""
    hits = assistant.engine.retriever.dense(assistant.embedder.query_vector(query), k=k * 3)
    return [pid for pid, _ in hits][:k]


def start_chroma_server(data: Path):
    """`chroma run` on a free loopback port, in its own process group; returns (url, stop).
    stop() kills the group: `chroma run` does not stop on SIGTERM."""
    import signal
    import subprocess
    import sys
    import time

    import httpx

    port = free_port()
    proc = subprocess.Popen([str(Path(sys.executable).parent / "chroma"), "run", "--host",
                             "127.0.0.1", "--port", str(port), "--path", str(data)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    url = f"http://127.0.0.1:{port}"

    def stop() -> None:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=30)

    for _ in range(240):
        try:
            if httpx.get(f"{url}/api/v2/heartbeat", timeout=1).status_code == 200:
                return url, stop
        except httpx.HTTPError:
            time.sleep(0.25)
    stop()
    pytest.fail(f"chroma run did not start on {url}")


@pytest.fixture
def corpus_dir(tmp_path: Path) -> Path:
    """A private copy of the real corpus that a test may edit."""
    target = tmp_path / "corpus"
    shutil.copytree(CORPUS, target)
    return target


@pytest.fixture
def make_settings(tmp_path: Path):
    from assistant.config import Settings

    def make(corpus: Path, **kw) -> Settings:
        kw.setdefault("index_dir", tmp_path / "index")
        kw.setdefault("embedding_model", "hash:384")
        return Settings(corpus_dir=corpus, **kw)

    return make


@pytest.fixture(scope="session")
def real_embedder():
    from assistant.index.embedding import load_embedder

    return load_embedder(BUNDLED)


@pytest.fixture(scope="session")
def corpus():
    from assistant.corpus.loader import load_corpus

    return load_corpus(CORPUS)


@pytest.fixture(scope="session")
def real_assistant(tmp_path_factory):
    """An Assistant over a private copy of the real corpus, indexed with the real bundled
    model into a real Chroma directory (built once per test session)."""
    from assistant.chat import Assistant
    from assistant.config import Settings

    root = tmp_path_factory.mktemp("real")
    shutil.copytree(CORPUS, root / "corpus")
    assistant = Assistant(Settings(corpus_dir=root / "corpus", index_dir=root / "index",
                                   embedding_model=BUNDLED))
    assistant.rebuild()
    assistant.warm_up()
    return assistant
