"""The default answerer: embedded, no LLM. It picks the sentences of the top paragraphs that
answer the question (scored with the bundled embedding model plus lexical evidence), orders and
de-duplicates them, and cites each one's paragraph. It never states anything that is not a
sentence of the paragraph it cites. When the evidence is too weak, or the question rests on
something the brief does not contain, it refuses with the fixed phrase."""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from assistant.answer.evidence import (
    entities,
    figures,
    mentions,
    numbers,
    terms,
    with_acronyms,
    years,
)
from assistant.answer.types import Passage, Sentence
from assistant.corpus.text import split_sentences
from assistant.retrieve import meta_kinds

QUANTITY_QUESTION = re.compile(
    r"\b(how (much|many|large|big|fast|high|low|deep|severe)|by how much|what (percentage|share|"
    r"proportion|rate|figure|number|amount|level)|what was .{0,40}\b(rate|growth|gdp|output)\b)", re.IGNORECASE)
MULTI_QUESTION = re.compile(r"\b(three|two|four|areas|list|which (areas|regions|groups)|what are|"
                            r"both|compare|and (for|about|what|how)|each|tell me more|more about|"
                            r"explain|details?)\b", re.IGNORECASE)


# Paragraphs quoted whole rather than sentence by sentence (a caption's credit line alone
# does not say what the photo shows).
WHOLE_KINDS = frozenset({"caption", "byline", "metadata", "bio", "footnote"})


CAUSAL_QUESTION = re.compile(r"\b(why|what (caused|drove|explains?)|reasons?|causes?|because)\b", re.IGNORECASE)
CAUSAL_SENTENCE = re.compile(r"\b(because|due to|caused|came from|driven by|result(ed)? (of|from|in)|"
                             r"owing to|amplified|led to|made worse|as a result)\b", re.IGNORECASE)
MORE_QUESTION = re.compile(r"\b(tell me more|more about|more detail|explain|elaborate)\b", re.IGNORECASE)
DOC_MENTIONS = {  # words by which a question points at one document kind
    "article": re.compile(r"\b(op-?ed|article|ventura|author|chatham)\b", re.IGNORECASE),
    "digest": re.compile(r"\b(UN|U\.N\.|united nations|report|WESP|digest|DESA)\b"),
}
SUBQUESTION_SPLIT = re.compile(r"[;?]\s+|,\s+and\s+(?=(how|what|why|which|where|when|who)\b)", re.IGNORECASE)


# Words of quantity questions too vague to name what is being quantified.
VAGUE = frozenset(terms("expect expected happen change compare crisis situation level amount "
                        "number figure total overall estimate fast quick high large big"))
WHY_QUESTION = re.compile(r"^\s*(why|how come)\b", re.IGNORECASE)


@dataclass
class ExtractiveConfig:
    max_passages: int = 6
    max_sentences: int = 3
    max_sentences_multi: int = 5
    min_score: float = 0.30  # refuse below; midpoint of the dev optimum (bench/calibrate_refusal.py)
    keep_ratio: float = 0.78  # further sentences kept when within this ratio of the best
    w_semantic: float = 0.55
    w_lexical: float = 0.45
    w_rank: float = 0.06
    duplicate_cosine: float = 0.93
    context_share: float = 0.35  # weight of the sentence's paragraph in its score
    meta_bonus: float = 0.25
    causal_bonus: float = 0.08  # for "because / came from / due to" sentences on why-questions  # for byline/metadata/caption sentences on questions about them


@dataclass
class Candidate:
    passage_index: int
    position: int
    text: str
    score: float = 0.0
    vector: np.ndarray | None = None


@dataclass
class Draft:
    """What the answerer decided, before citations are numbered."""

    sentences: list[tuple[Candidate, list[int]]] = field(default_factory=list)  # (sentence, passage idx)
    refused: bool = False
    reason: str = ""
    passages: list[Passage] = field(default_factory=list)  # what the indices refer to
    best_score: float = 0.0  # of the best sentence, before the min_score check


class ExtractiveAnswerer:
    name = "extractive"

    def __init__(self, embed: Callable[[list[str]], np.ndarray], corpus_text: str,
                 vocabulary: set[str], idf: dict[str, float], doc_context: dict[str, str],
                 config: ExtractiveConfig | None = None):
        self.embed = embed  # cached sentence embeddings, L2-normalised rows
        self.corpus_text = with_acronyms(corpus_text)
        self.vocabulary = vocabulary
        self.idf = idf
        self.doc_context = doc_context  # doc_id -> title, author, publisher (for entity coverage)
        self.config = config or ExtractiveConfig()

    # -- refusal checks that need no retrieval ------------------------------------------------
    def unknown_entities(self, question: str) -> list[str]:
        return [e for e in entities(question) if not mentions(e, self.corpus_text)]

    def unknown_terms(self, question: str) -> list[str]:
        return [t for t in terms(question) if t not in self.vocabulary]

    # -- answering ------------------------------------------------------------------------------
    def draft(self, question: str, resolved: str, passages: list[Passage],
              query_vector: list[float]) -> Draft:
        cfg = self.config
        missing = self.unknown_entities(question)
        if missing:
            return Draft(refused=True, reason=f"not in the brief: {', '.join(missing)}")
        q_terms = set(terms(question)) | set(terms(resolved))
        wanted = meta_kinds(question) or meta_kinds(resolved)
        unknown = [t for t in terms(question) if t not in self.vocabulary]
        if not wanted and len(unknown) >= 2 and len(unknown) * 2 >= len(set(terms(question))):
            return Draft(refused=True, reason=f"terms not in the brief: {', '.join(unknown)}")

        passages = [p for p in passages if p.kind != "heading"][: cfg.max_passages]
        cands = [Candidate(i, j, s) for i, p in enumerate(passages) for j, s in enumerate(
            [p.text] if p.kind in WHOLE_KINDS else answer_units(p.text))]
        if not cands:
            return Draft(refused=True, reason="nothing retrieved")
        vectors = self.embed([c.text for c in cands])
        q = np.asarray(query_vector, dtype=np.float32)
        q /= np.linalg.norm(q) or 1.0
        weight = sum(self.idf.get(t, 1.0) for t in q_terms) or 1.0
        para_terms = [set(terms(p.text)) | set(terms(p.section)) for p in passages]
        causal = bool(CAUSAL_QUESTION.search(question))
        for c, v in zip(cands, vectors):
            c.vector = v
            p = passages[c.passage_index]
            own = sum(self.idf.get(t, 1.0) for t in q_terms & set(terms(c.text))) / weight
            ctx = sum(self.idf.get(t, 1.0) for t in q_terms & para_terms[c.passage_index]) / weight
            lexical = (1 - cfg.context_share) * own + cfg.context_share * ctx
            semantic = (1 - cfg.context_share) * float(v @ q) + cfg.context_share * p.dense
            c.score = (cfg.w_semantic * semantic + cfg.w_lexical * lexical
                       + cfg.w_rank / (1 + c.passage_index))
            if causal and CAUSAL_SENTENCE.search(c.text):
                c.score += cfg.causal_bonus

        # the question's own figures and years must be in the evidence, in one sentence
        q_numbers = numbers(question) | (numbers(resolved) - numbers(question) if not numbers(question) else set())
        if q_numbers:
            claimed = q_numbers - years(question) - years(resolved)
            followup_year = resolved != question and years(question)  # "and in 2022?"
            if (claimed and len(years(question)) < 2) or followup_year:  # bound in one sentence
                cands = [c for c in cands if q_numbers <= numbers(c.text)]
            else:  # only years (context), or a comparison across years: the paragraph suffices
                ok = {i for i, p in enumerate(passages)
                      if q_numbers <= numbers(f"{p.text} {p.section}")}
                cands = [c for c in cands if c.passage_index in ok]
            if not cands:
                return Draft(refused=True, reason=f"no paragraph has {', '.join(sorted(q_numbers))}")
        # the names the question is about must be covered by the evidence's paragraph
        names = entities(question) or ([] if wanted else entities(resolved))
        about: dict[int, set[str]] = {}
        if names:
            for i, p in enumerate(passages):
                cover = self._coverage(p)
                about[i] = {n for n in names if mentions(n, cover)}
            missing = set(names) - set().union(*about.values())
            if missing:
                return Draft(refused=True, reason=f"no paragraph is about {', '.join(sorted(missing))}")
            cands = [c for c in cands if about[c.passage_index]]
            if not cands:
                return Draft(refused=True, reason=f"no sentence about {', '.join(names)} fits")
        unfiltered = list(cands)
        quantity = bool(QUANTITY_QUESTION.search(question) or QUANTITY_QUESTION.search(resolved))
        if quantity:
            cands = [c for c in cands if figures(c.text)]
            if not cands:
                return Draft(refused=True, reason="the brief gives no figure for this")

        if wanted:  # a question about the document itself: answer from the kinds it asks for
            meta = [c for c in cands if passages[c.passage_index].kind in {k.value for k in wanted}]
            for c in meta:
                c.score += cfg.meta_bonus
            cands = meta or cands
        cands.sort(key=lambda c: -c.score)
        best = cands[0]
        if best.score < cfg.min_score:
            return Draft(refused=True, reason=f"weak evidence ({best.score:.2f} < {cfg.min_score})",
                         best_score=best.score)
        limit = cfg.max_sentences_multi if MULTI_QUESTION.search(question) else cfg.max_sentences
        chosen = [best]
        if len(names) > 1:  # make sure every name the question asks about gets its sentence
            for n in names:
                if not any(n in about[c.passage_index] for c in chosen):
                    pick = next((c for c in cands if n in about[c.passage_index]), None)
                    if pick is not None and pick.score >= best.score * cfg.keep_ratio * 0.8:
                        chosen.append(pick)
        for part in _subquestions(question):  # "how did X fare, and how does the UN see Y?"
            part_terms = set(terms(part)) - set().union(*(terms(c.text) for c in chosen))
            if part_terms:
                scored = [(sum(self.idf.get(t, 1.0) for t in part_terms & set(terms(c.text))), c)
                          for c in cands if c not in chosen]
                top = max(scored, key=lambda sc: (sc[0], sc[1].score), default=(0, None))
                if top[0] > 0 and top[1].score >= best.score * 0.6:
                    chosen.append(top[1])
        for kind, pattern in DOC_MENTIONS.items():  # "the op-ed says X; what does the UN say?"
            if len(_docs_named(question)) > 1 and pattern.search(question) and not any(
                    passages[c.passage_index].doc_kind == kind for c in chosen):
                pick = max((c for c in unfiltered if passages[c.passage_index].doc_kind == kind),
                           key=lambda c: c.score, default=None)
                if pick is not None and pick.score >= best.score * 0.6:
                    chosen.append(pick)
        if MORE_QUESTION.search(question):  # the whole top paragraph, in order
            top_passage = best.passage_index
            chosen += [c for c in cands if c.passage_index == top_passage and c not in chosen]
        for c in cands[1:]:
            if c in chosen:
                continue
            if len(chosen) >= limit or c.score < best.score * cfg.keep_ratio:
                break
            if any(float(c.vector @ o.vector) > cfg.duplicate_cosine for o in chosen):
                continue
            chosen.append(c)
        if quantity and resolved == question:  # a figure for *what*? Its most specific word
            known = [t for t in set(terms(question)) if t in self.vocabulary and t not in VAGUE]
            covered = set().union(*(set(terms(self._coverage(passages[c.passage_index])))
                                    for c in chosen))
            specific = max(known, key=lambda t: self.idf.get(t, 0.0), default=None)
            if specific and specific not in covered:
                return Draft(refused=True, reason=f"no figure for '{specific}' in the brief",
                             best_score=best.score)
        if WHY_QUESTION.search(question):  # "why did X withdraw ...?" rests on X withdrawing
            name_words = set(terms(" ".join(names)))
            known = [t for t in set(terms(question)) if t in self.vocabulary
                     and t not in VAGUE and t not in name_words]
            premise = max(known, key=lambda t: self.idf.get(t, 0.0), default=None)
            said = set().union(*(set(terms(c.text)) for c in chosen))
            if premise and premise not in said:
                return Draft(refused=True, reason=f"the brief does not say '{premise}' here",
                             best_score=best.score)
        chosen = _with_list_items(_reading_order(chosen), passages)
        draft = Draft(passages=passages, best_score=best.score)
        for c in chosen:
            draft.sentences.append((c, [c.passage_index] + self._corroborating(c, passages)))
        return draft

    def _coverage(self, p: Passage) -> str:
        return with_acronyms(f"{p.text} {p.section} {self.doc_context.get(p.doc_id, '')}")

    @staticmethod
    def _corroborating(c: Candidate, passages: list[Passage]) -> list[int]:
        """Other documents' paragraphs that carry the same figure (not just a year): an op-ed
        claim and the report digest's matching number are cited together."""
        stated = figures(c.text)
        if not stated:
            return []
        own = passages[c.passage_index]
        out = []
        for i, p in enumerate(passages):
            if p.doc_id != own.doc_id and stated & figures(p.text):
                shared = set(terms(c.text)) & set(terms(p.text))
                if len(shared) >= 2:
                    out.append(i)
        return out[:1]


def _subquestions(question: str) -> list[str]:
    parts = [p for p in SUBQUESTION_SPLIT.split(question) if p and len(p.split()) >= 3]
    return parts if len(parts) > 1 else []


def _docs_named(question: str) -> set[str]:
    return {kind for kind, pattern in DOC_MENTIONS.items() if pattern.search(question)}


def _with_list_items(chosen: list[Candidate], passages: list[Passage]) -> list[Candidate]:
    """A chosen sentence that introduces a list ("three areas stand out ...:") is followed by
    the first sentence of each list item the retriever brought along."""
    out: list[Candidate] = []
    for c in chosen:
        out.append(c)
        if not c.text.rstrip().endswith(":"):
            continue
        for i in range(c.passage_index + 1, len(passages)):
            if passages[i].kind != "list_item":
                break
            first = split_sentences(_strip_list_number(passages[i].text))[0]
            item = Candidate(i, 0, first, c.score)
            if not any(o.passage_index == i for o in chosen):
                out.append(item)
    return out


_ANAPHOR = re.compile(r"^(Their|Its|They|These|Those|Such|He|She)\b")


def answer_units(text: str) -> list[str]:
    """Sentences of a paragraph; one that opens with a pronoun ("Their growth is projected
    ...") stays joined to the sentence before it, so it is never quoted without its subject."""
    units: list[str] = []
    for sentence in split_sentences(_strip_list_number(text)):
        if units and _ANAPHOR.match(sentence):
            units[-1] = f"{units[-1]} {sentence}"
        else:
            units.append(sentence)
    return units


def _strip_list_number(text: str) -> str:
    return re.sub(r"^\s*\d+[.)]\s+", "", text)


def _reading_order(chosen: list[Candidate]) -> list[Candidate]:
    """Keep the best sentence first; sentences of the same paragraph stay in document order."""
    order: list[Candidate] = []
    for c in chosen:
        if c in order:
            continue
        same = sorted((o for o in chosen if o.passage_index == c.passage_index), key=lambda o: o.position)
        order.extend(same)
    return order


def build_idf(texts: list[str]) -> dict[str, float]:
    df: dict[str, int] = {}
    for t in texts:
        for term in set(terms(t)):
            df[term] = df.get(term, 0) + 1
    n = len(texts)
    return {t: math.log(1 + n / d) for t, d in df.items()}


def to_sentences(draft: Draft, passages: list[Passage]) -> tuple[list[Sentence], list[int]]:
    """Number citations by first appearance; returns sentences and the passage index of each n."""
    cited: list[int] = []
    sentences = []
    for cand, idxs in draft.sentences:
        ns = []
        for i in idxs:
            if i not in cited:
                cited.append(i)
            ns.append(cited.index(i) + 1)
        sentences.append(Sentence(text=cand.text, citations=ns, supported=True, quote=cand.text))
    return sentences, cited
