"""Rebuild: incremental, atomic, locked; status and errors. Uses the hashed test embedder
(fast) unless marked slow; the end-to-end tests use the real bundled model."""

import json

import pytest

from assistant.chat import Assistant
from assistant.errors import (
    IndexCorruptError,
    IndexMismatchError,
    IndexMissingError,
    RebuildLockedError,
)
from assistant.index.manifest import read_manifest
from assistant.index.rebuild import acquire_lock
from tests.conftest import BUNDLED, OPED, dense_search


def test_incremental_rebuild_embeds_exactly_the_edited_paragraph(corpus_dir, make_settings):
    settings = make_settings(corpus_dir)
    first = Assistant(settings).rebuild()
    assert first.full and first.chunks_embedded == first.chunks_total > 40
    path = corpus_dir / OPED.name
    path.write_text(path.read_text("utf-8").replace(
        "The list of challenges is long.", "The list of challenges is very long."), "utf-8")
    assert not Assistant(settings).status().fresh
    report = Assistant(settings).rebuild()
    assert not report.full
    assert (len(report.added), len(report.changed), len(report.removed)) == (0, 1, 0)
    manifest = read_manifest(settings.index_dir)
    edited = manifest.paragraphs[report.changed[0]]
    assert report.chunks_embedded == len(edited["chunks"]) == 1
    assert report.chunks_reused == report.chunks_total - 1
    assert Assistant(settings).status().fresh


def test_added_and_removed_paragraphs_are_counted(corpus_dir, make_settings):
    settings = make_settings(corpus_dir)
    Assistant(settings).rebuild()
    path = corpus_dir / OPED.name
    text = path.read_text("utf-8")
    start = text.index("In the Americas,")
    text = text[:start] + text[text.index("\n\n", start) + 2:]
    text = text.replace("The emphasis on", "A brand new paragraph.\n\nThe emphasis on")
    path.write_text(text, "utf-8")
    report = Assistant(settings).rebuild()
    assert (len(report.added), len(report.changed), len(report.removed)) == (1, 0, 1)
    assert report.chunks_embedded == 1


def test_full_rebuild_and_old_versions_are_cleaned(corpus_dir, make_settings):
    settings = make_settings(corpus_dir, keep_versions=2)
    for _ in range(3):
        Assistant(settings).rebuild()
    report = Assistant(settings).rebuild(full=True)
    assert report.full and report.chunks_reused == 0
    versions = sorted(p.name for p in (settings.index_dir / "versions").iterdir())
    manifest = read_manifest(settings.index_dir)
    assert manifest.version in versions and len(versions) == 2


def test_status_reasons(corpus_dir, make_settings):
    settings = make_settings(corpus_dir)
    status = Assistant(settings).status()
    assert not status.fresh and "never built" in status.reasons[0]
    Assistant(settings).rebuild()
    assert Assistant(settings).status().fresh
    (corpus_dir / "wesp2021-digest.md").write_text("# changed\n\nNew text.\n", "utf-8")
    (corpus_dir / "extra.txt").write_text("An extra document.\n", "utf-8")
    reasons = Assistant(settings).status().reasons
    assert "corpus file changed: wesp2021-digest.md" in reasons
    assert "corpus file added: extra.txt" in reasons
    other = make_settings(corpus_dir, embedding_model="hash:256")
    assert any("embedding model changed" in r for r in Assistant(other).status().reasons)
    data = Assistant(settings).status().to_json()
    assert set(data) >= {"fresh", "paragraphs", "chunks", "embedding_model", "built_at", "documents"}
    assert {d["doc_id"] for d in data["documents"]} == {"oped", "wesp2021-digest"}


def test_model_mismatch_and_missing_or_corrupt_index(corpus_dir, make_settings):
    settings = make_settings(corpus_dir)
    with pytest.raises(IndexMissingError, match="assistant index rebuild"):
        dense_search(Assistant(settings), "GDP")
    Assistant(settings).rebuild()
    with pytest.raises(IndexMismatchError, match=r"rebuild --full"):
        dense_search(Assistant(make_settings(corpus_dir, embedding_model="hash:256")), "GDP")
    (settings.index_dir / "manifest.json").write_text("{not json", "utf-8")
    with pytest.raises(IndexCorruptError, match=r"rebuild --full"):
        Assistant(settings).status()
    # a corrupt manifest does not stop a rebuild from producing a good index
    Assistant(settings).rebuild()
    assert Assistant(settings).status().fresh


def test_missing_version_directory_is_a_clear_error(corpus_dir, make_settings):
    import shutil

    settings = make_settings(corpus_dir)
    Assistant(settings).rebuild()
    shutil.rmtree(settings.index_dir / "versions")
    with pytest.raises(IndexCorruptError, match="rebuild --full"):
        dense_search(Assistant(settings), "GDP")


def test_lock_refuses_a_second_rebuild(corpus_dir, make_settings):
    settings = make_settings(corpus_dir)
    lock = acquire_lock(settings.index_dir)
    try:
        with pytest.raises(RebuildLockedError, match="Another rebuild is already running"):
            Assistant(settings).rebuild()
    finally:
        lock.release()
    Assistant(settings).rebuild()


def test_broken_file_is_skipped_and_the_rest_indexed(corpus_dir, make_settings):
    (corpus_dir / "broken.pdf").write_bytes(b"%PDF-1.7 truncated")
    settings = make_settings(corpus_dir)
    report = Assistant(settings).rebuild()
    assert any("broken.pdf" in w for w in report.warnings)
    manifest = read_manifest(settings.index_dir)
    assert manifest.skipped_files == ["broken.pdf"]
    assert {d["doc_id"] for d in manifest.documents} == {"oped", "wesp2021-digest"}
    assert Assistant(settings).status().fresh  # a skipped file does not make the index stale


@pytest.mark.slow
def test_end_to_end_with_the_bundled_model(corpus_dir, make_settings):
    settings = make_settings(corpus_dir, embedding_model=BUNDLED)
    assistant = Assistant(settings)
    report = assistant.rebuild()
    manifest = read_manifest(settings.index_dir)
    assert manifest.embedding_model == "all-MiniLM-L6-v2" and manifest.dim == 384
    assert (settings.index_dir / manifest.location / "chroma.sqlite3").exists()
    assert report.chunks_total == assistant.engine.index.collection.count()
    hits = dense_search(assistant, "How many people were pushed into poverty in Latin America?", 3)
    labels = [assistant.corpus.paragraph(pid).label for pid in hits]
    assert "WESP 2021 digest — Latin America and the Caribbean ¶5" in labels
    hits = dense_search(assistant, "What happened to the WTO Director-General selection?", 1)
    assert assistant.corpus.paragraph(hits[0]).text.startswith("2. Making the multilateral")
    stored = json.loads((settings.index_dir / "manifest.json").read_text())
    assert stored["chunking"]["max_tokens"] == 240


def test_status_sees_paragraphs_the_readers_now_produce_differently(corpus_dir, make_settings):
    from assistant.index.manifest import write_manifest

    settings = make_settings(corpus_dir)
    Assistant(settings).rebuild()
    manifest = read_manifest(settings.index_dir)
    dropped = next(iter(manifest.paragraphs))
    del manifest.paragraphs[dropped]  # as if an older reader had not produced this paragraph
    write_manifest(settings.index_dir, manifest)
    status = Assistant(settings).status()
    assert not status.fresh
    assert "1 paragraphs are not indexed" in status.reasons[0]
    Assistant(settings).rebuild()
    assert Assistant(settings).status().fresh


def test_stale_warning_is_cached_but_sees_a_corpus_edit(corpus_dir, make_settings):
    settings = make_settings(corpus_dir)
    assistant = Assistant(settings)
    assistant.rebuild()
    assert assistant._stale.warnings(assistant.status) == []
    assert assistant._stale.warnings(assistant.status) == []  # served from the cache
    (corpus_dir / "extra.md").write_text("# Extra\n\nNew text.\n", "utf-8")
    warning = assistant._stale.warnings(assistant.status)
    assert warning and "corpus file added: extra.md" in warning[0]


@pytest.mark.parametrize("content", ["[1, 2]", "not json", '{"schema": 1}', '"text"',
                                     '{"schema": 1, "version": "v"}', ""])
def test_a_malformed_manifest_is_one_clear_error_and_full_rebuild_recovers(
        corpus_dir, make_settings, content):
    from assistant.chat import Assistant
    from assistant.errors import IndexCorruptError
    from assistant.index.manifest import manifest_path, read_manifest

    settings = make_settings(corpus_dir)
    Assistant(settings).rebuild()
    manifest_path(settings.index_dir).write_text(content, encoding="utf-8")
    with pytest.raises(IndexCorruptError, match="assistant index rebuild --full"):
        read_manifest(settings.index_dir)
    report = Assistant(settings).rebuild(full=True)
    assert read_manifest(settings.index_dir).version == report.version


def test_every_stored_chunk_names_its_document(corpus_dir, make_settings):
    """llama-index reserves the `doc_id` metadata key for a node's source; the rebuild must set
    that source, or the document filter on dense search finds nothing."""
    settings = make_settings(corpus_dir)
    assistant = Assistant(settings)
    assistant.rebuild()
    stored = assistant.engine.index.collection.get(include=["metadatas"])["metadatas"]
    assert {m["doc_id"] for m in stored} == {d.doc_id for d in assistant.corpus.documents}
    assert all(m["paragraph_id"].startswith(m["doc_id"] + ":") for m in stored)
    wanted = "wesp2021-digest"
    hits = assistant.engine.retriever.dense(assistant.embedder.query_vector("world output"), [wanted])
    assert hits and all(pid.startswith(wanted + ":") for pid, _ in hits)
