"""The app's own small types for documents and paragraphs.

A Paragraph is the unit of citation. Its ``id`` is owned by the app (never by a model) and is
stable: it is derived from the paragraph's own normalised text (plus an occurrence number when
the same text repeats in a document), so editing, adding or removing *another* paragraph never
changes it. The human ``label`` ("Op-ed ¶7", "p. 116 ¶2") is positional and may shift.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from functools import cached_property

from assistant.corpus.injection import Reason, injection_reasons


class Kind(StrEnum):
    HEADING = "heading"
    BODY = "body"
    LIST_ITEM = "list_item"
    CAPTION = "caption"
    BYLINE = "byline"
    METADATA = "metadata"
    FOOTNOTE = "footnote"
    BIO = "bio"
    MARGIN_NOTE = "margin_note"


# Kinds that are numbered ¶1, ¶2, ... in labels; the others are labelled by their kind.
NUMBERED_KINDS = frozenset({Kind.BODY, Kind.LIST_ITEM})
# Kinds that describe the document rather than argue its content.
PERIPHERAL_KINDS = frozenset({Kind.CAPTION, Kind.BYLINE, Kind.METADATA, Kind.BIO, Kind.HEADING})


@dataclass(frozen=True)
class Block:
    """A paragraph as a reader sees it, before IDs and labels are assigned."""

    text: str
    kind: Kind
    section: tuple[str, ...] = ()
    page: int | None = None
    footnote_refs: tuple[str, ...] = ()  # markers in this block, e.g. ("1",)
    footnote_label: str | None = None  # for kind == FOOTNOTE: its own marker


@dataclass(frozen=True)
class Paragraph:
    id: str
    doc_id: str
    position: int  # 0-based order in the document
    kind: Kind
    label: str
    text: str  # original, for display
    search_text: str  # normalised, for search
    section: tuple[str, ...] = ()
    page: int | None = None
    footnote_refs: tuple[str, ...] = ()
    footnote_label: str | None = None
    content_hash: str = ""
    # what the injection check needs besides the text: the document's declared source URLs
    # and its footnote labels
    source_urls: tuple[str, ...] = ()
    document_footnotes: tuple[str, ...] = ()

    @cached_property
    def injection(self) -> tuple[Reason, ...]:
        """Why the text looks addressed to a reader or a model (see corpus/injection.py); ()
        if not. Computed when first needed (the paragraph is shown, or handed to a model),
        not at load: at about 0.13 ms a paragraph it would add over a second to every
        load of a 10k-paragraph corpus."""
        return injection_reasons(self.text, self.source_urls, self.document_footnotes,
                                 links_allowed=self.kind is Kind.FOOTNOTE)

    @property
    def section_path(self) -> str:
        return " > ".join(self.section)


@dataclass
class Document:
    doc_id: str
    title: str
    kind: str  # article | digest | report | document
    path: str  # relative to the corpus directory
    short_title: str = ""
    meta: dict = field(default_factory=dict)
    paragraphs: list[Paragraph] = field(default_factory=list)

    def footnote(self, label: str) -> Paragraph | None:
        for p in self.paragraphs:
            if p.kind is Kind.FOOTNOTE and p.footnote_label == label:
                return p
        return None

    def by_id(self, paragraph_id: str) -> Paragraph | None:
        for p in self.paragraphs:
            if p.id == paragraph_id:
                return p
        return None
