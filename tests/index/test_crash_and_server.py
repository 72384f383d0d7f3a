"""A rebuild killed with SIGKILL leaves the old index serving; server mode against a real
`chroma run` on 127.0.0.1."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from assistant.chat import Assistant
from assistant.index.manifest import read_manifest
from tests.conftest import dense_search, start_chroma_server

ROOT = Path(__file__).resolve().parents[2]


def _env(settings) -> dict:
    env = dict(os.environ)
    env.update(ASSISTANT_CORPUS_DIR=str(settings.corpus_dir), ASSISTANT_INDEX_DIR=str(settings.index_dir),
               ASSISTANT_EMBEDDING_MODEL=settings.embedding_model, HF_HUB_OFFLINE="1")
    return env


def _big_document(path: Path, paragraphs: int) -> None:
    lines = ["# Filler", ""]
    for i in range(paragraphs):
        lines += [f"Filler paragraph {i} about topic {i % 97} with some words {i * 7} and more.", ""]
    path.write_text("\n".join(lines), "utf-8")


@pytest.mark.slow  # runs the CLI as a subprocess
def test_sigkill_during_rebuild_leaves_old_index_serving(corpus_dir, make_settings):
    settings = make_settings(corpus_dir)
    Assistant(settings).rebuild()
    old = read_manifest(settings.index_dir)
    _big_document(corpus_dir / "filler.md", 6000)
    proc = subprocess.Popen([sys.executable, "-m", "assistant.cli", "index", "rebuild", "--full", "-q"],
                            env=_env(settings), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    versions = settings.index_dir / "versions"
    deadline = time.monotonic() + 120
    new_dir = None
    while time.monotonic() < deadline and proc.poll() is None:
        fresh = [d for d in versions.iterdir() if d.name != old.version]
        if fresh and (fresh[0] / "chroma.sqlite3").exists():
            new_dir = fresh[0]
            break
        time.sleep(0.02)
    assert new_dir is not None, "the rebuild never started writing a new version"
    time.sleep(0.3)  # let it write some rows
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL, "the rebuild finished before it could be killed"

    assert read_manifest(settings.index_dir).version == old.version
    assistant = Assistant(settings)
    status = assistant.status()
    assert status.manifest.version == old.version
    assert status.reasons == ["corpus file added: filler.md"]
    hits = dense_search(assistant, "45 million people pushed into poverty", 3)
    assert hits and all(not pid.startswith("filler") for pid in hits)
    assert assistant.engine.index.collection.count() == old.chunk_count

    # the lock died with the process; the next rebuild works and clears the partial version
    report = Assistant(settings).rebuild()
    assert report.chunks_total > old.chunk_count
    assert not new_dir.exists()


@pytest.mark.slow  # runs the CLI as a subprocess
def test_cli_refuses_concurrent_rebuild(corpus_dir, make_settings):
    from assistant.index.rebuild import acquire_lock

    settings = make_settings(corpus_dir)
    lock = acquire_lock(settings.index_dir)
    try:
        res = subprocess.run([sys.executable, "-m", "assistant.cli", "index", "rebuild", "-q"],
                             env=_env(settings), capture_output=True, text=True, timeout=120,
                             check=False)
    finally:
        lock.release()
    assert res.returncode == 1
    assert "Another rebuild is already running" in res.stderr
    assert "Traceback" not in res.stderr


@pytest.fixture(scope="module")
def chroma_url(tmp_path_factory):
    url = os.environ.get("ASSISTANT_TEST_CHROMA_URL")
    if url:
        yield url
        return
    url, stop = start_chroma_server(tmp_path_factory.mktemp("chroma-server"))
    yield url
    stop()


@pytest.mark.server
def test_server_mode(corpus_dir, make_settings, chroma_url):
    import chromadb

    settings = make_settings(corpus_dir, chroma_url=chroma_url, collection_prefix=f"t{os.getpid()}",
                             keep_versions=1)
    first = Assistant(settings).rebuild()
    manifest = read_manifest(settings.index_dir)
    assert manifest.mode == "server" and manifest.location == chroma_url
    host, port = chroma_url.rsplit("//", 1)[1].split(":")
    client = chromadb.HttpClient(host=host, port=int(port))
    assert client.get_collection(manifest.collection).count() == first.chunks_total
    # on local disk: the manifest and the version's sentence sidecar (parses and unit vectors)
    local = settings.index_dir / "versions" / manifest.version
    assert {p.name for p in local.iterdir()} == {"text"}
    assert not list(local.glob("**/*.sqlite3"))  # no Chroma data
    assistant = Assistant(settings)
    hits = dense_search(assistant, "What did the US block at the WTO?", 2)
    assert assistant.corpus.paragraph(hits[0]).text.startswith("2. Making")
    unchanged = Assistant(settings).rebuild()
    assert unchanged.unchanged and unchanged.version == manifest.version  # nothing to do
    path = corpus_dir / "wesp2021-digest.md"
    path.write_text(path.read_text("utf-8").replace("4.3 per cent", "4.4 per cent", 1), "utf-8")
    second = Assistant(settings).rebuild()
    assert second.chunks_embedded == 1 and second.chunks_reused == second.chunks_total - 1
    names = {getattr(c, "name", c) for c in client.list_collections()}
    assert read_manifest(settings.index_dir).collection in names
    assert manifest.collection not in names  # keep_versions=1: the old collection is dropped
    assert Assistant(settings).status().fresh
