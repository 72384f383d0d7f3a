"""The default answerer: embedded, no LLM. It never states anything that is not a verbatim
sentence (or span) of the paragraph it cites.

1. Every answer unit (sentence) of the retrieved paragraphs becomes a ``Candidate``, scored
   against the analysed question: semantic (precomputed unit vector vs the query vector),
   lexical (IDF-weighted share of the question's terms in the unit and its paragraph), the
   retrieval rank, and whether it holds a span of the expected answer type. Each candidate also
   records which of the question's constraints (names, figures, years) it binds.
2. The refusal policy (``policy.py``) runs its named checks over those candidates.
3. Otherwise the best units are chosen (sub-questions, named documents and list items each
   get theirs), a **short answer** span of the expected type is cut from the best one, and
   each unit is cited. Overview questions get an extractive summary instead (MMR over the
   unit vectors, one sentence per section where possible); they are never refused.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from assistant.answer.config import AnswerConfig
from assistant.answer.evidence import binds, figures, mentions, numbers, with_acronyms, years
from assistant.answer.policy import Verdict, decide
from assistant.answer.types import Passage, Refusal, Sentence
from assistant.corpus.models import Paragraph
from assistant.index.sentences import SentenceStore, Unit
from assistant.nlp import stem, term_of, terms, token_terms, words
from assistant.query import ENTITY_LABELS, AnswerType, Query

# General English causal connectives (lemmas): what a reason-sentence tends to contain.
CAUSAL_LEMMAS = frozenset(stem(w) for w in words(
                          "because cause due result consequence reason lead drive owe thanks "
                          "hence therefore trigger fuel"))
OTHER_NAME_LABELS = frozenset({"GPE", "LOC", "NORP", "ORG", "PERSON"})


class CorpusNames:
    """What the corpus mentions anywhere (paragraphs, sections, document metadata)."""

    def __init__(self, texts: list[str], vocabulary: frozenset[str]):
        self.text = with_acronyms(" \n ".join(texts))
        self.vocabulary = vocabulary

    def mentions(self, name: str) -> bool:
        return mentions(name, self.text)


@dataclass(eq=False)
class Candidate:
    unit: Unit
    passage_index: int
    score: float = 0.0
    pred: float = 0.0  # IDF-weighted share of the question's predicate terms in this unit
    predicate_terms: int = 0  # how many of them
    lexical: float = 0.0
    semantic: float = 0.0
    fits: bool = False  # holds a span of the expected answer type
    missing_names: tuple[str, ...] = ()  # question names its paragraph never mentions
    names_ok: bool = True  # every name bound, or (several names) one of them
    other_names: bool = False  # the unit or its section names a place or party the question does not
    missing_numbers: tuple[str, ...] = ()  # question figures/years this unit does not state
    unit_numbers: frozenset[str] = frozenset()
    unit_figures: frozenset[str] = frozenset()

    @property
    def text(self) -> str:
        return self.unit.text


@dataclass
class Evidence:
    """What the refusal policy looks at."""

    query: Query
    candidates: list[Candidate]
    passages: list[Passage]
    corpus: CorpusNames
    config: AnswerConfig = field(default_factory=AnswerConfig)

    def features(self) -> dict[str, float]:
        """Evidence features for the weak-evidence model (of the best bound candidate)."""
        bound = [c for c in self.candidates if c.names_ok and not c.missing_numbers]
        best = max(bound, key=lambda c: c.score, default=None)
        return {
            "score": best.score if best else 0.0,
            "semantic": best.semantic if best else 0.0,
            "lexical": best.lexical if best else 0.0,
            "predicate": max((c.pred for c in bound), default=0.0),
            "dense_top": max((p.dense for p in self.passages), default=0.0),
            "fits": float(any(c.fits for c in bound)),
        }


@dataclass
class Draft:
    """What the answerer decided, before citations are numbered."""

    sentences: list[tuple[Candidate, list[int]]] = field(default_factory=list)  # (unit, passages)
    refusal: Refusal | None = None
    short: tuple[str, int] | None = None  # (verbatim span, passage index)
    passages: list[Passage] = field(default_factory=list)

    @property
    def refused(self) -> bool:
        return self.refusal is not None


class ExtractiveAnswerer:
    def __init__(self, store: SentenceStore, corpus: CorpusNames, doc_context: dict[str, str],
                 paragraphs: dict[str, Paragraph], passage: Callable[[str], Passage], nlp,
                 config: AnswerConfig | None = None):
        self.store = store
        self.corpus = corpus
        self.doc_context = doc_context  # doc_id -> title, author, publisher, aliases
        self.paragraphs = paragraphs  # paragraph_id -> Paragraph (for summaries)
        self.passage = passage  # paragraph_id -> Passage (for summaries)
        self.config = config or AnswerConfig()
        self.nlp = nlp  # parses section titles (for the names they mention)

    # -- evidence ---------------------------------------------------------------------------
    def evidence(self, query: Query, passages: list[Passage]) -> Evidence:
        passages = [p for p in passages if p.kind != "heading"][: self.config.max_passages]
        cands = self._candidates(query, passages)
        if query.entities and not any(c.names_ok for c in cands):
            # retrieval missed the paragraphs that name what the question is about: add them
            retrieved = {p.paragraph_id for p in passages}
            extra = [self.passage(pid) for pid in self._naming(query)
                     if pid not in retrieved][: self.config.naming_passages]
            if extra:
                passages = passages + extra
                cands = self._candidates(query, passages)
        return Evidence(query, cands, passages, self.corpus, self.config)

    def _candidates(self, query: Query, passages: list[Passage]) -> list[Candidate]:
        cands = [Candidate(u, i) for i, p in enumerate(passages)
                 for u in self.store.units.get(p.paragraph_id, [])]
        self._score(query, passages, cands)
        return cands

    def _naming(self, q: Query) -> list[str]:
        """Body paragraphs that bind every name group of the question, most question terms first."""
        texts = self.__dict__.setdefault("_paragraph_acronyms", {})
        out = []
        for pid, p in self.paragraphs.items():
            if p.kind.value not in ("body", "list_item"):
                continue
            if pid not in texts:
                texts[pid] = with_acronyms(f"{p.text} {p.section_path} "
                                           f"{self.doc_context.get(p.doc_id, '')}")
            words = self.store.paragraph_terms.get(pid, frozenset())
            groups = {e.group for e in q.entities}
            if all(any(binds(e, texts[pid], words) for e in q.entities if e.group == g) for g in groups):
                out.append((len(set(q.terms) & words), pid))
        return [pid for _, pid in sorted(out, key=lambda x: -x[0])]

    def _score(self, q: Query, passages: list[Passage], cands: list[Candidate]) -> None:
        cfg = self.config
        idf = self.store.idf_of
        q_terms = set(q.terms)
        name_terms = {t for e in q.entities for t in e.terms}
        predicate = q_terms - name_terms - set(q.focus)
        weight = sum(idf(t) for t in q_terms) or 1.0
        p_weight = sum(idf(t) for t in predicate) or 1.0
        vector = np.asarray(q.vector, dtype=np.float32) if q.vector is not None else None
        if vector is not None:
            vector = vector / (np.linalg.norm(vector) or 1.0)
        contexts = []
        for p in passages:
            context = f"{p.text} {p.section} {self.doc_context.get(p.doc_id, '')}"
            contexts.append((with_acronyms(context),
                             self.store.paragraph_terms.get(p.paragraph_id, frozenset())
                             | set(terms(f"{p.section} {self.doc_context.get(p.doc_id, '')}"))))
        # a year must stand in the sentence when it dates a figure; as the time of a reason or
        # a description ("why did X collapse in 2020?"), or when years are compared, its
        # section is enough
        year_context = len(q.years) >= 2 or not (q.figures or q.answer_type is AnswerType.QUANTITY)
        # nouns a quantity must be about: the specific ones (idf = log(1 + N / df), so at most
        # one paragraph in `specific_rarity` uses them)
        specific = math.log(1 + cfg.specific_rarity)
        vocabulary = self.store.vocabulary  # a word the corpus never uses cannot be required
        measured = {t for t in q.measured if idf(t) >= specific and t in vocabulary} - set(q.focus)
        # a figure is bound when its sentence also names (half of) what the question says it
        # measures (4.3 per cent of world output, not of developing countries)
        bound_to = (set(q.measured) & vocabulary) - set(q.focus)
        for c in cands:
            p = passages[c.passage_index]
            acr, ctx_terms = contexts[c.passage_index]
            unit_acr = with_acronyms(c.text)
            named = {t for e in q.entities if mentions(e.text, unit_acr) for t in e.terms}
            own = sum(idf(t) for t in q_terms & (c.unit.terms | named)) / weight
            ctx = sum(idf(t) for t in q_terms & ctx_terms) / weight
            c.lexical = (1 - cfg.context_share) * own + cfg.context_share * ctx
            cosine = float(c.unit.vector @ vector) if vector is not None else 0.0
            c.semantic = (1 - cfg.context_share) * cosine + cfg.context_share * p.dense
            matched = predicate & c.unit.terms
            c.pred = sum(idf(t) for t in matched) / p_weight if predicate else 1.0
            c.predicate_terms = len(matched)
            c.unit_numbers = frozenset(numbers(c.text))
            c.unit_figures = frozenset(figures(c.text))
            c.missing_names = tuple(e.text for e in q.entities if not binds(e, acr, ctx_terms))
            # every name bound; of names joined by "and", one is enough ("X and Y": either)
            missing = set(c.missing_names)
            c.names_ok = all(any(o.text not in missing for o in q.entities if o.group == e.group)
                             for e in q.entities)
            c.other_names = any(ent.label_ in OTHER_NAME_LABELS and not any(
                mentions(ent.text, with_acronyms(e.text)) or mentions(e.text, with_acronyms(ent.text))
                for e in q.entities) for ent in [*c.unit.span.ents, *self._section_ents(p.section)])
            in_reach = c.unit_numbers | (self._section_numbers(p) if year_context else set())
            c.missing_numbers = tuple(sorted((q.figures - c.unit_numbers) | (q.years - in_reach)))
            if (q.figures and bound_to
                    and len(bound_to & c.unit.terms) < cfg.measured_share * len(bound_to)):
                c.missing_numbers = tuple(sorted(set(c.missing_numbers) | q.figures | q.years))
            c.fits = fits(c.unit, q, self.store.paragraph_terms.get(p.paragraph_id, frozenset()),
                          measured, cfg)
            c.score = (cfg.w_semantic * c.semantic + cfg.w_lexical * c.lexical
                       + cfg.w_rank / (1 + c.passage_index) + (cfg.type_bonus if c.fits else 0.0))
            if q.about_document and p.kind in {k.value for k in q.meta_kinds}:
                c.score += cfg.meta_bonus

    def _section_numbers(self, p: Passage) -> set[str]:
        """Numbers of every paragraph of the passage's section (and of the section title)."""
        cache = self.__dict__.setdefault("_section_number_cache", {})
        key = (p.doc_id, p.section)
        if key not in cache:
            texts = [q.text for q in self.paragraphs.values()
                     if q.doc_id == p.doc_id and q.section_path == p.section]
            cache[key] = numbers(" ".join([p.section, p.text, *texts]))
        return cache[key]

    def _section_ents(self, section: str) -> list:
        cache = self.__dict__.setdefault("_sections", {})
        if section not in cache:
            cache[section] = list(self.nlp(section).ents) if section else []
        return cache[section]

    # -- answering ------------------------------------------------------------------------------
    def draft(self, query: Query, passages: list[Passage], docs: list[str] | None = None) -> Draft:
        """The answer to `query` from `passages` (an overview summarises `docs`, the document
        filter, or the documents the question names, or all)."""
        ev = self.evidence(query, passages)
        if query.answer_type is AnswerType.OVERVIEW:
            return self.summary(query, ev, docs)
        verdict: Verdict | None = decide(ev)
        draft = Draft(passages=ev.passages)
        if verdict is not None:
            draft.refusal = verdict.refusal
            draft.sentences = [(c, [c.passage_index]) for c in verdict.correction]
            return draft
        chosen = self._choose(query, ev)
        if not chosen:
            draft.refusal = Refusal("subject_not_found", "no retrieved sentence answers this")
            return draft
        draft.sentences = [(c, [c.passage_index] + _corroborating(c, ev)) for c in chosen]
        draft.short = short_answer(query, chosen, self.config)
        return draft

    def _choose(self, q: Query, ev: Evidence) -> list[Candidate]:
        """The units the answer is made of, in reading order: the best one; those that
        sub-questions, the named documents and alternative names need; the rest of the best
        paragraph when asked for more; then further close, non-repeating ones."""
        usable = _usable(q, ev)
        if not usable:
            return []
        pool = sorted(usable, key=lambda c: -c.score)  # for the sentences beyond the best one
        usable = _preferred(q, ev, usable)
        best = usable[0]
        extra = _subquestion_picks(q, pool, best)
        extra += _document_picks(q, ev, pool, best, [best, *extra])
        extra += _name_picks(q, ev, pool, best, [best, *extra])
        chosen = [best, *(c for c in extra if c is not best)]
        if q.more:  # asked to elaborate: the whole of the best paragraph, in order
            chosen += [c for c in ev.candidates if c.passage_index == best.passage_index and c not in chosen]
        return _with_list_items(_reading_order(_with_close(self.config, q, usable, chosen)), ev)

    # -- overview ---------------------------------------------------------------------------------
    def summary(self, q: Query, ev: Evidence, only: list[str] | None = None) -> Draft:
        """`summary_sentences` per document (the named one, or each), central and diverse: MMR
        over the unit vectors, preferring a section not yet used."""
        cfg = self.config
        docs = q.scope or list(dict.fromkeys(p.doc_id for p in self.paragraphs.values()))
        if only:  # the document filter wins; the named documents within it
            docs = [d for d in docs if d in only] or list(only)
        passages: list[Passage] = []
        chosen: list[Candidate] = []
        for doc_id in docs:
            units = [u for pid, us in self.store.units.items() if pid in self.paragraphs
                     and self.paragraphs[pid].doc_id == doc_id
                     and self.paragraphs[pid].kind.value in ("body", "list_item") for u in us]
            if not units:
                continue
            vectors = np.stack([u.vector for u in units])
            centroid = vectors.mean(axis=0)
            centrality = vectors @ (centroid / (np.linalg.norm(centroid) or 1.0))
            section_of = [self.paragraphs[u.paragraph_id].section for u in units]
            picked = mmr_select(vectors, centrality, section_of, cfg.summary_sentences,
                                cfg.summary_lambda, cfg.summary_section_bonus)
            for i in sorted(picked, key=lambda i: (self.paragraphs[units[i].paragraph_id].position,
                                                   units[i].position)):
                passage = self.passage(units[i].paragraph_id)
                if passage.paragraph_id not in [p.paragraph_id for p in passages]:
                    passages.append(passage)
                idx = [p.paragraph_id for p in passages].index(passage.paragraph_id)
                chosen.append(Candidate(units[i], idx, score=float(centrality[i])))
        return Draft(sentences=[(c, [c.passage_index]) for c in chosen], passages=passages)


def mmr_select(vectors: np.ndarray, centrality: np.ndarray, sections: list, n: int,
               lam: float, new_section_bonus: float) -> list[int]:
    """Maximal marginal relevance: central sentences that repeat little of those already
    picked, preferring a section not yet used."""
    picked: list[int] = []
    used: set = set()

    def gain(i: int) -> float:
        novelty = max((float(vectors[i] @ vectors[j]) for j in picked), default=0.0)
        fresh = 0.0 if sections[i] in used else new_section_bonus
        return lam * float(centrality[i]) - (1 - lam) * novelty + fresh

    while len(picked) < min(n, len(vectors)):
        i = max((i for i in range(len(vectors)) if i not in picked), key=gain)
        picked.append(i)
        used.add(sections[i])
    return picked


TYPED_ANSWERS = frozenset({AnswerType.QUANTITY, AnswerType.PERSON, AnswerType.ORGANISATION,
                           AnswerType.PLACE, AnswerType.DATE, AnswerType.LIST})


# -- choosing the answer's units ----------------------------------------------------------------------
def _usable(q: Query, ev: Evidence) -> list[Candidate]:
    """Candidates that bind the question's names and state its figures and years; for a
    question about the document, every candidate if none does (its own card answers, whatever
    it names)."""
    usable = [c for c in ev.candidates if c.names_ok and not c.missing_numbers]
    if not usable and q.about_document:
        usable = list(ev.candidates)
    return usable


def _preferred(q: Query, ev: Evidence, usable: list[Candidate]) -> list[Candidate]:
    """The candidates the best unit comes from, best first: for a question about the document,
    units of the paragraph kinds that answer it (in the documents it names); for a typed
    answer, units holding a span of the type and enough of the predicate. Each narrowing
    applies only if it leaves some."""
    if q.about_document:
        kinds = {k.value for k in q.meta_kinds}
        meta = [c for c in usable if ev.passages[c.passage_index].kind in kinds
                and (not q.scope or ev.passages[c.passage_index].doc_id in q.scope)]
        usable = meta or usable
    if q.answer_type in TYPED_ANSWERS:
        typed = [c for c in usable if c.fits and c.pred >= ev.config.some_predicate]
        usable = typed or usable
    return sorted(usable, key=lambda c: -c.score)


def _subquestion_picks(q: Query, pool: list[Candidate], best: Candidate) -> list[Candidate]:
    """"What happened to X, and what is expected for Y?": for each sub-question, the unit
    sharing most of its terms that the best unit lacks (ties to the higher score)."""
    picks: list[Candidate] = []
    for part in q.subquestions:
        part_terms = set(terms(part)) - best.unit.terms
        pick = max((c for c in pool if c is not best and part_terms & c.unit.terms),
                   key=lambda c: (len(part_terms & c.unit.terms), c.score), default=None)
        if pick is not None:
            picks.append(pick)
    return picks


def _document_picks(q: Query, ev: Evidence, pool: list[Candidate], best: Candidate,
                    taken: list[Candidate]) -> list[Candidate]:
    """A question that names two documents hears from both: the best unit of each named
    document not yet among `taken`, if it scores at least `companion_ratio` of the best."""
    picks: list[Candidate] = []
    if len(q.scope) <= 1:
        return picks
    for doc_id in q.scope:
        if any(ev.passages[c.passage_index].doc_id == doc_id for c in taken + picks):
            continue
        pick = next((c for c in pool if ev.passages[c.passage_index].doc_id == doc_id), None)
        if pick is not None and pick.score >= best.score * ev.config.companion_ratio:
            picks.append(pick)
    return picks


def _name_picks(q: Query, ev: Evidence, pool: list[Candidate], best: Candidate,
                taken: list[Candidate]) -> list[Candidate]:
    """"X and Y": each of the alternative names gets its best fitting unit (two when the
    question has several years), if it scores at least `companion_ratio` of the best."""
    picks: list[Candidate] = []
    alternatives = [e for e in q.entities if sum(o.group == e.group for o in q.entities) > 1]
    for e in alternatives:
        own = [c for c in pool if e.text not in c.missing_names and c.fits]
        for c in own[:1 + (len(q.years) > 1)]:
            if c not in taken + picks and c.score >= best.score * ev.config.companion_ratio:
                picks.append(c)
    return picks


def _with_close(cfg: AnswerConfig, q: Query, usable: list[Candidate],
                chosen: list[Candidate]) -> list[Candidate]:
    """`chosen` and, up to the sentence limit (higher for a list), further units of `usable`
    (best first) that score within `keep_ratio` of the best and repeat none of those chosen."""
    best = usable[0]
    chosen = list(chosen)
    limit = cfg.max_sentences_list if q.answer_type is AnswerType.LIST else cfg.max_sentences
    limit = max(limit, len(chosen))
    for c in usable[1:]:
        if len(chosen) >= limit or c.score < best.score * cfg.keep_ratio:
            break
        if c in chosen or any(float(c.unit.vector @ o.unit.vector) > cfg.duplicate_cosine
                              for o in chosen):
            continue
        chosen.append(c)
    return chosen


# -- answer-type matching ---------------------------------------------------------------------------
def _question_spans(q: Query) -> set[str]:
    return {e.text.lower() for e in q.entities}


LABEL_PREFERENCE = ("PERSON", "ORG", "NORP", "GPE", "LOC", "FAC", "DATE", "PERCENT", "MONEY",
                    "QUANTITY", "CARDINAL")


def expected_type(q: Query) -> AnswerType | None:
    """The span type an answer should carry (for questions about the document: its item type,
    e.g. the author's name or the publication date)."""
    if q.answer_type is AnswerType.DOCUMENT:
        return q.item_type
    return q.answer_type


def typed_spans(unit: Unit, q: Query, cfg: AnswerConfig | None = None) -> list:
    """Spans of the unit whose type fits the expected answer type; spans that repeat the
    question's own names or numbers are left out. Coordinated names ("Helen Clark and ...
    Ellen Johnson-Sirleaf") come as one span."""
    cfg = cfg or AnswerConfig()
    span = unit.span
    own = _question_spans(q)
    atype = expected_type(q)
    if atype is AnswerType.LIST:
        return list_spans(span, q.item_type, own)
    labels = ENTITY_LABELS.get(atype)
    if not labels:
        return []
    ents = [_hyphen_joined(e) for e in span.ents if e.label_ in labels and e.text.lower() not in own
            and not any(e.text.lower() in o or o in e.text.lower() for o in own)]
    if ents and atype in (AnswerType.PERSON, AnswerType.ORGANISATION):
        top = min(LABEL_PREFERENCE.index(e.label_) for e in ents)
        ents = [e for e in ents if LABEL_PREFERENCE.index(e.label_) == top]
    out = []
    for ent in ents:
        if atype is AnswerType.QUANTITY:
            if ent.start > 0 and ent.doc[ent.start - 1].lower_ in ("p.", "pp.", "p", "page", "pages"):
                continue  # a page reference, not a quantity
            ent = _from_first_number(ent)
            if ent is None or not figures(ent.text) or (numbers(ent.text) <= (q.years | q.figures)):
                continue
            ent = _with_counted_noun(ent, cfg.counted_noun_gap)
        if atype is AnswerType.DATE and ((years(ent.text) & q.years and len(ent) == 1)
                                         or not any(t.pos_ in ("NOUN", "PROPN", "NUM") for t in ent)):
            continue  # the year asked about, or "monthly": not a date
        out.append(ent)
    if atype in (AnswerType.PERSON, AnswerType.ORGANISATION, AnswerType.PLACE):
        out = _coordinated(out, cfg.coordination_gap)
    return out


def _hyphen_joined(ent):
    """"Ellen Johnson" + "-Sirleaf": a name the NER cut at a hyphen, made whole."""
    doc, end = ent.doc, ent.end
    while end + 1 < len(doc) and doc[end].text == "-" and doc[end + 1].pos_ == "PROPN":
        end += 2
    if end == ent.end:
        return ent
    from spacy.tokens import Span  # spaCy is loaded already: the unit was parsed by it

    return Span(doc, ent.start, end, label=ent.label_)


def _coordinated(ents: list, gap: int) -> list:
    """Entities joined by a coordination ("X and Y", at most `gap` tokens apart) become one
    span from the first to the last."""
    if len(ents) < 2:
        return ents
    doc = ents[0].doc
    out, group = [], [ents[0]]
    for e in ents[1:]:
        between = doc[group[-1].end:e.start]
        # only "and"/"or"/commas and modifiers of the next name ("and former Liberian President")
        if len(between) <= gap and any(t.lower_ in ("and", "or", ",") for t in between) and all(
                t.lower_ in ("and", "or", ",") or e.start <= t.head.i < e.end
                or (t.head in between and t.dep_ in ("amod", "compound", "det")) for t in between):
            group.append(e)
        else:
            out.append(group)
            group = [e]
    out.append(group)
    return [doc[g[0].start:g[-1].end] if len(g) > 1 else g[0] for g in out]


_QUALIFIERS = frozenset(words("about around almost nearly over under some roughly approximately an a "
                        "estimated more less than up to just"))


def _from_first_number(ent):
    """A quantity span that starts at its number or a qualifier of it ("about 45 million"), not
    mid-phrase ("per cent in 2020 (9.6 per cent" is not a quantity)."""
    start = ent.start
    while start < ent.end and not ent.doc[start].like_num and ent.doc[start].lower_ not in _QUALIFIERS:
        start += 1
    if start >= ent.end or (ent.doc[start].lower_ not in _QUALIFIERS and not ent.doc[start].like_num):
        return None
    if any(t.text in "()" for t in ent.doc[start:ent.end]):
        return None
    if start == ent.start:
        return ent
    from spacy.tokens import Span  # spaCy is loaded already: the unit was parsed by it

    return Span(ent.doc, start, ent.end, label=ent.label_)


def _with_counted_noun(ent, gap: int):
    """"45 million" -> "45 million people": a cardinal with the noun it counts (at most `gap`
    tokens after it)."""
    doc = ent.doc
    head = ent.root.head
    if ent.label_ == "CARDINAL" and head.pos_ == "NOUN" and 0 <= head.i - ent.end <= gap:
        return doc[ent.start:head.i + 1]
    return ent


def list_spans(span, item_type: AnswerType | None, exclude: set[str] = frozenset()) -> list:
    """Coordinated groups of the unit ("El Salvador, Guatemala and Honduras"), each as the
    span from its first to its last item; items named in the question (`exclude`, lower-cased)
    are left out; with an item type, only groups whose items are all of that type."""
    labels = ENTITY_LABELS.get(item_type) if item_type else None
    out, seen = [], set()
    for t in span:
        if not any(c.dep_ == "conj" for c in t.children):
            continue
        items, stack = [t], [t]
        while stack:
            for c in stack.pop().children:
                if c.dep_ == "conj":
                    items.append(c)
                    stack.append(c)
        items = [i for i in items if i.pos_ in ("NOUN", "PROPN")
                 and not any(i.text.lower() in x for x in exclude)]
        if len(items) < 2 or (labels and not all(i.ent_type_ in labels for i in items)):
            continue
        items.sort(key=lambda i: i.i)
        first, last = items[0], items[-1]
        start = first.i
        while start > first.left_edge.i and span.doc[start - 1].dep_ in ("compound", "amod"):
            start -= 1
        key = (start, last.i)
        if key not in seen:
            seen.add(key)
            out.append(span.doc[start:last.i + 1])
    # "Guatemala and Honduras" is part of "El Salvador, Guatemala and Honduras"
    return [s for s in out if not any(o is not s and o.start <= s.start and s.end <= o.end
                                      for o in out)]


ORIGIN_VERBS = frozenset(term_of(w) for w in words("come stem arise result follow"))


def _origin(token) -> bool:
    """"X came from Y", "stems from", "arose from": a verb of origin with its source; or a
    clause opened by "because", "since" or "as"."""
    if token.pos_ == "VERB" and term_of(token.lemma_) in ORIGIN_VERBS:
        return any(c.dep_ == "prep" and c.lower_ == "from" for c in token.children)
    return token.dep_ == "mark" and token.lower_ in ("because", "since", "as")


def fits(unit: Unit, q: Query, context: frozenset[str] = frozenset(),
         measured: set[str] = frozenset(), cfg: AnswerConfig | None = None) -> bool:
    """Does the unit hold an answer of the expected type? A quantity must also be about what
    the question measures (`measured`: its specific nouns, in the unit or its paragraph
    `context`)."""
    cfg = cfg or AnswerConfig()
    atype = q.answer_type
    if atype is AnswerType.REASON:
        return any(stem(t.lemma_.lower()) in CAUSAL_LEMMAS or _origin(t) for t in unit.span)
    if atype is AnswerType.LIST:
        return bool(list_spans(unit.span, q.item_type, _question_spans(q))) or \
            unit.text.rstrip().endswith(":")
    if atype is AnswerType.QUANTITY:  # a figure, about what the question counts or measures
        if measured and len(measured & (unit.terms | context)) < cfg.measured_share * len(measured):
            return False
        return bool(typed_spans(unit, q, cfg)) or bool(figures(unit.text) - q.figures - q.years)
    if atype in ENTITY_LABELS:
        return bool(typed_spans(unit, q, cfg))
    if atype is AnswerType.DOCUMENT and q.item_type in ENTITY_LABELS:
        return bool(typed_spans(unit, q, cfg))
    return True


# what a measure noun asks for: a share is a percentage, a count a number, a cost money
MEASURE_LABELS = {**dict.fromkeys((term_of(w) for w in words("share percentage proportion rate")), "PERCENT"),
                  **dict.fromkeys((term_of(w) for w in words("number count total")), "CARDINAL"),
                  **dict.fromkeys((term_of(w) for w in words("cost price amount value sum")), "MONEY")}


def quantity_label(text: str) -> str:
    """PERCENT, MONEY or CARDINAL from the words of a quantity (the small NER model mixes
    them up: "81 per cent" comes out as MONEY)."""
    lowered = text.lower()
    if "per cent" in lowered or "percent" in lowered or "%" in lowered:
        return "PERCENT"
    if any(w in lowered for w in ("dollar", "$", "euro", "€", "£", "pound", "peso")):
        return "MONEY"
    return "CARDINAL"


def _near_year(span, years: list, gap: int) -> int:
    """How close a quantity is to the year asked about: "2.6 per cent in 2022" puts the year
    right after its figure (at most `gap` tokens on), so that order and gap count first, then
    the parse-tree distance."""
    if not years:
        return 0
    after = [y.i - span.end for y in years if 0 <= y.i - span.end <= gap]
    return min(after) if after else gap + 1 + _near(span, years)  # after every year right after


def _words_near(span, points: list, reach: int) -> int:
    """How many different question words stand within `reach` edges of the span."""
    return len({term_of(a.lemma_) for a in points if not span.start <= a.i < span.end
                and _tree_distance(span.root, a) <= reach})


def _near(span, points: list) -> int:
    """Parse-tree distance from a span to the nearest anchor outside it (0 with no anchors)."""
    return min((_tree_distance(span.root, a) for a in points
                if not span.start <= a.i < span.end), default=0)


def _tree_distance(a, b) -> int:
    """Edges between two tokens of one parse."""
    up_a = [a, *a.ancestors]
    up_b = [b, *b.ancestors]
    common = next((t for t in up_a if t in up_b), None)
    if common is None:  # tokens of different sentences: farther apart than any in one
        return 99
    return up_a.index(common) + up_b.index(common)


def short_answer(q: Query, chosen: list[Candidate],
                 cfg: AnswerConfig | None = None) -> tuple[str, int] | None:
    """A verbatim span of the expected type from the chosen units. Preferred, in order: the
    unit that shares most with the question; a span of the label the question's measure noun
    asks for ("what share" -> a percentage); the span nearest in the parse tree to the
    question's year, then to the noun it asks about ("the death toll"), then to its other words."""
    cfg = cfg or AnswerConfig()
    atype = expected_type(q)
    if atype not in TYPED_ANSWERS or any(c.unit.text.rstrip().endswith(":") for c in chosen):
        return None  # no type to match, or a list given item by item
    if atype is AnswerType.LIST and q.item_type is None:
        return None  # a list of what? Untyped coordinations are too often the wrong ones
    groups = [e.group for e in q.entities]
    if len(set(groups)) < len(groups) or len(q.years) > 1 or q.subquestions:
        return None  # several things asked ("X and Y"): no single span answers them
    q_terms = set(q.terms)
    focus = set(q.focus)
    wanted_label = next((MEASURE_LABELS[f] for f in q.focus if f in MEASURE_LABELS), None)
    options = []
    for c in chosen:
        tokens = list(c.unit.span)
        year_at = [t for t in tokens if t.like_num and t.text in q.years]  # see _near_year
        focus_at = [t for t in tokens if t.pos_ in ("NOUN", "PROPN") and term_of(t.lemma_) in focus]
        word_at = [t for t in tokens if term_of(t.lemma_) in q_terms]
        for s in typed_spans(c.unit, q, cfg):
            label = quantity_label(s.text) if atype is AnswerType.QUANTITY else s.label_
            counts = set(token_terms(s))  # "23 deaths" answers "how many deaths", not "2,412 cases"
            kind_ok = (not wanted_label or label == wanted_label) and (
                not (counts and focus) or bool(counts & focus) or atype is not AnswerType.QUANTITY)
            options.append((-round(c.lexical, cfg.lexical_decimals), 0 if kind_ok else 1,
                            _near_year(s, year_at, cfg.year_after_gap),
                            0 if atype is AnswerType.QUANTITY else _near(s, focus_at),
                            -_words_near(s, word_at, cfg.words_near_reach), _near(s, word_at),
                            -len(s), s, c))
    if not options or (wanted_label and all(o[1] for o in options)):
        return None  # nothing of the kind asked ("what share" and no percentage): no short answer
    *_, best, c = min(options, key=lambda o: o[:-2])  # by the ranks, not the span or unit
    offset = best.start_char - c.unit.span.start_char
    verbatim = c.unit.text[offset:offset + len(best.text)].strip(" ,;:()")
    if verbatim.endswith(("'s", "’s", "´s")):
        verbatim = verbatim[:-2]
    return (verbatim, c.passage_index) if verbatim else None


# -- helpers -----------------------------------------------------------------------------------------
def _corroborating(c: Candidate, ev: Evidence) -> list[int]:
    """Another document's paragraph that states the same figure about the same subject (two or
    more shared content terms in one of its sentences): the op-ed's claim and the report's
    number are cited together."""
    stated = c.unit_figures
    if not stated:
        return []
    own = ev.passages[c.passage_index]
    for o in ev.candidates:
        p = ev.passages[o.passage_index]
        if (p.doc_id != own.doc_id and stated & o.unit_figures
                and len(c.unit.terms & o.unit.terms) >= ev.config.corroboration_terms):
            return [o.passage_index]
    return []


def _with_list_items(chosen: list[Candidate], ev: Evidence) -> list[Candidate]:
    """A chosen unit that introduces a list ("three areas stand out ...:") is followed by the
    first unit of each list item the retriever brought along."""
    out: list[Candidate] = []
    for c in chosen:
        out.append(c)
        if not c.text.rstrip().endswith(":"):
            continue
        for i in range(c.passage_index + 1, len(ev.passages)):
            if ev.passages[i].kind != "list_item":
                break
            first = next((o for o in ev.candidates if o.passage_index == i), None)
            if first is not None and not any(o.passage_index == i for o in chosen + out):
                out.append(first)
    return out


def _reading_order(chosen: list[Candidate]) -> list[Candidate]:
    """The best unit first, then the other units of its paragraph in document order; then the
    same for each further paragraph."""
    order: list[Candidate] = []
    for c in chosen:
        if c in order:
            continue
        order.append(c)
        order.extend(sorted((o for o in chosen if o.passage_index == c.passage_index
                             and o not in order), key=lambda o: o.unit.position))
    return order


def to_sentences(draft: Draft) -> tuple[list[Sentence], list[int], int | None]:
    """Number citations by first appearance; returns the sentences, the passage index of each
    n, and the n of the short answer."""
    cited: list[int] = []
    sentences = []
    for cand, idxs in draft.sentences:
        ns = []
        for i in idxs:
            if i not in cited:
                cited.append(i)
            ns.append(cited.index(i) + 1)
        sentences.append(Sentence(text=cand.text, citations=ns, supported=True, quote=cand.text))
    short_n = None
    if draft.short is not None:
        if draft.short[1] not in cited:
            cited.append(draft.short[1])
        short_n = cited.index(draft.short[1]) + 1
    return sentences, cited, short_n
