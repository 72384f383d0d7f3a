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
DIGEST = CORPUS / "wesp2021-digest.md"
RAW_OPED = ROOT.parent / "shared" / "corpus" / "oped-road-back-to-multilateralism.txt"
BUNDLED = "bundled:all-MiniLM-L6-v2"


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


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
