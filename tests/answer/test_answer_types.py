"""The answer-type matcher on parsed strings (no index): typed spans, lists, the short answer
and the check that a quantity is about what the question measures."""

import numpy as np
import pytest

from assistant.answer.extractive import Candidate, fits, list_spans, short_answer, typed_spans
from assistant.index.sentences import Unit
from assistant.nlp import load_pipeline, token_terms
from assistant.query import AnswerType, analyse


@pytest.fixture(scope="module")
def nlp():
    return load_pipeline()


@pytest.fixture(scope="module")
def unit(nlp):
    def make(text: str) -> Unit:
        doc = nlp(text)
        return Unit("p:1", 0, text, doc[:], np.zeros(4, dtype=np.float32),
                    frozenset(token_terms(doc)))
    return make


@pytest.fixture(scope="module")
def ask(nlp, corpus):
    return lambda q: analyse(q, [], nlp, corpus.documents)


def spans(unit, q):
    return [s.text for s in typed_spans(unit, q)]


def test_quantity_spans_carry_what_they_count(ask, unit):
    u = unit("The report estimates that about 45 million people in the region were pushed into poverty.")
    assert spans(u, ask("How many people were pushed into poverty?")) == ["about 45 million people"]


def test_page_references_and_the_questions_own_numbers_are_not_answers(ask, unit):
    u = unit("Africa (p. 88): output fell by an estimated 3.4 per cent in 2020.")
    found = spans(u, ask("How much did output fall in 2020?"))
    assert "88" not in " ".join(found) and "2020" not in " ".join(found)
    assert any("3.4 per cent" in s for s in found)


def test_people_and_coordinated_names(ask, unit):
    u = unit("The recommendations of the independent panel led by former New Zealand Prime Minister "
             "Helen Clark and former Liberian President Ellen Johnson-Sirleaf are pending.")
    assert spans(u, ask("Who led the independent panel?")) == [
        "Helen Clark and former Liberian President Ellen Johnson-Sirleaf"]


def test_lists_of_the_asked_item_type_leave_out_the_questions_own_names(ask, unit):
    u = unit("The greatest possibilities lie in Central America's Northern Triangle "
             "(El Salvador, Guatemala and Honduras).")
    q = ask("Which countries form the Northern Triangle?")
    assert q.answer_type is AnswerType.LIST and q.item_type is AnswerType.PLACE
    assert [s.text for s in list_spans(u.span, q.item_type, {"northern triangle"})] == [
        "El Salvador, Guatemala and Honduras"]


def test_a_figure_about_something_else_does_not_fit(ask, unit):
    q = ask("How many people were pushed into poverty in Africa?")
    africa = unit("Africa: output fell by an estimated 3.4 per cent in 2020.")
    poverty = unit("About 45 million people were pushed into poverty.")
    assert not fits(africa, q, measured={"poverti", "peopl"})
    assert fits(poverty, q, measured={"poverti", "peopl"})


def test_reasons_fit_sentences_that_give_a_cause(ask, unit):
    q = ask("Why did the economy collapse?")
    assert fits(unit("The collapse came from prolonged national lockdowns."), q)
    assert fits(unit("Output fell because of lockdowns."), q)
    assert not fits(unit("Output fell by 8 per cent in 2020."), q)


def test_short_answer_is_the_span_nearest_the_year_asked_about(ask, unit):
    u = unit("The report forecasts growth of 3.8 per cent in 2021 and 2.6 per cent in 2022.")
    for question, expected in [("What growth does the report forecast for 2022?", "2.6 per cent"),
                               ("What growth does the report forecast for 2021?", "3.8 per cent")]:
        q = ask(question)
        c = Candidate(u, 0, lexical=1.0)
        assert short_answer(q, [c]) == (expected, 0)


def test_a_share_asks_for_a_percentage(ask, unit):
    u = unit("By April 2020, lockdowns affected almost 2.7 billion workers, about 81 per cent of "
             "the global workforce.")
    q = ask("What share of the global workforce was under lockdown?")
    assert short_answer(q, [Candidate(u, 0, lexical=1.0)]) == ("about 81 per cent", 0)


def test_no_short_answer_for_descriptions_or_several_names(ask, unit):
    u = unit("Growth of 6.9 per cent is forecast for 2021 in South Asia and 3.4 per cent in Africa.")
    assert short_answer(ask("What does the report say about South Asia?"), [Candidate(u, 0)]) is None
    assert short_answer(ask("What growth is forecast for Africa and for South Asia?"),
                        [Candidate(u, 0)]) is None
