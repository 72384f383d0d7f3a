"""A seeded, CheckList-style perturbation suite built from the corpus itself.

Sentences of body and list-item paragraphs that state a fact (a subject, a verb, a figure
and/or a year) are parsed with the spaCy pipeline. Each usable fact becomes one *group*:

* an unperturbed question the sentence answers ("How much did world gross product contract in
  2020?"), with an exact 8-20 word quote of its paragraph as gold and the figure as the fact;
* up to three perturbed questions, each stating the same fact with exactly one element
  swapped for another element of the same type found elsewhere in the corpus: the subject
  entity ("entity"), the figure, same unit ("figure"), or the year ("year"). They must be
  refused (type ``false_premise``).

A perturbation is kept only when the swapped combination is stated nowhere in the corpus: no
sentence of any paragraph, read together with the sentence before it, the paragraph's section
heading and its lead label ("Africa (p. 88):"), mentions the (new) entity together with the
(new) figure (and, for a year swap, the new year). Entities are matched loosely (any of their
content words) and figures by bare numeric value, so the check errs towards dropping a
perturbation, never towards keeping a true one.

Questions are built from the dependency parse with general English rules (do-support, passive
and "is projected to" frames, a regular past-tense rule checked against the text); sentences
that do not parse into one of the clean patterns are skipped. The grammar word lists below are
general English, not taken from the corpus.

    python -m assistant.evaluate.perturb --out eval/perturbations.jsonl --seed 13
"""

from __future__ import annotations

import argparse
import json
import random
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from assistant.corpus.loader import load_corpus
from assistant.corpus.models import Kind, Paragraph
from assistant.corpus.text import normalise, split_sentences
from assistant.evaluate.dataset import resolve_quote
from assistant.nlp import STOPWORDS, load_pipeline, stem

USABLE_KINDS = frozenset({Kind.BODY, Kind.LIST_ITEM})
PERTURBATIONS = ("entity", "figure", "year")

# General English: number scale words, currency nouns, percent words.
SCALE_WORDS = frozenset({"thousand", "million", "billion", "trillion"})
CURRENCY_LEMMAS = frozenset({"dollar", "euro", "pound", "yen", "yuan", "rupee", "franc", "peso"})
PERCENT_WORDS = frozenset({"percent", "%"})
# General English nouns (and their adjectives) that, with "the", refer back to a place or
# group just named: "the region", "the group", "regional".
ANAPHORIC_NOUNS = frozenset({"region", "area", "country", "group", "bloc", "continent",
                             "nation", "subregion", "zone"})
ANAPHORIC_ADJECTIVES = frozenset({"regional", "national", "continental"})
# Dependents that start a clause or an aside, never part of a clean noun phrase.
_ASIDE_DEPS = frozenset({"appos", "relcl", "acl", "advcl", "parataxis", "ccomp", "mark"})
_TIME_ENTS = frozenset({"DATE", "TIME", "EVENT", "FAC"})
_NAMED = frozenset({"GPE", "LOC", "ORG", "PERSON", "NORP"})
_VOWELS = "aeiou"

_NUMBER = re.compile(r"\d[\d,]*(?:\.\d+)?")
_NUMERAL = re.compile(r"\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?")
_YEAR = re.compile(r"(?<!\d)(1[89]\d\d|20\d\d)(?!\d)")
_WORD = re.compile(r"[^\W\d_]+(?:-[^\W\d_]+)*")
_LEAD = re.compile(r"^(?P<label>[A-Z][^:.;,()\n]{1,60}?)\s*(?:\([^)\n]{0,30}\))?:\s+")


# ---------------------------------------------------------------------------------------------
# small text helpers


def keys(text: str, parts: bool = False) -> frozenset[str]:
    """Content-word keys of a text: acronyms as written (lower-cased), other words stemmed,
    stop words dropped; a hyphenated compound is one key ("full-time-equivalent"), and with
    `parts` its pieces are keys too. Used for the loose "is this entity mentioned" check."""
    out = set()
    for word in _WORD.findall(normalise(text)):
        pieces = word.split("-")
        for w in ([word] + pieces if parts and len(pieces) > 1 else [word]):
            if len(w) >= 2 and w.isupper():
                out.add(w.lower())
            elif len(w) >= 2 and w.lower() not in STOPWORDS:
                out.add(stem(w.lower()))
    return frozenset(out)


def numbers(text: str) -> frozenset[float]:
    return frozenset(float(m.group().rstrip(",").replace(",", ""))
                     for m in _NUMBER.finditer(normalise(text)))


def years(text: str) -> frozenset[str]:
    return frozenset(_YEAR.findall(normalise(text)))


def past_tense(lemma: str) -> str:
    """The regular English past tense of a verb lemma."""
    w = lemma.lower()
    if w.endswith("e"):
        return w + "d"
    if len(w) > 1 and w.endswith("y") and w[-2] not in _VOWELS:
        return w[:-1] + "ied"
    groups = re.findall(f"[{_VOWELS}]+", w)
    if (len(groups) == 1 and len(w) >= 3 and w[-1] not in _VOWELS + "wxy"
            and w[-2] in _VOWELS and w[-3] not in _VOWELS):
        return w + w[-1] + "ed"
    return w + "ed"


def _past_of(token) -> str | None:
    """The simple past of a verb token: the token itself when tagged past, the regular rule
    when the participle is regular; None for an irregular participle ("fallen")."""
    if token.tag_ == "VBD":
        return token.text.lower()
    if token.tag_ == "VBN" and past_tense(token.lemma_) == token.text.lower():
        return token.text.lower()
    return None


def _lower_first(text: str, first_token) -> str:
    if first_token.pos_ == "PROPN" or first_token.text.isupper() or not text:
        return text
    return text[0].lower() + text[1:]


def _lead(text: str) -> tuple[str, int] | None:
    """A short label that opens a paragraph ("Africa (p. 88): ..."): (label, end offset)."""
    m = _LEAD.match(text)
    if not m or len(m.group("label").split()) > 5:
        return None
    return m.group("label").strip(), m.end()


def _clean(text: str) -> str:
    text = re.sub(r"\s+", " ", normalise(text)).strip()
    text = re.sub(r"\s+([?,])", r"\1", text)
    return text[0].upper() + text[1:] if text else text


# ---------------------------------------------------------------------------------------------
# the facts


@dataclass(frozen=True)
class Entity:
    text: str  # as it reads in a question
    kind: str  # "topic" (heading / lead label), "np" (plain noun phrase) or an NER label
    keys: frozenset[str]
    plural: bool = False
    doc_id: str = ""
    match: str = ""  # the form to look for in the corpus (test checks use it)


@dataclass(frozen=True)
class Figure:
    number: str
    unit: str  # as written after the number: "per cent", "million", "US dollars"
    kind: str  # percent | count | money, "+per capita" when so qualified
    value: float

    @property
    def text(self) -> str:
        return self.number + ("" if self.unit == "%" else " ") + self.unit

    @property
    def magnitude(self) -> float:
        scale = {"thousand": 1e3, "million": 1e6, "billion": 1e9, "trillion": 1e12}
        return self.value * scale.get(self.unit.split()[0].lower(), 1)

    def like(self, other: Figure) -> Figure:
        """`other`'s number in this figure's unit (a count keeps its own scale word)."""
        if self.kind.startswith("count"):
            return other
        return Figure(other.number, self.unit, self.kind, other.value)


@dataclass
class Fact:
    pattern: str  # verb | projected | passive_count | object_count | report | event
    para: Paragraph
    sentence: str
    quote: str
    x: str  # the subject phrase, with "{E}" where the entity goes
    entity: Entity
    entity_sets_number: bool  # the entity is the whole subject: agreement follows it
    figure: Figure | None
    year: str | None
    words: dict  # verb and frame pieces
    anchor: str | None = None  # event facts: the named object that must co-occur


def _figure_at(doc, i):
    """(Figure, index of its last token) if a figure with a unit starts at token i."""
    t = doc[i]
    if not _NUMERAL.fullmatch(t.text) or _YEAR.fullmatch(t.text):
        return None
    if i > 0 and doc[i - 1].like_num:
        return None
    j = i + 1
    if j >= len(doc):
        return None
    nxt = doc[j]
    if nxt.lower_ in SCALE_WORDS:
        kind, end = "count", j
    elif nxt.lower_ == "per" and j + 1 < len(doc) and doc[j + 1].lower_ == "cent":
        kind, end = "percent", j + 1
    elif nxt.lower_ in PERCENT_WORDS:
        kind, end = "percent", j
    else:
        end = None
        for k in range(j, min(j + 3, len(doc))):
            if doc[k].lemma_.lower() in CURRENCY_LEMMAS:
                end = k
                break
            if doc[k].pos_ != "PROPN":
                break
        if end is None:
            return None
        kind = "money"
    if end + 2 < len(doc) and doc[end + 1].lower_ == "per" and doc[end + 2].lower_ == "capita":
        kind += "+per capita"
    return Figure(t.text, doc[j:end + 1].text, kind, float(t.text.replace(",", ""))), end


def _figures(span) -> list[tuple[Figure, int, int]]:
    doc, out = span.doc, []
    for t in span:
        found = _figure_at(doc, t.i)
        if found and found[1] < span.end:
            out.append((found[0], t.i, found[1]))
    return out


def _is_year(token) -> bool:
    return bool(_YEAR.fullmatch(token.text)) and token.like_num


def _in_parentheses(span, i: int) -> bool:
    before = span.doc[span.start:i].text
    return before.count("(") > before.count(")")


def _phrase(head) -> list | None:
    """The head's noun phrase without asides; None unless it is one contiguous run."""
    toks = []

    def walk(t):
        toks.append(t)
        for c in t.children:
            if c.dep_ in _ASIDE_DEPS or (c.dep_ == "punct" and c.tag_ != "HYPH"):
                continue
            walk(c)

    walk(head)
    toks.sort(key=lambda t: t.i)
    if toks[-1].i - toks[0].i + 1 != len(toks):
        return None
    return toks


def _render(toks, replace: dict[int, str], drop: set[int]) -> str:
    out = []
    for t in toks:
        if t.i in drop:
            continue
        out.append(replace.get(t.i, t.text) + t.whitespace_)
    return "".join(out).strip()


class _Extractor:
    def __init__(self, nlp):
        self.nlp = nlp
        self.topics: dict[str, Entity] = {}  # every topic met, for entity swaps
        self._headings: dict[str, tuple[str, object] | None] = {}

    # -- topics ------------------------------------------------------------------------------

    def heading_topic(self, heading: str) -> tuple[str, object] | None:
        """A section heading that is a proper name ("Latin America and the Caribbean")."""
        if heading not in self._headings:
            self._headings[heading] = self._heading_topic(heading)
        return self._headings[heading]

    def _heading_topic(self, heading: str) -> tuple[str, object] | None:
        label = re.sub(r"\s*\([^)]*\)\s*$", "", heading).strip()
        if not label:
            return None
        doc = self.nlp(label)
        if not doc.ents or any(e.label_ not in _NAMED for e in doc.ents):
            return None
        covered = all(t.ent_type_ or t.pos_ in ("CCONJ", "DET") for t in doc)
        return (label, doc[0]) if covered and doc[0].ent_type_ else None

    def topic(self, para: Paragraph, doc, lead) -> Entity | None:
        if lead:
            label, first = lead[0], doc[0]
        else:
            found = self.heading_topic(para.section[-1]) if len(para.section) >= 2 else None
            if not found:
                return None
            label, first = found
        text = _lower_first(label, first)
        entity = Entity(text=text, kind="topic", keys=keys(label), doc_id=para.doc_id,
                        match=label)
        return self.topics.setdefault(text.lower(), entity)

    # -- subjects ----------------------------------------------------------------------------

    @staticmethod
    def _subject_tokens(head, lead_end: int, remove: Iterable[int]) -> list | None:
        """The tokens of the subject phrase headed by `head`, less `remove`: None unless it
        is a short (at most 8 tokens) phrase after the lead label with no pronoun or number."""
        toks = _phrase(head)
        if toks is None:
            return None
        remove = set(remove)
        toks = [t for t in toks if t.i not in remove]
        if not toks or len(toks) > 8 or any(t.idx < lead_end for t in toks):
            return None
        if any(t.pos_ in ("PRON", "NUM") or t.like_num for t in toks):
            return None
        return toks

    @staticmethod
    def _anaphora(toks, head) -> tuple[dict[int, str], set[int], str]:
        """(replace, drop, suffix) for the words of a subject phrase that refer back to the
        topic: "the region" becomes {E} (its "the" dropped); an adjective such as "regional"
        is dropped and " in {E}" suffixed."""
        replace, drop, suffix = {}, set(), ""
        for t in toks:
            dets = [c for c in t.children if c.dep_ == "det"]
            if (t.pos_ == "NOUN" and t.lower_ in ANAPHORIC_NOUNS and len(dets) == 1
                    and dets[0].lower_ == "the" and len(list(t.children)) == 1):
                replace[t.i], drop = "{E}", drop | {dets[0].i}
            elif t.lower_ in ANAPHORIC_ADJECTIVES and t.dep_ in ("amod", "compound") and t != head:
                drop.add(t.i)
                suffix = " in {E}"
        return replace, drop, suffix

    @staticmethod
    def _named_subject(toks, named, text: str, plural: bool, para: Paragraph):
        """The subject as one named entity (x template "{E}"), or None when the phrase holds
        more than one named entity or other words than it and determiners."""
        inside = {i for e in named for i in range(e.start, e.end)}
        if len(named) != 1 or any(t.i not in inside and t.pos_ != "DET" for t in toks):
            return None
        ent = named[0]
        return "{E}", Entity(text=text, kind=ent.label_, keys=keys(ent.text), plural=plural,
                             doc_id=para.doc_id, match=ent.text), True, plural

    def subject(self, head, topic: Entity | None, lead_end: int, para: Paragraph,
                remove: Iterable[int] = ()):
        """(x template, entity, entity is the whole subject, plural) for a subject noun, or
        None when it does not make a clean phrase."""
        toks = self._subject_tokens(head, lead_end, remove)
        if toks is None:
            return None
        replace, drop, suffix = self._anaphora(toks, head)
        plural = head.tag_ in ("NNS", "NNPS") or any(c.dep_ == "conj" for c in head.children)
        kept = [t for t in toks if t.i not in drop]
        if replace or suffix:
            if topic is None:
                return None
            text = _lower_first(_render(toks, replace, drop), kept[0]) + suffix
            return text, topic, False, plural
        text = _lower_first(_render(toks, {}, set()), toks[0])
        doc = head.doc
        named = [e for e in doc.ents if e.label_ in _NAMED and e.start >= toks[0].i
                 and e.end <= toks[-1].i + 1]
        if named:
            return self._named_subject(toks, named, text, plural, para)
        if any(t.pos_ == "PROPN" and not t.text.isupper() for t in toks):
            return None
        if topic is not None:
            return text + " in {E}", topic, False, plural
        return "{E}", Entity(text=text, kind="np", keys=keys(text), plural=plural,
                             doc_id=para.doc_id, match=text), True, plural

    # -- years -------------------------------------------------------------------------------

    @staticmethod
    def year_for(span, fig_end: int, anchors: set[int], allowed: set[int]) -> str | None | bool:
        """The year of a fact: "F in YEAR" right after the figure, else a year attached to the
        verb through prepositions and date words only. False when the sentence has years but
        none of them belongs to the fact (the fact is then ambiguous)."""
        doc = span.doc
        if fig_end + 2 < span.end and doc[fig_end + 1].pos_ == "ADP" and _is_year(doc[fig_end + 2]):
            return doc[fig_end + 2].text
        found = set()
        for t in span:
            if not _is_year(t):
                continue
            node, ok = t.head, False
            for _ in range(6):
                if node.i in anchors:
                    ok = True
                    break
                if not (node.pos_ == "ADP" or node.i in allowed or node.ent_type_ in _TIME_ENTS):
                    break
                if node.head == node:
                    break
                node = node.head
            if ok:
                found.add(t.text)
        if len(found) == 1:
            return found.pop()
        if found or any(_is_year(t) for t in span):
            return False
        return None

    # -- patterns ----------------------------------------------------------------------------

    def facts(self, para: Paragraph, doc) -> list[Fact]:
        lead = _lead(para.text)
        lead_end = lead[1] if lead else 0
        topic = self.topic(para, doc, lead)
        out = []
        for sent in doc.sents:
            figures = _figures(sent)
            for fig, start, end in figures:
                if _in_parentheses(sent, start) or "+" in fig.kind:
                    continue
                fact = (self.verb_fact(sent, fig, start, end, topic, lead_end, para)
                        or self.passive_count_fact(sent, fig, start, end, topic, lead_end, para)
                        or self.object_count_fact(sent, fig, start, end, topic, lead_end, para)
                        or self.report_fact(sent, fig, start, end, topic, lead_end, para))
                if fact:
                    out.append(fact)
            if not figures:
                fact = self.event_fact(sent, lead_end, para)
                if fact:
                    out.append(fact)
        return out

    def _finish(self, pattern, sent, para, x, entity, whole, fig, fig_span, year, words,
                must: list[int], lead_end: int, anchor=None) -> Fact | None:
        if x is None:
            return None
        spans = [(sent.doc[i].idx, sent.doc[i].idx + len(sent.doc[i])) for i in must]
        if fig_span:
            spans.append(fig_span)
        quote = choose_quote(para.text, sent.start_char, sent.end_char, spans)
        if quote is None:
            return None
        return Fact(pattern=pattern, para=para, sentence=sent.text.strip(), quote=quote, x=x,
                    entity=entity, entity_sets_number=whole, figure=fig, year=year, words=words,
                    anchor=anchor)

    @staticmethod
    def _clean_verb(verb) -> bool:
        return not any(c.dep_ == "neg" or (c.dep_ == "aux" and c.tag_ == "MD")
                       for c in verb.children)

    def _verb_pattern(self, verb, report, has_perfect: bool, words: dict) -> str | None:
        """"verb" for a verb in the past or perfect ("fell", "has fallen", "is estimated to
        have fallen"); "projected" for a forecast ("is projected to grow"), adding the
        reporting verb and its "be" to `words` as R and be; None for anything else."""
        if report is not None:
            auxpass = [c for c in report.children if c.dep_ == "auxpass"]
            if report.tag_ != "VBN" or not auxpass or not self._clean_verb(report):
                return None
            if has_perfect:
                return "verb"
            words.update(R=report.lower_, be=auxpass[0].lower_)
            return "projected"
        if verb.tag_ == "VBD" or (verb.tag_ == "VBN" and has_perfect):
            return "verb"
        return None

    @staticmethod
    def _verb_subject(verb, report, lead_end: int):
        """The subject of `verb` (the last nsubj/nsubjpass after the lead label), else of its
        reporting verb, else of the verb it is conjoined to; None when none has one."""
        for holder in (verb, report, verb.head if verb.dep_ == "conj" else None):
            if holder is None:
                continue
            cands = [c for c in holder.children if c.dep_ in ("nsubj", "nsubjpass")
                     and c.idx >= lead_end]
            if cands:
                return cands[-1]
        return None

    def verb_fact(self, sent, fig, start, end, topic, lead_end, para):
        """X V (by|to|at) FIGURE (in YEAR): "output fell by 3.4 per cent in 2020"."""
        doc = sent.doc
        unit = doc[end]
        prep = unit.head
        if unit.dep_ != "pobj" or prep.dep_ != "prep" or prep.pos_ != "ADP":
            return None
        verb = prep.head
        if verb.pos_ != "VERB" or not self._clean_verb(verb):
            return None
        report = verb.head if verb.dep_ == "xcomp" else None
        has_perfect = any(c.dep_ == "aux" and c.lemma_ == "have" for c in verb.children)
        words = {"V": verb.lemma_.lower(), "P": prep.lower_}
        particle = [c for c in verb.children if c.dep_ == "prt"]
        if particle:
            words["V"] += " " + particle[0].lower_
        pattern = self._verb_pattern(verb, report, has_perfect, words)
        if pattern is None:
            return None
        if pattern == "verb":
            past = _past_of(verb)
            if past and particle:
                past += " " + particle[0].lower_
            words["Vp"] = past
        subj = self._verb_subject(verb, report, lead_end)
        if subj is None:
            return None
        got = self.subject(subj, topic, lead_end, para)
        if got is None:
            return None
        x, entity, whole, plural = got
        words["plural"] = plural
        anchors = {verb.i} | ({report.i} if report is not None else set())
        year = self.year_for(sent, end, anchors, {unit.i, prep.i})
        if year is False:
            return None
        must = [subj.i, verb.i] + [t.i for t in sent if t.text == year]
        return self._finish(pattern, sent, para, x, entity, whole, fig,
                            (doc[start].idx, unit.idx + len(unit)), year, words, must, lead_end)

    def passive_count_fact(self, sent, fig, start, end, topic, lead_end, para):
        """FIGURE N were V-ed (in YEAR): "420 million jobs were lost in 2020"."""
        doc = sent.doc
        if not fig.kind.startswith("count") or doc[end].dep_ != "nummod":
            return None
        noun = doc[end].head
        verb = noun.head
        auxpass = [c for c in verb.children if c.dep_ == "auxpass"]
        if (noun.dep_ != "nsubjpass" or verb.tag_ != "VBN" or not auxpass
                or auxpass[0].lower_ not in ("was", "were") or not self._clean_verb(verb)):
            return None
        ent_span = next((e for e in doc.ents if e.start <= start < e.end), None)
        remove = set(range(start, end + 1))
        if ent_span is not None:
            remove |= set(range(ent_span.start, ent_span.end))
        remove |= {c.i for c in noun.children if c.dep_ == "det"}
        got = self.subject(noun, topic, lead_end, para, remove)
        if got is None:
            return None
        x, entity, whole, _ = got
        if whole and entity.kind == "np":
            entity = Entity(entity.text, "np-count", entity.keys, True, entity.doc_id,
                            entity.match)
        extra = []
        for c in verb.children:
            if c.dep_ != "prep":
                continue
            sub = list(c.subtree)
            if len(sub) > 3 or any(t.like_num or t.ent_type_ for t in sub):
                continue
            extra.append(" ".join(t.text for t in sub))
        year = self.year_for(sent, end, {verb.i}, set())
        if year is False:
            return None
        words = {"be": auxpass[0].lower_, "Vpp": verb.lower_,
                 "extra": "".join(" " + e for e in extra)}
        must = [noun.i, verb.i] + [t.i for t in sent if t.text == year]
        return self._finish("passive_count", sent, para, x, entity, False, fig,
                            (doc[start].idx, doc[end].idx + len(doc[end])), year, words, must,
                            lead_end)

    def object_count_fact(self, sent, fig, start, end, topic, lead_end, para):
        """X V-ed FIGURE N (in YEAR): "lockdowns affected 2.7 billion workers"."""
        doc = sent.doc
        if not fig.kind.startswith("count") or doc[end].dep_ != "nummod":
            return None
        noun = doc[end].head
        verb = noun.head
        if noun.dep_ != "dobj" or noun.i != end + 1 or verb.pos_ != "VERB":
            return None
        if verb.tag_ != "VBD" or not self._clean_verb(verb):
            return None
        subj = [c for c in verb.children if c.dep_ == "nsubj" and c.idx >= lead_end]
        if not subj:
            return None
        got = self.subject(subj[-1], topic, lead_end, para)
        if got is None:
            return None
        x, entity, whole, plural = got
        obj = _phrase(noun)
        if obj is None:
            return None
        obj_words = [t for t in obj if t.i > end]
        if not obj_words or len(obj_words) > 4 or any(t.pos_ == "PROPN" for t in obj_words):
            return None
        year = self.year_for(sent, end, {verb.i}, set())
        if year is False:
            return None
        words = {"V": verb.lemma_.lower(), "Vp": _past_of(verb), "N": _render(obj_words, {}, set()),
                 "plural": plural}
        must = [subj[-1].i, verb.i, noun.i] + [t.i for t in sent if t.text == year]
        return self._finish("object_count", sent, para, x, entity, whole, fig,
                            (doc[start].idx, doc[end].idx + len(doc[end])), year, words, must,
                            lead_end)

    def report_fact(self, sent, fig, start, end, topic, lead_end, para):
        """X V-s N of FIGURE in YEAR, in a section about a place: "The report forecasts growth
        of 3.8 per cent in 2021 and 2.6 per cent in 2022"."""
        doc = sent.doc
        if topic is None:
            return None
        unit = doc[end]
        noun = None
        if unit.dep_ == "pobj" and unit.head.lower_ == "of" and unit.head.head.dep_ == "dobj":
            noun = unit.head.head
        elif unit.dep_ == "conj":
            node = unit.head
            if node.dep_ == "dobj":
                noun = node
            elif node.dep_ == "pobj" and node.head.lower_ == "of" and node.head.head.dep_ == "dobj":
                noun = node.head.head
        if noun is None or noun.pos_ != "NOUN":
            return None
        verb = noun.head
        do = {"VBZ": "does", "VBP": "do", "VBD": "did"}.get(verb.tag_)
        if verb.pos_ != "VERB" or do is None or not self._clean_verb(verb):
            return None
        subj = [c for c in verb.children if c.dep_ == "nsubj" and c.idx >= lead_end]
        if not subj:
            return None
        toks = _phrase(subj[0])
        if toks is None or len(toks) > 4 or any(t.pos_ in ("PRON", "PROPN", "NUM") for t in toks):
            return None
        if any(c.dep_ in ("det", "amod", "compound", "poss", "nummod") for c in noun.children):
            return None
        year = self.year_for(sent, end, set(), set())
        if not year:
            return None
        words = {"V": verb.lemma_.lower(), "N": noun.lower_, "do": do,
                 "X": _lower_first(_render(toks, {}, set()), toks[0])}
        must = [subj[0].i, verb.i, noun.i] + [t.i for t in sent if t.text == year]
        return self._finish("report", sent, para, "{E}", topic, False, fig,
                            (doc[start].idx, unit.idx + len(unit)), year, words, must, lead_end)

    def event_fact(self, sent, lead_end, para):
        """NAME V-ed OBJECT (with a named thing in it): "the US blocked the selection of
        Nigeria's Ngozi Okonjo-Iweala"."""
        doc = sent.doc
        verb = sent.root
        if verb.pos_ != "VERB" or verb.tag_ != "VBD" or not self._clean_verb(verb):
            return None
        subj = [c for c in verb.children if c.dep_ == "nsubj" and c.idx >= lead_end]
        obj = [c for c in verb.children if c.dep_ == "dobj"]
        if len(subj) != 1 or len(obj) != 1:
            return None
        got = self.subject(subj[0], None, lead_end, para)
        if got is None or got[1].kind not in _NAMED:
            return None
        x, entity, whole, _ = got
        toks = _phrase(obj[0])
        if toks is None:
            return None
        named = [e for e in doc.ents if e.label_ in ("PERSON", "ORG", "GPE")
                 and e.start >= toks[0].i and e.end <= toks[-1].i + 1]
        if not named:
            return None
        anchor = named[0]
        toks = [t for t in toks if t.i < anchor.end]
        if len(toks) > 10 or any(t.pos_ == "PRON" for t in toks):
            return None
        time = ""
        for c in verb.children:
            ent = next((e for e in doc.ents if e.start <= c.i < e.end), None)
            if c.dep_ == "npadvmod" and ent is not None and ent.label_ == "DATE":
                if any(_is_year(t) for t in ent):
                    return None
                time = " " + _lower_first(ent.text, ent[0])
        if any(_is_year(t) for t in sent):
            return None
        words = {"V": verb.lemma_.lower(), "Vp": _past_of(verb), "O": _render(toks, {}, set()),
                 "T": time}
        must = [subj[0].i, verb.i, anchor.start, anchor.end - 1]
        return self._finish("event", sent, para, x, entity, whole, None, None, None, words,
                             must, lead_end, anchor=anchor.text)


def choose_quote(text: str, start: int, end: int, spans: list[tuple[int, int]]) -> str | None:
    """8-20 consecutive words of text[start:end] covering every span, or None."""
    words = [(m.start() + start, m.end() + start) for m in re.finditer(r"\S+", text[start:end])]
    if not words:
        return None
    lo_need, hi_need = min(s for s, _ in spans), max(e for _, e in spans)
    a = next((k for k, (_, e) in enumerate(words) if e > lo_need), None)
    b = max((k for k, (s, _) in enumerate(words) if s < hi_need), default=None)
    if a is None or b is None or b - a + 1 > 20:
        return None
    lo = 0 if b < 20 else a
    hi = b  # then on to the end of the clause, if that is within 20 words
    while (hi + 1 < len(words) and hi - lo + 1 < 20
           and text[words[hi][1] - 1] not in ",.;:"):
        hi += 1
    if text[words[hi][1] - 1] not in ",.;:" and hi + 1 < len(words):
        hi = max(b, min(lo + 7, len(words) - 1))
    while hi - lo + 1 < 8 and lo > 0:
        lo -= 1
    quote = text[words[lo][0]:words[hi][1]]
    if quote.count("(") > quote.count(")"):
        quote = quote[:quote.rindex("(")]
    quote = quote.rstrip(" ,;:–-(").strip()
    if quote.endswith(".") and not quote.endswith(("p.", "pp.")):
        quote = quote[:-1]
    n = len(quote.split())
    if not 8 <= n <= 20 or words[lo][0] + len(quote) < hi_need:
        return None
    return quote


# ---------------------------------------------------------------------------------------------
# the co-occurrence check


@dataclass(frozen=True)
class _Unit:
    keys: frozenset[str]
    numbers: frozenset[float]
    years: frozenset[str]


def _units(corpus, docs: dict[str, object]) -> list[_Unit]:
    """Every sentence of every paragraph (spaCy's and the regex splitter's sentences alike),
    each read with the sentence before it, the section heading and the lead label."""
    out = []
    for p in corpus.paragraphs:
        heading = p.section[-1] if p.section else ""
        lead = _LEAD.match(p.text)
        context = f"{heading} {lead.group(0) if lead else ''}"
        splits = [split_sentences(p.text)]
        if p.id in docs:
            splits.append([s.text for s in docs[p.id].sents])
        for sentences in splits:
            prev = ""
            for s in sentences:
                text = f"{context} {prev} {s}"
                out.append(_Unit(keys(text, parts=True), numbers(text), years(text)))
                prev = s
    return out


def cooccurs(units: list[_Unit], entity_keys: frozenset[str] | None = None,
             number: float | None = None, year: str | None = None,
             anchor_keys: frozenset[str] | None = None) -> bool:
    for u in units:
        if entity_keys is not None and not entity_keys & u.keys:
            continue
        if anchor_keys is not None and not anchor_keys & u.keys:
            continue
        if number is not None and number not in u.numbers:
            continue
        if year is not None and year not in u.years:
            continue
        return True
    return False


# ---------------------------------------------------------------------------------------------
# question frames


_ASK = {  # (numeric, single) frames for the unperturbed question
    "verb": (["How much did {X} {V}{Y}?", "By how much did {X} {V}{Y}?"],
             ["Did {X} {V} {P} {F}{Y}?"]),
    "verb-level": (["What did {X} {V} {P}{Y}?", "{Pcap} what level did {X} {V}{Y}?"],
                   ["Did {X} {V} {P} {F}{Y}?"]),
    "projected": (["By how much {be} {X} {R} to {V}{Y}?", "How much {be} {X} {R} to {V}{Y}?"],
                  ["{Be} {X} {R} to {V} {P} {F}{Y}?"]),
    "projected-level": (["What {be} {X} {R} to {V} {P}{Y}?"],
                        ["{Be} {X} {R} to {V} {P} {F}{Y}?"]),
    "passive_count": (["How many {X} {be} {Vpp}{extra}{Y}?"], ["{Be} {F} {X} {Vpp}{extra}{Y}?"]),
    "object_count": (["How many {N} did {X} {V}{Y}?"], ["Did {X} {V} {F} {N}{Y}?"]),
    "report": (["What {N} {do} {X} {V} for {E}{Y}?"], ["{Do} {X} {V} {N} of {F} for {E}{Y}?"]),
    "event": ([], ["What did {X} {V}{T}?"]),
}
_FALSE = {  # frames that state the (perturbed) fact
    "verb": ["Why did {X} {V} {P} {F}{Y}?", "What caused {X} to {V} {P} {F}{Y}?",
             "Did {X} {V} {P} {F}{Y}?", "Which factors explain why {X} {Vp} {P} {F}{Y}?"],
    "projected": ["Why {be} {X} {R} to {V} {P} {F}{Y}?", "{Be} {X} {R} to {V} {P} {F}{Y}?",
                  "What explains why {X} {be} {R} to {V} {P} {F}{Y}?"],
    "passive_count": ["Why {be} {F} {X} {Vpp}{extra}{Y}?", "{Be} {F} {X} {Vpp}{extra}{Y}?",
                      "What caused {F} {X} to be {Vpp}{extra}{Y}?"],
    "object_count": ["Why did {X} {V} {F} {N}{Y}?", "Did {X} {V} {F} {N}{Y}?",
                     "Which factors explain why {X} {Vp} {F} {N}{Y}?"],
    "report": ["Why {do} {X} {V} {N} of {F} for {E}{Y}?", "{Do} {X} {V} {N} of {F} for {E}{Y}?"],
    "event": ["Why did {X} {V} {O}{T}?", "What led {X} to {V} {O}{T}?",
              "Which factors explain why {X} {Vp} {O}{T}?"],
}


def _be(form: str, plural: bool) -> str:
    if form in ("is", "are"):
        return "are" if plural else "is"
    if form in ("was", "were"):
        return "were" if plural else "was"
    return form


def _fill(frame: str, fact: Fact, entity: Entity, figure: Figure | None, year: str | None) -> str:
    w = dict(fact.words)
    plural = entity.plural if fact.entity_sets_number else w.get("plural", False)
    if "be" in w and fact.pattern == "projected":
        w["be"] = _be(w["be"], plural)
    if "be" in w:
        w["Be"] = w["be"].capitalize()
    if "do" in w:
        w["Do"] = w["do"].capitalize()
    w["P"] = w.get("P", "")
    w["Pcap"] = w["P"].capitalize()
    x = w.pop("X", None) or fact.x.format(E=entity.text)
    return _clean(frame.format(X=x, E=entity.text, F=figure.text if figure else "",
                               Y=f" in {year}" if year else "", **w))


def _ask_frames(fact: Fact) -> tuple[list[str], list[str]]:
    key = fact.pattern
    if key in ("verb", "projected") and fact.words.get("P") != "by":
        key += "-level"
    return _ASK[key]


def _false_frames(fact: Fact) -> list[str]:
    return [f for f in _FALSE[fact.pattern] if "{Vp}" not in f or fact.words.get("Vp")]


# ---------------------------------------------------------------------------------------------
# generation


def _parse(corpus, nlp) -> dict[str, object]:
    paras = list(corpus.paragraphs)
    return {p.id: doc for p, doc in zip(paras, nlp.pipe([p.text for p in paras]))}


def _extract(corpus, nlp, docs: dict | None = None) -> tuple[list[Fact], list[Entity]]:
    docs = docs if docs is not None else _parse(corpus, nlp)
    extractor = _Extractor(nlp)
    facts, seen = [], set()
    for p in corpus.paragraphs:
        if p.kind not in USABLE_KINDS:
            continue
        for fact in extractor.facts(p, docs[p.id]):
            try:
                if resolve_quote(fact.quote, corpus.paragraphs) != p.id:
                    continue
            except ValueError:
                continue
            key = (fact.quote, fact.figure.text if fact.figure else fact.anchor)
            if key not in seen:
                seen.add(key)
                facts.append(fact)
    return facts, [extractor.topics[k] for k in sorted(extractor.topics)]


def _entity_pool(facts: list[Fact], topics: list[Entity], docs: dict,
                 corpus) -> dict[str, list[Entity]]:
    """Candidates for an entity swap, by kind: other topics, other subject noun phrases of
    the same pattern family, and named entities of the same label from *other* documents
    (a document refers to one actor by several names; two documents rarely share them)."""
    pool: dict[str, dict[str, Entity]] = {"topic": {t.text.lower(): t for t in topics}}
    for f in facts:
        pool.setdefault(f.entity.kind, {}).setdefault(f.entity.text.lower(), f.entity)
    for p in corpus.paragraphs:
        if p.kind not in USABLE_KINDS:
            continue
        for e in docs[p.id].ents:
            if e.label_ not in _NAMED or not all(t.pos_ in ("PROPN", "DET") for t in e):
                continue
            if any(not t.text.isalpha() and t.tag_ != "HYPH" for t in e) or len(e) > 4:
                continue
            text = _lower_first(e.text, e[0])
            pool.setdefault(e.label_, {}).setdefault(text.lower(), Entity(
                text=text, kind=e.label_, keys=keys(e.text), doc_id=p.doc_id, match=e.text,
                plural=e[-1].tag_ == "NNPS"))
    return {k: [v[t] for t in sorted(v)] for k, v in pool.items()}


def _family(fact: Fact) -> str:
    return "verb" if fact.pattern in ("verb", "projected") else fact.pattern


_Swap = tuple[dict, Entity, Figure | None, str | None]


def _swap_entity(fact: Fact, rng: random.Random, units, pools, facts_by_entity) -> _Swap | None:
    """The fact's subject entity swapped for another of the same kind (a named entity from
    another document; a noun phrase that is the subject of a fact of the same family) that
    the corpus never mentions with the figure or anchor; None when there is none."""
    ent, fig, year = fact.entity, fact.figure, fact.year
    if fig is None and not fact.anchor:
        return None
    cands = [c for c in pools.get(ent.kind, []) if not c.keys & ent.keys and c.keys]
    if ent.kind in _NAMED:
        cands = [c for c in cands if c.doc_id != ent.doc_id]
    if ent.kind in ("np", "np-count"):
        family = {c.text.lower() for c in facts_by_entity.get(_family(fact), [])}
        cands = [c for c in cands if c.text.lower() in family]
    rng.shuffle(cands)
    for c in cands:
        if fig is not None and cooccurs(units, c.keys, number=fig.value):
            continue
        if fact.anchor and cooccurs(units, c.keys, anchor_keys=keys(fact.anchor)):
            continue
        claim = {"entity": c.match, "figure": fig.text if fig else None, "year": None,
                 "anchor": fact.anchor}
        return {"from": ent.text, "to": c.text, "claim": claim}, c, fig, year
    return None


def _swap_figure(fact: Fact, rng: random.Random, units, figures) -> _Swap | None:
    """The fact's figure swapped for another corpus figure of the same kind, written in the
    same unit (within a factor of 3 tried first), that the corpus never states for the
    entity; None when there is none."""
    ent, fig, year = fact.entity, fact.figure, fact.year
    cands = [f for f in figures if f.kind == fig.kind and f.value != fig.value]
    near = [f for f in cands if fig.magnitude / 3 <= f.magnitude <= fig.magnitude * 3]
    far = [f for f in cands if f not in near]
    rng.shuffle(near)
    rng.shuffle(far)
    for c in near + far:
        new = fig.like(c)
        if cooccurs(units, ent.keys, number=new.value):
            continue
        claim = {"entity": ent.match, "figure": new.text, "year": None, "anchor": None}
        return {"from": fig.text, "to": new.text, "claim": claim}, ent, new, year
    return None


def _swap_year(fact: Fact, rng: random.Random, units, all_years) -> _Swap | None:
    """The fact's year swapped for another corpus year (within 3 years tried first; a
    forecast only to a nearby year, later ones first) that the corpus never states with the
    entity and figure; None when there is none."""
    ent, fig, year = fact.entity, fact.figure, fact.year
    near = [y for y in all_years if y != year and abs(int(y) - int(year)) <= 3]
    far = [y for y in all_years if y != year and y not in near]
    rng.shuffle(near)
    rng.shuffle(far)
    if fact.pattern in ("projected", "report"):
        # a forecast moves to a nearby year, later ones first: "forecast for 2009" tests nothing
        near.sort(key=lambda y: int(y) < int(year))
        far = []
    for y in near + far:
        if cooccurs(units, ent.keys, number=fig.value, year=y):
            continue
        claim = {"entity": ent.match, "figure": fig.text, "year": y, "anchor": None}
        return {"from": year, "to": y, "claim": claim}, ent, fig, y
    return None


def _perturb(fact: Fact, kind: str, rng: random.Random, units, pools, figures, all_years,
             facts_by_entity) -> _Swap | None:
    """One swap of `kind` whose combination the corpus does not state, or None."""
    if kind == "entity":
        return _swap_entity(fact, rng, units, pools, facts_by_entity)
    if fact.figure is None:
        return None
    if kind == "figure":
        return _swap_figure(fact, rng, units, figures)
    if fact.year is None:
        return None
    return _swap_year(fact, rng, units, all_years)


def _corpus_figures_and_years(corpus, docs: dict) -> tuple[list[Figure], list[str]]:
    """Every figure (outside parentheses, one per kind and text, sorted) and every year that
    the usable paragraphs state: what figure and year swaps draw from."""
    figures_by_text: dict[str, Figure] = {}
    all_years: set[str] = set()
    for p in corpus.paragraphs:
        if p.kind not in USABLE_KINDS:
            continue
        for sent in docs[p.id].sents:
            for fig, start, _ in _figures(sent):
                if not _in_parentheses(sent, start):
                    figures_by_text.setdefault(f"{fig.kind}|{fig.text}", fig)
            all_years.update(t.text for t in sent if _is_year(t))
    return [figures_by_text[k] for k in sorted(figures_by_text)], sorted(all_years)


def _group(fact: Fact, seed: int, units, pools, figures, years, facts_by_entity) -> tuple | None:
    """One fact's group, drawn with its own seeded generator: (fact, question, question type,
    fact text, claim, perturbations as (kind, swap, question)); None when no perturbation of
    it is possible."""
    rng = random.Random(f"{seed}|{fact.para.id}|{fact.quote}|{fact.figure or fact.anchor}")
    perturbed = []
    false_frames = _false_frames(fact)
    frame = rng.choice(false_frames)
    for kind in PERTURBATIONS:
        got = _perturb(fact, kind, rng, units, pools, figures, years, facts_by_entity)
        if got is None:
            continue
        swap, ent, fig, year = got
        perturbed.append((kind, swap, _fill(frame, fact, ent, fig, year)))
    if not perturbed:
        return None
    numeric, single = _ask_frames(fact)
    options = [(f, "numeric") for f in numeric] + [(f, "single") for f in single]
    ask, qtype = rng.choice(options)
    question = _fill(ask, fact, fact.entity, fact.figure, fact.year)
    fact_text = fact.figure.text if fact.figure else fact.anchor
    claim = {"entity": fact.entity.match, "figure": fact.figure.text if fact.figure else None,
             "year": fact.year, "anchor": fact.anchor}
    return fact, question, qtype, fact_text, claim, perturbed


def _group_items(n: int, group: tuple) -> list[dict]:
    """The items of the `n`th group: its unperturbed question, then its perturbations; odd
    groups go to dev, even ones to test."""
    fact, question, qtype, fact_text, claim, perturbed = group
    name = f"pert-{n:03d}"
    split = "dev" if n % 2 else "test"
    items = [{
        "id": f"{name}-none", "split": split, "type": qtype, "question": question,
        "gold": [fact.quote], "facts": [[fact_text]], "related": [],
        "reference": fact.sentence, "perturbation": "none", "group": name,
        "claim": claim,
    }]
    for kind, swap, q in perturbed:
        items.append({
            "id": f"{name}-{kind}", "split": split, "type": "false_premise", "question": q,
            "gold": [], "facts": [], "related": [fact.quote], "reference": fact.sentence,
            "perturbation": kind, "group": name, "claim": swap["claim"],
            "swap": {"from": swap["from"], "to": swap["to"]},
        })
    return items


def generate(corpus, nlp, seed: int = 13, limit: int | None = None) -> list[dict]:
    """The perturbation suite: one group per usable fact (unperturbed question plus up to
    three false-premise perturbations), groups shuffled by `seed` and split dev/test
    alternately. Deterministic for a seed."""
    docs = _parse(corpus, nlp)
    facts, topics = _extract(corpus, nlp, docs)
    units = _units(corpus, docs)
    pools = _entity_pool(facts, topics, docs, corpus)
    facts_by_entity: dict[str, list[Entity]] = {}
    for f in facts:
        facts_by_entity.setdefault(_family(f), []).append(f.entity)
    figures, years = _corpus_figures_and_years(corpus, docs)
    groups = [_group(fact, seed, units, pools, figures, years, facts_by_entity) for fact in facts]
    groups = [g for g in groups if g is not None]
    random.Random(seed).shuffle(groups)
    if limit is not None:
        groups = groups[:limit]
    return [item for n, group in enumerate(groups, 1) for item in _group_items(n, group)]


def write_jsonl(items: list[dict], path) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as fh:
        for item in items:
            fh.write(json.dumps(item, ensure_ascii=False) + "\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m assistant.evaluate.perturb",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", type=Path, default=Path("corpus"))
    parser.add_argument("--out", type=Path, default=Path("eval/perturbations.jsonl"))
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--limit", type=int, default=None)
    args = parser.parse_args(argv)
    items = generate(load_corpus(args.corpus, 50), load_pipeline(), args.seed, args.limit)
    write_jsonl(items, args.out)
    groups = {i["group"] for i in items}
    by_kind = Counter(i["perturbation"] for i in items)
    by_split = Counter((i["split"], i["perturbation"]) for i in items)
    print(f"{len(items)} items in {len(groups)} groups -> {args.out}")
    for kind in ("none", *PERTURBATIONS):
        print(f"  {kind:7} {by_kind[kind]:3}  (dev {by_split['dev', kind]}, "
              f"test {by_split['test', kind]})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
