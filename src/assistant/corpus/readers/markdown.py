"""Markdown reader: front matter, ATX headings, paragraphs, list items, footnotes and
Pandoc-style fenced divs (``::: caption`` ... ``:::``) that set a paragraph's kind."""

from __future__ import annotations

import datetime as dt
import re

import yaml

from assistant.corpus.models import Block, Kind
from assistant.corpus.readers import Parsed, decode_text
from assistant.errors import CorpusError

_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
_LIST_ITEM = re.compile(r"^\s{0,3}(?:\d+[.)]|[-*+•])\s+")
# No pattern may rescan the rest of a line from every opener that is never closed ("[^[^[^...",
# "*a *a *a ..."): a span stops at the next opener, so a line of any length is read in linear time.
_FOOTNOTE_DEF = re.compile(r"^\[\^([^\]]+)\]:\s*(.*)$")
_FOOTNOTE_REF = re.compile(r"\[\^([^\[\]]+)\]")
_DIV_OPEN = re.compile(r"^:{3,}\s*\{?\.?([A-Za-z_-]+)\}?\s*$")
_DIV_CLOSE = re.compile(r"^:{3,}\s*$")
_LINK = re.compile(r"!?\[([^\[\]]*)\]\((?:[^()]|\([^()]*\))*\)")  # one level of (...) in a URL
_EMPHASIS = re.compile(r"(\*\*|__|\*|_)(?=[^\s*_])([^*_]+?)(?<=\S)\1")
_SUPERSCRIPTS = str.maketrans("0123456789", "⁰¹²³⁴⁵⁶⁷⁸⁹")

DIV_KINDS = {k.value: k for k in Kind} | {"meta": Kind.METADATA, "note": Kind.MARGIN_NOTE}


def split_front_matter(text: str, name: str) -> tuple[dict, str]:
    if not text.startswith("---"):
        return {}, text
    end = re.search(r"^---\s*$", text[3:], flags=re.MULTILINE)
    if not end:
        raise CorpusError(f"{name}: front matter opened with '---' is never closed. "
                          "Add the closing '---' line, then run `assistant index rebuild`.")
    try:
        meta = yaml.safe_load(text[3:3 + end.start()]) or {}
    # ValueError: an impossible date ("2021-02-30"); RecursionError: nesting too deep to parse
    except (yaml.YAMLError, ValueError, RecursionError) as exc:
        raise CorpusError(f"{name}: front matter is not valid YAML ({exc}). "
                          "Fix it, then run `assistant index rebuild`.") from exc
    if not isinstance(meta, dict):
        raise CorpusError(f"{name}: front matter must be a mapping of keys to values.")
    for key, value in meta.items():
        if not isinstance(key, str) or not (_is_scalar(value) or (
                isinstance(value, list) and all(_is_scalar(v) for v in value))):
            raise CorpusError(f"{name}: front matter '{str(key)[:40]}' must be text, a number, a "
                              "date or a list of them. Fix it, then run `assistant index rebuild`.")
    return meta, text[3 + end.end():]


def _is_scalar(value: object) -> bool:
    return value is None or isinstance(value, str | int | float | dt.date)


def inline_to_text(text: str) -> str:
    """Markdown inline syntax to display text; footnote refs become superscript digits."""
    text = _LINK.sub(r"\1", text)
    for _ in range(2):  # "**bold *and italic* text**": the inner span, then the outer
        text = _EMPHASIS.sub(r"\2", text)
    text = _FOOTNOTE_REF.sub(lambda m: m.group(1).translate(_SUPERSCRIPTS), text)
    return " ".join(text.split())


def read(data: bytes, name: str) -> Parsed:
    text, warnings = decode_text(data, name)
    meta, body = split_front_matter(text.replace("\r\n", "\n"), name)
    parsed = Parsed(meta=dict(meta), warnings=warnings)
    headings: list[tuple[int, str]] = []
    div_kind: Kind | None = None
    lines: list[str] = []
    kind = Kind.BODY
    footnote_label: str | None = None

    def flush() -> None:
        nonlocal lines, kind, footnote_label
        raw = " ".join(line.strip() for line in lines).strip()
        if raw:
            parsed.blocks.append(Block(
                text=inline_to_text(raw),
                kind=kind if div_kind is None or kind is Kind.FOOTNOTE else div_kind,
                section=tuple(h for _, h in headings),
                footnote_refs=tuple(_FOOTNOTE_REF.findall(raw)),
                footnote_label=footnote_label,
            ))
        lines, kind, footnote_label = [], Kind.BODY, None

    for line in body.split("\n"):
        stripped = line.strip()
        if div_kind is not None and _DIV_CLOSE.match(stripped):
            flush()
            div_kind = None
        elif div_kind is None and (m := _DIV_OPEN.match(stripped)):
            flush()
            div_kind = DIV_KINDS.get(m.group(1).lower(), Kind.BODY)
            if m.group(1).lower() not in DIV_KINDS:
                parsed.warnings.append(f"{name}: unknown block kind '::: {m.group(1)}', read as body")
        elif not stripped:
            flush()
        elif m := _HEADING.match(stripped):
            flush()
            level, title = len(m.group(1)), inline_to_text(m.group(2))
            headings = [h for h in headings if h[0] < level]
            parsed.blocks.append(Block(text=title, kind=Kind.HEADING,
                                       section=tuple(h for _, h in headings)))
            headings.append((level, title))
            parsed.meta.setdefault("title", title)
        elif m := _FOOTNOTE_DEF.match(stripped):
            flush()
            kind, footnote_label, lines = Kind.FOOTNOTE, m.group(1), [m.group(2)]
        elif _LIST_ITEM.match(line):
            flush()
            kind, lines = Kind.LIST_ITEM, [stripped]
        else:
            lines.append(stripped)
    flush()
    return parsed
