"""PDF reader (pdfplumber) for reports laid out like the UN "World Economic Situation and
Prospects 2021". Layout heuristics, from word positions and font sizes:

- Running header/footer: the top-most (bottom-most) row of a page, inside the top (bottom) 10%,
  that is a bare number, or carries a number at one end and is upper case or repeats on other
  pages. It is dropped; its number is the printed page. Of several end numbers ("116 WORLD ...
  2021") the one whose offset from the physical page index is the most common in the document
  wins. Pages without one keep their 1-based physical index.
- Margin column: a vertical gutter (>= 12 pt without text, chart numbers ignored) with less
  than 30% of the page width on one side; the narrow side's text becomes MARGIN_NOTE blocks.
- Lines: words whose bottoms are within 0.6 x font size. Smaller, raised digits are footnote
  markers (dropped from the text, kept in ``footnote_refs``). Lines mostly made of numbers are
  chart residue and dropped.
- Footnotes: the run of smaller-font lines at the foot of the body column that starts with a
  number; a line starting with the next number starts the next footnote.
- Headings: lines at >= 1.15 x the body font size, or entirely bold; they nest by size.
- Paragraphs: a new one starts after a vertical gap larger than the usual line gap, at a first-
  line indent, or where the line's role (heading/body) or heading style changes. A hyphen at a
  line end is removed ("en-" + "sued" -> "ensued") unless the joined word appears hyphenated
  elsewhere in the document ("long-term") or the next line starts with a capital or digit.
- Limits: paragraphs continuing over a page break stay two blocks; chart titles/axis words and
  full-width footnotes are not recognised; one body column only.
"""

from __future__ import annotations

import io
import itertools
import re
from collections import Counter
from dataclasses import dataclass, field
from statistics import median

import pdfplumber

from assistant.corpus.models import Block, Kind
from assistant.corpus.readers import Parsed
from assistant.corpus.text import strip_control
from assistant.errors import CorpusError

_NUMBER = re.compile(r"[-+−–(]?[\d.,]*\d[\d.,]*%?\)?[.,;]?")
_EDGE_NUMBERS = re.compile(r"^(\d{1,4})\b|\b(\d{1,4})$")
_LABEL = re.compile(r"^(\d{1,3})(?!\d)\s*(?=\S)")
_BOLD = re.compile(r"bold|black|heavy|semibold", re.IGNORECASE)
_HYPHENATED = re.compile(r"\b[^\W\d_]+-[^\W\d_]+\b")
_LINE_END_HYPHEN = re.compile(r"([^\W\d_]+)[-\u00ad]$")


@dataclass(eq=False)
class Line:
    """One text line: its words (pdfplumber dicts with size and fontname), left to right."""

    words: list[dict]
    role: str = "body"  # body | heading | footnote | margin
    label: str | None = None  # for the first line of a footnote: its number
    size: float = field(init=False)
    text: str = field(init=False)  # without footnote markers
    refs: list[str] = field(init=False)

    def __post_init__(self) -> None:
        self.size = max(w["size"] for w in self.words)
        base = max(w["bottom"] for w in self.words if w["size"] == self.size)
        markers = [w for w in self.words if w["text"].isdigit()
                   and w["size"] < 0.8 * self.size and w["bottom"] < base - 0.15 * self.size]
        self.refs = [w["text"] for w in markers]
        self.text = _join_words([w for w in self.words if not any(w is m for m in markers)])

    top = property(lambda self: min(w["top"] for w in self.words))
    bottom = property(lambda self: max(w["bottom"] for w in self.words))
    x0 = property(lambda self: min(w["x0"] for w in self.words))
    raw = property(lambda self: _join_words(self.words))  # with markers
    bold = property(lambda self: all(_BOLD.search(w["fontname"]) for w in self.words))


def _join_words(words: list[dict]) -> str:
    """Join words, with a space only where the gap between them looks like one."""
    out = ""
    for prev, w in zip([None, *words], words):
        space = prev is not None and w["x0"] - prev["x1"] > 0.1 * w["size"]
        out += (" " if space else "") + w["text"]
    return out


def _rows(words: list[dict], role: str = "body") -> list[Line]:
    """Group words into lines: bottoms within 0.6 x the larger font size (so raised
    superscripts stay on their line)."""
    rows: list[list[dict]] = []
    for w in sorted(words, key=lambda w: (w["bottom"], w["x0"])):
        first = rows[-1][0] if rows else None
        if first and w["bottom"] - first["bottom"] <= 0.6 * max(w["size"], first["size"]):
            rows[-1].append(w)
        else:
            rows.append([w])
    return [Line(sorted(r, key=lambda w: w["x0"]), role) for r in rows]


def _is_number_soup(text: str) -> bool:
    """Chart residue: mostly numbers ("2.1 -8.0 3.8 2.6 2017 2018"); "2021." alone is kept."""
    tokens = text.split()
    numbers = sum(bool(_NUMBER.fullmatch(t)) for t in tokens)
    if len(tokens) == 1 and text.endswith((".", ",", ";", ")")):
        return False
    return numbers >= 0.6 * len(tokens)


def _digitless(text: str) -> str:
    return " ".join(re.sub(r"\d+", " ", text).lower().split())


def _split_margin(words: list[dict], width: float) -> tuple[list[dict], list[dict]]:
    """Split words into (body, margin) at the widest gutter that leaves less than 30% of the
    page width on one side."""
    spans = sorted((w["x0"], w["x1"]) for w in words if not _NUMBER.fullmatch(w["text"]))
    if not spans:
        return words, []
    gaps, reach = [], spans[0][1]
    for x0, x1 in spans[1:]:
        if x0 - reach >= 12:
            gaps.append((reach, x0))
        reach = max(reach, x1)
    left, right = spans[0][0], reach
    best: tuple[float, float, bool] | None = None  # (gap width, cut, margin on the left)
    for g0, g1 in gaps:
        narrow_left, narrow_right = g0 - left, right - g1
        if min(narrow_left, narrow_right) < 0.3 * width and (best is None or g1 - g0 > best[0]):
            best = (g1 - g0, (g0 + g1) / 2, narrow_left < narrow_right)
    if best is None:
        return words, []
    _, cut, on_left = best
    margin = [w for w in words if ((w["x0"] + w["x1"]) / 2 < cut) == on_left]
    return [w for w in words if not any(w is m for m in margin)], margin


def _text_words(words: list[dict]) -> list[dict]:
    """Words without control characters; a word that was nothing else is dropped."""
    return [{**w, "text": text} for w in words if (text := strip_control(w["text"]))]


def _load(data: bytes, name: str) -> tuple[dict, list[tuple[float, float, list[dict]]]]:
    """PDF metadata and, per page, (width, height, words). Raises CorpusError."""
    if not data.strip():
        reason = "the file is empty"
    elif b"%PDF-" not in data[:1024]:
        reason = "no %PDF header; it is not a PDF file"
    elif b"%%EOF" not in data[-2048:]:
        reason = "no %%EOF marker at the end; the file looks truncated"
    else:
        try:
            with pdfplumber.open(io.BytesIO(data)) as pdf:
                pages = [(p.width, p.height, _text_words(p.extract_words(
                    extra_attrs=["size", "fontname"]))) for p in pdf.pages]
                return dict(pdf.metadata or {}), pages
        except Exception as exc:  # noqa: BLE001 - pdfplumber/pdfminer raise many types on bad files
            reason = f"{type(exc).__name__}: {exc}".strip(": ")
    raise CorpusError(f"{name}: not a readable PDF ({reason}). Replace or remove the file, "
                      "then run `assistant index rebuild`.")


def _running_rows(pages: list[tuple[float, float, list[Line]]]) -> list[list[Line]]:
    """Per page, the header/footer rows to drop."""
    def extremes(_width: float, height: float, rows: list[Line]) -> list[Line]:
        ends = [rows[0]] + ([rows[-1]] if len(rows) > 1 else []) if rows else []
        return [r for r in ends if r.bottom < 0.1 * height or r.top > 0.9 * height]

    candidates = [extremes(*page) for page in pages]
    seen = Counter(k for rows in candidates for k in {_digitless(r.raw) for r in rows} if k)

    def running(row: Line) -> bool:
        text, key = row.raw, _digitless(row.raw)
        return text.isdigit() or (bool(_EDGE_NUMBERS.search(text))
                                  and (seen[key] >= 2 or text == text.upper()))

    return [[r for r in rows if running(r)] for rows in candidates]


def _page_numbers(running: list[list[Line]]) -> list[int]:
    """Printed page numbers from the running rows; the physical index where there is none."""
    cands = [sorted({int(n) for r in rows for m in _EDGE_NUMBERS.finditer(r.raw)
                     for n in m.groups() if n}) for rows in running]
    offsets = Counter(n - i for i, ns in enumerate(cands, 1) for n in ns)
    return [max(ns, key=lambda n: (offsets[n - i], -n)) if ns else i
            for i, ns in enumerate(cands, 1)]


def _join_lines(texts: list[str], hyphenated: set[str]) -> str:
    """Join a paragraph's lines, repairing hyphenated line breaks."""
    out = ""
    for t in texts:
        m = _LINE_END_HYPHEN.search(out)
        if m and t:
            nxt = re.match(r"[^\W\d_]+", t)
            whole = f"{m.group(1)}-{nxt.group(0)}".lower() if nxt else ""
            drop = t[0].islower() and whole not in hyphenated
            out = (out[:-1] if drop else out) + t
        else:
            out = f"{out} {t}" if out else t
    return out


def _paragraphs(lines: list[Line], body_size: float) -> list[list[Line]]:
    """Group consecutive lines into paragraphs (gap, indent, or role/style change)."""
    gaps = [b.top - a.bottom for a, b in itertools.pairwise(lines) if a.role == b.role == "body"]
    usual = median(gaps) if gaps else 0.3 * body_size
    groups: list[list[Line]] = []
    for line in lines:
        prev = groups[-1][-1] if groups else None
        same = prev is not None and prev.role == line.role and (
            line.top - prev.bottom <= usual + 0.4 * body_size
            and (line.role != "body" or line.x0 - prev.x0 <= 0.8 * line.size)
            and (line.role != "heading" or (line.size, line.bold) == (prev.size, prev.bold))
            and not line.label)
        if same:
            groups[-1].append(line)
        else:
            groups.append([line])
    return groups


def _classify(body: list[Line], body_size: float) -> None:
    """Set each body-column line's role: heading, footnote (bottom run) or body."""
    for line in body:
        big = line.size >= 1.15 * body_size or (line.bold and line.size >= 0.95 * body_size)
        if big and len(line.text) <= 150 and re.search(r"[^\W\d_]", line.text):
            line.role = "heading"
    small = [line.size < 0.9 * body_size for line in body]
    start = len(body)
    while start > 0 and small[start - 1]:
        start -= 1
    expected = None
    for line in body[start:]:
        m = _LABEL.match(line.raw)
        if expected is None and not m:
            continue  # small lines above the first numbered one stay body text
        if m and (expected is None or int(m.group(1)) == expected):
            expected, line.label = int(m.group(1)) + 1, m.group(1)
        line.role = "footnote"


def read(data: bytes, name: str) -> Parsed:
    """Read a report PDF into Blocks with printed page numbers, sections and footnotes."""
    metadata, raw_pages = _load(data, name)
    parsed = Parsed(meta={"kind": "report"})
    title = str(metadata.get("Title") or "").strip()
    if title and title.lower() not in ("untitled", "untitled document"):
        parsed.meta["title"] = title
    if not any(words for _, _, words in raw_pages):
        parsed.warnings.append(f"{name}: no extractable text (a scanned or image-only PDF?); "
                               "nothing indexed from it. Add a text version of the document.")
        return parsed
    sizes = Counter(round(w["size"], 1) for _, _, ws in raw_pages for w in ws for _ in w["text"])
    body_size = sizes.most_common(1)[0][0]
    pages = [(w, h, _rows(words)) for w, h, words in raw_pages]
    running = _running_rows(pages)
    numbers = _page_numbers(running)

    laid_out = []  # per page: (body column lines, margin column lines)
    for (width, _, rows), drop in zip(pages, running):
        words = [w for r in rows if r not in drop for w in r.words]
        body_words, margin_words = _split_margin(words, width)
        body = [r for r in _rows(body_words) if not _is_number_soup(r.raw)]
        margin = [r for r in _rows(margin_words, "margin") if not _is_number_soup(r.raw)]
        _classify(body, body_size)
        laid_out.append((body, margin))
    hyphenated = {h.lower() for body, margin in laid_out for r in body + margin
                  for h in _HYPHENATED.findall(r.text)}

    stack: list[tuple[float, str]] = []  # open headings: (style rank, text)
    for page, (body, margin) in zip(numbers, laid_out):
        groups = _paragraphs(body, body_size) + _paragraphs(margin, body_size)
        for group in sorted(groups, key=lambda g: (g[0].role == "footnote", g[0].top)):
            role, refs = group[0].role, tuple(dict.fromkeys(r for ln in group for r in ln.refs))
            section = tuple(t for _, t in stack)
            if role == "footnote":
                first = _LABEL.sub("", group[0].raw, count=1) if group[0].label else group[0].raw
                texts = [first] + [ln.raw for ln in group[1:]]
                parsed.blocks.append(Block(_join_lines(texts, hyphenated), Kind.FOOTNOTE, section,
                                           page, footnote_label=group[0].label))
                continue
            text = _join_lines([ln.text for ln in group], hyphenated)
            if role == "heading":
                rank = group[0].size + (0.5 if group[0].bold else 0)
                while stack and stack[-1][0] <= rank:
                    stack.pop()
                parsed.blocks.append(Block(text, Kind.HEADING, tuple(t for _, t in stack), page))
                stack.append((rank, text))
                parsed.meta.setdefault("title", text)
            else:
                kind = Kind.MARGIN_NOTE if role == "margin" else Kind.BODY
                parsed.blocks.append(Block(text, kind, section, page, footnote_refs=refs))
    if not parsed.blocks:
        parsed.warnings.append(f"{name}: no body text found in the PDF; nothing indexed from it.")
    return parsed
