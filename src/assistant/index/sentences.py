"""The sentence sidecar: every corpus paragraph parsed once (spaCy), cut into answer units, and
each unit embedded once, at index build. It lives beside the Chroma data of the version it
belongs to and is rebuilt incrementally like the embeddings: a paragraph whose text, kind,
pipeline and embedding model are unchanged keeps its parse and vectors.

Files in ``index/versions/<version>/text/``:

* ``docs.spacy``   spaCy ``DocBin`` of the paragraph parses (tags, dependencies, lemmas, entities)
* ``units.json``   per paragraph: its key, id, and the character spans of its answer units
* ``vectors.npy``  one L2-normalised row per answer unit, in the order of ``units.json``

An answer unit is a sentence, except that a sentence opening with a pronoun ("Their growth is
projected ...") stays joined to the one before it, so it is never quoted without its subject;
captions, bylines, metadata, bios and footnotes are one unit each.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from assistant.corpus.loader import Corpus
from assistant.corpus.models import Kind, Paragraph
from assistant.corpus.text import same_length_normalise
from assistant.errors import IndexCorruptError
from assistant.nlp import token_terms

SIDECAR_DIR = "text"
SCHEMA = 1
WHOLE_KINDS = frozenset({Kind.CAPTION, Kind.BYLINE, Kind.METADATA, Kind.BIO, Kind.FOOTNOTE})
_LIST_NUMBER_CHARS = "0123456789.) "


def sidecar_dir(index_dir: Path, version: str) -> Path:
    return Path(index_dir) / "versions" / version / SIDECAR_DIR


def paragraph_key(p: Paragraph) -> str:
    return hashlib.sha256(f"{p.kind.value}\0{p.text}".encode()).hexdigest()[:20]


def unit_spans(doc, kind: Kind) -> list[tuple[int, int]]:
    """Character spans of a parsed paragraph's answer units."""
    text = doc.text
    start = 0
    if kind is Kind.LIST_ITEM:  # "1. Supporting ..." -> quote from "Supporting"
        stripped = text.lstrip(_LIST_NUMBER_CHARS)
        start = len(text) - len(stripped) if stripped[:1].isalpha() else 0
    if kind in WHOLE_KINDS:
        return [(start, len(text.rstrip()))]
    spans: list[tuple[int, int]] = []
    for sent in doc.sents:
        s, e = max(sent.start_char, start), sent.end_char
        if e <= s or not text[s:e].strip():
            continue
        first = sent[0]
        anaphoric = first.tag_ in ("PRP", "PRP$") or (first.lower_ in ("these", "those", "such", "this")
                                                       and first.dep_ in ("nsubj", "nsubjpass", "det"))
        # a fragment with no verb (a heading-like run, a citation) belongs with its neighbour
        if spans and (anaphoric or not any(t.pos_ in ("VERB", "AUX") for t in sent)):
            spans[-1] = (spans[-1][0], e)
        else:
            spans.append((s, e))
    return spans or [(start, len(text))]


@dataclass
class Unit:
    """One quotable unit of a paragraph, with its parse and vector."""

    paragraph_id: str
    position: int  # within the paragraph
    text: str  # verbatim, from the paragraph's display text
    span: object  # spaCy Span of the same characters (parsed with apostrophes unified)
    vector: np.ndarray
    terms: frozenset[str] = field(default_factory=frozenset)


class SentenceStore:
    """The loaded sidecar: units, parses and vectors by paragraph ID, plus corpus statistics
    (vocabulary, IDF) computed from the same terms."""

    def __init__(self, docs: dict[str, object], units: dict[str, list[Unit]]):
        self.docs = docs  # paragraph_id -> spaCy Doc
        self.units = units  # paragraph_id -> units
        self.paragraph_terms = {pid: frozenset(token_terms(d)) for pid, d in docs.items()}
        n = max(1, len(docs))
        df: dict[str, int] = {}
        for ts in self.paragraph_terms.values():
            for t in ts:
                df[t] = df.get(t, 0) + 1
        self.idf = {t: math.log(1 + n / c) for t, c in df.items()}
        self.vocabulary = frozenset(df)

    def idf_of(self, term: str) -> float:
        return self.idf.get(term, math.log(1 + max(1, len(self.docs))))


# -- build ---------------------------------------------------------------------------------------
def _read_raw(directory: Path, nlp) -> tuple[dict, list, np.ndarray]:
    from spacy.tokens import DocBin

    meta = json.loads((directory / "units.json").read_text("utf-8"))
    if meta.get("schema") != SCHEMA:
        raise ValueError(f"schema {meta.get('schema')!r}")
    docs = list(DocBin().from_disk(directory / "docs.spacy").get_docs(nlp.vocab))
    vectors = np.load(directory / "vectors.npy")
    if len(docs) != len(meta["paragraphs"]):
        raise ValueError("docs and units disagree")
    return meta, docs, vectors


def build(corpus: Corpus, nlp, embed: Callable[[list[str]], list[list[float]]], out_dir: Path,
          model_fingerprint: str, previous: Path | None = None,
          progress: Callable[[str, int, int], None] | None = None) -> dict:
    """Parse and embed every paragraph (reusing `previous` where nothing changed); write the
    sidecar to `out_dir`. Returns counts {"paragraphs", "units", "parsed", "reused"}."""
    from spacy.tokens import DocBin

    reuse: dict[str, tuple[object, list, np.ndarray]] = {}
    if previous is not None and previous.is_dir():
        try:
            meta, docs, vectors = _read_raw(previous, nlp)
            if meta.get("pipeline") == nlp.meta.get("name") and meta.get("model") == model_fingerprint:
                row = 0
                for entry, doc in zip(meta["paragraphs"], docs):
                    n = len(entry["units"])
                    reuse[entry["key"]] = (doc, entry["units"], vectors[row:row + n])
                    row += n
        except (OSError, ValueError, KeyError):  # an unreadable old sidecar: parse everything
            reuse = {}
    paragraphs = [p for d in corpus.documents for p in d.paragraphs]
    todo = [p for p in paragraphs if paragraph_key(p) not in reuse]
    parsed = dict(zip((p.id for p in todo), nlp.pipe([same_length_normalise(p.text) for p in todo],
                                                     batch_size=64)))
    if progress:
        progress("parse", len(todo), len(todo))
    entries, all_docs, rows = [], [], []
    pending: list[tuple[int, str]] = []  # (row, text) still to embed
    for p in paragraphs:
        key = paragraph_key(p)
        if key in reuse:
            doc, spans, vecs = reuse[key]
            spans = [tuple(s) for s in spans]
            rows.extend(list(vecs))
        else:
            doc = parsed[p.id]
            spans = unit_spans(doc, p.kind)
            for s, e in spans:
                pending.append((len(rows), p.text[s:e].strip()))
                rows.append(None)
        entries.append({"key": key, "id": p.id, "text": p.text, "units": [list(s) for s in spans]})
        all_docs.append(doc)
    batch = 64
    for i in range(0, len(pending), batch):
        part = pending[i:i + batch]
        vectors = np.asarray(embed([t for _, t in part]), dtype=np.float32)
        vectors /= np.linalg.norm(vectors, axis=1, keepdims=True).clip(1e-9)
        for (row, _), v in zip(part, vectors):
            rows[row] = v
        if progress:
            progress("sentences", min(i + batch, len(pending)), len(pending))
    out_dir.mkdir(parents=True, exist_ok=True)
    bin_ = DocBin(attrs=["ORTH", "TAG", "HEAD", "DEP", "ENT_IOB", "ENT_TYPE", "LEMMA", "POS",
                         "SPACY", "SENT_START"])
    for d in all_docs:
        bin_.add(d)
    bin_.to_disk(out_dir / "docs.spacy")
    dim = len(rows[0]) if rows else 0
    np.save(out_dir / "vectors.npy", np.stack(rows).astype(np.float32) if rows else np.zeros((0, dim)))
    tmp = out_dir / "units.json.tmp"
    tmp.write_text(json.dumps({"schema": SCHEMA, "pipeline": nlp.meta.get("name"),
                               "model": model_fingerprint, "paragraphs": entries}), "utf-8")
    os.replace(tmp, out_dir / "units.json")
    return {"paragraphs": len(entries), "units": len(rows), "parsed": len(todo),
            "reused": len(paragraphs) - len(todo)}


def load(directory: Path, nlp, model_fingerprint: str) -> SentenceStore:
    """The sidecar of an index version; IndexCorruptError naming the fix if it is missing,
    unreadable, or built with another pipeline or embedding model."""
    try:
        meta, docs, vectors = _read_raw(directory, nlp)
    except (OSError, ValueError, KeyError) as exc:
        raise IndexCorruptError(f"The sentence sidecar {directory} is missing or unreadable "
                                f"({exc}). Run `assistant index rebuild --full`.") from None
    if meta.get("pipeline") != nlp.meta.get("name") or meta.get("model") != model_fingerprint:
        raise IndexCorruptError(f"The sentence sidecar {directory} was built with another spaCy "
                                "pipeline or embedding model. Run `assistant index rebuild --full`.")
    by_id, units, row = {}, {}, 0
    for entry, doc in zip(meta["paragraphs"], docs):
        pid = entry["id"]
        by_id[pid] = doc
        us = []
        for i, (s, e) in enumerate(entry["units"]):
            span = doc.char_span(s, e, alignment_mode="expand")
            if span is None:
                span = doc[:]
            us.append(Unit(pid, i, entry["text"][s:e].strip(), span, vectors[row],
                           frozenset(token_terms(span))))
            row += 1
        units[pid] = us
    return SentenceStore(by_id, units)
