"""Question analysis, done once per question: ``analyse(question, history) -> Query``.

The Query carries everything downstream needs (the retriever, the refusal policy, the
answerers, the LLM backends), so nothing after this re-parses the question:

* the resolved question (follow-ups made standalone) and its spaCy parse;
* terms (the toolkit's lemma stems), named entities with types, numbers and years;
* the expected answer type, from the question word and the head noun of the wh-phrase;
* predicate-argument frames (subject, verb, object) from the dependency parse;
* the document scope (aliases from corpus metadata) and the questions about the document itself;
* sub-questions, and the query vector.

Every word list here is general English (question words, nouns that name a kind of answer);
document names come from the corpus metadata (``aliases`` in corpus/sources.toml, titles,
authors, publishers).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum

from assistant.answer import followup
from assistant.answer.evidence import figures, years
from assistant.answer.types import MAX_QUESTION_CHARS
from assistant.corpus.models import Kind
from assistant.errors import QuestionError
from assistant.nlp import QUESTION_WORDS, stem, term_of, terms, token_terms, verb_term, words

# An unclosed script, tag or comment runs to the end of the text, so every pattern is linear.
_SCRIPT = re.compile(r"<(script|style)\b[^>]*(?:>|$).*?(?:</\1\s*>|$)", re.IGNORECASE | re.DOTALL)
_TAG = re.compile(r"</?[A-Za-z][^<>]*>|<!--.*?(?:-->|$)", re.DOTALL)
# a "<" that could still open a tag once the tags around it are gone ("<A<A>>" -> "<A >")
_OPENER = re.compile(r"<(?=[A-Za-z/!])")


def plain_question(question: str) -> str:
    """The question as plain text: scripts and markup removed, control and direction-override
    characters dropped, whitespace collapsed."""
    text = _OPENER.sub(" ", _TAG.sub(" ", _SCRIPT.sub(" ", str(question or ""))))
    text = "".join(ch if unicodedata.category(ch)[0] != "C" else " " for ch in text)
    return " ".join(text.split())


def check_question(question: str) -> str:
    """The plain question; QuestionError, with a message for the user, if it is empty or over
    MAX_QUESTION_CHARS (a longer text is no question, and would take seconds to parse)."""
    question = plain_question(question)
    if not question:
        raise QuestionError("The question is empty. Ask something about the op-ed or the UN report.")
    if len(question) > MAX_QUESTION_CHARS:
        raise QuestionError(f"The question is {len(question)} characters long; the limit is "
                            f"{MAX_QUESTION_CHARS}. Ask a shorter question.")
    return question


class AnswerType(StrEnum):
    PERSON = "person"
    ORGANISATION = "organisation"
    PLACE = "place"
    DATE = "date"
    QUANTITY = "quantity"
    LIST = "list"
    REASON = "reason"
    DEFINITION = "definition"
    OVERVIEW = "overview"
    DOCUMENT = "document"  # about the document itself: author, date, title, photo, sources
    DESCRIPTION = "description"  # anything else: answered with the best sentences


# spaCy entity labels that fit each answer type
ENTITY_LABELS: dict[AnswerType, frozenset[str]] = {
    AnswerType.PERSON: frozenset({"PERSON", "ORG", "NORP", "GPE"}),  # "who blocked …?" -> "the US"
    AnswerType.ORGANISATION: frozenset({"ORG", "NORP", "GPE"}),
    AnswerType.PLACE: frozenset({"GPE", "LOC", "FAC"}),
    AnswerType.DATE: frozenset({"DATE"}),
    AnswerType.QUANTITY: frozenset({"PERCENT", "MONEY", "QUANTITY", "CARDINAL"}),
}

# General English nouns that name the kind of answer a wh-phrase asks for.
_STEMS = lambda words: frozenset(term_of(w) or w for w in words.split())
PERSON_NOUNS = _STEMS("person people man woman leader president minister candidate official "
                      "author writer politician diplomat ambassador secretary director head chief")
ORG_NOUNS = _STEMS("organisation organization agency body institution group bloc alliance "
                   "coalition company firm party forum division department")
PLACE_NOUNS = _STEMS("country nation state city capital region place continent territory")
DATE_NOUNS = _STEMS("year date month day period quarter decade")
MEASURE_NOUNS = _STEMS("amount number figure percentage proportion share rate level size total "
                       "count toll cost value sum growth decline contraction fall drop rise "
                       "increase decrease loss gain estimate forecast projection average price "
                       "budget spending")
REASON_NOUNS = _STEMS("reason cause explanation motive driver factor")
OVERVIEW_WORDS = _STEMS("summary summarise summarize overview outline gist recap main key "
                        "central core point takeaway highlight argument message finding idea theme "
                        "topic figure number about brief short nutshell whole overall general")
# questions about the document itself, and the paragraph kinds that answer them
DOCUMENT_NOUNS: dict[str, frozenset[Kind]] = {
    **dict.fromkeys(_STEMS("author writer byline"), frozenset({Kind.BYLINE, Kind.METADATA, Kind.BIO})),
    **dict.fromkeys(_STEMS("date publication publisher outlet series title headline length url "
                           "link website reading genre format"), frozenset({Kind.METADATA})),
    **dict.fromkeys(_STEMS("photo photograph picture image caption illustration"),
                    frozenset({Kind.CAPTION})),
    **dict.fromkeys(_STEMS("footnote source citation reference page"), frozenset({Kind.FOOTNOTE})),
    **dict.fromkeys(_STEMS("bio biography background career"), frozenset({Kind.BIO, Kind.BYLINE})),
}
DOCUMENT_VERBS: dict[str, frozenset[Kind]] = {
    **dict.fromkeys(_STEMS("write author pen"), frozenset({Kind.BYLINE, Kind.METADATA})),
    **dict.fromkeys(_STEMS("publish release"), frozenset({Kind.METADATA})),
    **dict.fromkeys(_STEMS("cite"), frozenset({Kind.FOOTNOTE})),
    **dict.fromkeys(_STEMS("read"), frozenset({Kind.METADATA})),
    **dict.fromkeys(_STEMS("show picture depict photograph"), frozenset({Kind.CAPTION})),
}
# what else a question may ask about a document it names ("what kind of piece", "which
# organisation is it from", "where can I find the original")
DOCUMENT_PROPERTIES = _STEMS("kind type sort piece organisation organization institution think "
                             "tank find original word wording language publish")
CAREER_NOUNS = _STEMS("position post role job career office background biography experience")
# the kind of span a question about the document wants, by its noun
DOCUMENT_ITEMS = {**dict.fromkeys(_STEMS("author writer"), AnswerType.PERSON),
                  **dict.fromkeys(_STEMS("publisher outlet"), AnswerType.ORGANISATION),
                  **dict.fromkeys(_STEMS("date"), AnswerType.DATE)}
REASON_VERBS = _STEMS("cause drive explain")
NAME_LABELS = frozenset({"PERSON", "ORG", "GPE", "LOC", "NORP", "FAC", "EVENT", "LAW", "PRODUCT",
                         "WORK_OF_ART"})
_SUBQUESTION_SPLIT = re.compile(r"(?<=[?;])\s+|,\s+and\s+(?=(?:how|what|why|which|where|when|who)\b)",
                                re.IGNORECASE)
MORE_WORDS = frozenset(words("elaborate detail details expand"))
_NUMBER_WORDS = frozenset(words("two three four five six seven eight"))  # "the three areas": a list
# Sizes in question analysis (general English; set by hand on the dev split):
DEFINITION_MAX_TERMS = 4  # "what is X?" with at most this many content terms asks for a definition
SUBQUESTION_MIN_WORDS = 3  # a part split off at "?", ";" or ", and what" this long: a sub-question
DOCUMENT_OTHER_TERMS = 1  # more content terms than this: about the content, not the document


def _asks_more(words: set[str], followup: bool) -> bool:
    """"Elaborate", "go into detail", "tell me more", or "more" in a follow-up."""
    return bool(words & MORE_WORDS) or ("more" in words and (followup or "tell" in words))


@dataclass(frozen=True)
class Entity:
    text: str
    label: str  # spaCy label, or PROPN for a proper-noun run the NER missed
    terms: tuple[str, ...]
    start: int = 0  # token index in the question
    group: int = 0  # names joined by "and"/"or" share a group ("Chile and Peru")


@dataclass(frozen=True)
class Frame:
    """Who did what to what, as the question states it."""

    verb: str  # the predicate's term ("block", "withdraw", "fall")
    subject: tuple[str, ...]  # terms of the subject ("mexico")
    object: tuple[str, ...]  # terms of the direct object or complement
    subject_text: str = ""
    attribution: bool = False  # the subject is a document, its author or publisher ("Ventura says")


@dataclass(frozen=True)
class DocumentRef:
    doc_id: str
    aliases: tuple[str, ...]  # lower-cased names


@dataclass
class Query:
    question: str  # as asked
    resolved: str  # standalone question (follow-ups resolved against the history)
    doc: object  # spaCy Doc of `resolved`
    terms: list[str]  # content terms of the resolved question, document names removed
    entities: list[Entity]
    years: set[str]
    figures: set[str]  # numbers that are not years or page references
    answer_type: AnswerType
    item_type: AnswerType | None = None  # for lists: the type of each item
    focus: tuple[str, ...] = ()  # terms of the wh-phrase head noun ("countries" -> countri)
    measured: tuple[str, ...] = ()  # common nouns a figure in the question is said to measure
    frames: list[Frame] = field(default_factory=list)
    scope: list[str] = field(default_factory=list)  # doc_ids the question names
    meta_kinds: frozenset[Kind] = frozenset()  # a question about the document: what answers it
    subquestions: list[str] = field(default_factory=list)
    vector: list[float] | None = None
    more: bool = False  # "tell me more", "elaborate", "go into detail": the whole paragraph

    @property
    def about_document(self) -> bool:
        return self.answer_type is AnswerType.DOCUMENT


# General words for the whole collection ("what does the brief say …"): every document.
CORPUS_NAMES = ("brief", "briefing", "document", "documents", "sources", "text", "texts", "corpus",
                "piece", "paper")


def aliases(meta: dict) -> list[str]:
    """A document's ``aliases``: a list of names, or one name written without the list."""
    value = meta.get("aliases")
    values = value if isinstance(value, list | tuple) else [value]
    return [str(a) for a in values if a is not None and str(a).strip()]


def document_refs(documents) -> list[DocumentRef]:
    """Names by which a question points at each document, from corpus metadata."""
    refs = [DocumentRef("", CORPUS_NAMES)]  # the whole brief: a name, but no one document
    for d in documents:
        names = {a.lower() for a in aliases(d.meta)}
        names |= {str(d.short_title).lower(), str(d.kind).lower()}
        title = str(d.title or "").lower()
        if title:  # the title, and its main part before a colon, quoted in a question
            names |= {title, title.split(":")[0].strip()}
        if d.meta.get("author"):  # "the author" points at the document that has one
            names |= {"author", "writer"}
        refs.append(DocumentRef(d.doc_id, tuple(sorted(n for n in names if n))))
    return refs


def _scope(text: str, refs: list[DocumentRef]) -> tuple[list[str], list[tuple[int, int]]]:
    """doc_ids the question names, and the character spans of those names (their words are
    not content: "the op-ed" says where to look, not what to look for)."""
    lowered = text.lower()
    scope, spans = [], []
    for ref in refs:
        for alias in ref.aliases:
            for m in re.finditer(rf"(?<![\w-]){re.escape(alias)}(?![\w-])", lowered):
                if ref.doc_id:
                    scope.append(ref.doc_id)
                spans.append(m.span())
    return list(dict.fromkeys(scope)), spans


def _entities(doc, skip: set[int] = frozenset()) -> list[Entity]:
    """Named entities, plus runs of proper nouns the NER missed ("WTO Appellate Body"); tokens
    in `skip` (document names) are not entities."""
    out: list[Entity] = []
    covered: set[int] = set(skip)
    for ent in doc.ents:
        if ent.label_ in NAME_LABELS and not covered & set(range(ent.start, ent.end)):
            span = ent[1:] if ent[0].lower_ == "the" else ent
            if len(span):
                out.append(Entity(span.text, ent.label_, tuple(token_terms(span)), span.start))
                covered |= set(range(ent.start, ent.end))
    run: list = []
    for t in [*doc, None]:
        if t is not None and t.i not in covered and not any(ch.isdigit() for ch in t.text) and (
                t.pos_ == "PROPN" or (
                run and t.text == "-" and t.i + 1 < len(doc) and doc[t.i + 1].pos_ == "PROPN")):
            run.append(t)
            continue
        if run and run[-1].text != "-" and not (len(run) == 1 and run[0].i == 0 and run[0].text.istitle()
                                                and run[0].lower_ in QUESTION_WORDS):
            span = doc[run[0].i:run[-1].i + 1]
            out.append(Entity(span.text, "PROPN", tuple(token_terms(span)), span.start))
        run = []
    # a name with a year in it ("New Year's Day 2021") is a date, not a subject
    out = [e for e in out if (e.terms or e.text.isupper()) and not years(e.text)]
    return _grouped(doc, out)


COMPARISON_WORDS = frozenset(words("compare comparison contrast versus vs difference differ than both "
                             "each between"))


def _coordinated(doc, a: int, b: int) -> bool:
    """Are tokens a and b in coordinated phrases ("for Africa and for South Asia")? The tree
    path between them crosses a conj edge and no verb."""
    up_a = [doc[a], *doc[a].ancestors]
    up_b = [doc[b], *doc[b].ancestors]
    common = next((t for t in up_a if t in up_b), None)
    if common is None:
        return False
    path = up_a[:up_a.index(common)] + up_b[:up_b.index(common)]
    return any(t.dep_ == "conj" for t in path) and not any(t.pos_ in ("VERB", "AUX") for t in path)


def _grouped(doc, entities: list[Entity]) -> list[Entity]:
    """Give alternative names one group number: names joined by "and"/"or", or all the names
    of a comparison ("compare East Asia with South Asia")."""
    comparison = any(t.lemma_.lower() in COMPARISON_WORDS for t in doc)
    groups = list(range(len(entities)))
    for j in range(len(entities)):
        for i in range(j):
            if comparison or _coordinated(doc, entities[i].start, entities[j].start):
                groups[j] = groups[i]
                break
    return [Entity(e.text, e.label, e.terms, e.start, g) for e, g in zip(entities, groups)]


def _wh(doc):
    """The question word token and the head noun of its phrase ("which countries" -> countries)."""
    # the question word of the main clause: the one nearest the root ("after the deadlock over
    # who leads the WTO, what need …" asks "what")
    whs = [t for t in doc if t.lower_ in QUESTION_WORDS]
    wh = min(whs, key=lambda t: (len(list(t.ancestors)), t.i)) if whs else None
    if wh is None:  # an imperative ("name the regions …", "list the …"): its object is the head
        root = doc[0] if (len(doc) and doc[0].dep_ == "ROOT" and doc[0].tag_ == "VB"
                          and doc[0].lemma_ not in ("do", "be", "have")) else None
        obj = next((c for c in root.children if c.dep_ == "dobj"), None) if root is not None else None
        if obj is not None:  # the head of an English noun phrase is its last noun before "of"
            nouns = [t for t in obj.subtree if t.pos_ == "NOUN" and t.i >= obj.left_edge.i
                     and not any(a.dep_ == "prep" for a in t.ancestors if a.i > obj.i - 1 and a in obj.subtree)]
            obj = nouns[-1] if nouns and obj.pos_ == "PROPN" else obj
        return None, obj
    head = None
    nxt = wh.doc[wh.i + 1] if wh.i + 1 < len(wh.doc) else None
    if wh.lower_ == "how" and nxt is not None and nxt.lower_ in ("many", "much") and nxt.head.pos_ == "NOUN":
        return wh, nxt.head  # "how many deaths": what is counted
    if wh.dep_ == "det" or wh.lower_ in ("which", "what", "whose") and wh.head.pos_ in ("NOUN", "PROPN"):
        head = wh.head if wh.head.pos_ in ("NOUN", "PROPN") and wh.head is not wh else None
        # "which three areas", not "what did developing countries …" (a misparse: a verb between)
        if head is not None and (head.i < wh.i or any(
                t.pos_ in ("VERB", "AUX") for t in wh.doc[wh.i + 1:head.i])):
            head = None
    if head is None and wh.lower_ in ("what", "which", "who"):
        # "what is the rate …", "which were the countries …": the copula's other argument
        root = wh.head if wh.dep_ != "ROOT" else wh
        if root.lemma_ == "be":
            head = next((c for c in root.children if c is not wh and c.dep_ in ("nsubj", "attr")
                         and c.pos_ in ("NOUN", "PROPN")), None)
    return wh, head


# Verbs and words of direction (general English), for premises that state the opposite of the
# brief ("why did support strengthen?" when it declined).
UP = frozenset(stem(w) for w in words("rise increase grow expand strengthen improve gain raise "
               "accelerate join enter rejoin support back favour favor boost recover rebound most "
               "more highest largest biggest best"))
DOWN = frozenset(stem(w) for w in words("fall decrease decline shrink contract weaken worsen lose "
                 "cut lower slow leave withdraw exit quit oppose block reject drop collapse least "
                 "less lowest smallest worst"))


def polarity_of(lemma: str) -> int:
    """+1 for a word of rising or joining, -1 for falling or leaving, 0 otherwise."""
    word = stem(lemma.lower())
    return 1 if word in UP else -1 if word in DOWN else 0


def _frames(doc, attributed: set[str]) -> list[Frame]:
    frames = []
    for t in doc:
        if t.pos_ not in ("VERB", "NOUN") or t.dep_ not in ("ROOT", "xcomp", "ccomp", "conj", "relcl",
                                                              "advcl", "acl"):
            continue
        verb = verb_term(t)
        if not verb or (t.pos_ == "NOUN" and t.dep_ != "ROOT"):
            continue
        subj = [c for c in t.children if c.dep_ in ("nsubj", "nsubjpass", "poss")]
        if not subj and t.dep_ == "xcomp":  # "what led Georgia to block …": Georgia blocks
            subj = [c for c in t.head.children if c.dep_ == "dobj"] or \
                   [c for c in t.head.children if c.dep_ == "nsubj"]
        subj = [c for c in subj if c.lower_ not in QUESTION_WORDS and c.pos_ != "PRON"]
        obj = [c for c in t.children if c.dep_ in ("dobj", "attr", "oprd", "acomp")]
        s_terms = tuple(x for c in subj for x in token_terms(c.subtree))
        o_terms = tuple(x for c in obj for x in token_terms(c.subtree))
        s_text = " ".join(doc[c.left_edge.i:c.right_edge.i + 1].text for c in subj)
        if s_terms or o_terms:
            frames.append(Frame(verb, s_terms, o_terms, s_text,
                                attribution=bool(set(s_terms) & attributed)))
    return frames


# a noun that names the kind of a single answer, checked in this order
_NOUN_TYPES: tuple[tuple[frozenset[str], AnswerType], ...] = (
    (PLACE_NOUNS, AnswerType.PLACE),
    (PERSON_NOUNS, AnswerType.PERSON),
    (ORG_NOUNS, AnswerType.ORGANISATION),
)
# question words that name the kind of answer by themselves
_WH_TYPES = {"who": AnswerType.PERSON, "whom": AnswerType.PERSON, "whose": AnswerType.PERSON,
             "where": AnswerType.PLACE}


def _noun_type(term: str | None) -> AnswerType | None:
    """The answer type a noun names ("country" -> place, "minister" -> person), or None."""
    return next((atype for nouns, atype in _NOUN_TYPES if term in nouns), None)


def _head_term(head) -> str | None:
    """The term of the wh-phrase's head noun; a measure noun compounded with it wins ("growth
    rate", "price tag" -> the measure)."""
    if head is None:
        return None
    term = term_of(head.lemma_)
    measures = [term_of(c.lemma_) for c in head.children
                if c.dep_ == "compound" and term_of(c.lemma_) in MEASURE_NOUNS]
    return measures[0] if measures and term not in MEASURE_NOUNS else term


def _counted(doc, head) -> bool:
    """Does a number word count the head noun ("the three areas")?"""
    return head is not None and any(t.lower_ in _NUMBER_WORDS and t.head == head for t in doc)


def _asks_overview(content: list[str], wh_word: str, lemmas: set[str]) -> bool:
    """"Summarise the brief", "what is it about?": no content beyond overview words, and a
    what-question, an imperative or an overview word."""
    return set(content) <= OVERVIEW_WORDS and (wh_word in ("", "what") or bool(lemmas & OVERVIEW_WORDS))


def _asks_reason(doc, wh_word: str, head_term: str | None, lemmas: set[str]) -> bool:
    """"Why …", "how come …", "what is the reason …", "what caused …"."""
    how_come = len(doc) > 1 and doc[0].lower_ == "how" and doc[1].lower_ == "come"
    return (wh_word == "why" or how_come or head_term in REASON_NOUNS
            or (wh_word == "what" and bool(lemmas & REASON_VERBS)))


def _asks_quantity(doc, wh, wh_word: str, head_term: str | None) -> bool:
    """"How large/much/fast …", or "what/which <measure noun>" ("what share …")."""
    if wh_word == "how" and wh.i + 1 < len(doc) and doc[wh.i + 1].pos_ in ("ADJ", "ADV"):
        return True
    return head_term in MEASURE_NOUNS and wh_word in ("what", "which", "")


def _asks_about_name(doc, wh, wh_word: str) -> bool:
    """"Who is Yoo Myung-hee?": a who-question about a named person wants a description."""
    return wh_word in ("who", "whom") and wh.head.lemma_ == "be" and any(
        t.pos_ == "PROPN" for t in doc if t.i != wh.i)


def _asks_definition(doc, wh, wh_word: str, content: list[str]) -> bool:
    """"What is the COVAX Facility?": a short what-is question without a verb."""
    return (wh_word == "what" and wh.head.lemma_ == "be" and not any(t.pos_ == "VERB" for t in doc)
            and len(content) <= DEFINITION_MAX_TERMS)


def _single_type(doc, wh, wh_word: str, head, head_term: str | None, content: list[str]) -> AnswerType:
    """The type of a one-item answer: from the question word, then the head noun; a definition
    for a short "what is X?"; otherwise a description."""
    if _asks_about_name(doc, wh, wh_word):
        return AnswerType.DESCRIPTION
    if wh_word in _WH_TYPES:
        return _WH_TYPES[wh_word]
    if wh_word == "" and head is None:
        return AnswerType.DESCRIPTION
    by_noun = _noun_type(head_term)
    if by_noun is not None:
        return by_noun
    if _asks_definition(doc, wh, wh_word, content):
        return AnswerType.DEFINITION
    return AnswerType.DESCRIPTION


def _answer_type(doc, wh, head, content: list[str]) -> tuple[AnswerType, AnswerType | None]:
    """The expected answer type and the type of each item (for a list), from the question word
    `wh`, the head noun of its phrase and the content terms. The checks run from the most to the
    least specific: overview, reason, quantity, date, list, one item."""
    wh_word = wh.lower_ if wh is not None else ""
    head_term = _head_term(head)
    lemmas = {term_of(t.lemma_) for t in doc} - {None}
    if _asks_overview(content, wh_word, lemmas):
        return AnswerType.OVERVIEW, None
    if _asks_reason(doc, wh_word, head_term, lemmas):
        return AnswerType.REASON, None
    if _asks_quantity(doc, wh, wh_word, head_term):
        return AnswerType.QUANTITY, None
    if wh_word == "when" or head_term in DATE_NOUNS:
        return AnswerType.DATE, None
    plural = head is not None and head.tag_ in ("NNS", "NNPS")
    if _counted(doc, head) or (plural and wh_word in ("which", "what", "who", "")):  # "which areas …"
        return AnswerType.LIST, _noun_type(head_term)
    return _single_type(doc, wh, wh_word, head, head_term, content), None


def _document_kinds(doc, wh, head, content: list[str], entities: list[Entity],
                    authors: set[str], referenced: bool = False) -> frozenset[Kind]:
    """Kinds of the paragraphs that describe the document, if the question asks about it."""
    kinds: frozenset[Kind] = frozenset()
    root = next((t for t in doc if t.dep_ == "ROOT"), None)
    named_author = any(e.text.lower() in authors or any(e.text.lower() in a.split() for a in authors)
                       for e in entities)
    nouns = {term_of(t.lemma_) for t in doc if t.pos_ in ("NOUN", "PROPN")}
    if named_author and ((root is not None and root.lemma_ == "be") or nouns & CAREER_NOUNS):
        return frozenset({Kind.BIO, Kind.BYLINE})  # "who is / where was <the author> …?"
    for noun in nouns:
        kinds |= DOCUMENT_NOUNS.get(noun, frozenset())
    verbs = {term_of(t.lemma_) for t in doc if t.pos_ in ("VERB", "AUX")} - {None}
    if referenced or (wh is not None and wh.lower_ in ("who", "when", "where", "how")):
        for verb in verbs:  # "who wrote …?", "say who authored …", "how long to read"
            kinds |= DOCUMENT_VERBS.get(verb, frozenset())
    if not kinds and referenced and content and set(content) <= DOCUMENT_PROPERTIES:
        kinds = frozenset({Kind.METADATA})  # "what kind of piece is the op-ed?"
    # "what does the author argue about X?" is about X, not about the author: a question with
    # content beyond the document words asks about the content
    rest = [t for t in content if t not in DOCUMENT_NOUNS and t not in DOCUMENT_VERBS
            and t not in DOCUMENT_PROPERTIES]
    if kinds and len(rest) > DOCUMENT_OTHER_TERMS and not (kinds & {Kind.CAPTION, Kind.FOOTNOTE}):
        return frozenset()
    return kinds


def nlp_tokens(question: str, doc) -> list:
    """Tokens of the question as asked (the resolved question's parse covers it when they are
    the same text; a follow-up's own words are looked up by splitting)."""
    if doc.text == question:
        return list(doc)
    return [_Word(w) for w in re.findall(r"[\w'-]+", question)]


@dataclass(frozen=True)
class _Word:
    text: str

    @property
    def lower_(self) -> str:
        return self.text.lower()


def analyse(question: str, history: list[dict] | None, nlp, documents=(),
            embed: Callable[[str], list[float]] | None = None,
            condense: Callable[[str, list[dict]], str | None] | None = None) -> Query:
    """Everything the rest of the product needs to know about a question, computed once.
    Raises QuestionError for an empty or over-long question (see `check_question`)."""
    question = check_question(question)
    history = list(history or [])
    resolved = question
    if history:
        resolved = plain_question((condense(question, history) if condense else None)
                                  or followup.resolve(question, history))
        if not resolved or len(resolved) > MAX_QUESTION_CHARS:  # from a long history or a model
            resolved = question
    doc = nlp(resolved)
    refs = document_refs(documents)
    scope, spans = _scope(resolved, refs)
    inside = {t.i for t in doc if any(s <= t.idx < e for s, e in spans)}
    entities = [e for e in _entities(doc, inside)]
    degree = {t.i for t in doc if t.i > 0 and doc[t.i - 1].lower_ == "how" and t.pos_ in ("ADJ", "ADV")}
    content = token_terms(t for t in doc if t.i not in inside | degree)
    wh, head = _wh(doc)
    authors = {str(d.meta.get("author", "")).lower() for d in documents} - {""}
    first = next(doc.sents)  # "Who wrote this? <the previous question>": the first sentence asks
    first_content = token_terms(t for t in first if t.i not in inside | degree)
    meta = _document_kinds(first.as_doc() if len(list(doc.sents)) > 1 else doc, *(
        _wh(first.as_doc()) if len(list(doc.sents)) > 1 else (wh, head)), first_content,
        entities, authors, referenced=bool(spans))
    if meta:  # the span a question about the document wants: the author's name, the date
        atype = AnswerType.DOCUMENT
        entities = [e for e in entities if e.start < first.end]  # the rest is context
        item = {"who": AnswerType.PERSON, "whom": AnswerType.PERSON, "when": AnswerType.DATE}.get(
            wh.lower_ if wh is not None else "")
        if item is AnswerType.PERSON and entities:  # "who is <name>?" wants a description
            item = None
        head_term = term_of(head.lemma_) if head is not None else None
        if head_term in DOCUMENT_ITEMS:  # "who is the publisher?" wants an organisation
            item = DOCUMENT_ITEMS[head_term]
    else:
        atype, item = _answer_type(doc, wh, head, content)
    names = {t for e in entities for t in e.terms}
    measured = tuple(dict.fromkeys(
        x for t in doc if t.pos_ == "NOUN" and t.i not in inside
        for x in token_terms([t]) if x not in MEASURE_NOUNS and x not in DATE_NOUNS and x not in names))
    # who speaks in the documents (their aliases, authors and publishers, from metadata)
    attributed = {t for d in documents for k in ("author", "publisher")
                  for t in terms(str(d.meta.get(k, "")))}
    attributed |= {t for d in documents for a in [*aliases(d.meta), d.short_title, d.kind]
                   for t in terms(str(a))}
    parts = [p.strip() for p in _SUBQUESTION_SPLIT.split(question)
             if p and len(p.split()) >= SUBQUESTION_MIN_WORDS]
    return Query(
        question=question, resolved=resolved, doc=doc, terms=content, entities=entities,
        years=years(resolved), figures=figures(resolved), answer_type=atype, item_type=item,
        focus=tuple(token_terms([head])) if head is not None else (), measured=measured,
        frames=_frames(doc, attributed), scope=scope, meta_kinds=meta,
        subquestions=parts if len(parts) > 1 else [],
        vector=embed(resolved) if embed else None,
        more=_asks_more({t.lower_ for t in nlp_tokens(question, doc)}, resolved != question))
