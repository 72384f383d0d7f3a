"""The refusal policy, check by check, in both directions: each named check fires on the
questions it is for and stays silent on answerable ones (real corpus, real model and index)."""

import pytest

from assistant.answer import policy

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def evidence(real_assistant):
    def make(question: str):
        query = real_assistant.analyse(question)
        return real_assistant.engine.extractive.evidence(query, real_assistant.engine.retriever.search(query))
    return make


ANSWERABLE = [
    "How many people were pushed into poverty in Latin America?",
    "What did the US block at the WTO last October?",
    "Why did Latin America's economy collapse in 2020?",
    "Who led the independent panel on the WHO?",
    "By how much did world gross product contract in 2020?",
    "What does the op-ed say about the WTO Appellate Body?",
]


@pytest.mark.parametrize("check", [c.__name__ for c in policy.POLICY])
@pytest.mark.parametrize("question", ANSWERABLE)
def test_no_check_fires_on_answerable_questions(evidence, check, question):
    assert getattr(policy, check)(evidence(question)) is None


@pytest.mark.parametrize("question, name", [
    ("Why did Emmanuel Macron praise the G20?", "Emmanuel Macron"),
    ("What did the IMF's chief economist Gita Gopinath forecast?", "Gita Gopinath"),
])
def test_unknown_subject_fires(evidence, question, name):
    verdict = policy.unknown_subject(evidence(question))
    assert verdict is not None and name in verdict.refusal.detail


@pytest.mark.parametrize("question", [
    "What happened to the WTO Appellate Body?",  # WTO <-> World Trade Organization´s
    "How did Latin American economies fare?",  # a demonym of a corpus name
    "What did the World Trade Organization's members do?",
])
def test_unknown_subject_knows_acronyms_demonyms_possessives(evidence, question):
    assert policy.unknown_subject(evidence(question)) is None


def test_off_topic_fires_only_when_no_word_is_known(evidence):
    assert policy.off_topic(evidence("What does the brief say about cryptocurrency regulation?"))
    assert policy.off_topic(evidence("What does the brief say about quantum cryptography?"))
    assert policy.off_topic(evidence("What does the brief say about vaccine regulation?")) is None


@pytest.mark.parametrize("question, said", [
    ("Why did Mexico block Okonjo-Iweala?", "the US blocked"),
    ("Why did Okonjo-Iweala withdraw?", "Yoo’s recent withdrawal"),
    ("How many people were pushed into poverty in Africa?", "45 million people"),
])
def test_premise_mismatch_fires_with_a_correction(evidence, question, said):
    verdict = policy.premise_mismatch(evidence(question))
    assert verdict is not None and verdict.refusal.check == "premise_mismatch"
    assert verdict.correction and said in verdict.correction[0].text


@pytest.mark.parametrize("question", [
    "Why did the US block Okonjo-Iweala?",
    "Why did Yoo withdraw from the WTO race?",
    "How many people were pushed into poverty in Latin America and the Caribbean?",
])
def test_premise_mismatch_stays_silent_when_the_premise_holds(evidence, question):
    assert policy.premise_mismatch(evidence(question)) is None


@pytest.mark.parametrize("question", [
    "Why did GDP in Latin America fall 12 per cent in 2020?",
    "Why did developing countries contract by 4.3 per cent in 2020?",  # 4.3 is world output
    "Why did world output shrink by 1.7 per cent in 2020?",  # 1.7 per cent was 2009
])
def test_figure_not_bound_fires(evidence, question):
    verdict = policy.figure_not_bound(evidence(question))
    assert verdict is not None and verdict.refusal.check == "figure_not_bound"


@pytest.mark.parametrize("question", [
    "Why did GDP in Latin America fall 8.0 per cent in 2020?",
    "Why did world gross product contract by 4.3 per cent in 2020?",
])
def test_figure_not_bound_stays_silent_when_the_figure_is_stated(evidence, question):
    assert policy.figure_not_bound(evidence(question)) is None


@pytest.mark.parametrize("question", [
    "How much money would it take to fully fund COVAX?",
    "What was Latin America's unemployment rate in 2020?",
])
def test_answer_type_absent_fires(evidence, question):
    ev = evidence(question)
    verdict = policy.decide(ev)
    assert verdict is not None  # refused by this or an earlier check
    assert policy.answer_type_absent(ev) is not None or verdict.refusal.check != "answer_type_absent"


def test_weak_evidence_model_is_fitted_and_documented():
    model = policy.load_model()
    assert "dev" in model.provenance and "test split not used" in model.provenance
    assert len(model.weights) == len(model.features) and 0 < model.threshold < 1
    strong = dict.fromkeys(model.features, 1.0)
    weak = dict.fromkeys(model.features, 0.0)
    assert model.probability(strong) > model.probability(weak)


def test_checks_run_in_the_documented_order():
    assert tuple(c.__name__ for c in policy.POLICY) == (
        "unknown_subject", "off_topic", "premise_mismatch", "figure_not_bound",
        "subject_not_found", "answer_type_absent", "weak_evidence")
    assert policy.PRE_GENERATION == policy.POLICY[:4]


def test_a_refusal_names_one_of_the_known_checks():
    from typing import get_args

    from assistant.answer.types import Refusal, RefusalCheck

    assert Refusal("premise_mismatch", "x").check == "premise_mismatch"
    with pytest.raises(ValueError, match="Use one of: unknown_subject"):
        Refusal("refused: premise", "x")
    assert len(get_args(RefusalCheck)) == 8
