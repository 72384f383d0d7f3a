"""Citation checking for generated answers (and for the evaluation suite).

An LLM answer is text with inline ``[n]`` markers, n being the 1-based index of a passage
given to the model. Each sentence is checked against the passages it cites:

* citation numbers outside ``1..len(passages)`` are invented and dropped;
* every number in the sentence must occur in a cited passage (``8.0`` == ``8``,
  ``2,412`` == ``2412``, ``81%`` == ``81 per cent``);
* its content must be supported: a score mixing lexical evidence (the share of the sentence's
  content words found in the cited passages) and, when an embedder is given, semantic
  evidence (the best cosine between the sentence and a sentence of a cited passage) must
  reach a calibrated threshold.

``grounded`` then keeps only what may be shown: sentences that cite at least one retrieved
passage and carry no link (an answer cites paragraphs, never URLs).

Passage sentences that read as instructions to an assistant ("ignore previous instructions",
"say ...") are never evidence, so an answer that obeys text injected into a passage is not
supported by it. ``support_score`` is the same content check on its own, for the evaluation
suite (an ALCE-style citation-support proxy without an NLI model).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from assistant.answer.evidence import numbers
from assistant.answer.types import (
    REFUSAL,
    Answer,
    Citation,
    Passage,
    Refusal,
    Sentence,
    refusal_answer,
)
from assistant.corpus.injection import injection_reasons, links
from assistant.corpus.text import normalise, split_sentences
from assistant.nlp import sentences, stem, terms, words

Embed = Callable[[list[str]], np.ndarray]

# Calibrated on the real corpus (corpus/*.md, 76 body sentences) with the bundled
# all-MiniLM-L6-v2 embedder. True: 76 verbatim sentences, 58 hand-written paraphrases and 4
# two-paragraph summaries, each citing its own paragraph(s). False: 210 sentences cited to a wrong
# paragraph of the same document (the nearest one by embedding, a random one, and paraphrases
# cited to the nearest), 16 off-topic or injected claims, and 31 hand-written changed facts that
# keep every number ("developing" for "developed", "eased" for "did not ease").
# Scores of the false citations that pass the number rule reach at most 0.57 combined (0.50
# lexical); true paraphrases start at 0.61 (5th percentile 0.66; lexical 0.50, p5 0.63). With
# these values: verbatim 76/76 and paraphrases/summaries 61/62 kept, wrong-paragraph and
# off-topic 226/226 rejected, changed numbers 5/5 rejected (by the number rule), but changed
# facts that keep the wording only 12/31 rejected (lexical only: 61/62, 226/226, 9/31). Catching
# those needs an entailment model; fitting the threshold to them did not carry over between the
# two documents, so the threshold sits in the gap between true and wrong-paragraph citations.
LEXICAL_WEIGHT = 0.5  # share of the combined score taken by lexical coverage
SUPPORT_THRESHOLD = 0.62  # combined lexical + semantic score, when an embedder is given
LEXICAL_THRESHOLD = 0.55  # lexical coverage alone, when no embedder is given

_MARKER = re.compile(
    r"\[\s*(?:(?:passages?|source|ref)\s*)?(\d+(?:\s*(?:,|;|-|–|and)\s*\d+)*)\s*\]", re.IGNORECASE)
# markers written after a sentence's full stop belong to that sentence: "... cent. [1] Next"
_MARKERS_AFTER_STOP = re.compile(
    r"([.!?][\"'”’)]?)((?:\s*\[\s*(?:(?:passages?|source|ref)\s*)?\d[\d\s,;–\-and]*\])+)", re.IGNORECASE)
_BULLET = re.compile(r"^\s*(?:[-*•+]|\d+[.)]|#+)\s+")
_LIST_ORDINAL = re.compile(r"^\s*\d+[.)]\s+")
# attribution words say who claims something; the passage need not contain them
_ATTRIBUTION = frozenset(stem(w) for w in words("""
op-ed oped argue argues argued state states stated note notes noted warn warns warned find finds
found estimate estimates write writes wrote claim claims claimed stress stresses stressed
suggest suggests suggested mention mentions mentioned highlight highlights highlighted point
points pointed add adds added author describe describes described call calls called show shows
showed according accord also overall
"""))
# A range marker "[2-4]" cites every passage in it; a wider one ("[1-2021]") is not a range of
# the at most top_k (8) passages a model is given, so its two ends are read as numbers.
MAX_MARKER_RANGE = 10


# -- parsing ------------------------------------------------------------------------------------
def _marker_numbers(body: str) -> list[int]:
    out: list[int] = []
    for part in re.split(r"\s*(?:,|;|and)\s*", body):
        bounds = [int(x) for x in re.split(r"\s*[-–]\s*", part) if x.strip().isdigit()]
        if len(bounds) == 2 and 0 <= bounds[1] - bounds[0] <= MAX_MARKER_RANGE:
            out.extend(range(bounds[0], bounds[1] + 1))
        else:
            out.extend(bounds)
    return out


def _blocks(text: str) -> list[str]:
    """Lines as blocks; a line that starts in lower case continues the one before (a wrapped
    sentence), list bullets and heading marks are dropped."""
    blocks: list[str] = []
    current: list[str] = []
    for line in text.replace("**", "").replace("__", "").splitlines():
        if not line.strip() or not line.strip()[0].islower():
            if current:
                blocks.append(" ".join(current))
            current = []
        if line.strip():
            current.append(_BULLET.sub("", line).strip())
    if current:
        blocks.append(" ".join(current))
    return blocks


def parse_cited_sentences(text: str) -> list[tuple[str, list[int]]]:
    """Split an answer into (sentence without markers, marker numbers in order).

    ``[1]``, ``[2][3]``, ``[1, 2]``, ``[1-3]`` and ``[passage 1]`` are understood. Markers
    belong to the sentence they end or appear in; markers after a full stop ("... 2020. [1]")
    belong to the sentence before it, and a block that is only markers to the one before."""
    out: list[tuple[str, list[int]]] = []
    for block in _blocks(text):
        block = _MARKERS_AFTER_STOP.sub(lambda m: f"{m.group(2)}{m.group(1)}", block)
        for sentence in split_sentences(block):
            numbers: list[int] = []
            for m in _MARKER.finditer(sentence):
                numbers.extend(n for n in _marker_numbers(m.group(1)) if n not in numbers)
            clean = _MARKER.sub(" ", sentence)
            clean = re.sub(r"\s+([.,;:!?])", r"\1", re.sub(r"\s+", " ", clean)).strip()
            if not re.search(r"\w", clean):
                if out:
                    out[-1][1].extend(n for n in numbers if n not in out[-1][1])
                continue
            out.append((clean, numbers))
    return out


def is_refusal(text: str) -> bool:
    """True when an answer is (or opens with) the fixed refusal phrase."""
    def simple(s: str) -> str:
        return re.sub(r"[^a-z ]", "", _MARKER.sub("", normalise(s)).lower()).strip()

    return bool(text.strip()) and simple(text).startswith(simple(REFUSAL))


# -- numbers ------------------------------------------------------------------------------------
def number_tokens(text: str) -> set[str]:
    """The numbers of a text, normalised for comparison: "8.0" -> "8", "2,412" -> "2412",
    "81%" and "81 per cent" -> "81"; years count. Citation markers, a list ordinal ("1. ")
    at the very start, and numbers inside words ("COVID-19", "G20") are ignored."""
    return numbers(_LIST_ORDINAL.sub("", _MARKER.sub(" ", normalise(text))))


# -- content support ----------------------------------------------------------------------------
def looks_like_instruction(sentence: str) -> bool:
    """A sentence addressed to an assistant rather than stating a fact (prompt injection): the
    corpus flag's instructions and role tags (``assistant.corpus.injection``). A sentence that
    merely opens with a verb like "Output" ("Output fell by 8 per cent") states a fact."""
    return any(r.code in ("instruction", "role_tag") for r in injection_reasons(sentence))


def passage_sentences(text: str) -> list[str]:
    """A passage's sentences that may serve as evidence (instruction-like ones are dropped)."""
    return [s for s in sentences(_LIST_ORDINAL.sub("", normalise(text)))
            if not looks_like_instruction(s)]


def content_words(text: str) -> set[str]:
    """Stemmed content words, with irregular verb forms unified and attribution verbs removed."""
    out = set()
    for t in terms(text):
        if t not in _ATTRIBUTION:
            out.add(t)
    return out


@dataclass
class Evidence:
    score: float
    lexical: float
    semantic: float | None
    quote: str


def _unit(vectors: np.ndarray) -> np.ndarray:
    vectors = np.asarray(vectors, dtype=np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True).clip(1e-9)


def _vector_lookup(texts: list[str], embed: Embed | None) -> dict[str, np.ndarray] | None:
    if embed is None:
        return None
    unique = list(dict.fromkeys(t for t in texts if t))
    return dict(zip(unique, _unit(embed(unique)))) if unique else {}


def _assess(sentence: str, evidence: list[str], context: str,
            vectors: dict[str, np.ndarray] | None) -> Evidence:
    """Score one sentence against the evidence sentences of its cited passages."""
    if not evidence:
        return Evidence(0.0, 0.0, 0.0 if vectors is not None else None, "")
    words = content_words(sentence)
    pool = set().union(*(content_words(s) for s in evidence)) | content_words(context)
    lexical = len(words & pool) / len(words) if words else 0.0

    def local(s: str) -> float:  # this evidence sentence alone, for choosing the quote
        return len(words & content_words(s)) / len(words) if words else 0.0

    if vectors is None:
        quote = max(evidence, key=local)
        return Evidence(lexical, lexical, None, quote)
    v = vectors[sentence]
    cosines = [float(v @ vectors[s]) for s in evidence]
    semantic = max(max(cosines), float(v @ vectors[" ".join(evidence)]))
    best = max(range(len(evidence)), key=lambda i: cosines[i] + local(evidence[i]))
    score = LEXICAL_WEIGHT * lexical + (1 - LEXICAL_WEIGHT) * semantic
    return Evidence(score, lexical, semantic, evidence[best])


def _texts_to_embed(sentence: str, evidence: list[str]) -> list[str]:
    return [sentence, *evidence, " ".join(evidence)] if evidence else [sentence]


def support_score(sentence: str, passage_texts: Sequence[str], embed: Embed | None = None) -> float:
    """How well the passages support the sentence's content, 0..1 (numbers are not checked
    here; see ``number_tokens``). Compare with SUPPORT_THRESHOLD when ``embed`` is given,
    else with LEXICAL_THRESHOLD."""
    evidence = [s for t in passage_texts for s in passage_sentences(t)]
    vectors = _vector_lookup(_texts_to_embed(sentence, evidence), embed)
    return _assess(sentence, evidence, "", vectors).score


def default_threshold(embed: Embed | None) -> float:
    return SUPPORT_THRESHOLD if embed is not None else LEXICAL_THRESHOLD


def _context(p: Passage) -> str:
    """What the model sees or what names the passage besides its text (no label ordinals)."""
    return f"{p.section} {p.doc_title} {p.footnote or ''}"


def verify(sentences: Sequence[tuple[str, list[int]]], passages: list[Passage],
           embed: Embed | None = None, threshold: float | None = None) -> list[Sentence]:
    """Check each (sentence, markers) against the passages it cites; see the module doc.

    ``embed`` maps texts to vectors (rows; normalised here). ``threshold`` defaults to
    SUPPORT_THRESHOLD with an embedder and LEXICAL_THRESHOLD without."""
    threshold = default_threshold(embed) if threshold is None else threshold
    evidence = [passage_sentences(p.text) for p in passages]
    plans = []
    to_embed: list[str] = []
    for text, markers in sentences:
        valid = [n for n in dict.fromkeys(markers) if 1 <= n <= len(passages)]
        ev = [s for n in valid for s in evidence[n - 1]]
        plans.append((text, valid, ev))
        if valid:
            to_embed += _texts_to_embed(text, ev)
    vectors = _vector_lookup(to_embed, embed)

    out = []
    for text, valid, ev in plans:
        if not valid:
            out.append(Sentence(text=text, citations=[], supported=False, quote=""))
            continue
        cited = [passages[n - 1] for n in valid]
        allowed = set().union(*(number_tokens(" ".join(evidence[n - 1]) + " " + _context(p))
                                for n, p in zip(valid, cited)))
        numbers_ok = number_tokens(text) <= allowed
        result = _assess(text, ev, " ".join(_context(p) for p in cited), vectors)
        supported = numbers_ok and result.score >= threshold
        out.append(Sentence(text=text, citations=valid, supported=supported, quote=result.quote))
    return out


def grounded(checked: Sequence[Sentence]) -> tuple[list[Sentence], list[Sentence]]:
    """Split checked sentences into those an answer may show and those it must leave out: a
    sentence whose every citation was invented (or that cites nothing) is not grounded in a
    retrieved paragraph, and a sentence with a link points the reader outside the brief (a
    link a passage planted, or one the model made up)."""
    kept: list[Sentence] = []
    dropped: list[Sentence] = []
    for s in checked:
        (kept if s.citations and not links(s.text) else dropped).append(s)
    return kept, dropped


def renumber(checked: list[Sentence], passages: list[Passage]) -> list[Citation]:
    """Number the citations that remain 1, 2, … in order of first use (rewriting each
    sentence's markers to match) and return them; a citation is supported when a supported
    sentence cites it."""
    order = list(dict.fromkeys(n for s in checked for n in s.citations))
    for s in checked:
        s.citations = [order.index(n) + 1 for n in s.citations]
    citations = [Citation.from_passage(i, passages[n - 1]) for i, n in enumerate(order, 1)]
    for c in citations:
        c.supported = any(s.supported and c.n in s.citations for s in checked)
    return citations


def checked_answer(question: str, text: str, passages: list[Passage], backend: str,
                   embed: Embed | None = None) -> tuple[Answer | None, list[str]]:
    """A generated answer checked sentence by sentence: sentences that cite no retrieved
    paragraph or carry a link are left out, the rest are checked against the passages they
    cite, and the citations are renumbered. Returns the answer (None when no sentence is
    supported: the caller answers extractively instead) and warnings saying what was left out."""
    if is_refusal(text):
        return refusal_answer(question, passages, backend,
                              Refusal("model_refused", "the model found no answer")), []
    checked, dropped = grounded(verify(parse_cited_sentences(text), passages, embed))
    warnings = []
    if dropped:
        warnings.append(f"{len(dropped)} sentence(s) of the {backend} answer were left out: "
                        "they cited no retrieved paragraph or carried a link.")
    if not any(s.supported for s in checked):
        warnings.append(f"The {backend} answer had no sentence supported by the brief; "
                        "answered with the extractive backend instead.")
        return None, warnings
    return Answer(question, checked, renumber(checked, passages), False, backend), warnings
