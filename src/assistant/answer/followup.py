"""Follow-up questions resolved against the conversation, by heuristics (no LLM): a new year
("and for 2021?"), a new name ("what about Asia?"), an ordinal ("go on about the third"),
attribution ("whose claim is that?")."""

from __future__ import annotations

import re

from assistant.answer.evidence import years
from assistant.corpus.text import split_sentences
from assistant.nlp import QUESTION_WORDS, terms

_NAME = re.compile(r"\b[A-Z][\w'´’-]*(?:\s+(?:of\s+(?:the\s+)?|and\s+(?:the\s+)?)?[A-Z][\w'´’-]*)*")


def entities(text: str) -> list[str]:
    """Capitalised names, without a capitalised question word or first word of the question."""
    out = []
    for m in _NAME.finditer(text):
        name = m.group(0)
        first = name.split()[0]
        if m.start() == 0 and (first.lower() in QUESTION_WORDS or len(name.split()) == 1):
            continue
        out.append(name)
    return out

_FOLLOWUP_START = re.compile(
    r"^\s*(and|but|also|so|what about|how about|what of|and what|and how|how does (that|this|it)|"
    r"how do (they|those)|compare|tell me more|more about|why( is| was)? that|who (said|says|wrote|"
    r"claims?) (that|this|it)|where does (that|this|it)|is that|was that|what else)\b", re.IGNORECASE)
_PRONOUN = re.compile(r"\b(that|this|it|they|them|those|these|its|their|there|one|ones)\b", re.IGNORECASE)
_ORDINALS = {"first": 1, "1st": 1, "second": 2, "2nd": 2, "third": 3, "3rd": 3, "fourth": 4,
             "4th": 4, "last": -1}
_WHO_SAID = re.compile(r"\bwho (said|says|wrote|claims?|argued|argues)\b", re.IGNORECASE)
# Sizes (general English; set by hand on the dev split):
MAX_FOLLOWUP_TERMS = 2  # a question this short with a pronoun or a year leans on the last turn
MIN_UNIT_WORDS = 3  # a cited unit or sentence of the previous answer this long can be an item
MIN_ITEM_WORDS = 2  # an item of a list written in one sentence ("A; B; and C.") this long


def _last(history: list[dict], role: str) -> str:
    for turn in reversed(history or []):
        if turn.get("role") == role and str(turn.get("content", "")).strip():
            return str(turn["content"])
    return ""


def is_followup(question: str, history: list[dict]) -> bool:
    if not history or not _last(history, "user"):
        return False
    if _FOLLOWUP_START.search(question):
        return True
    own_terms = terms(question)
    short = len(own_terms) <= MAX_FOLLOWUP_TERMS
    return short and bool(_PRONOUN.search(question) or years(question))


def resolve(question: str, history: list[dict]) -> str:
    """A standalone question for retrieval and answering (the question itself if it is not a
    follow-up)."""
    if not is_followup(question, history):
        return question
    prev_q = re.sub(r"\[\d+\]", "", _last(history, "user")).strip()
    raw_a = _last(history, "assistant")
    prev_a = re.sub(r"\[\d+\]", "", raw_a).strip()
    lowered = question.lower()
    if _WHO_SAID.search(question):
        return f"Who wrote this? {prev_q}"
    for word, n in _ORDINALS.items():
        if re.search(rf"\b{word}\b", lowered) and prev_a:
            # the cited units of the previous answer, each ending at its [n] marker; a unit that
            # introduces a list ("three areas stand out …:") is not one of the items
            # (split at the markers, then stripped: a leading \s* in the pattern would rescan
            # a long run of spaces from each of its positions)
            sentences = [u.strip().strip(" .") for u in re.split(r"(?:\[\d+\])+\.?", raw_a)
                         if len(u.split()) >= MIN_UNIT_WORDS]
            if len(sentences) > 2 and sentences[0].endswith(":"):
                sentences = sentences[1:]
            if len(sentences) < 2:
                sentences = [s for s in split_sentences(prev_a) if len(s.split()) >= MIN_UNIT_WORDS]
            if len(sentences) < max(n, 2):  # "A; B; and C." is a list in one sentence
                sentences = [re.sub(r"^(and|or)\s+", "", s.strip(" .")) for s in re.split(r";|\n", prev_a)]
                sentences = [s for s in sentences if len(s.split()) >= MIN_ITEM_WORDS]
            if sentences and (n == -1 or n <= len(sentences)):
                picked = sentences[n - 1] if n > 0 else sentences[-1]
                return f"{picked} {question}"
    new_years, old_years = years(question), years(prev_q)
    if new_years and old_years:
        resolved = prev_q
        for old, new in zip(sorted(old_years), sorted(new_years)):
            resolved = resolved.replace(old, new)
        return resolved
    new_entities, old_entities = entities(question), entities(prev_q)
    if new_entities and old_entities and not _PRONOUN.search(question.split("about")[-1]):
        return prev_q.replace(old_entities[0], new_entities[0], 1)
    return f"{prev_q} {question}"
