"""Paragraph IDs survive edits, insertions and removals elsewhere in the document."""

from assistant.corpus.loader import load_corpus
from tests.conftest import OPED


def ids(corpus_dir):
    return {p.text[:40]: p.id for p in load_corpus(corpus_dir).paragraphs}


def test_ids_stable_under_unrelated_edit(corpus_dir):
    before = ids(corpus_dir)
    path = corpus_dir / OPED.name
    text = path.read_text("utf-8")
    edited = text.replace("The list of challenges is long.", "The list of challenges is very long.")
    assert edited != text
    path.write_text(edited, "utf-8")
    after = ids(corpus_dir)
    changed = [k for k in before if before[k] != after.get(k)]
    assert changed == ["In the coming months, renewed American e"]


def test_ids_stable_when_a_paragraph_is_inserted_and_one_removed(corpus_dir):
    before = ids(corpus_dir)
    path = corpus_dir / OPED.name
    text = path.read_text("utf-8")
    text = text.replace("The emphasis on unilateralism", "A new paragraph.\n\nThe emphasis on unilateralism")
    start = text.index("In the Americas,")
    end = text.index("\n\n", start)
    text = text[:start] + text[end + 2:]
    path.write_text(text, "utf-8")
    after = ids(corpus_dir)
    for key, pid in before.items():
        if key.startswith("In the Americas,"):
            assert key not in after
        else:
            assert after[key] == pid, key
    assert "A new paragraph." in after


def test_repeated_text_gets_distinct_ids():
    from assistant.corpus.loader import build_paragraphs
    from assistant.corpus.models import Block, Kind

    paras = build_paragraphs("d", "D", [Block("Same.", Kind.BODY), Block("Other.", Kind.BODY),
                                        Block("Same.", Kind.BODY)])
    assert len({p.id for p in paras}) == 3
    assert [p.label for p in paras] == ["D ¶1", "D ¶2", "D ¶3"]
