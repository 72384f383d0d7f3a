"""The perturbation suite, generated from the real corpus with the real spaCy pipeline.

The "is this combination stated anywhere?" recheck here is written independently of the
generator: the regex sentence splitter, plain case-insensitive whole-word matching of the
entity (with the section heading and the paragraph's lead label as context) and numeric
matching of the figure. The generator's own check is looser (any content word of the entity,
sentence plus the one before it), so everything it keeps must pass this one."""

from __future__ import annotations

import json
import re
from collections import Counter, defaultdict

import pytest

from assistant.corpus.models import Kind
from assistant.corpus.text import normalise, split_sentences
from assistant.evaluate.dataset import load_items, resolve_quote
from assistant.evaluate.perturb import generate, main, past_tense, write_jsonl
from tests.conftest import CORPUS

FIELDS = ("id", "split", "type", "question", "gold", "facts", "related", "reference",
          "perturbation", "group")
KINDS = ("entity", "figure", "year")
_NUMBER = re.compile(r"\d[\d,]*(?:\.\d+)?")
_BE_DO = re.compile(r"\b(is|are|was|were|does|do|did)\b", re.IGNORECASE)


@pytest.fixture(scope="module")
def nlp():
    from assistant.nlp import load_pipeline

    return load_pipeline()


@pytest.fixture(scope="module")
def items(corpus, nlp):
    return generate(corpus, nlp, seed=13)


@pytest.fixture(scope="module")
def groups(items):
    out = defaultdict(dict)
    for item in items:
        out[item["group"]][item["perturbation"]] = item
    return dict(out)


@pytest.fixture(scope="module")
def units(corpus, nlp):
    from assistant.evaluate.perturb import _parse, _units

    return _units(corpus, _parse(corpus, nlp))


@pytest.fixture(scope="module")
def contexts(corpus):
    """(lower-cased text, numbers) of every sentence of every paragraph, with its heading and
    its paragraph's lead label ("Africa (p. 88):")."""
    out = []
    for p in corpus.paragraphs:
        heading = p.section[-1] if p.section else ""
        lead = re.match(r"^([^:\n]{1,40}):\s", p.text)
        for sentence in split_sentences(p.text):
            text = normalise(f"{heading} | {lead.group(1) if lead else ''} | {sentence}").lower()
            out.append((text, {_value(m.group()) for m in _NUMBER.finditer(text)}))
    return out


def _value(text: str) -> float:
    return float(_NUMBER.search(text).group().rstrip(",").replace(",", ""))


def _mentions(text: str, phrase: str) -> bool:
    phrase = normalise(phrase).lower()
    return re.search(rf"(?<!\w){re.escape(phrase)}(?!\w)", text) is not None


def stated(contexts, claim: dict) -> bool:
    """Does any single sentence state every element of the claim?"""
    for text, nums in contexts:
        if claim.get("entity") and not _mentions(text, claim["entity"]):
            continue
        if claim.get("anchor") and not _mentions(text, claim["anchor"]):
            continue
        if claim.get("figure") and _value(claim["figure"]) not in nums:
            continue
        if claim.get("year") and not _mentions(text, claim["year"]):
            continue
        return True
    return False


def test_items_have_every_field_and_well_formed_ids(items, groups):
    assert items
    for item in items:
        assert set(FIELDS) <= set(item), item["id"]
        assert re.fullmatch(r"pert-\d{3}", item["group"])
        assert item["id"] == f"{item['group']}-{item['perturbation']}"
        assert item["perturbation"] in ("none", *KINDS)
        assert item["split"] in ("dev", "test")
        for field in ("gold", "facts", "related"):
            assert isinstance(item[field], list)
        q = item["question"]
        assert q.endswith("?") and q[0].isupper(), q
        assert "{" not in q and "  " not in q and " ," not in q and "None" not in q, q
        assert item["reference"]
    assert len({i["id"] for i in items}) == len(items)
    for n, (name, group) in enumerate(sorted(groups.items()), 1):
        assert name == f"pert-{n:03d}"
        assert "none" in group and len(group) >= 2
        assert {i["split"] for i in group.values()} == {"dev" if n % 2 else "test"}


def test_unperturbed_items_are_answerable_with_a_resolving_quote(corpus, groups):
    by_id = {p.id: p for p in corpus.paragraphs}
    for name, group in groups.items():
        item = group["none"]
        assert item["type"] in ("numeric", "single"), name
        assert len(item["gold"]) == 1 and len(item["facts"]) == 1 and item["related"] == []
        quote = item["gold"][0]
        para = by_id[resolve_quote(quote, corpus.paragraphs)]  # raises if 0 or 2+ paragraphs
        assert para.kind in (Kind.BODY, Kind.LIST_ITEM)
        assert quote in para.text and item["reference"] in para.text
        assert 8 <= len(quote.split()) <= 20, quote
        assert item["facts"][0][0] in quote, (item["facts"], quote)


def test_perturbed_items_are_false_premises_tied_to_the_same_quote(groups):
    for group in groups.values():
        none = group["none"]
        for kind in KINDS:
            item = group.get(kind)
            if item is None:
                continue
            assert item["type"] == "false_premise"
            assert item["gold"] == [] and item["facts"] == []
            assert item["related"] == none["gold"]
            assert item["reference"] == none["reference"]
            assert item["question"] != none["question"]


def test_every_kind_of_perturbation_occurs(items):
    kinds = Counter(i["perturbation"] for i in items)
    assert all(kinds[k] >= 1 for k in KINDS), kinds
    assert kinds["none"] >= 10
    assert {i["split"] for i in items} == {"dev", "test"}


def test_each_perturbation_swaps_exactly_one_element(groups):
    """Putting the original element back gives one and the same question for every
    perturbation of a group (up to is/are agreement)."""
    for name, group in groups.items():
        restored = set()
        for kind in KINDS:
            item = group.get(kind)
            if item is None:
                continue
            swap, q = item["swap"], normalise(item["question"])
            assert normalise(swap["to"]).lower() in q.lower(), (name, kind, q)
            assert normalise(swap["from"]).lower() not in q.lower(), (name, kind, q)
            back = re.sub(re.escape(normalise(swap["to"])), normalise(swap["from"]), q,
                          flags=re.IGNORECASE)
            restored.add(_BE_DO.sub("BE", back).lower())
        assert len(restored) <= 1, (name, restored)


def test_swapped_combinations_are_stated_nowhere_in_the_corpus(groups, contexts):
    """The independent recheck: no sentence (with heading and lead label) states the new
    combination, while the original one is stated (so the checker is not vacuous)."""
    for name, group in groups.items():
        original = group["none"]["claim"]
        assert stated(contexts, original), (name, original)
        for kind in KINDS:
            item = group.get(kind)
            if item is None:
                continue
            claim = item["claim"]
            assert not stated(contexts, claim), (item["id"], item["question"], claim)
            q = normalise(item["question"]).lower()
            for part in ("entity", "figure", "year", "anchor"):
                if claim.get(part):
                    assert normalise(claim[part]).lower() in q, (item["id"], part, claim)
            changed = {"entity": "entity", "figure": "figure", "year": "year"}[kind]
            assert claim[changed] != original[changed]
            for part in ("entity", "figure", "year", "anchor"):
                if part != changed and claim.get(part):
                    assert claim[part] == original[part], (item["id"], part)


def test_a_year_swap_keeps_entity_and_figure_and_checks_all_three(groups):
    for group in groups.values():
        if "year" in group:
            claim = group["year"]["claim"]
            assert claim["entity"] and claim["figure"] and claim["year"]


def test_a_figure_used_for_several_regions_blocks_those_swaps(groups, contexts):
    """3.4 per cent is stated for Africa (2020, and as the 2021 forecast) and for economies
    in transition (2020, in a later sentence under the lead label): none of those may come out
    as a perturbation."""
    assert stated(contexts, {"entity": "Africa", "figure": "3.4 per cent", "year": "2021"})
    assert stated(contexts, {"entity": "Economies in transition", "figure": "3.4 per cent",
                             "year": "2020"})
    seen = 0
    for group in groups.values():
        for kind in KINDS:
            claim = group.get(kind, {}).get("claim")
            if not claim or not claim.get("figure") or _value(claim["figure"]) != 3.4:
                continue
            seen += 1
            entity = normalise(claim["entity"]).lower()
            if kind == "entity":
                assert entity not in ("africa", "economies in transition"), claim
            if kind == "year" and entity == "africa":
                assert claim["year"] not in ("2020", "2021", "2022"), claim
            if kind == "year" and entity == "economies in transition":
                assert claim["year"] != "2020", claim
    assert seen


@pytest.mark.parametrize(("entity", "figure", "year", "expected"), [
    ("Africa", 3.4, None, True),
    ("Africa", 3.4, "2021", True),  # the forecast in the same sentence
    ("Africa", 3.4, "2019", False),
    ("East Asia", 3.4, None, False),
    ("Economies in transition", 3.4, "2020", True),  # lead label of the paragraph
    ("Latin America and the Caribbean", 8.0, None, True),  # op-ed's "8 per cent"
    ("Latin America and the Caribbean", 7614, "2020", True),  # only the heading names it
    ("Latin America and the Caribbean", 4.3, None, False),
    ("world gross product", 4.3, "2009", True),  # 2009 is in the next sentence: too close
    ("world gross product", 4.3, "2019", False),
])
def test_the_generators_own_check(units, entity, figure, year, expected):
    from assistant.evaluate.perturb import cooccurs, keys

    assert cooccurs(units, keys(entity), number=figure, year=year) is expected


def test_same_seed_same_suite_other_seed_other_order(corpus, nlp, items):
    assert generate(corpus, nlp, seed=13) == items
    other = generate(corpus, nlp, seed=14)
    assert other != items
    assert sorted(i["gold"][0] for i in other if i["perturbation"] == "none") == sorted(
        i["gold"][0] for i in items if i["perturbation"] == "none")


def test_limit_caps_the_groups_and_keeps_the_first_ones(corpus, nlp, items):
    few = generate(corpus, nlp, seed=13, limit=3)
    assert {i["group"] for i in few} == {"pert-001", "pert-002", "pert-003"}
    assert few == [i for i in items if i["group"] in {"pert-001", "pert-002", "pert-003"}]


def test_written_suite_loads_as_a_question_set(corpus, items, tmp_path):
    path = tmp_path / "perturbations.jsonl"
    write_jsonl(items, path)
    lines = path.read_text("utf-8").splitlines()
    assert [json.loads(line) for line in lines] == items
    loaded = load_items(corpus, "all", path)
    assert len(loaded) == len(items)
    assert sum(not i.answerable for i in loaded) == sum(
        i["type"] == "false_premise" for i in items)


def test_main_writes_the_file_and_prints_counts(tmp_path, capsys):
    out = tmp_path / "p.jsonl"
    assert main(["--corpus", str(CORPUS), "--out", str(out), "--seed", "13", "--limit", "4"]) == 0
    printed = capsys.readouterr().out
    assert "4 groups" in printed and "entity" in printed and "year" in printed
    assert len({json.loads(line)["group"] for line in out.read_text("utf-8").splitlines()}) == 4


def test_regular_past_tense_rule():
    assert [past_tense(v) for v in ("contract", "decline", "carry", "stay", "stop", "open",
                                    "visit", "slow")] == [
        "contracted", "declined", "carried", "stayed", "stopped", "opened", "visited", "slowed"]
