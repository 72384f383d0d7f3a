"""Bounded builds: a file with too many paragraphs is refused by name and nothing of it is
indexed; an unchanged corpus rebuilds to a no-op; the streamed sentence sidecar of an
incremental build matches a full build's."""

import json

import numpy as np

from assistant.chat import Assistant
from assistant.config import Settings
from assistant.corpus.loader import load_corpus
from assistant.index import sentences
from assistant.index.manifest import read_manifest
from assistant.nlp import load_pipeline


def write_many(corpus_dir, n: int) -> None:
    body = "\n\n".join(f"Paragraph number {i} of the long notes says output grew by {i} per cent."
                       for i in range(n))
    (corpus_dir / "many.md").write_text(f"# Long notes\n\n{body}\n", "utf-8")


def test_file_over_the_paragraph_limit_is_refused_by_name_and_nothing_of_it_indexed(
        corpus_dir, make_settings):
    write_many(corpus_dir, 60)  # 61 paragraphs with its heading; the real files have 18 and 31
    settings = make_settings(corpus_dir, max_paragraphs_per_file=50)
    assistant = Assistant(settings)
    report = assistant.rebuild()
    (warning,) = [w for w in report.warnings if "many.md" in w]
    assert "61 paragraphs" in warning and "50 paragraphs-per-file limit" in warning
    assert "ASSISTANT_MAX_PARAGRAPHS_PER_FILE" in warning
    manifest = read_manifest(settings.index_dir)
    assert manifest.skipped_files == ["many.md"]
    assert {d["doc_id"] for d in manifest.documents} == {"oped", "wesp2021-digest"}
    assert not any(pid.startswith("many:") for pid in manifest.paragraphs)
    rows = assistant.engine.index.collection.get(include=["metadatas"])["metadatas"]
    assert len(rows) == manifest.chunk_count
    assert {m["paragraph_id"].split(":")[0] for m in rows} == {"oped", "wesp2021-digest"}
    units = json.loads((sentences.sidecar_dir(settings.index_dir, manifest.version)
                        / "units.json").read_text("utf-8"))
    assert not any(e["id"].startswith("many:") for e in units["paragraphs"])


def test_the_paragraph_limit_is_configurable(corpus_dir, monkeypatch):
    write_many(corpus_dir, 60)
    assert "many.md" in load_corpus(corpus_dir, max_paragraphs_per_file=60).skipped
    assert load_corpus(corpus_dir, max_paragraphs_per_file=61).document("many") is not None
    monkeypatch.setenv("ASSISTANT_MAX_PARAGRAPHS_PER_FILE", "61")
    assert Settings().max_paragraphs_per_file == 61


def test_files_over_the_corpus_paragraph_limit_are_refused_by_name_in_name_order(corpus_dir):
    write_many(corpus_dir, 60)  # many.md (61) sorts before oped (18) and wesp2021-digest (31)
    corpus = load_corpus(corpus_dir, max_corpus_paragraphs=80)
    assert [d.doc_id for d in corpus.documents] == ["many", "oped"]
    assert corpus.skipped == ["wesp2021-digest.md"]
    (warning,) = corpus.warnings
    assert warning.startswith("wesp2021-digest.md: its 31 paragraphs would bring the corpus to 110")
    assert "80 corpus paragraph limit" in warning and "ASSISTANT_MAX_CORPUS_PARAGRAPHS" in warning
    assert len(load_corpus(corpus_dir, max_corpus_paragraphs=110).documents) == 3


def test_the_assistant_reads_the_corpus_with_the_configured_limits(corpus_dir, make_settings):
    write_many(corpus_dir, 60)
    assistant = Assistant(make_settings(corpus_dir, max_paragraphs_per_file=50))
    assert assistant.corpus.skipped == ["many.md"]
    assistant.rebuild()
    assert Assistant(make_settings(corpus_dir, max_paragraphs_per_file=50)).status().fresh


def test_raising_the_limit_brings_the_refused_file_in(corpus_dir, make_settings):
    write_many(corpus_dir, 60)
    Assistant(make_settings(corpus_dir, max_paragraphs_per_file=50)).rebuild()
    report = Assistant(make_settings(corpus_dir, max_paragraphs_per_file=100)).rebuild()
    assert not report.unchanged and len(report.added) == 61
    assert "many.md" not in read_manifest(make_settings(corpus_dir).index_dir).skipped_files


def test_unchanged_corpus_rebuild_is_a_no_op_and_an_edit_is_not(corpus_dir, make_settings):
    settings = make_settings(corpus_dir)
    first = Assistant(settings).rebuild()
    versions = sorted(p.name for p in (settings.index_dir / "versions").iterdir())
    again = Assistant(settings).rebuild()
    assert again.unchanged and again.version == first.version and again.chunks_embedded == 0
    assert sorted(p.name for p in (settings.index_dir / "versions").iterdir()) == versions
    assert read_manifest(settings.index_dir).version == first.version
    path = corpus_dir / "wesp2021-digest.md"
    path.write_text(path.read_text("utf-8").replace("4.3 per cent", "4.4 per cent", 1), "utf-8")
    edited = Assistant(settings).rebuild()
    assert not edited.unchanged and len(edited.changed) == 1 and edited.version != first.version
    assert Assistant(settings).rebuild(full=True).chunks_reused == 0


def test_incremental_sidecar_matches_a_full_build(corpus_dir, make_settings, tmp_path):
    path = corpus_dir / "wesp2021-digest.md"
    settings = make_settings(corpus_dir)
    Assistant(settings).rebuild()
    path.write_text(path.read_text("utf-8").replace("4.3 per cent", "4.4 per cent", 1), "utf-8")
    incremental = Assistant(settings).rebuild()
    assert incremental.changed
    full_settings = make_settings(corpus_dir, index_dir=tmp_path / "full-index")
    Assistant(full_settings).rebuild(full=True)
    nlp = load_pipeline(settings.spacy_pipeline)

    def store(s):
        m = read_manifest(s.index_dir)
        return sentences.load(sentences.sidecar_dir(s.index_dir, m.version), nlp, m.model_fingerprint)

    a, b = store(settings), store(full_settings)
    assert a.units.keys() == b.units.keys()
    for pid, units in a.units.items():
        other = b.units[pid]
        assert [u.text for u in units] == [u.text for u in other]
        assert np.allclose(np.stack([u.vector for u in units]), np.stack([u.vector for u in other]))
        assert [(t.text, t.tag_, t.dep_, t.lemma_) for t in a.docs[pid]] == \
               [(t.text, t.tag_, t.dep_, t.lemma_) for t in b.docs[pid]]
