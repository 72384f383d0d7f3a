"""Evidence helpers shared by the answerer, the refusal policy and citation checking: numbers
and years of a text, and whether a name is mentioned (acronyms, expansions, possessives)."""

from __future__ import annotations

import os
import re
from functools import lru_cache

from assistant.corpus.text import normalise

_NUMBER = re.compile(r"(?<![\w-])(?<!\d\.)(\d{1,3}(?:,\d{3})+|\d+(?:\.\d+)?)(?![\w])")
_PAGE_REF = re.compile(r"\b(?:pp?\.|page)\s*(\d+)", re.IGNORECASE)
_CAPITALISED_RUN = re.compile(r"\b[A-Z][a-z]+(?:\s+(?:of\s+|and\s+|the\s+|for\s+)*[A-Z][a-z]+)+")
_POSSESSIVE = re.compile(r"'s\b|(?<=s)'(?=\s)")
# Sizes (general English):
MIN_ACRONYM = 2  # letters of the shortest acronym ("UN", "US")
MIN_ROOT = 4  # letters of the shorter of a name and its adjective, and of the prefix they share
MAX_SUFFIX_DIFFERENCE = 3  # their lengths differ by at most this ("america"/"american")
ROOT_SLACK = 2  # letters of the shorter word that may differ at its end ("mexic-o"/"mexic-an")


def numbers(text: str) -> set[str]:
    """Numbers as comparable strings: "2,412" -> "2412", "8.0" -> "8", "81%" -> "81"."""
    out = set()
    for m in _NUMBER.finditer(normalise(text)):
        value = m.group(1).replace(",", "")
        if "." in value:
            value = value.rstrip("0").rstrip(".")
        out.add(value)
    return out


def years(text: str) -> set[str]:
    return {n for n in numbers(text) if len(n) == 4 and n.startswith(("19", "20"))}


def figures(text: str) -> set[str]:
    """Numbers that state a quantity: not years, not page references ("p. 81")."""
    pages = set(_PAGE_REF.findall(normalise(text)))
    return numbers(text) - years(text) - pages


def acronym(phrase: str) -> str:
    """"World Trade Organization" -> "wto" (initials of the capitalised words)."""
    return "".join(w[0] for w in phrase.split() if w[:1].isupper()).lower()


@lru_cache(maxsize=8192)  # the same corpus sentences are prepared for every question
def with_acronyms(text: str) -> str:
    """Lower-cased text (possessives dropped) followed by the acronyms of its capitalised names,
    so "WTO" in a question matches "World Trade Organization´s" in a paragraph."""
    text = normalise(text)
    runs = _POSSESSIVE.sub(" ; ", text)  # a possessive ends a name: "WTO's Appellate Body"
    extra = [acronym(m.group(0)) for m in _CAPITALISED_RUN.finditer(runs)]
    acronyms = " ".join(a for a in extra if len(a) >= MIN_ACRONYM)
    return _POSSESSIVE.sub("", text).lower() + " " + acronyms


def _found(name: str, haystack: str) -> bool:
    if re.search(rf"(?<![a-z0-9]){re.escape(name)}(?![a-z0-9])", haystack):
        return True
    initials = acronym(name.title()) if " " in name else ""
    return len(initials) >= MIN_ACRONYM and re.search(rf"\b{initials}\b", haystack) is not None


def mentions(name: str, text_with_acronyms: str) -> bool:
    """Is `name` mentioned, by name or acronym, in the text (prepared by `with_acronyms`)? A
    name that mixes an acronym and words ("WTO Appellate Body") is mentioned when each part is
    ("World Trade Organization's Appellate Body")."""
    name = _POSSESSIVE.sub("", normalise(name)).strip(" -")
    if not name:
        return True
    if _found(name.lower(), text_with_acronyms):
        return True
    parts = [p for p in re.split(r"\s*\b([A-Z]{2,}s?)\b\s*", name) if p and p.strip()]
    if len(parts) < 2:
        return False
    return all(_found(re.sub(r"^([A-Z]{2,})s$", r"\1", p.strip()).lower(), text_with_acronyms)
               for p in parts)


def binds(entity, text_with_acronyms: str, words: frozenset[str] | set[str]) -> bool:
    """Is a question entity mentioned in a text: by name or acronym, or, for a name that is not
    a person's, every term of it is among the text's `words` (terms) or extends one by a
    suffix ("Latin American" ~ "Latin America", "Nigerian" ~ "Nigeria")."""
    if mentions(entity.text, text_with_acronyms):
        return True
    if entity.label == "PERSON" or not entity.terms:
        return False
    return all(t in words or any(_same_root(t, w) for w in words) for t in entity.terms)


def _same_root(a: str, b: str) -> bool:
    """A name and its adjective: "american"/"america", "mexican"/"mexico", "chinese"/"china"."""
    short = min(len(a), len(b))
    if short < MIN_ROOT or abs(len(a) - len(b)) > MAX_SUFFIX_DIFFERENCE:
        return False
    common = len(os.path.commonprefix([a, b]))
    return common >= max(MIN_ROOT, short - ROOT_SLACK)
