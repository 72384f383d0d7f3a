"""The question set against the real corpus: every quote resolves, splits and type counts."""

from __future__ import annotations

import json
from collections import Counter

import pytest

from assistant.evaluate.dataset import DatasetError, load_items, match_key, resolve_quote
from tests.conftest import ROOT

QA = ROOT / "eval" / "qa.jsonl"


@pytest.fixture(scope="module")
def items(corpus):
    return load_items(corpus, "all", QA)


def test_every_quote_resolves_to_exactly_one_paragraph(corpus):
    raw = [json.loads(line) for line in QA.read_text("utf-8").splitlines() if line.strip()]
    ids = {p.id for p in corpus.paragraphs}
    for item in raw:
        for quote in item.get("gold", []) + item.get("related", []):
            assert resolve_quote(quote, corpus.paragraphs) in ids, (item["id"], quote)


def test_gold_paragraphs_are_real_and_answerable_items_have_gold(items, corpus):
    ids = {p.id for p in corpus.paragraphs}
    for item in items:
        assert set(item.gold) <= ids and set(item.related) <= ids
        assert bool(item.gold) == item.answerable, item.id
        assert not item.answerable or item.facts, item.id


def test_splits_partition_the_set(corpus, items):
    dev, test = load_items(corpus, "dev", QA), load_items(corpus, "test", QA)
    assert dev and test
    assert {i.split for i in dev} == {"dev"} and {i.split for i in test} == {"test"}
    assert sorted(i.id for i in dev + test) == sorted(i.id for i in items)
    with pytest.raises(DatasetError, match="Unknown split"):
        load_items(corpus, "train", QA)


def test_type_counts_reach_the_required_minimums(items):
    types = Counter(i.type for i in items)
    assert len(items) >= 80
    assert types["unanswerable"] + types["false_premise"] >= 20
    assert types["cross_doc"] >= 10
    assert len({i.id for i in items}) == len(items)


def test_bullets_and_typography_are_unified():
    assert match_key("• Opinion • 9 Feb 2021") == match_key("Opinion · 9 Feb 2021")
    assert match_key("predecessor’s") == match_key("predecessor's")


def test_a_broken_quote_is_an_error_naming_item_and_quote(corpus, tmp_path):
    bad = tmp_path / "qa.jsonl"
    bad.write_text(json.dumps({"id": "x-1", "split": "dev", "type": "single", "question": "Q?",
                               "gold": ["a sentence that is in no paragraph"],
                               "facts": [["x"]]}) + "\n", "utf-8")
    with pytest.raises(DatasetError, match=r"x-1: gold quote 'a sentence that is in no paragraph'"):
        load_items(corpus, "all", bad)


def test_an_ambiguous_quote_is_an_error(corpus):
    with pytest.raises(ValueError, match="matches .* paragraphs"):
        resolve_quote("per cent", corpus.paragraphs)
