"""Faults in the stored index and its servers: each is one line saying what to run, never a
traceback, in `status`, `ask` and the chat; `rebuild --full` recovers from any of them."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from assistant.chat import Assistant
from assistant.errors import AssistantError, IndexCorruptError, StoreUnavailableError
from assistant.index.manifest import read_manifest
from tests.conftest import start_chroma_server

QUESTION = "How much did world output contract in 2020?"


def _env(settings) -> dict:
    env = dict(os.environ)
    env.update(ASSISTANT_CORPUS_DIR=str(settings.corpus_dir), ASSISTANT_INDEX_DIR=str(settings.index_dir),
               ASSISTANT_EMBEDDING_MODEL=settings.embedding_model, HF_HUB_OFFLINE="1")
    if settings.chroma_url:
        env["ASSISTANT_CHROMA_URL"] = settings.chroma_url
    return env


def _cli(settings, *args) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "assistant.cli", *args], env=_env(settings),
                          capture_output=True, text=True, timeout=300, check=False)


def _store_file(settings) -> Path:
    manifest = read_manifest(settings.index_dir)
    return settings.index_dir / manifest.location / "chroma.sqlite3"


def _truncate_half(path: Path) -> None:
    with path.open("r+b") as f:
        f.truncate(path.stat().st_size // 2)


@pytest.fixture
def built(corpus_dir, make_settings):
    settings = make_settings(corpus_dir)
    Assistant(settings).rebuild()
    return settings


def test_a_healthy_store_passes_the_cheap_and_the_deep_check(built):
    status = Assistant(built).status(deep=True)
    assert status.fresh and status.store_problems == []
    data = status.to_json()
    assert data["store"]["ok"] is True
    assert data["deep"]["samples"] == data["deep"]["passed"] > 10
    assert data["deep"]["encoder_checked"] == data["deep"]["samples"]


@pytest.mark.slow  # runs the CLI as a subprocess
def test_the_deep_check_accepts_a_paragraph_repeated_word_for_word(corpus_dir, make_settings):
    """Two identical paragraphs embed identically: either one found first is its own."""
    repeated = "Trade recovered faster than expected in the second half of the year."
    (corpus_dir / "repeats.md").write_text(f"# Repeats\n\n{repeated}\n\n{repeated}\n", "utf-8")
    from assistant.index.status import deep_check

    settings = make_settings(corpus_dir)
    assistant = Assistant(settings)
    assistant.rebuild()
    manifest = read_manifest(settings.index_dir)
    every = sum(len(e["chunks"]) for e in manifest.paragraphs.values())
    deep = deep_check(settings, manifest, assistant.engine.index.collection, assistant.embedder, every)
    assert deep["samples"] == every and deep["failures"] == []


def test_a_half_truncated_store_is_one_line_everywhere_and_full_rebuild_recovers(built, tmp_path):
    _truncate_half(_store_file(built))
    status = Assistant(built).status()
    assert not status.fresh and status.store_problems
    assert any("damaged" in r and "rebuild --full" in r for r in status.reasons)
    with pytest.raises(IndexCorruptError, match="rebuild --full"):
        Assistant(built).ask(QUESTION)

    res = _cli(built, "index", "status", "--json")
    assert res.returncode == 0 and json.loads(res.stdout)["store"]["ok"] is False
    res = _cli(built, "ask", QUESTION)
    assert res.returncode == 1 and "Traceback" not in res.stderr
    assert len(res.stderr.strip().splitlines()) == 1 and "rebuild --full" in res.stderr

    from assistant.web.app import ChatHandlers

    outputs = list(ChatHandlers(Assistant(built), export_dir=tmp_path).chat(QUESTION, [], "all",
                                                                            "extractive", []))
    shown = outputs[-1][0][-1]["content"]
    assert "ba-error" in shown and "rebuild --full" in shown and "Traceback" not in shown

    res = _cli(built, "index", "rebuild", "--full", "-q")
    assert res.returncode == 0, res.stderr
    assert Assistant(built).status().fresh
    assert not Assistant(built).ask(QUESTION).refused


def test_an_incremental_rebuild_over_a_damaged_store_embeds_everything(built):
    _truncate_half(_store_file(built))
    report = Assistant(built).rebuild()
    assert report.full and report.chunks_reused == 0 and "could not be read" in report.reason_full
    assert Assistant(built).status().fresh


def test_a_missing_store_and_missing_rows_are_reported(built):
    import chromadb

    manifest = read_manifest(built.index_dir)
    client = chromadb.PersistentClient(path=str(built.index_dir / manifest.location))
    coll = client.get_collection(manifest.collection, embedding_function=None)
    coll.delete(ids=coll.get(limit=3)["ids"])
    del client, coll
    status = Assistant(built).status()
    assert any(f"holds {manifest.chunk_count - 3} chunks" in r for r in status.reasons)

    shutil.rmtree(built.index_dir / manifest.location)
    status = Assistant(built).status()
    assert any("store is missing" in r for r in status.reasons)
    with pytest.raises(AssistantError, match="rebuild --full"):
        Assistant(built).ask(QUESTION)
    assert Assistant(built).rebuild(full=True).chunks_total == manifest.chunk_count


@pytest.mark.slow  # runs the CLI as a subprocess
def test_the_deep_check_finds_a_vector_that_no_longer_matches_its_text(built):
    import chromadb

    manifest = read_manifest(built.index_dir)
    client = chromadb.PersistentClient(path=str(built.index_dir / manifest.location))
    coll = client.get_collection(manifest.collection, embedding_function=None)
    ids = [cid for entry in manifest.paragraphs.values() for cid in entry["chunks"]]
    victim = ids[0]  # the deep check samples the first chunk
    noise = np.random.default_rng(7).normal(size=384).astype(np.float32)
    coll.update(ids=[victim], embeddings=[(noise / np.linalg.norm(noise)).tolist()])
    del client, coll
    assert Assistant(built).status().fresh  # the cheap check cannot see it
    status = Assistant(built).status(deep=True)
    assert not status.fresh
    assert [f.split(": ")[0] for f in status.deep["failures"]] == [victim]
    res = _cli(built, "index", "status", "--deep")
    assert res.returncode == 0 and victim in res.stdout and "Traceback" not in res.stderr


@pytest.mark.slow  # runs the CLI as a subprocess
def test_unreadable_manifest_shapes_all_recover_with_full(built):
    for content in ("not json", "[1, 2]", '"a string"', "{}", '{"version": 3}', ""):
        (built.index_dir / "manifest.json").write_text(content, "utf-8")
        res = _cli(built, "ask", QUESTION)
        assert res.returncode == 1 and "Traceback" not in res.stderr
        assert len(res.stderr.strip().splitlines()) == 1 and "rebuild --full" in res.stderr
        assert _cli(built, "index", "rebuild", "--full", "-q").returncode == 0
        assert Assistant(built).status().fresh


# -- a Chroma server that goes away ------------------------------------------------------------
@pytest.fixture
def own_chroma_server(tmp_path):
    """A Chroma server this test may kill (not the shared CI one): (url, stop)."""
    url, stop = start_chroma_server(tmp_path / "chroma-data")
    yield url, stop
    stop()


@pytest.mark.server
def test_chroma_server_down_is_a_clear_message_and_the_chat_stays_up(corpus_dir, make_settings,
                                                                      own_chroma_server, tmp_path):
    from assistant.web.app import ChatHandlers

    url, stop = own_chroma_server
    settings = make_settings(corpus_dir, chroma_url=url)
    assistant = Assistant(settings)
    assistant.rebuild()
    assistant.warm_up()  # a running chat: retriever and collection already open
    handlers = ChatHandlers(assistant, export_dir=tmp_path)
    assert not assistant.ask(QUESTION).refused
    stop()

    with pytest.raises(StoreUnavailableError, match="Cannot reach the Chroma server"):
        assistant.ask(QUESTION)
    outputs = list(handlers.chat(QUESTION, [], "all", "extractive", []))
    shown = outputs[-1][0][-1]["content"]
    assert "ba-error" in shown and "Cannot reach the Chroma server" in shown
    assert "Traceback" not in shown
    assert "ba-doc" in handlers.documents() or "Documents" in handlers.documents()  # still serving

    status = Assistant(settings).status()
    assert not status.fresh and any("Cannot reach the Chroma server" in r for r in status.reasons)
    res = _cli(settings, "ask", QUESTION)
    assert res.returncode == 1 and "Traceback" not in res.stderr
    assert "Cannot reach the Chroma server" in res.stderr
