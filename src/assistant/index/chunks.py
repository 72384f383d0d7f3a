"""Paragraphs to chunks. A chunk never crosses a paragraph boundary; a paragraph longer than
the embedding window is split at sentence boundaries into chunks that share its ID. Each chunk
is embedded with its document title and section as context."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass

from assistant.corpus.loader import Corpus
from assistant.corpus.models import Document, Paragraph
from assistant.nlp import sentences as parser_sentences

CHUNKER_VERSION = 3  # bump when the chunk text, context or stored metadata change
# (2: spaCy sentences; 3: each chunk records its document as its llama-index SOURCE, and
# its embedding context)
SPECIAL_TOKENS = 2  # the encoder adds [CLS] and [SEP] to every input, inside its window
MAX_CHARS_PER_TOKEN = 32  # a word piece is rarely longer: bounds the search for a prefix


@dataclass(frozen=True)
class Chunk:
    id: str  # "<paragraph_id>#<n>"
    paragraph: Paragraph
    doc: Document
    text: str  # the paragraph's (normalised) text, or a run of its sentences
    context: str  # "title: ...\nsection: ..." prepended for embedding

    @property
    def embed_text(self) -> str:
        return f"{self.context}\n\n{self.text}"

    @property
    def embed_hash(self) -> str:
        return hashlib.sha256(self.embed_text.encode("utf-8")).hexdigest()[:16]


def context_for(doc: Document, paragraph: Paragraph) -> str:
    section = " > ".join(paragraph.section[1:] or paragraph.section)
    return f"title: {doc.title}\nsection: {section}" if section else f"title: {doc.title}"


def prefix_within(text: str, budget: int, count: Callable[[str], int]) -> str:
    """The longest prefix of `text` within the budget (at least one character)."""
    hi = min(len(text), MAX_CHARS_PER_TOKEN * budget)
    while hi < len(text) and count(text[:hi]) <= budget:
        hi = min(len(text), 2 * hi)
    lo = 1
    while lo < hi:
        mid = (lo + hi + 1) // 2
        lo, hi = (mid, hi) if count(text[:mid]) <= budget else (lo, mid - 1)
    return text[:lo]


def cut_word(word: str, budget: int, count: Callable[[str], int]) -> list[str]:
    """A word over the budget (a long URL, a run of text without spaces) cut into pieces."""
    pieces = []
    while word:
        pieces.append(prefix_within(word, budget, count))
        word = word[len(pieces[-1]):]
    return pieces


def pack_sentences(sentences: list[str], budget: int, count: Callable[[str], int]) -> list[str]:
    """Greedy runs of whole sentences within the budget; a single over-long sentence is split
    at word boundaries, and a single over-long word into pieces, so nothing is silently
    truncated by the model."""
    runs: list[str] = []
    current = ""
    for sentence in sentences:
        pieces = [sentence]
        if count(sentence) > budget:
            words, pieces, buf = sentence.split(), [], ""
            for w in words:
                if buf and count(f"{buf} {w}") > budget:
                    pieces.append(buf)
                    buf = w
                else:
                    buf = f"{buf} {w}".strip()
                if count(buf) > budget:
                    *whole, buf = cut_word(buf, budget, count)
                    pieces.extend(whole)
            pieces.append(buf)
        for piece in pieces:
            candidate = f"{current} {piece}".strip()
            if current and count(candidate) > budget:
                runs.append(current)
                current = piece
            else:
                current = candidate
    if current:
        runs.append(current)
    return runs


def chunk_corpus(corpus: Corpus, count_tokens: Callable[[str], int], max_tokens: int,
                 split: Callable[[str], list[str]] = parser_sentences) -> list[Chunk]:
    """Chunks of every paragraph; a paragraph over the budget is packed from its sentences
    (`split`: the spaCy parser's sentences)."""
    chunks: list[Chunk] = []
    for doc in corpus.documents:
        for p in doc.paragraphs:
            context = context_for(doc, p)
            context_budget = max_tokens // 2  # a huge title or heading leaves the text half
            if count_tokens(context) > context_budget:
                context = prefix_within(context, context_budget, count_tokens)
            budget = max_tokens - SPECIAL_TOKENS - count_tokens(context + "\n\n")
            text = p.search_text
            runs = [text] if count_tokens(text) <= budget else pack_sentences(
                split(text), budget, count_tokens)
            chunks.extend(Chunk(f"{p.id}#{i}", p, doc, run, context) for i, run in enumerate(runs))
    return chunks


def chunking_settings(max_tokens: int) -> dict:
    return {"max_tokens": max_tokens, "context": "title+section", "splitter": "sentences",
            "version": CHUNKER_VERSION}
