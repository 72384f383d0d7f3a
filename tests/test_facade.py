"""The Assistant facade: the index-dependent parts are built together and replaced together
after a rebuild; backends come from one registry keyed by the setting's values; document
filters name what they accept."""

from typing import get_args

import pytest

from assistant.answer.llm import LLM_BACKENDS, Backends
from assistant.chat import Assistant
from assistant.config import BackendName, Settings
from assistant.errors import AssistantError
from tests.conftest import OPED


def test_a_rebuild_replaces_the_corpus_and_every_index_dependent_part_together(
        corpus_dir, make_settings):
    assistant = Assistant(make_settings(corpus_dir))
    assistant.rebuild()
    before = assistant.engine
    assert before is assistant.engine  # built once
    assert before.corpus is assistant.corpus
    assert assistant.ask("How many people were pushed into poverty in Latin America?").citations

    (corpus_dir / OPED.name).write_text(OPED.read_text("utf-8").replace(
        "multilateralism", "cooperation among many nations"), "utf-8")
    assistant.rebuild()
    after = assistant.engine
    assert after is not before
    assert after.index.manifest.version != before.index.manifest.version
    assert after.corpus is assistant.corpus is not before.corpus
    edited = next(p.id for p in after.corpus.paragraphs
                  if "cooperation among many nations" in p.text)
    assert "cooperation among many nations" in after.retriever.passage(edited).text
    assert "cooperation among many nations" in after.sentences.docs[edited].text
    assert before.corpus.paragraph(edited) is None  # the edit gave the paragraph a new ID


def test_every_llm_backend_setting_has_a_maker_in_the_registry():
    assert set(LLM_BACKENDS) | {"extractive"} == set(get_args(BackendName))


def test_an_unknown_backend_names_the_valid_ones(tmp_path):
    backends = Backends(Settings(corpus_dir=tmp_path, index_dir=tmp_path / "index",
                                 local_model_path=str(tmp_path / "missing.gguf")))
    with pytest.raises(AssistantError, match="extractive, openai, local"):
        backends.get("gpt")
    assert backends.ready("extractive") == (None, [])
    llm, warnings = backends.ready("openai")  # not configured: a warning, not an error
    assert llm is None and "ASSISTANT_LLM_BASE_URL" in warnings[0]
    assert backends.available() == ["extractive"]  # the local model file does not exist


def test_a_document_filter_names_what_it_accepts(corpus_dir, make_settings):
    corpus = Assistant(make_settings(corpus_dir)).corpus
    assert corpus.select(None) is None and corpus.select("all") is None
    assert corpus.select("oped") == ["oped"]
    assert corpus.select("report") == corpus.select("wesp") == ["wesp2021-digest"]
    with pytest.raises(AssistantError, match="Use one of: all, report, oped"):
        corpus.select("opinion")


def test_the_document_filter_choices_come_from_the_corpus_metadata(corpus_dir, make_settings):
    corpus = Assistant(make_settings(corpus_dir)).corpus
    assert corpus.filters() == [("All documents", "all"), ("Op-ed", "oped"), ("UN report", "report")]
    for choice in corpus.filters():
        corpus.select(choice[1])  # every choice is a filter the corpus accepts
    (corpus_dir / "wesp2021-digest.md").unlink()
    (corpus_dir / "notes.md").write_text("---\ntitle: Field notes\n---\n\nSome text.\n", "utf-8")
    corpus = Assistant(make_settings(corpus_dir)).corpus
    assert corpus.filters() == [("All documents", "all"), ("Field notes", "notes"),
                                ("Op-ed", "oped")]  # files in name order; no report left
