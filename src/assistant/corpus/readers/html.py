"""HTML reader (BeautifulSoup): headings, paragraphs, list items, figure captions, asides
and footnotes. Scripts, styles and navigation are dropped; text is kept as plain text."""

from __future__ import annotations

from bs4 import BeautifulSoup

from assistant.corpus.models import Block, Kind
from assistant.corpus.readers import Parsed, decode_text

_HEADINGS = {f"h{i}": i for i in range(1, 7)}
_DROP = ["script", "style", "nav", "header", "footer", "form", "noscript", "template", "svg"]


def _kind_from_class(el) -> Kind | None:
    classes = " ".join(el.get("class") or []).lower()
    for word, kind in (("caption", Kind.CAPTION), ("byline", Kind.BYLINE), ("bio", Kind.BIO),
                       ("footnote", Kind.FOOTNOTE), ("meta", Kind.METADATA)):
        if word in classes:
            return kind
    return None


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
    for el in root.find_all(["h1", "h2", "h3", "h4", "h5", "h6", "p", "li", "figcaption",
                             "blockquote"]):
        if el.find_parent(["li", "blockquote"]) and el.name == "p":
            continue  # the enclosing item carries this text
        content = " ".join(el.get_text(" ", strip=True).split())
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
            elif el.find_parent("aside"):
                kind = Kind.MARGIN_NOTE
            elif el.name == "li":
                kind = Kind.FOOTNOTE if el.find_parent(class_="footnotes") else Kind.LIST_ITEM
            else:
                kind = Kind.BODY
        label = None
        if kind is Kind.FOOTNOTE:
            fid = el.get("id") or ""
            label = "".join(ch for ch in fid if ch.isdigit()) or None
        refs = tuple(s.get_text(strip=True) for s in el.find_all("sup")
                     if s.get_text(strip=True).isdigit()) if kind is not Kind.FOOTNOTE else ()
        parsed.blocks.append(Block(content, kind, tuple(t for _, t in headings),
                                   footnote_refs=refs, footnote_label=label))
    return parsed
