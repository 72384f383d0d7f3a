"""Chunks never cross paragraphs; long paragraphs split at sentences within the window."""

from assistant.corpus.loader import load_corpus
from assistant.index.chunks import chunk_corpus


def test_every_chunk_fits_the_window_and_keeps_its_paragraph(corpus, real_embedder):
    chunks = chunk_corpus(corpus, real_embedder.count_tokens, 240)
    by_para = {}
    for c in chunks:
        assert real_embedder.count_tokens(c.embed_text) + 2 <= 240
        assert c.text in c.paragraph.search_text  # a chunk is a piece of one paragraph
        by_para.setdefault(c.paragraph.id, []).append(c)
    assert set(by_para) == {p.id for p in corpus.paragraphs}
    for parts in by_para.values():
        assert " ".join(c.text for c in parts) == parts[0].paragraph.search_text


def test_long_paragraph_splits_at_sentence_boundaries(corpus, real_embedder):
    chunks = chunk_corpus(corpus, real_embedder.count_tokens, 120)
    item = [c for c in chunks if c.paragraph.text.startswith("1. Supporting")]
    assert len(item) >= 2
    assert len({c.paragraph.id for c in item}) == 1
    assert [c.id for c in item] == [f"{item[0].paragraph.id}#{i}" for i in range(len(item))]
    for c in item:
        assert c.text.endswith((".", ":", "?", "!")), c.text[-30:]


def test_chunks_carry_title_and_section_as_context(corpus_dir, real_embedder):
    corpus = load_corpus(corpus_dir)
    chunk = next(c for c in chunk_corpus(corpus, real_embedder.count_tokens, 240)
                 if c.text.startswith("Real GDP in the region"))
    assert chunk.embed_text.startswith("title: World Economic Situation and Prospects 2021")
    assert "section: Latin America and the Caribbean (chapter III, p. 116)" in chunk.embed_text
