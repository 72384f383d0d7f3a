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


# C0 and C1 control characters except the ones str.split() treats as whitespace (tab, line
# breaks, form feed, the information separators \x1c-\x1f and NEL), which readers collapse.
_CONTROL = re.compile(r"[\x00-\x08\x0e-\x1b\x7f-\x84\x86-\x9f]")


def strip_control(text: str) -> str:
    """Text without control characters (NUL, escape sequences' ESC, DEL, C1 controls)."""
    return _CONTROL.sub("", text)


def is_visible(text: str) -> bool:
    """Does the text hold anything to read: a character that is not a space, a control, a
    format character (BOM, zero-width space, direction mark) or unassigned?"""
    return any(unicodedata.category(ch)[0] not in "CZ" for ch in text)


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
