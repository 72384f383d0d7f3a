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
from collections import deque
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
DOCS_FILE, UNITS_FILE, VECTORS_FILE = "docs.spacy", "units.json", "vectors.npy"
FILES = (DOCS_FILE, UNITS_FILE, VECTORS_FILE)  # a version's sidecar is these three
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
    from spacy.tokens import DocBin  # spaCy: loaded by then, through nlp (which keeps torch out)

    meta = json.loads((directory / UNITS_FILE).read_text("utf-8"))
    if meta.get("schema") != SCHEMA:
        raise ValueError(f"schema {meta.get('schema')!r}")
    docs = list(DocBin().from_disk(directory / DOCS_FILE).get_docs(nlp.vocab))
    vectors = np.load(directory / VECTORS_FILE, mmap_mode="r")  # read on demand, not held
    if len(docs) != len(meta["paragraphs"]):
        raise ValueError("docs and units disagree")
    return meta, docs, vectors


_BIN_ATTRS = ["ORTH", "TAG", "HEAD", "DEP", "ENT_IOB", "ENT_TYPE", "LEMMA", "POS", "SPACY",
              "SENT_START"]
EMBED_BATCH = 512  # units per embedding call (sorted by length within it)
_COPY_ROWS = 8192


def _copy_doc(source, i: int, target) -> None:
    """Append the i-th parse of DocBin `source` to DocBin `target` as stored, without making
    a spaCy Doc of it (per document, what ``DocBin.merge`` does for a whole bin; the caller
    has copied the strings)."""
    target.tokens.append(source.tokens[i])
    target.spaces.append(source.spaces[i])
    target.cats.append(source.cats[i])
    target.span_groups.append(source.span_groups[i])
    target.flags.append(source.flags[i])


def _previous(previous: Path | None, nlp, model_fingerprint: str, attrs) -> tuple[object, dict]:
    """The previous sidecar's DocBin and key -> (its index there, unit spans, vectors), when it
    was built with the same pipeline, model and attributes; (None, {}) otherwise. The vectors
    are memory-mapped, and no parse is turned back into a Doc."""
    from spacy.tokens import DocBin  # spaCy: loaded by then, through nlp (keeping torch out)

    if previous is None or not previous.is_dir():
        return None, {}
    try:
        meta = json.loads((previous / UNITS_FILE).read_text("utf-8"))
        if (meta.get("schema") != SCHEMA or meta.get("pipeline") != nlp.meta.get("name")
                or meta.get("model") != model_fingerprint):
            return None, {}
        old = DocBin().from_disk(previous / DOCS_FILE)
        vectors = np.load(previous / VECTORS_FILE, mmap_mode="r")
        if old.attrs != attrs or len(old.tokens) != len(meta["paragraphs"]):
            return None, {}
        reuse, row = {}, 0
        for i, entry in enumerate(meta["paragraphs"]):
            n = len(entry["units"])
            reuse[entry["key"]] = (i, [tuple(s) for s in entry["units"]], vectors[row:row + n])
            row += n
        return old, reuse
    except (OSError, ValueError, KeyError):  # an unreadable old sidecar: parse everything
        return None, {}


class _VectorWriter:
    """Unit vectors written in paragraph order as they become known, so that at most one
    embedding batch of them is held in memory; `finish` turns them into ``vectors.npy``."""

    def __init__(self, out_dir: Path):
        self.out_dir = out_dir
        self.raw_path = out_dir / "vectors.f32.tmp"
        self.raw = self.raw_path.open("wb")
        self.queue: deque[list] = deque()  # per paragraph not yet written: its rows (None = pending)
        self.rows, self.dim = 0, 0

    def add(self, rows: list) -> list:
        self.queue.append(rows)
        return rows

    def flush_ready(self) -> None:
        while self.queue and all(r is not None for r in self.queue[0]):
            for r in self.queue.popleft():
                self.dim = len(r)
                self.raw.write(np.asarray(r, dtype=np.float32).tobytes())
                self.rows += 1

    def finish(self) -> None:
        self.flush_ready()
        self.raw.close()
        target = self.out_dir / VECTORS_FILE
        if self.rows == 0:
            np.save(target, np.zeros((0, self.dim), dtype=np.float32))
        else:
            src = np.memmap(self.raw_path, dtype=np.float32, mode="r", shape=(self.rows, self.dim))
            out = np.lib.format.open_memmap(target, mode="w+", dtype=np.float32,
                                            shape=(self.rows, self.dim))
            for i in range(0, self.rows, _COPY_ROWS):
                out[i:i + _COPY_ROWS] = src[i:i + _COPY_ROWS]
            out.flush()
            del out, src
        self.raw_path.unlink()


def build(corpus: Corpus, nlp, embed: Callable[[list[str]], list[list[float]]], out_dir: Path,
          model_fingerprint: str, previous: Path | None = None,
          progress: Callable[[str, int, int], None] | None = None) -> dict:
    """Parse and embed every paragraph (reusing `previous` where nothing changed); write the
    sidecar to `out_dir`. Returns counts {"paragraphs", "units", "parsed", "reused"}.

    Streams: each parse goes into the DocBin as soon as it is made (``nlp.pipe`` in batches),
    unit texts are embedded in batches of EMBED_BATCH, and vectors go to disk in order, so
    memory holds the DocBin's arrays but never all the Docs or all the vectors at once."""
    from spacy.tokens import DocBin  # spaCy: loaded by then, through nlp (keeping torch out)

    out_dir.mkdir(parents=True, exist_ok=True)
    bin_ = DocBin(attrs=_BIN_ATTRS)
    old_bin, reuse = _previous(previous, nlp, model_fingerprint, bin_.attrs)
    if old_bin is not None:
        bin_.strings.update(old_bin.strings)
    paragraphs = [p for d in corpus.documents for p in d.paragraphs]
    keys = [paragraph_key(p) for p in paragraphs]
    todo = [p for p, k in zip(paragraphs, keys) if k not in reuse]
    parses = iter(nlp.pipe((same_length_normalise(p.text) for p in todo), batch_size=64))
    writer = _VectorWriter(out_dir)
    pending: list[tuple[list, int, str]] = []  # (paragraph rows, unit index, text) to embed
    parsed = 0

    def embed_pending(final: bool) -> None:
        while len(pending) >= EMBED_BATCH or (final and pending):
            part, pending[:] = pending[:EMBED_BATCH], pending[EMBED_BATCH:]
            vectors = np.asarray(embed([t for _, _, t in part]), dtype=np.float32)
            vectors /= np.linalg.norm(vectors, axis=1, keepdims=True).clip(1e-9)
            for (rows, i, _), v in zip(part, vectors):
                rows[i] = v
            writer.flush_ready()
            if progress:  # paragraphs parsed, their sentences embedded up to this batch
                progress("sentences", parsed, len(todo))

    entries = []
    for p, key in zip(paragraphs, keys):
        if key in reuse:
            index, spans, vecs = reuse[key]
            _copy_doc(old_bin, index, bin_)
            writer.add(list(vecs))
        else:
            doc = next(parses)
            spans = unit_spans(doc, p.kind)
            bin_.add(doc)
            rows = writer.add([None] * len(spans))
            pending.extend((rows, i, p.text[s:e].strip()) for i, (s, e) in enumerate(spans))
            parsed += 1
            embed_pending(final=False)
        entries.append({"key": key, "id": p.id, "text": p.text, "units": [list(s) for s in spans]})
        writer.flush_ready()
    embed_pending(final=True)
    if progress:
        progress("sentences", len(todo), len(todo))
    writer.finish()
    bin_.to_disk(out_dir / DOCS_FILE)
    tmp = out_dir / "units.json.tmp"
    tmp.write_text(json.dumps({"schema": SCHEMA, "pipeline": nlp.meta.get("name"),
                               "model": model_fingerprint, "paragraphs": entries}), "utf-8")
    os.replace(tmp, out_dir / UNITS_FILE)
    return {"paragraphs": len(entries), "units": writer.rows, "parsed": len(todo),
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
