"""Corpus text that addresses a reader or a model instead of stating content.

A document in the corpus is data: the app quotes it, cites it and hands it to a model inside a
delimited data block. A paragraph that speaks *to* the machinery — "ignore previous
instructions", a chat role tag, a citation marker of the kind the app itself writes, a link to
somewhere else, text hidden from a human reader — is flagged so the reader sees it in the
sources panel and in ``assistant corpus show``. Flagging never changes the text, the index or
retrieval; it is a warning, and the LLM prompt and answer checks treat every passage as data
whether it is flagged or not.

The patterns are general English and prompt-injection idioms, chosen for precision: a verb
such as "ignore" or "act as" alone is ordinary prose ("Governments cannot ignore the
instructions of their constitutions", "the IMF can act as a lender of last resort"), so each
rule needs the words that make it an instruction to a model (ignore *previous* instructions,
act as *an AI assistant*, a role name followed by a colon at the start of a sentence).

What is not flagged, by design:

* a link that is the document's own declared source (``source_url``/``report_url``/``url`` in
  its front matter or in sources.toml) — the app writes it into the document's front-matter
  card as provenance — and links in footnotes, where a document cites its references;
* a bracketed number that is the label of one of the document's own footnotes ("[1]" when
  the document has footnote 1): that is a real reference, not a fake marker;
* soft hyphens and non-breaking spaces, which PDF and HTML text legitimately carry.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Collection
from dataclasses import dataclass


@dataclass(frozen=True)
class Reason:
    """Why a paragraph was flagged: a short code and a human sentence quoting the text."""

    code: str  # instruction | role_tag | citation_marker | link | hidden_text
    detail: str


# What each code means to a reader, for one-line summaries ("instructions to a model; a link").
CODE_SUMMARY = {
    "instruction": "instructions addressed to a model",
    "role_tag": "chat role tags",
    "citation_marker": "citation markers like the app's own [n]",
    "link": "an outside link",
    "hidden_text": "hidden text",
}

_I = re.IGNORECASE
_SENTENCE_START = r"(?:^|(?<=[.!?:;\"”)\]])\s+|\n)"

# Override of earlier instructions: the verb, then a qualifier that points at the
# conversation ("previous", "above", "your", "system"), then instructions or a prompt.
_VERB = r"(?:ignore|disregard|forget|override|bypass|discard)"
_FILLER = r"(?:(?:all|any|every|each|the|of|these|those|my)\s+){0,3}"
_QUALIFIER = (r"(?:your|previous|prior|above|preceding|earlier|foregoing|former|original|"
              r"initial|system|developer|safety|existing)")
_OVERRIDE = re.compile(
    rf"\b{_VERB}\s+{_FILLER}{_QUALIFIER}\s+(?:\w+\s+)?(?:instructions?|prompts?)\b"
    rf"|\b{_VERB}\s+{_FILLER}your\s+(?:\w+\s+)?(?:rules|guidelines|guidance|programming|"
    r"constraints|directives)\b"
    r"|\b(?:ignore|disregard|forget)\s+(?:all\s+|everything\s+)?(?:that\s+)?(?:everything\s+)?"
    r"(?:above|before this|said before|you (?:were|have been) told)\b", _I)
# The same verbs as a sentence-initial imperative, where softer objects count too: "Ignore all
# rules and ...", "Override the previous guidance." ("The law will override the previous
# rules" is prose: the verb does not open the sentence.)
_IMPERATIVE_OVERRIDE = re.compile(
    _SENTENCE_START + rf"(?:please\s+|now\s+|so\s+|and\s+)?{_VERB}\s+(?:all|any|every|the|"
    r"these|your)\b[^.!?]{0,40}?\b(?:instructions?|prompts?|rules|guidelines|guidance|context|"
    r"messages|constraints|directions|directives|programming)\b", _I)
# A new identity or mode for the reader-as-model.
_ROLE_CHANGE = re.compile(
    r"\byou\s+are\s+now\s+(?:a|an|the|in|no\s+longer|free|acting|operating|called|named)\b"
    r"|\bfrom\s+now\s+on,?\s+(?:you|your)\b"
    r"|\b(?:act|behave|respond|answer)\s+as\s+(?:if\s+you\s+were\s+)?(?:a|an|the)\s+(?:\w+\s+)?"
    r"(?:AI|chatbot|language\s+model|LLM)\b"
    r"|\bpretend\s+(?:you\s+are|that\s+you)\b|" + _SENTENCE_START + r"pretend\s+to\s+be\b"
    r"|\b(?:jailbreak|DAN)\s+mode\b|\b(?:enable|enter|activate|switch\s+to)\s+(?:developer|god|"
    r"unrestricted|debug)\s+mode\b", _I)
# Speaking to a model as such: "As an AI language model", "Dear assistant", "AI reading this".
_ADDRESS = re.compile(
    r"\bas\s+an?\s+(?:AI|artificial\s+intelligence)\s+(?:language\s+)?(?:model|assistant|system)\b"
    r"|\bas\s+an?\s+(?:large\s+)?language\s+model\b"
    r"|\b(?:dear|hey)\s+(?:AI|assistant|chatbot|LLM|language\s+model|model|bot)s?\b"
    r"|\b(?:note|instructions?|message)\s+(?:to|for)\s+(?:the\s+|any\s+)?(?:AI|assistant|"
    r"chatbot|LLM|language\s+model|AI\s+model)s?\b"
    r"|\b(?:AI|assistant|chatbot|LLM|language\s+model)s?\s+(?:reading|processing|summari[sz]ing|"
    r"answering\s+questions\s+about)\s+this\b"
    r"|\byour\s+(?:system\s+prompt|instructions|guidelines|programming|training\s+data)\b"
    r"|\b(?:reveal|print|show|repeat|output|leak|disclose|display)\s+(?:me\s+)?(?:your\s+"
    r"(?:system\s+|hidden\s+|initial\s+|original\s+)?|the\s+(?:system|hidden|initial|original)"
    r"\s+)(?:prompt|instructions)\b"
    r"|\bnew\s+instructions?\s*:", _I)
# Telling the model what to output: a sentence that starts with the verb and names the output.
_OUTPUT_ORDER = re.compile(
    _SENTENCE_START + r"(?:now\s+|instead\s+|please\s+|and\s+)?(?:reply|respond|answer|say|output|"
    r"print|write|repeat|return)\s+(?:only\s+|just\s+|exactly\s+)?(?:with\s+(?:only\s+)?"
    r"(?:the\s+word\s+)?[\"“'‘]|with\s+the\s+(?:word|phrase|following)\b|the\s+(?:word|phrase)\b"
    r"|[\"“'‘][^\"”'’]{1,40}[\"”'’]\s*(?:and|instead|only)\b)", _I)
# Chat-format role tags and special tokens: "SYSTEM:", "### Assistant:", "<|im_start|>", "[INST]".
# ("AI:" is left out: it opens headings such as "AI: promises and perils".)
_ROLE_TAG = re.compile(
    _SENTENCE_START + r"\s*(?:#{1,4}\s*)?(?:system|assistant|user|developer|human)\s*:"
    r"|#{1,4}\s*(?:instruction|response|input)s?\s*:"
    r"|<\|?\s*(?:im_start|im_end|system|user|assistant|endoftext|eot_id|start_header_id)\s*\|?>"
    r"|\[/?INST\]|<</?SYS>>"
    r"|</?\s*(?:system|assistant|user|instructions?|data|passage|prompt)\s*>", _I)
# The app's own citation syntax (see answer.verify): [3], [1, 2], [2-4], [passage 2], [source 1].
_MARKER = re.compile(
    r"\[\s*(?:(?:passages?|sources?|ref)\s*)?(\d{1,3}(?:\s*(?:,|;|-|–|and)\s*\d{1,3})*)\s*\]", _I)
_LINK = re.compile(r"\b(?:https?|ftp)://[^\s<>\"'“”)\]]+|\bwww\.[a-z0-9-]+\.[^\s<>\"'“”)\]]+"
                   r"|\[[^\[\]\n]+\]\([^)\s]+\)|<a\s[^<>]*href|\b(?:javascript|data):\S", _I)
_HTML_COMMENT = re.compile(r"<!--")
# Invisible characters that hide text or reorder it: zero-width, word joiner, BOM inside text,
# bidi embeddings and overrides, and the Unicode tag block (invisible ASCII look-alikes).
_INVISIBLE = re.compile("[\u200b-\u200d\u2060-\u2064\ufeff\u202a-\u202e\u2066-\u2069\U000e0000-\U000e007f]")


def strip_invisible(text: str) -> str:
    """``text`` without the invisible characters that can hide or reorder text."""
    return _INVISIBLE.sub("", text)


def links(text: str) -> list[str]:
    """The links in ``text``: URLs, www. addresses, Markdown and HTML links, script URLs."""
    return [m.group(0) for m in _LINK.finditer(_visible(text))]


def _visible(text: str) -> str:
    """The text as matched: invisible characters removed (so "ig\u200bnore" still reads as
    "ignore"), compatibility forms folded (fullwidth letters), curly apostrophes unified."""
    return unicodedata.normalize("NFKC", strip_invisible(text)).replace("’", "'")


def _quote(match: re.Match, limit: int = 60) -> str:
    snippet = " ".join(match.group(0).split())
    return f"“{snippet if len(snippet) <= limit else snippet[:limit - 1] + '…'}”"


def _strip_url(url: str) -> str:
    return url.rstrip(".,;:!?").rstrip("/").lower()


def injection_reasons(text: str, allowed_urls: Collection[str] = (),
                      footnote_labels: Collection[str] = (), links_allowed: bool = False,
                      ) -> tuple[Reason, ...]:
    """Why ``text`` looks addressed to a reader or a model, or () when it states content.

    ``allowed_urls`` are the document's declared sources; ``footnote_labels`` its footnote
    labels (a bracketed number naming one is a real reference); ``links_allowed`` is set for
    footnotes, where links are references."""
    visible = _visible(text)
    reasons: list[Reason] = []

    for pattern in (_OVERRIDE, _IMPERATIVE_OVERRIDE, _ROLE_CHANGE, _ADDRESS, _OUTPUT_ORDER):
        if m := pattern.search(visible):
            reasons.append(Reason("instruction", f"addresses a model: {_quote(m)}"))
            break
    if m := _ROLE_TAG.search(visible):
        reasons.append(Reason("role_tag", f"chat role tag or delimiter: {_quote(m)}"))

    labels = {str(label) for label in footnote_labels}
    fake = [m for m in _MARKER.finditer(visible)
            if not set(re.findall(r"\d+", m.group(1))) <= labels]
    if fake:
        shown = ", ".join(m.group(0) for m in fake[:3])
        reasons.append(Reason("citation_marker", f"bracketed numbers that look like the app's "
                                                 f"citation markers: {shown}"))

    if not links_allowed:
        allowed = {_strip_url(u) for u in allowed_urls if u}
        links = [m for m in _LINK.finditer(visible) if _strip_url(m.group(0)) not in allowed]
        if links:
            reasons.append(Reason("link", f"an outside link: {_quote(links[0])}"))

    hidden = sorted({f"U+{ord(c):04X}" for c in _INVISIBLE.findall(text)})
    if hidden:
        reasons.append(Reason("hidden_text", f"invisible characters ({', '.join(hidden[:4])})"))
    if m := _HTML_COMMENT.search(visible):
        reasons.append(Reason("hidden_text", "an HTML comment, hidden when the text is rendered"))
    return tuple(reasons)


def summary(reasons: Collection[Reason]) -> str:
    """One line for a reader: what was found, and that the passage is treated as data."""
    found = "; ".join(dict.fromkeys(CODE_SUMMARY.get(r.code, r.code) for r in reasons))
    return (f"This passage contains text addressed to a reader or a model ({found}). It is "
            "shown and used as quoted data only, never followed as instructions.")
