"""Plain-text reader: blank-line separated paragraphs, bulleted/numbered list items, and
footnotes written as a number glued to the text ("1United Nations, ...") at the end."""

from __future__ import annotations

import re

from assistant.corpus.models import Block, Kind
from assistant.corpus.readers import Parsed, decode_text

_LIST_ITEM = re.compile(r"^\s*(?:\d+[.)]|[-*•])\s+")
_FOOTNOTE = re.compile(r"^(\d{1,2})(?=[A-Z])(.{10,})$", re.DOTALL)
_REF_AFTER_SENTENCE = re.compile(r"(?<=[a-z][.,;])(\d{1,2})(?=\s|$)")


def read(data: bytes, name: str) -> Parsed:
    text, warnings = decode_text(data, name)
    parsed = Parsed(warnings=warnings)
    chunks = [c for c in re.split(r"\n\s*\n", text.replace("\r\n", "\n")) if c.strip()]
    for chunk in chunks:
        lines = [line for line in chunk.split("\n") if line.strip()]
        if all(_LIST_ITEM.match(line) for line in lines):
            for line in lines:
                parsed.blocks.append(Block(text=" ".join(line.split()), kind=Kind.LIST_ITEM))
            continue
        para = " ".join(" ".join(lines).split())
        if m := _FOOTNOTE.match(para):
            parsed.blocks.append(Block(text=m.group(2).strip(), kind=Kind.FOOTNOTE,
                                       footnote_label=m.group(1)))
        else:
            refs = tuple(_REF_AFTER_SENTENCE.findall(para))
            parsed.blocks.append(Block(text=para, kind=Kind.BODY, footnote_refs=refs))
    if parsed.blocks and "title" not in parsed.meta:
        parsed.meta["title"] = name.rsplit("/", 1)[-1].rsplit(".", 1)[0].replace("-", " ")
    return parsed
