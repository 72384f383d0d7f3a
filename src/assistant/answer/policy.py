"""Refusal as an explicit policy: an ordered list of named checks. Each looks at the analysed
question and the scored evidence and returns a ``Verdict`` (a ``Refusal`` with the check's
name and what it saw, plus, where the brief states something that corrects the question, the
evidence to cite) or None. The first check that fires decides.

    unknown_subject     a name the corpus never mentions (acronyms, expansions, possessives)
    off_topic           none of the question's words (two or more) occurs in the corpus
    premise_mismatch    the question's predicate is found, but with another subject (the parse
                        says someone else did it) or about another place, person or year
    figure_not_bound    a number or year of the question that no evidence sentence binds
    subject_not_found   the names are in the corpus, but no retrieved paragraph binds them
    answer_type_absent  "how many" with no figure about the subject; "who" with no name; ...
    weak_evidence       a logistic model over evidence scores, fitted on the dev split
                        (``refusal_model.json``; refit with ``bench/calibrate_refusal.py``)

The LLM backends run the checks that need no answer (``PRE_GENERATION``) before generating,
and their verdict stands over the model's text. The checks' thresholds are fields of
``AnswerConfig`` (``answer/config.py``), which the evidence carries (``ev.config``).
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

from assistant.answer.evidence import binds
from assistant.answer.types import Refusal
from assistant.nlp import stem, term_of, token_terms, verb_term
from assistant.query import AnswerType, polarity_of

if TYPE_CHECKING:
    from assistant.answer.extractive import Candidate, Evidence

MODEL_FILE = Path(__file__).with_name("refusal_model.json")
# answer types whose answer is a typed span; for these, evidence without one is no answer
TYPED = frozenset({AnswerType.QUANTITY, AnswerType.PERSON, AnswerType.ORGANISATION,
                   AnswerType.PLACE, AnswerType.DATE})
NAME_TYPES = frozenset({"PERSON", "ORG", "GPE", "NORP", "LOC"})


@dataclass
class Verdict:
    refusal: Refusal
    correction: list[Candidate] = field(default_factory=list)


Check = Callable[["Evidence"], "Verdict | None"]


# -- checks that need no retrieval ------------------------------------------------------------
def _known(ev: Evidence, entity) -> bool:
    """Mentioned (see ``evidence.binds``); a capitalised first word of the question
    ("Contrast East Asia's …") may be left out."""
    if binds(entity, ev.corpus.text, ev.corpus.vocabulary):
        return True
    words = entity.text.split()
    return entity.start == 0 and len(words) > 1 and ev.corpus.mentions(" ".join(words[1:]))


def unknown_subject(ev: Evidence) -> Verdict | None:
    missing = [e.text for e in ev.query.entities if not _known(ev, e)]
    if missing:
        return Verdict(Refusal("unknown_subject", f"the brief never mentions {', '.join(missing)}"))
    return None


def off_topic(ev: Evidence) -> Verdict | None:
    q = ev.query
    if q.answer_type in (AnswerType.DOCUMENT, AnswerType.OVERVIEW):
        return None
    known_names = {t for e in q.entities for t in e.terms}
    content = set(q.terms) - known_names
    unknown = sorted(t for t in content if t not in ev.corpus.vocabulary)
    if (len(unknown) >= ev.config.off_topic_min_words and len(unknown) == len(content)
            and not known_names):
        return Verdict(Refusal("off_topic", f"the brief never uses: {', '.join(unknown)}"))
    return None


# -- checks on the evidence ---------------------------------------------------------------------
def _agents(token) -> list:
    """Who does what `token` names: the active subject, the by-agent of a passive, or the
    possessor of a nominalisation ("Yoo's withdrawal")."""
    kids = list(token.children)
    if token.pos_ == "NOUN":
        found = [c for c in kids if c.dep_ == "poss"]
    elif any(c.dep_ == "nsubjpass" for c in kids):
        found = [g for c in kids if c.dep_ == "agent" for g in c.children if g.dep_ == "pobj"]
    else:
        found = [c for c in kids if c.dep_ == "nsubj"]
        if not found and token.dep_ in ("xcomp", "conj") and token.head.pos_ == "VERB":
            # "prices are said to have risen": the subject of the governing verb
            found = [c for c in token.head.children if c.dep_ in ("nsubj", "nsubjpass")]
    return found


def frame_conflicts(ev: Evidence) -> tuple[list[Candidate], list[str]]:
    """Sentences that state the question's predicate (and object) with another agent, unless
    some sentence states it with the question's own subject."""
    q = ev.query
    names = {t for e in q.entities for t in e.terms}
    conflicts, agents_seen = [], []
    for frame in q.frames:
        subject = set(frame.subject) & names
        if not subject or frame.attribution:
            continue
        support = False
        found: list[tuple[Candidate, str]] = []
        for c in ev.candidates:
            if frame.object and not set(frame.object) - subject & c.unit.terms:
                continue
            for t in c.unit.span:
                if verb_term(t) != frame.verb and term_of(t.text) != frame.verb:
                    continue
                for agent in _agents(t):
                    a_terms = set(token_terms(agent.subtree))
                    named = any(w.pos_ == "PROPN" or w.ent_type_ in NAME_TYPES for w in agent.subtree)
                    if a_terms & subject or (not named and c.names_ok and not c.missing_names):
                        support = True  # the subject, or "GDP in the region" in its paragraph
                    elif named:  # another named agent ("the US", "Yoo's")
                        found.append((c, agent.doc[agent.left_edge.i:agent.i + 1].text))
        if found and not support:
            conflicts += [c for c, _ in found]
            agents_seen += [a for _, a in found]
    return conflicts, agents_seen


def premise_mismatch(ev: Evidence) -> Verdict | None:
    conflicts, agents = frame_conflicts(ev)
    if conflicts:
        frame_subject = next(f.subject_text for f in ev.query.frames if f.subject_text)
        return Verdict(Refusal("premise_mismatch", f"the brief says {agents[0]}, not "
                               f"{frame_subject}, did this"), conflicts[:1])
    # the claim is stated, but about another place, person or year than the question's
    conflict = direction_conflict(ev)
    if conflict is not None:
        return conflict
    cfg = ev.config
    stated = [c for c in ev.candidates
              if c.pred >= cfg.min_predicate and c.predicate_terms >= cfg.premise_min_terms]
    if not stated or any(c.names_ok for c in stated):
        return None
    stated = [c for c in stated if c.other_names]  # stated about some other named place or party
    if not stated or any(c.names_ok and c.pred >= cfg.some_predicate for c in ev.candidates):
        return None
    names = [m for c in stated for m in c.missing_names]
    best = max(stated, key=lambda c: (c.pred, c.score))
    return Verdict(Refusal("premise_mismatch", f"the brief states this, but not about "
                           f"{', '.join(dict.fromkeys(names))}"), [best])


def _anchor(token) -> set[str]:
    """What a directional verb is about: its subject's head word plus the names in the subject
    ("exports of the smaller states" -> export; "Chile's wages" -> wage, chile)."""
    subj = [c for c in token.children if c.dep_ in ("nsubj", "nsubjpass")]
    if not subj and token.dep_ in ("xcomp", "conj", "ccomp"):
        subj = [c for c in token.head.children if c.dep_ in ("nsubj", "nsubjpass", "dobj")]
    out: set[str] = set()
    for c in subj:
        out |= set(token_terms([c]))
        out |= set(token_terms(w for w in c.subtree if w.pos_ == "PROPN" or w.ent_type_))
    return out


_HEDGES = frozenset({"not", "never", "no", "unlikely", "barely", "hardly"})


def _directions(tokens, hedge_scope: int) -> list[tuple[int, set[str]]]:
    """(polarity, what it is about) of each directional verb that is not negated or hedged
    ("unlikely to recover" states no direction): no hedge among the verb, its nearest
    ancestors (`hedge_scope` tokens in all) and their children."""
    out = []
    for t in tokens:
        p = polarity_of(t.lemma_)
        if not p or t.pos_ != "VERB":
            continue
        scope = [t, *t.ancestors][:hedge_scope]
        if any(c.lower_ in _HEDGES for s in scope for c in [s, *s.children]):
            continue
        anchor = _anchor(t)
        if anchor:
            out.append((p, anchor))
    return out


def direction_conflict(ev: Evidence) -> Verdict | None:
    """The question says something rose (joined, strengthened, "most …") where the brief says
    the same thing fell (left, weakened, "least …"), and nowhere that it rose."""
    q = ev.query
    attributed = {t for f in q.frames if f.attribution for t in f.subject}
    hedge_scope = ev.config.hedge_scope
    asked = [(p, a - attributed) for p, a in _directions(q.doc, hedge_scope) if a - attributed]
    if not asked:
        return None
    verbs = {stem(t.lemma_.lower()) for t in q.doc if t.pos_ == "VERB"}
    for polarity, anchor in asked:
        same, opposite = False, []
        for c in ev.candidates:
            if c.missing_numbers or c.missing_names:
                continue
            for p, a in _directions(c.unit.span, hedge_scope):
                if a & verbs:  # "growth slowed" is still growth: not the opposite of "grow"
                    continue
                if anchor <= a:
                    if p == polarity:
                        same = True
                    else:
                        opposite.append(c)
        if opposite and not same:
            return Verdict(Refusal("premise_mismatch", "the brief states the opposite direction"),
                           opposite[:1])
    return None


def figure_not_bound(ev: Evidence) -> Verdict | None:
    q = ev.query
    wanted = q.figures | q.years
    if not wanted:
        return None
    if any(not c.missing_numbers for c in ev.candidates):
        return None
    unbound = sorted(wanted - set().union(*(c.unit_numbers for c in ev.candidates)))
    unbound = unbound or sorted(wanted)
    near = [c for c in ev.candidates if c.pred >= ev.config.min_predicate and c.unit_figures]
    correction = [max(near, key=lambda c: (c.pred, c.score))] if near else []
    return Verdict(Refusal("figure_not_bound", f"no sentence of the brief gives {', '.join(unbound)} "
                           "for this"), correction)


def subject_not_found(ev: Evidence) -> Verdict | None:
    """The names are in the corpus, but no retrieved sentence's paragraph binds them (with the
    question's figures and years)."""
    if ev.query.about_document or any(c.names_ok and not c.missing_numbers for c in ev.candidates):
        return None
    names = sorted({m for c in ev.candidates for m in c.missing_names}) or ["the question's subject"]
    return Verdict(Refusal("subject_not_found", f"no passage about {', '.join(names)} answers this"))


def answer_type_absent(ev: Evidence) -> Verdict | None:
    q = ev.query
    if q.answer_type not in TYPED:
        return None
    cfg = ev.config
    if any(c.fits and c.names_ok and not c.missing_numbers
           and (c.pred >= cfg.some_predicate or c.lexical >= cfg.type_absent_lexical)
           for c in ev.candidates):
        return None
    what = {AnswerType.QUANTITY: "figure", AnswerType.DATE: "date", AnswerType.PLACE: "place",
            AnswerType.PERSON: "name", AnswerType.ORGANISATION: "organisation"}[q.answer_type]
    return Verdict(Refusal("answer_type_absent", f"the brief gives no {what} for this"))


@dataclass(frozen=True)
class EvidenceModel:
    """Logistic regression: P(the evidence answers the question) from evidence features."""

    features: tuple[str, ...]
    weights: tuple[float, ...]
    bias: float
    threshold: float = 0.5  # P below which evidence is weak (refusal_model.json: the fitted one)
    provenance: str = ""

    def probability(self, values: dict[str, float]) -> float:
        z = self.bias + sum(w * values[f] for f, w in zip(self.features, self.weights))
        return 1.0 / (1.0 + math.exp(-max(-30.0, min(30.0, z))))  # clamped: exp() cannot overflow


@lru_cache(maxsize=1)
def load_model() -> EvidenceModel:
    data = json.loads(MODEL_FILE.read_text("utf-8"))
    return EvidenceModel(tuple(data["features"]), tuple(data["weights"]), float(data["bias"]),
                         float(data.get("threshold", 0.5)), data.get("provenance", ""))


def weak_evidence(ev: Evidence) -> Verdict | None:
    if ev.query.answer_type in (AnswerType.DOCUMENT, AnswerType.OVERVIEW):
        return None  # the document's own card, or a summary: nothing to be weak about
    model = load_model()
    p = model.probability(ev.features())
    if p < model.threshold:
        return Verdict(Refusal("weak_evidence", f"the best evidence is weak (p={p:.2f} < "
                               f"{model.threshold:.2f})"))
    return None


PRE_GENERATION: tuple[Check, ...] = (unknown_subject, off_topic, premise_mismatch, figure_not_bound)
POLICY: tuple[Check, ...] = PRE_GENERATION + (subject_not_found, answer_type_absent, weak_evidence)


def decide(ev: Evidence, checks: tuple[Check, ...] = POLICY) -> Verdict | None:
    for check in checks:
        verdict = check(ev)
        if verdict is not None:
            return verdict
    return None
