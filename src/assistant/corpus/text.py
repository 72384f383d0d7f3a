"""Text normalisation for search. Display text is never changed."""

from __future__ import annotations

import hashlib
import re
import unicodedata

_APOSTROPHES = str.maketrans({"´": "'", "’": "'", "‘": "'", "`": "'", "ʼ": "'", "′": "'"})
_QUOTES = str.maketrans({"“": '"', "”": '"', "„": '"'})
_DASHES = str.maketrans({"–": "-", "—": "-", "‒": "-", "−": "-"})
_SPACE = re.compile(r"\s+")
_SUPERSCRIPT_MARKERS = re.compile(r"(?<=\S)[⁰¹²³⁴⁵⁶⁷⁸⁹]+")


def same_length_normalise(text: str) -> str:
    """Apostrophes, quotes and dashes unified one character for one, so offsets still point into
    the original (used for parsing: the parse sees "US's", the quote stays verbatim)."""
    return text.translate(_APOSTROPHES).translate(_QUOTES).translate(_DASHES)


def normalise(text: str) -> str:
    """Unify apostrophes/quotes/dashes, drop superscript footnote markers, NFKC, and
    collapse whitespace (incl. NBSP)."""
    text = _SUPERSCRIPT_MARKERS.sub("", text)
    text = text.translate(_APOSTROPHES).translate(_QUOTES).translate(_DASHES)
    text = unicodedata.normalize("NFKC", text)
    return _SPACE.sub(" ", text).strip()


def content_hash(text: str) -> str:
    return hashlib.sha256(normalise(text).encode("utf-8")).hexdigest()


def file_hash(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


_SENTENCE_END = re.compile(
    r"(?:(?<=[.!?])|(?<=[.!?][\"')\]’”¹²³⁴⁵⁶⁷⁸⁹⁰])|(?<=[.!?][¹²³⁴⁵⁶⁷⁸⁹⁰]{2}))\s+(?=[\"'(\[“‘]?[A-Z0-9])")
_ABBREVIATIONS = ("e.g.", "i.e.", "etc.", "Dr.", "Mr.", "Mrs.", "Ms.", "U.S.", "p.", "pp.", "No.", "vs.")


def split_sentences(text: str) -> list[str]:
    """Split text into sentences, keeping abbreviations such as "p. 116" together."""
    parts: list[str] = []
    buf = ""
    for piece in _SENTENCE_END.split(text.strip()):
        buf = f"{buf} {piece}".strip() if buf else piece.strip()
        if buf.endswith(_ABBREVIATIONS):
            continue
        parts.append(buf)
        buf = ""
    if buf:
        parts.append(buf)
    return [p for p in parts if p]
