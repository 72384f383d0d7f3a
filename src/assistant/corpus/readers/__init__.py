"""Readers turn one corpus file into document metadata and a list of Blocks.

Each reader is a function ``read(data: bytes, name: str) -> Parsed``. A reader raises
``CorpusError`` for a file it cannot read; the loader reports it by name and skips it.
"""

from __future__ import annotations

import codecs
from collections.abc import Callable
from dataclasses import dataclass, field

from assistant.corpus.models import Block
from assistant.corpus.text import strip_control


@dataclass
class Parsed:
    meta: dict = field(default_factory=dict)  # title, doc_id, kind, author, date, ...
    blocks: list[Block] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


Reader = Callable[[bytes, str], Parsed]


def reader_for(suffix: str) -> Reader | None:
    """The reader for a file suffix (".md", ".pdf", ...), or None if unsupported."""
    suffix = suffix.lower()
    # imported here: each reader imports this module (Block), and its parser library (yaml,
    # bs4, pdfplumber) loads only when a file of its kind is read
    if suffix in (".md", ".markdown"):
        from assistant.corpus.readers.markdown import read  # (see above)
    elif suffix == ".txt":
        from assistant.corpus.readers.plaintext import read  # (see above)
    elif suffix in (".html", ".htm"):
        from assistant.corpus.readers.html import read  # (see above)
    elif suffix == ".pdf":
        from assistant.corpus.readers.pdf import read  # (see above)
    else:
        return None
    return read


SUPPORTED_SUFFIXES = (".md", ".markdown", ".txt", ".html", ".htm", ".pdf")


def decode_text(data: bytes, name: str) -> tuple[str, list[str]]:
    """Decode UTF-8 (with or without BOM), or UTF-16 with its BOM; fall back to cp1252/latin-1
    with a warning. Control characters (NUL, ESC, DEL, ...) are dropped: they are never text to
    index or show."""
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):  # "Unicode" text on Windows
        try:
            return strip_control(data.decode("utf-16")), []
        except UnicodeDecodeError:
            pass
    try:
        return strip_control(data.decode("utf-8-sig")), []
    except UnicodeDecodeError as exc:
        for enc in ("cp1252", "latin-1"):
            try:
                text = data.decode(enc)
            except UnicodeDecodeError:
                continue
            return strip_control(text), [f"{name}: not valid UTF-8 (byte {exc.start}); decoded as {enc}"]
    raise AssertionError("latin-1 decodes any bytes")
