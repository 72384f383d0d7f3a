"""Hostile questions (hypothesis properties): random Unicode, markup, control characters,
huge and empty questions. `plain_question` always gives plain text; `analyse` either analyses
it or raises QuestionError with a message for the user, never anything else."""

from __future__ import annotations

import re
import unicodedata

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from assistant.answer.types import MAX_QUESTION_CHARS
from assistant.errors import QuestionError
from assistant.nlp import load_pipeline
from assistant.query import Query, analyse, check_question, plain_question

MARKUP = ["<b>", "</b>", "<script>alert(1)</script>", "<script ", "<style>", "<!--", "-->",
          "<img src=x onerror=alert(1)>", "<a href='javascript:x'>", "</", "<", ">", "&lt;",
          "\x00", "\x1b[31m", "\x7f", "\x85", "\u202e", "\u2066", "\u200f", "\ufeff", "\u200b",
          "\u2028", "\r\n", "\t", "🙂", "𝔘", "ﬁ", "שלום", "?", ";", ", and how ", "Who wrote ",
          "the op-ed", "the UN report", "How many ", "2020 ", "12 per cent ", "and Chile "]
hostile_question = st.lists(st.one_of(st.text(max_size=40), st.sampled_from(MARKUP)),
                            max_size=30).map("".join)
FAST = settings(max_examples=80, deadline=None)


def has_control_or_markup(text: str) -> bool:
    return (any(unicodedata.category(ch)[0] == "C" for ch in text)
            or re.search(r"</?[A-Za-z][^<>]*>|<script|<!--", text, re.IGNORECASE) is not None)


@pytest.fixture(scope="module")
def ask(corpus):
    nlp = load_pipeline()  # loaded once for the module
    return lambda q, history=None: analyse(q, history, nlp, corpus.documents)


@FAST
@given(raw=hostile_question)
@example(raw="<!--" * 25_000)  # was quadratic: 10 s for 80,000 characters
@example(raw="<script " * 12_500)
@example(raw="<A<A>>")  # removing the inner tag left "<A >", a tag again
def test_plain_question_is_plain_text(raw):
    plain = plain_question(raw)
    assert not has_control_or_markup(plain)
    assert plain == " ".join(plain.split())
    assert plain_question(plain) == plain


@FAST
@given(raw=hostile_question)
@example(raw="")
@example(raw="   \n\t")
@example(raw="\x00\u202e\ufeff")  # nothing left once controls and format characters go
@example(raw="<script>Who wrote the op-ed?</script>")
@example(raw="Who wrote the op-ed? " * 100)  # 2,100 characters
def test_analyse_answers_or_says_why_not(ask, raw):
    try:
        query = ask(raw)
    except QuestionError as exc:
        assert "empty" in str(exc) or str(MAX_QUESTION_CHARS) in str(exc)
        assert not plain_question(raw) or len(plain_question(raw)) > MAX_QUESTION_CHARS
        return
    assert isinstance(query, Query)
    assert query.question == plain_question(raw) and query.question
    for text in (query.question, query.resolved, query.doc.text):
        assert not has_control_or_markup(text)


@settings(max_examples=20, deadline=None)
@given(question=hostile_question, previous=st.lists(hostile_question, min_size=1, max_size=4))
@example(question="And the second?", previous=["Which three areas? ", "1. A [1]; 2. B [2]. " * 200])
# a run of 40,000 spaces took 17 s in the ordinal split (a leading \s* rescanned it)
@example(question="And the second?", previous=["Which areas?", "A " + " " * 40_000 + "b [1]."])
def test_follow_ups_resolve_to_plain_text_within_the_limit(ask, question, previous):
    history = [{"role": ("user", "assistant")[i % 2], "content": text}
               for i, text in enumerate(previous)]
    try:
        query = ask(question, history)
    except QuestionError:
        return
    assert query.resolved and len(query.resolved) <= MAX_QUESTION_CHARS
    assert not has_control_or_markup(query.resolved)


def test_a_huge_question_gets_a_message_not_a_parse(ask):
    for raw in ("why " * 25_000, "<b>Chile and Peru</b> " * 5_000, "\u202e" + "a" * 100_000):
        with pytest.raises(QuestionError, match=rf"characters long; the limit is {MAX_QUESTION_CHARS}"):
            ask(raw)
        with pytest.raises(QuestionError, match="Ask a shorter question"):
            check_question(raw)


def test_a_question_at_the_limit_is_analysed(ask):
    question = ("Which countries and regions grew? " * 40)[:MAX_QUESTION_CHARS]
    assert ask(question).question == question.strip()


METADATA_VALUES = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False),
                            st.dates(), hostile_question,
                            st.lists(st.one_of(st.integers(), hostile_question), max_size=3))


@settings(max_examples=40, deadline=None)
@given(meta=st.dictionaries(st.sampled_from(["aliases", "author", "publisher", "title",
                                             "short_title", "kind", "date"]), METADATA_VALUES))
@example(meta={"aliases": 5})
@example(meta={"aliases": "op-ed"})
def test_any_front_matter_the_reader_accepts_can_be_asked_about(meta):
    import tempfile
    from pathlib import Path

    import yaml

    from assistant.corpus.loader import load_file
    from assistant.errors import CorpusError

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "doc.md"
        path.write_text(f"---\n{yaml.safe_dump(meta)}---\n\nThe op-ed says trade grew.\n", "utf-8")
        try:
            doc, _ = load_file(path, "doc.md", {}, 10_000_000)
        except CorpusError:
            return
    query = analyse("Who wrote the op-ed, and what does it say about trade?", [],
                    load_pipeline(), [doc])
    assert query.answer_type


def test_one_alias_written_without_a_list_is_one_name_not_its_letters():
    from assistant.corpus.models import Document

    doc = Document("doc", "A title", "article", "doc.md", "Doc", meta={"aliases": "op-ed"})
    nlp = load_pipeline()
    assert analyse("What does the op-ed say about trade?", [], nlp, [doc]).scope == ["doc"]
    assert analyse("What is e?", [], nlp, [doc]).scope == []


@FAST
@given(messages=st.lists(st.fixed_dictionaries(
    {"role": st.sampled_from(["user", "assistant", "system"]),
     "content": st.one_of(hostile_question, st.none(), st.builds(lambda t: {"text": t}, hostile_question))}),
    max_size=5))
@example(messages=[{"role": "assistant", "content": "<" * 40_000}])  # 0.8 s, quadratic in '<'
def test_a_history_passed_back_by_a_caller_is_plain_text(messages):
    from assistant.web.render import history_from_messages

    history = history_from_messages(messages)
    assert len(history) <= len(messages)
    for m in history:
        assert m["role"] in ("user", "assistant") and m["content"].strip()
