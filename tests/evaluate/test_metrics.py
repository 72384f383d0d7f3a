"""Metrics on small hand-made cases with known results (lexical support judge, no model)."""

from __future__ import annotations

import math

import pytest

from assistant.answer.types import Answer, Citation, Sentence
from assistant.evaluate.dataset import Item
from assistant.evaluate.metrics import (
    GAP_METRICS,
    SupportJudge,
    by_type,
    crag_score,
    dev_test_gap,
    facts_found,
    gap_failures,
    gate_failures,
    mrr_at,
    ndcg_at,
    outcome,
    paraphrase_consistency,
    percentile,
    perturbation_summary,
    recall_at,
    refusal_checks,
    score_item,
    summarise,
)
from tests.evaluate.fake_results import group_rows, make_row

P1 = "World gross product is estimated to have contracted by 4.3 per cent in 2020."
P2 = "Developed economies were hit hardest, with output down an estimated 5.6 per cent in 2020."
P3 = "The report describes the pandemic as a once-in-a-century crisis."


def item(type_="numeric", gold=("d:1",), facts=(("4.3 per cent",),)) -> Item:
    return Item("t-1", "test", type_, "How much did world output fall?", (),
                facts if type_ not in ("unanswerable", "false_premise") else (), "",
                gold if type_ not in ("unanswerable", "false_premise") else (), ())


def citation(n: int, pid: str, text: str) -> Citation:
    return Citation(n, pid, "d", "Doc", f"¶{n}", None, "", text, 1.0)


def answer(sentences: list[tuple[str, list[int]]], cites: list[Citation], refused=False) -> Answer:
    return Answer("q", [Sentence(t, c) for t, c in sentences], cites, refused, "test")


@pytest.fixture
def judge():
    return SupportJudge(embed=None)


def test_ranking_with_gold_at_rank_two():
    ranking = ["d:9", "d:1", "d:7"]
    assert mrr_at(ranking, {"d:1"}) == 0.5
    assert recall_at(ranking, {"d:1"}, 1) == 0 and recall_at(ranking, {"d:1"}, 3) == 1
    assert ndcg_at(ranking, {"d:1"}) == pytest.approx(1 / math.log2(3))
    assert recall_at(ranking, {"d:1", "d:2"}, 3) == 0.5
    assert mrr_at(["d:9"] * 10 + ["d:1"], {"d:1"}) == 0.0  # beyond rank 10


def test_ndcg_is_one_for_a_perfect_ranking():
    assert ndcg_at(["a", "b", "c"], {"a", "b"}) == pytest.approx(1.0)


def test_key_facts_match_normalised_and_case_insensitive():
    text = "Output fell 4.3 Per Cent; Okonjo‑Iweala’s bid."
    assert facts_found([["4.3 per cent"], ["okonjo-iweala's"], ["5.6 per cent", "5.6%"]],
                       text.replace("‑", "-")) == [True, True, False]


def test_crag_scores():
    assert crag_score(answerable=False, refused=True, all_facts=False) == 1
    assert crag_score(answerable=False, refused=False, all_facts=False) == -1
    assert crag_score(answerable=True, refused=True, all_facts=False) == 0
    assert crag_score(answerable=True, refused=False, all_facts=True) == 1
    assert crag_score(answerable=True, refused=False, all_facts=False) == -1


def test_a_refused_unanswerable_scores_plus_one(judge):
    scores = score_item(item("unanswerable"), answer([], [citation(1, "d:1", P1)], refused=True),
                        ["d:1"], judge)
    assert scores["crag_score"] == 1 and scores["refusal_rate"] == 1.0
    assert scores["recall_at_3"] is None and scores["citation_recall"] is None


def test_a_correct_cited_answer(judge):
    a = answer([(P1, [1])], [citation(1, "d:1", P1)])
    scores = score_item(item(), a, ["d:1", "d:2"], judge)
    assert scores["crag_score"] == 1 and scores["key_fact_recall"] == 1.0
    assert scores["gold_citation_precision"] == 1.0 and scores["gold_citation_recall"] == 1.0
    assert scores["citation_recall"] == 1.0 and scores["citation_precision"] == 1.0
    assert scores["faithfulness"] == 1.0 and scores["unsupported_numbers"] == 0
    assert scores["false_refusal_rate"] == 0.0 and scores["refusal_rate"] is None


def test_a_changed_number_counts_one_unsupported_number(judge):
    changed = P1.replace("4.3", "4.8")
    scores = score_item(item(), answer([(changed, [1])], [citation(1, "d:1", P1)]), ["d:1"], judge)
    assert scores["unsupported_numbers"] == 1
    assert scores["faithfulness"] == 0.0
    assert scores["crag_score"] == -1 and scores["key_fact_recall"] == 0.0


def test_an_irrelevant_extra_citation_halves_alce_precision(judge):
    a = answer([(P1, [1, 2])], [citation(1, "d:1", P1), citation(2, "d:3", P3)])
    scores = score_item(item(), a, ["d:1"], judge)
    assert scores["citation_recall"] == 1.0 and scores["citation_precision"] == 0.5
    assert scores["gold_citation_precision"] == 0.5 and scores["gold_citation_recall"] == 1.0


def test_a_sentence_needing_both_citations_keeps_both(judge):
    both = "World gross product contracted by 4.3 per cent and developed economies by 5.6 per cent."
    a = answer([(both, [1, 2])], [citation(1, "d:1", P1), citation(2, "d:2", P2)])
    scores = score_item(item(gold=("d:1", "d:2")), a, ["d:1", "d:2"], judge)
    assert scores["citation_recall"] == 1.0 and scores["citation_precision"] == 1.0


def test_an_unsupported_sentence_earns_neither_recall_nor_precision(judge):
    a = answer([(P3, [1])], [citation(1, "d:1", P1)])
    scores = score_item(item(), a, ["d:1"], judge)
    assert scores["citation_recall"] == 0.0 and scores["citation_precision"] == 0.0
    assert scores["faithfulness"] == 0.0


def test_a_refused_answerable_is_a_false_refusal(judge):
    scores = score_item(item(), answer([], [], refused=True), ["d:1"], judge)
    assert scores["crag_score"] == 0 and scores["false_refusal_rate"] == 1.0
    assert scores["gold_citation_precision"] is None and scores["key_fact_recall"] == 0.0


def test_aggregation_overall_and_by_type(judge):
    rows = [
        {"type": "numeric", "latency_ms": 10.0,
         "scores": score_item(item(), answer([(P1, [1])], [citation(1, "d:1", P1)]), ["d:1"], judge)},
        {"type": "numeric", "latency_ms": 30.0,
         "scores": score_item(item(), answer([], [], refused=True), ["d:2", "d:1"], judge)},
        {"type": "unanswerable", "latency_ms": 20.0,
         "scores": score_item(item("unanswerable"), answer([], [], refused=True), [], judge)},
    ]
    overall = summarise(rows)
    m = overall["metrics"]
    assert overall["n"] == 3 and overall["counts"]["recall_at_1"] == 2
    assert m["recall_at_1"] == 0.5 and m["mrr_at_10"] == 0.75
    assert m["false_refusal_rate"] == 0.5 and m["refusal_rate"] == 1.0
    assert m["crag_score"] == pytest.approx(2 / 3)
    assert m["latency_p50_ms"] == 20.0 and m["latency_p95_ms"] == 30.0
    types = by_type(rows)
    assert types["numeric"]["metrics"]["crag_score"] == 0.5
    assert types["unanswerable"]["metrics"]["recall_at_3"] is None


def test_percentile_nearest_rank():
    assert percentile([5, 1, 3, 2, 4], 0.5) == 3 and percentile([1, 2], 0.95) == 2


def test_gate_failures():
    metrics = {"recall_at_3": 0.8, "false_refusal_rate": 0.1, "crag_score": None}
    assert gate_failures(metrics, {"min": {"recall_at_3": 0.7}, "max": {"false_refusal_rate": 0.2}}) == []
    failures = gate_failures(metrics, {"min": {"recall_at_3": 0.9, "crag_score": 0.1},
                                       "max": {"false_refusal_rate": 0.05}})
    assert len(failures) == 3 and failures[0].startswith("recall_at_3 = 0.800")


# -- paraphrase consistency, refusal checks, perturbations, dev-test gap ---------------------
def test_outcome_is_refused_and_facts_for_answerable_refused_only_otherwise():
    assert outcome(make_row("a")) == (False, True)
    assert outcome(make_row("a", facts=False)) == (False, False)
    assert outcome(make_row("a", refused=True)) == (True, False)
    assert outcome(make_row("u", type_="unanswerable", refused=True)) == (True,)
    assert outcome(make_row("u", type_="unanswerable")) == (False,)


def test_a_group_with_the_same_outcomes_is_consistent():
    rows = group_rows("num-01") + group_rows("unans-01", type_="unanswerable",
                                             outcomes=({"refused": True}, {"refused": True},
                                                       {"refused": True, "check": "off_topic"}))
    pc = paraphrase_consistency(rows)
    assert pc == {"value": 1.0, "groups": 2, "consistent": 2, "inconsistent": []}


def test_a_group_with_mixed_outcomes_is_inconsistent():
    refused_one = group_rows("num-01", outcomes=({}, {}, {"refused": True}))
    facts_missing = group_rows("num-02", outcomes=({}, {"facts": False}, {}))
    answered_one = group_rows("unans-01", type_="unanswerable",
                              outcomes=({"refused": True}, {}, {"refused": True}))
    same = group_rows("num-03", outcomes=({"facts": False}, {"facts": False}, {"facts": False}))
    pc = paraphrase_consistency(refused_one + facts_missing + answered_one + same)
    assert pc["groups"] == 4 and pc["consistent"] == 1
    assert pc["inconsistent"] == ["num-01", "num-02", "unans-01"]
    assert pc["value"] == 0.25


def test_consistency_ignores_singletons_and_perturbation_groups():
    rows = [make_row("fp2-01", type_="false_premise"),
            make_row("pert-001-none", group="pert-001", perturbation="none"),
            make_row("pert-001-year", type_="false_premise", group="pert-001", perturbation="year",
                     refused=True)]
    assert paraphrase_consistency(rows) == {"value": None, "groups": 0, "consistent": 0,
                                            "inconsistent": []}


def test_summarise_reports_paraphrase_consistency_over_groups():
    rows = group_rows("num-01") + group_rows("num-02", outcomes=({}, {"refused": True}, {}))
    summary = summarise(rows)
    assert summary["metrics"]["paraphrase_consistency"] == 0.5
    assert summary["counts"]["paraphrase_consistency"] == 2
    assert summarise(rows, consistency=False)["metrics"]["paraphrase_consistency"] is None


def test_refusal_checks_are_counted_separately_for_answerable_and_unanswerable():
    rows = [make_row("a1", refused=True, check="answer_type_absent"),
            make_row("a2", refused=True, check="answer_type_absent"),
            make_row("a3", refused=True, check="off_topic"),
            make_row("a4"),
            make_row("u1", type_="unanswerable", refused=True, check="unknown_subject"),
            make_row("u2", type_="false_premise", refused=True, check="premise_mismatch"),
            make_row("u3", type_="false_premise", refused=True),  # no check named
            make_row("u4", type_="false_premise")]
    checks = refusal_checks(rows)
    assert checks["answerable"] == {"n": 4, "refused": 3,
                                    "by_check": {"answer_type_absent": 2, "off_topic": 1}}
    assert checks["unanswerable"]["n"] == 4 and checks["unanswerable"]["refused"] == 3
    assert checks["unanswerable"]["by_check"] == {"premise_mismatch": 1, "unknown_subject": 1,
                                                  "unspecified": 1}
    assert list(checks["answerable"]["by_check"]) == ["answer_type_absent", "off_topic"]


def test_perturbation_summary_by_kind():
    rows = [make_row("p1-none", group="p1", perturbation="none"),
            make_row("p2-none", group="p2", perturbation="none", refused=True, check="weak_evidence"),
            make_row("p1-entity", type_="false_premise", group="p1", perturbation="entity",
                     refused=True, check="subject_not_found"),
            make_row("p1-year", type_="false_premise", group="p1", perturbation="year"),
            make_row("p2-year", type_="false_premise", group="p2", perturbation="year",
                     refused=True, check="figure_not_bound")]
    s = perturbation_summary(rows)
    assert list(s["by_kind"]) == ["none", "entity", "year"]
    assert s["by_kind"]["none"] == {"n": 2, "refused": 1, "answered": 1, "correct": 1,
                                    "refused_share": 0.5, "answered_share": 0.5,
                                    "correct_share": 0.5}
    assert s["by_kind"]["year"]["refused"] == 1 and s["by_kind"]["entity"]["correct"] == 1
    assert s["refusal_rate"] == pytest.approx(2 / 3) and s["answered_rate"] == 0.5
    assert s["refusal_checks"]["answerable"]["by_check"] == {"weak_evidence": 1}


def test_dev_test_gap_is_absolute_and_none_when_a_split_lacks_the_metric():
    dev = {"key_fact_recall": 0.9, "refusal_rate": 0.5, "false_refusal_rate": 0.02,
           "paraphrase_consistency": None, "citation_precision": 0.95}
    test = {"key_fact_recall": 0.8, "refusal_rate": 0.7, "false_refusal_rate": 0.02,
            "paraphrase_consistency": 0.8}
    gap = dev_test_gap(dev, test)
    assert list(gap) == list(GAP_METRICS)
    assert gap["key_fact_recall"] == pytest.approx(0.1) and gap["refusal_rate"] == pytest.approx(0.2)
    assert gap["false_refusal_rate"] == 0.0
    assert gap["paraphrase_consistency"] is None and gap["citation_precision"] is None


def test_gap_failures():
    gaps = {"key_fact_recall": 0.12, "refusal_rate": 0.03, "citation_precision": None}
    assert gap_failures(gaps, {"refusal_rate": 0.05}) == []
    failures = gap_failures(gaps, {"key_fact_recall": 0.1, "citation_precision": 0.05,
                                   "refusal_rate": 0.05})
    assert len(failures) == 2 and failures[0].startswith("key_fact_recall: |dev - test| = 0.120")
    assert "not measured" in failures[1]
