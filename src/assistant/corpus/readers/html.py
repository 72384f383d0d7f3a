"""HTML reader (BeautifulSoup): headings, paragraphs, list items, figure captions, asides
and footnotes. Scripts, styles and navigation are dropped; text is kept as plain text."""

from __future__ import annotations

from dataclasses import dataclass, field

from bs4 import BeautifulSoup, CData, NavigableString, PageElement, Tag

from assistant.corpus.models import Block, Kind
from assistant.corpus.readers import Parsed, decode_text

_HEADINGS = {f"h{i}": i for i in range(1, 7)}
_BLOCKS = frozenset({*_HEADINGS, "p", "li", "figcaption", "blockquote"})
_DROP = ["script", "style", "nav", "header", "footer", "form", "noscript", "template", "svg"]


def _kind_from_class(el) -> Kind | None:
    classes = " ".join(el.get("class") or []).lower()
    for word, kind in (("caption", Kind.CAPTION), ("byline", Kind.BYLINE), ("bio", Kind.BIO),
                       ("footnote", Kind.FOOTNOTE), ("meta", Kind.METADATA)):
        if word in classes:
            return kind
    return None


@dataclass
class _Found:
    """A block element, where it sits, and the text that is its own."""

    el: Tag
    in_aside: bool
    in_footnotes: bool
    parts: list[str] = field(default_factory=list)
    refs: list[str] = field(default_factory=list)


def _walk(root: Tag) -> list[_Found]:
    """Block elements in document order, in one pass over the tree. Each text belongs to its
    nearest enclosing block (a nested list item or quote is a block of its own; a <p> inside a
    list item or quote is part of it), so deep or unclosed nesting costs linear time."""
    found: list[_Found] = []
    # (node, the block that owns its text, inside an aside, inside a footnotes list, inside li/quote)
    stack: list[tuple[PageElement, _Found | None, bool, bool, bool]] = [(root, None, False, False, False)]
    while stack:
        node, owner, aside, notes, item = stack.pop()
        if isinstance(node, NavigableString):
            if owner is not None and type(node) in (NavigableString, CData) and node.strip():
                owner.parts.append(node.strip())
            continue
        if not isinstance(node, Tag):
            continue
        if node is not root and node.name in _BLOCKS and not (node.name == "p" and item):
            owner = _Found(node, aside, notes)
            found.append(owner)
        if node.name == "sup" and owner is not None and node.get_text(strip=True).isdigit():
            owner.refs.append(node.get_text(strip=True))
        aside = aside or node.name == "aside"
        notes = notes or "footnotes" in (node.get("class") or [])
        item = item or node.name in ("li", "blockquote")
        stack.extend((child, owner, aside, notes, item) for child in reversed(node.contents))
    return found


def read(data: bytes, name: str) -> Parsed:
    text, warnings = decode_text(data, name)
    soup = BeautifulSoup(text, "html.parser")
    parsed = Parsed(warnings=warnings)
    if soup.title and soup.title.get_text(strip=True):
        parsed.meta["title"] = soup.title.get_text(" ", strip=True)
    for tag in soup(_DROP):
        tag.decompose()
    headings: list[tuple[int, str]] = []
    root = soup.find("article") or soup.find("main") or soup.body or soup
    for found in _walk(root):
        el = found.el
        content = " ".join(" ".join(found.parts).split())
        if not content:
            continue
        if el.name in _HEADINGS:
            level = _HEADINGS[el.name]
            headings = [h for h in headings if h[0] < level]
            parsed.blocks.append(Block(content, Kind.HEADING, tuple(t for _, t in headings)))
            headings.append((level, content))
            parsed.meta.setdefault("title", content)
            continue
        kind = _kind_from_class(el)
        if kind is None:
            if el.name == "figcaption":
                kind = Kind.CAPTION
            elif found.in_aside:
                kind = Kind.MARGIN_NOTE
            elif el.name == "li":
                kind = Kind.FOOTNOTE if found.in_footnotes else Kind.LIST_ITEM
            else:
                kind = Kind.BODY
        label = None
        if kind is Kind.FOOTNOTE:
            fid = el.get("id") or ""
            label = "".join(ch for ch in fid if ch.isdigit()) or None
        refs = tuple(found.refs) if kind is not Kind.FOOTNOTE else ()
        parsed.blocks.append(Block(content, kind, tuple(t for _, t in headings),
                                   footnote_refs=refs, footnote_label=label))
    return parsed
