"""The runner without the model: set classification, result rows, the per-split aggregation
(fabricated rows), the items of a split, and the ranking query of AssistantSystem."""

from __future__ import annotations

from collections import Counter
from types import SimpleNamespace

import pytest

from assistant.evaluate.runner import (
    HAND_WRITTEN,
    AssistantSystem,
    eval_items,
    item_set,
    result_row,
    summarise_results,
)
from tests.conftest import ROOT
from tests.evaluate.fake_results import fabricated_rows, make_answer, make_item, make_row

QA = ROOT / "eval" / "qa.jsonl"


def test_set_classification():
    assert item_set(make_item("single-01")) == "original"
    assert item_set(make_item("fp-03", type_="false_premise")) == "original"
    assert item_set(make_item("single-01-p1", paraphrase_of="single-01")) == "paraphrase"
    assert item_set(make_item("fp2-07", type_="false_premise")) == "false_premise_new"
    assert item_set(make_item("pert-004-none", group="pert-004", perturbation="none")) == "perturbation"
    assert item_set(make_item("pert-004-year", type_="false_premise", group="pert-004",
                              perturbation="year")) == "perturbation"


def test_a_row_records_set_split_group_and_the_refusal_check():
    item = make_item("num-01-p2", split="dev", paraphrase_of="num-01")
    row = result_row(item, make_answer(refused=True, check="answer_type_absent"), ["d:1"], {})
    assert (row["set"], row["split"], row["group"]) == ("paraphrase", "dev", "num-01")
    assert row["refused"] is True and row["refusal_check"] == "answer_type_absent"
    assert row["answer"]["refusal"]["check"] == "answer_type_absent"
    assert row["answerable"] is True and row["paraphrase_of"] == "num-01"
    assert make_row("x")["refusal_check"] is None


def test_results_per_split_and_the_gated_overall():
    rows = fabricated_rows()
    res = summarise_results(rows, "all")
    assert res["n"] == len(rows) == 20 and res["n_hand_written"] == 14
    assert list(res["splits"]) == ["dev", "test"] and res["overall_split"] == "test"
    test = res["splits"]["test"]
    # the gate reads the test split's hand-written items: originals, paraphrases, new false premises
    assert res["overall"]["n"] == test["n"] == 7
    assert res["overall"]["metrics"] == test["metrics"]
    m = test["metrics"]
    assert m["false_refusal_rate"] == pytest.approx(1 / 3) and m["refusal_rate"] == 0.75
    assert m["paraphrase_consistency"] == 0.5
    assert res["splits"]["dev"]["metrics"]["paraphrase_consistency"] == 1.0
    assert {k: v["n"] for k, v in test["by_set"].items()} == {
        "original": 2, "paraphrase": 4, "false_premise_new": 1, "perturbation": 3}
    assert test["paraphrase_consistency"]["inconsistent"] == ["num-t1"]
    assert test["refusal_checks"]["answerable"]["by_check"] == {"answer_type_absent": 1}
    assert test["refusal_checks"]["unanswerable"] == {
        "n": 4, "refused": 3, "by_check": {"unknown_subject": 2, "off_topic": 1}}
    assert test["perturbations"]["refusal_rate"] == 0.5
    assert test["perturbations"]["answered_rate"] == 1.0
    assert sum(t["n"] for t in res["by_type"].values()) == 7
    gap = res["dev_test_gap"]
    assert gap["paraphrase_consistency"] == 0.5 and gap["refusal_rate"] == 0.25
    assert gap["false_refusal_rate"] == pytest.approx(1 / 3) and gap["citation_precision"] == 0.0


def test_one_split_has_no_gap_and_dev_alone_is_gated_on_dev():
    dev_rows = [r for r in fabricated_rows() if r["split"] == "dev"]
    res = summarise_results(dev_rows, "dev")
    assert res["overall_split"] == "dev" and list(res["splits"]) == ["dev"]
    assert res["overall"]["n"] == 7 and res["dev_test_gap"] == {}
    test_rows = [r for r in fabricated_rows() if r["split"] == "test"]
    assert summarise_results(test_rows, "test")["overall_split"] == "test"


def test_eval_items_are_the_split_plus_its_perturbations(corpus):
    from assistant.nlp import load_pipeline

    assistant = SimpleNamespace(corpus=corpus, nlp=load_pipeline())
    everything = eval_items(assistant, "all", QA)
    sets = Counter(item_set(i) for i in everything)
    assert sets["original"] >= 120 and sets["paraphrase"] >= 2 * 120
    assert sets["false_premise_new"] > 0 and sets["perturbation"] > 0
    test = eval_items(assistant, "test", QA)
    assert {i.split for i in test} == {"test"} and any(item_set(i) == "perturbation" for i in test)
    assert len(test) + len(eval_items(assistant, "dev", QA)) == len(everything)
    assert not any(item_set(i) == "perturbation" for i in eval_items(assistant, "test", QA, False))
    assert set(HAND_WRITTEN) | {"perturbation"} == set(sets)


def test_the_ranking_is_searched_with_the_analysed_resolved_question():
    seen = {}

    class Retriever:
        def search(self, query, k):
            seen["query"], seen["k"] = query, k
            return [SimpleNamespace(paragraph_id="d:2"), SimpleNamespace(paragraph_id="d:1")]

    def ask(question, history, backend):
        answer = make_answer()
        answer.resolved_question = "What about Africa in 2020?"
        return answer

    def analyse(question, history=None):
        seen["analysed"] = (question, history)
        return SimpleNamespace(resolved=question)

    fake = SimpleNamespace(ask=ask, analyse=analyse, engine=SimpleNamespace(retriever=Retriever()))
    _, ranking = AssistantSystem(fake).run(make_item("fu-01"))
    assert ranking == ["d:2", "d:1"] and seen["k"] == 10
    assert seen["analysed"] == ("What about Africa in 2020?", None)  # history already resolved
    assert seen["query"].resolved == "What about Africa in 2020?"
