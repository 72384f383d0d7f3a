"""Load the corpus directory into Documents: read each file, assign stable paragraph IDs,
labels and kinds, and report (never raise for) files that cannot be read."""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from assistant.corpus.models import NUMBERED_KINDS, Block, Document, Kind, Paragraph
from assistant.corpus.readers import SUPPORTED_SUFFIXES, reader_for
from assistant.corpus.text import file_hash, is_visible, normalise
from assistant.errors import AssistantError, CorpusError

SOURCES_FILE = "sources.toml"
FETCHED_FILE = "fetched.json"
_IGNORED = {SOURCES_FILE, FETCHED_FILE}
# Far above any real paragraph (the brief's longest is about 1,300 characters), far below what
# the parser accepts (spaCy refuses a text over 1,000,000 characters and needs about 1 GB per
# 100,000 words): a longer "paragraph" is a file without paragraph breaks, and is refused.
MAX_PARAGRAPH_CHARS = 50_000
DEFAULT_MAX_PARAGRAPHS = 20_000  # see Settings.max_paragraphs_per_file
DEFAULT_MAX_CORPUS_PARAGRAPHS = 100_000  # see Settings.max_corpus_paragraphs
_KIND_LABELS = {
    Kind.HEADING: "heading", Kind.CAPTION: "caption", Kind.BYLINE: "byline",
    Kind.METADATA: "metadata", Kind.FOOTNOTE: "footnote", Kind.BIO: "author bio",
    Kind.MARGIN_NOTE: "margin note",
}


# Document kinds (front matter `kind`) that "report" selects, and the names it goes by.
REPORT_KINDS = ("digest", "report")
REPORT_ALIASES = ("report", "un-report", "wesp")


@dataclass
class Corpus:
    documents: list[Document] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)

    @property
    def paragraphs(self) -> list[Paragraph]:
        return [p for d in self.documents for p in d.paragraphs]

    def document(self, doc_id: str) -> Document | None:
        return next((d for d in self.documents if d.doc_id == doc_id), None)

    def paragraph(self, paragraph_id: str) -> Paragraph | None:
        doc_id = paragraph_id.split(":", 1)[0]
        doc = self.document(doc_id)
        return doc.by_id(paragraph_id) if doc else None

    def filters(self) -> list[tuple[str, str]]:
        """The document filter's choices as (label, value): all documents, each document that
        is not a report by its short title, and the reports together, named by the first
        alias of the first report (sources.toml), since a reader asks for "the UN report"."""
        reports = [d for d in self.documents if d.kind in REPORT_KINDS]
        choices = [("All documents", "all")]
        choices += [(d.short_title or d.title, d.doc_id) for d in self.documents
                    if d.kind not in REPORT_KINDS]
        if reports:
            aliases = reports[0].meta.get("aliases") or []
            label = str(aliases[0]) if aliases else reports[0].short_title or reports[0].title
            choices.append((label, "report"))
        return choices

    def select(self, doc: str | None) -> list[str] | None:
        """The doc_ids a document filter names: a doc_id, or "report" for every digest and
        report document; None (no filter) for "all" or nothing."""
        if not doc or doc == "all":
            return None
        ids = [d.doc_id for d in self.documents]
        if doc in ids:
            return [doc]
        if doc in REPORT_ALIASES:
            return [d.doc_id for d in self.documents if d.kind in REPORT_KINDS]
        raise AssistantError(f"Unknown document '{doc}'. Use one of: all, report, {', '.join(ids)}.")


def load_sources(corpus_dir: Path) -> list[dict]:
    path = corpus_dir / SOURCES_FILE
    if not path.exists():
        return []
    try:
        documents = tomllib.loads(path.read_text("utf-8")).get("document", [])
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise AssistantError(f"{path} is not valid TOML ({exc}). Fix it and run the command again.")
    if not isinstance(documents, list) or not all(isinstance(d, dict) for d in documents):
        raise AssistantError(f"{path}: each document must be a [[document]] table. Fix it and run "
                             "the command again.")
    return documents


def corpus_files(corpus_dir: Path) -> list[Path]:
    """Every candidate document file, sorted; sources.toml, READMEs and dotfiles excluded."""
    if not corpus_dir.is_dir():
        raise AssistantError(f"Corpus directory {corpus_dir} does not exist. Create it or set "
                             "ASSISTANT_CORPUS_DIR to the folder that holds the documents.")
    return sorted(
        p for p in corpus_dir.rglob("*")
        if p.is_file() and p.name not in _IGNORED and not p.name.startswith(".")
        and not p.name.lower().startswith("readme")
    )


def corpus_file_hashes(corpus_dir: Path) -> dict[str, str]:
    """SHA-256 of every corpus file (skipped ones included) and of sources.toml: what the
    manifest records and what freshness is judged against."""
    corpus_dir = Path(corpus_dir)
    hashes = {p.relative_to(corpus_dir).as_posix(): file_hash(p.read_bytes())
              for p in corpus_files(corpus_dir)}
    if (corpus_dir / SOURCES_FILE).exists():
        hashes[SOURCES_FILE] = file_hash((corpus_dir / SOURCES_FILE).read_bytes())
    return hashes


def corpus_signature(corpus_dir: Path) -> tuple:
    """Names, sizes and modification times of the corpus files: cheap to take, and it
    changes whenever a file is added, removed or written."""
    corpus_dir = Path(corpus_dir)
    paths = corpus_files(corpus_dir) + [p for p in [corpus_dir / SOURCES_FILE] if p.exists()]
    return tuple((p.name, p.stat().st_size, p.stat().st_mtime_ns) for p in paths)


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "doc"


def _strip_parenthetical(text: str) -> str:
    return re.sub(r"\s*\([^)]*\)\s*$", "", text).strip()


def _section_label(section: tuple[str, ...]) -> str:
    """The innermost heading below the title, without a trailing "(chapter III, p. 116)"."""
    return _strip_parenthetical(section[-1]) if len(section) >= 2 else ""


def build_paragraphs(doc_id: str, short_title: str, blocks: list[Block],
                     label_scope: str = "document", source_urls: tuple[str, ...] = ()
                     ) -> list[Paragraph]:
    """Assign IDs and labels. The ID hashes the paragraph's own normalised text (and its
    occurrence number when the text repeats), so it survives edits to other paragraphs.
    Each paragraph is checked for text addressed to a reader or a model; ``source_urls`` (the
    document's declared sources) and its own footnote labels are not counted as such."""
    footnote_labels = tuple(sorted({b.footnote_label for b in blocks if b.footnote_label}))
    source_urls = tuple(source_urls)
    seen: dict[str, int] = {}
    used: set[str] = set()
    counters: dict[tuple, int] = {}
    paragraphs: list[Paragraph] = []
    for position, block in enumerate(blocks):
        search = normalise(block.text)
        content = hashlib.sha256(search.encode("utf-8")).hexdigest()
        seen[content] = seen.get(content, 0) + 1
        digest = hashlib.sha256(f"{content}#{seen[content]}".encode()).hexdigest()
        n = 8
        while f"{doc_id}:{digest[:n]}" in used:
            n += 2
        pid = f"{doc_id}:{digest[:n]}"
        used.add(pid)

        if label_scope == "page" and block.page is not None:
            scope, prefix = ("page", block.page), f"p. {block.page}"
        elif label_scope == "section" and _section_label(block.section):
            scope = ("section", block.section)
            prefix = f"{short_title} — {_section_label(block.section)}"
        else:
            scope, prefix = ("document",), short_title
        if block.kind in NUMBERED_KINDS:
            counters[scope] = counters.get(scope, 0) + 1
            label = f"{prefix} ¶{counters[scope]}"
        elif block.kind is Kind.HEADING:
            label = f"{short_title} § {_strip_parenthetical(block.text)[:60]}"
        elif block.kind is Kind.METADATA and position == 0 and block.text.startswith("Title: “"):
            label = f"{short_title} front matter"
        elif block.kind is Kind.FOOTNOTE and block.footnote_label:
            label = f"{short_title} footnote {block.footnote_label}"
        else:
            key = (scope, block.kind)
            counters[key] = counters.get(key, 0) + 1
            label = f"{prefix} {_KIND_LABELS[block.kind]}"
            if counters[key] > 1:
                label += f" {counters[key]}"
        paragraphs.append(Paragraph(
            id=pid, doc_id=doc_id, position=position, kind=block.kind, label=label,
            text=block.text, search_text=search, section=block.section, page=block.page,
            footnote_refs=block.footnote_refs, footnote_label=block.footnote_label,
            content_hash=content, source_urls=source_urls, document_footnotes=footnote_labels,
        ))
    return paragraphs


def _format_date(value) -> str:
    if isinstance(value, dt.date):
        return f"{value.day} {value:%B %Y}"
    try:
        d = dt.date.fromisoformat(str(value))
        return f"{d.day} {d:%B %Y}"
    except ValueError:
        return str(value)


def front_matter_card(meta: dict) -> Block | None:
    """A metadata paragraph built from the document's own front matter (title, author,
    publisher, date, series, source), so questions such as "who wrote this?" can cite it.
    Only fields present in the file are used; nothing is added."""
    title = meta.get("title")
    parts = []
    if meta.get("author"):
        parts.append(f"written by {meta['author']}")
    if meta.get("publisher"):
        parts.append(f"published by {meta['publisher']}")
    date = meta.get("date") or meta.get("report_published")
    if date:
        parts.append(f"dated {_format_date(date)}")
    if meta.get("series"):
        parts.append(f"in the series {meta['series']}")
    if not title or not parts:
        return None
    text = f"Title: “{title}”. " + ", ".join(parts).capitalize()[0] + ", ".join(parts)[1:] + "."
    url = meta.get("source_url") or meta.get("report_url")
    if url:
        text += f" Source: {url}"
    return Block(text=text, kind=Kind.METADATA, section=())


def source_urls(meta: dict) -> tuple[str, ...]:
    """The URLs a document declares as its own source (front matter or sources.toml)."""
    return tuple(str(v) for k, v in meta.items() if k in ("url", "source_url", "report_url") and v)


def load_file(path: Path, rel: str, source: dict, max_bytes: int,
              max_paragraphs: int = DEFAULT_MAX_PARAGRAPHS) -> tuple[Document, list[str]]:
    """Read one corpus file into a Document. Raises CorpusError naming the file, and refuses
    one of more than `max_paragraphs` paragraphs before any of them is built."""
    reader = reader_for(path.suffix)
    if reader is None:
        raise CorpusError(f"{rel}: unsupported file type '{path.suffix or '(none)'}' (supported: "
                          f"{', '.join(SUPPORTED_SUFFIXES)}); skipped.")
    size = path.stat().st_size
    if size > max_bytes:
        raise CorpusError(f"{rel}: {size / 1e6:.1f} MB is over the {max_bytes / 1e6:.1f} MB limit; "
                          "refused. Raise ASSISTANT_MAX_FILE_MB to index it.")
    if size == 0:
        raise CorpusError(f"{rel}: the file is empty; skipped.")
    parsed = reader(path.read_bytes(), rel)
    parsed.blocks = [b for b in parsed.blocks if is_visible(b.text)]  # not only BOMs, ZWSPs
    for n, block in enumerate(parsed.blocks, 1):  # before any work per paragraph
        if len(block.text) > MAX_PARAGRAPH_CHARS:
            raise CorpusError(f"{rel}: paragraph {n} is {len(block.text):,} characters long, over "
                              f"the {MAX_PARAGRAPH_CHARS:,} a paragraph may have (is the file "
                              "missing its paragraph breaks?); skipped. Put blank lines between "
                              "paragraphs, then run `assistant index rebuild`.")
    meta = {**parsed.meta, **{k: v for k, v in source.items() if k not in ("file", "fetch")}}
    doc_id = str(meta.get("doc_id") or slug(path.stem))
    if not re.fullmatch(r"[\w.-]+", doc_id):  # it prefixes paragraph IDs: "<doc_id>:<hash>"
        raise CorpusError(f"{rel}: doc_id '{doc_id[:60]}' may hold only letters, digits, '.', '-' "
                          "and '_'; skipped. Fix it, then run `assistant index rebuild`.")
    title = str(meta.get("title") or path.stem)
    short_title = str(meta.get("short_title") or title)
    scope = str(meta.get("label_scope") or ("page" if path.suffix.lower() == ".pdf" else "document"))
    card = front_matter_card(meta) if path.suffix.lower() in (".md", ".markdown") else None
    blocks = ([card] if card else []) + parsed.blocks
    if len(blocks) > max_paragraphs:
        raise CorpusError(f"{rel}: {len(blocks):,} paragraphs is over the {max_paragraphs:,} "
                          f"paragraphs-per-file limit ({size / 1e6:.1f} MB); refused. Split the file, "
                          "or raise ASSISTANT_MAX_PARAGRAPHS_PER_FILE to index it.")
    paragraphs = build_paragraphs(doc_id, short_title, blocks, scope, source_urls(meta))
    if not paragraphs:
        raise CorpusError(f"{rel}: no text could be extracted; skipped.")
    doc = Document(doc_id=doc_id, title=title, kind=str(meta.get("kind") or "document"),
                   path=rel, short_title=short_title, meta=meta, paragraphs=paragraphs)
    return doc, parsed.warnings


def load_corpus(corpus_dir: Path, max_file_mb: float = 50.0,
                max_paragraphs_per_file: int = DEFAULT_MAX_PARAGRAPHS,
                max_corpus_paragraphs: int = DEFAULT_MAX_CORPUS_PARAGRAPHS) -> Corpus:
    """Every readable file of `corpus_dir`, in name order; a file that cannot be read, is
    over a limit, or would bring the corpus over `max_corpus_paragraphs`, is skipped and
    named in the warnings."""
    corpus_dir = Path(corpus_dir)
    sources = {s.get("file"): s for s in load_sources(corpus_dir)}
    corpus = Corpus()
    total = 0
    for path in corpus_files(corpus_dir):
        rel = path.relative_to(corpus_dir).as_posix()
        try:
            doc, warnings = load_file(path, rel, sources.get(rel, {}), int(max_file_mb * 1e6),
                                      max_paragraphs_per_file)
        except CorpusError as exc:
            corpus.warnings.append(str(exc))
            corpus.skipped.append(rel)
            continue
        except Exception as exc:  # noqa: BLE001 - a reader bug must not take the whole corpus down
            corpus.warnings.append(f"{rel}: could not be read ({type(exc).__name__}: {exc}); skipped.")
            corpus.skipped.append(rel)
            continue
        if corpus.document(doc.doc_id):
            corpus.warnings.append(f"{rel}: doc_id '{doc.doc_id}' is already used by another "
                                   "file; skipped. Give it its own doc_id in sources.toml.")
            corpus.skipped.append(rel)
            continue
        if total + len(doc.paragraphs) > max_corpus_paragraphs:
            corpus.warnings.append(
                f"{rel}: its {len(doc.paragraphs):,} paragraphs would bring the corpus to "
                f"{total + len(doc.paragraphs):,}, over the {max_corpus_paragraphs:,} corpus "
                "paragraph limit; refused. Remove other files, or raise "
                "ASSISTANT_MAX_CORPUS_PARAGRAPHS to index it.")
            corpus.skipped.append(rel)
            continue
        total += len(doc.paragraphs)
        corpus.warnings.extend(warnings)
        corpus.documents.append(doc)
    return corpus
