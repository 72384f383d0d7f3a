"""Generate PDFs laid out like the UN report "World Economic Situation and Prospects 2021"
(A4, running headers, a narrow outer margin column, a chart panel, hyphenated line breaks,
superscript footnote markers and footnotes at the page bottom).

All text is synthetic filler written for layout tests; it is not the report's wording.
Lines are broken by hand so that hyphenation and positions are deterministic.
"""

from __future__ import annotations

from pathlib import Path

from reportlab.lib.pagesizes import A4
from reportlab.pdfbase.pdfmetrics import stringWidth
from reportlab.pdfgen.canvas import Canvas

WIDTH, HEIGHT = A4  # 595 x 842 pt
BODY_FONT, BODY_SIZE, LEADING = "Times-Roman", 10, 13
NOTE_FONT, NOTE_SIZE = "Helvetica-Oblique", 8
MARGIN_W = 120  # the outer margin column is about 20% of the page width
FIRST_PAGE = 115  # printed page number of the first physical page

# Texts the tests look for.
HEADING = "Latin America and the Caribbean"
SUBHEADING = "Policy outlook"
RUNNING_EVEN = "WORLD ECONOMIC SITUATION AND PROSPECTS 2021"
RUNNING_ODD = "CHAPTER III REGIONAL DEVELOPMENTS AND OUTLOOK"
CHART_VALUES = ["2.1", "-8.0", "3.8", "2.6"]
CHART_YEARS = ["2017", "2018", "2019", "2020"]
MARGIN_NOTES = {  # printed page -> notes (each a list of lines)
    115: [["Fixture margin note:", "the outlook is", "uneven and fragile"]],
    116: [["Fixture margin note:", "a slump ensued"], ["Second margin note", "on poverty"]],
    117: [["Margin note on", "policy space"]],
}
FOOTNOTES = [("1", ["Synthetic source note for the fixture, page 3."]),
             ("2", ["Second synthetic note, which runs on to a second line so that",
                    "the reader has to join it."])]

# Body paragraphs per printed page: (first-line indent, space before, lines). "^1" marks a
# superscript footnote marker.
PARAGRAPHS: dict[int, list[tuple[int, int, list[str]]]] = {
    115: [
        (0, 0, ["Fixture paragraph on page one hundred fifteen opens the regional",
                "section after the chart panel and describes a deep recession."]),
        (12, 0, ["A second fixture paragraph on the same page is marked by its",
                 "indented first line rather than by extra space."]),
    ],
    116: [
        (12, 0, ["Fixture paragraph A on page one hundred sixteen. The downturn that en-",
                 "sued was deep, and the long-term damage to labour markets is",
                 "expected to last for several years in the fixture region."]),
        (12, 0, ["Fixture paragraph B says poverty rose in the year under review.^1 It",
                 "also notes a weak rebound in investment."]),
        (0, 8, ["Fixture paragraph C follows a blank gap and carries a second",
                "marker.^2 Its last line is short."]),
    ],
    117: [
        (0, 0, ["Fixture paragraph on page one hundred seventeen: support should",
                "continue while policy space remains limited, and the medium-",
                "term outlook depends on it. A medium-term plan is needed."]),
    ],
}


def _draw_line(c: Canvas, x: float, y: float, line: str, font: str, size: float) -> None:
    """Draw one line; "^N" becomes a raised, smaller footnote marker N."""
    for i, part in enumerate(line.split("^")):
        if i:  # the part starts with the marker digits
            digits = part[: len(part) - len(part.lstrip("0123456789"))]
            c.setFont(font, size * 0.6)
            c.drawString(x, y + size * 0.4, digits)
            x += stringWidth(digits, font, size * 0.6)
            part = part[len(digits):]
        c.setFont(font, size)
        c.drawString(x, y, part)
        x += stringWidth(part, font, size)


def _chart_panel(c: Canvas, x: float, top: float, width: float) -> float:
    """A bar chart whose text (values and years) extracts as number soup. Returns its bottom."""
    height = 90
    c.rect(x, top - height, width, height)
    step = width / len(CHART_VALUES)
    c.setFont("Helvetica", 7)
    for i, (value, year) in enumerate(zip(CHART_VALUES, CHART_YEARS)):
        bx = x + i * step + step / 3
        c.rect(bx, top - 70, step / 3, 10 + abs(float(value)) * 4, fill=1)
        c.drawString(bx, top - 12, value)
        c.drawString(bx, top - height + 6, year)
    return top - height - 16


def _headers(c: Canvas, printed: int, odd: bool) -> None:
    """The running header with the printed page number, or on the chapter-opening page
    (the third) a bare page number in the footer only."""
    c.setFont("Helvetica", 8)
    if printed == FIRST_PAGE + 2:
        c.drawCentredString(WIDTH / 2, 30, str(printed))
    elif odd:
        c.drawRightString(WIDTH - 70, HEIGHT - 40, RUNNING_ODD)
        c.drawRightString(WIDTH - 40, HEIGHT - 40, str(printed))
    else:
        c.drawString(40, HEIGHT - 40, str(printed))
        c.drawString(70, HEIGHT - 40, RUNNING_EVEN)


def _headings(c: Canvas, printed: int, body_x: float, body_w: float, y: float) -> float:
    """The heading and chart panel of the first page, the sub-heading of the third.
    Returns the y below them."""
    if printed == FIRST_PAGE:
        c.setFont("Helvetica-Bold", 14)
        c.drawString(body_x, y, HEADING)
        y = _chart_panel(c, body_x, y - 14, body_w)
    if printed == FIRST_PAGE + 2:
        c.setFont("Helvetica-Bold", 11)
        c.drawString(body_x, y, SUBHEADING)
        y -= 20
    return y


def _margin_notes(c: Canvas, printed: int, note_x: float, y: float) -> None:
    """The page's margin notes in the margin column, from `y` down."""
    for note in MARGIN_NOTES[printed]:
        for line in note:
            c.setFont(NOTE_FONT, NOTE_SIZE)
            c.drawString(note_x, y, line)
            y -= 10
        y -= 40


def _body(c: Canvas, printed: int, body_x: float, y: float) -> None:
    """The page's body paragraphs (first line indented as given), from `y` down."""
    for indent, space, lines in PARAGRAPHS[printed]:
        y -= space
        for i, line in enumerate(lines):
            _draw_line(c, body_x + (indent if i == 0 else 0), y, line, BODY_FONT, BODY_SIZE)
            y -= LEADING


def _footnotes(c: Canvas, body_x: float) -> None:
    """The footnotes at the bottom of the page, under a short rule."""
    y = 60 + 10 * sum(len(lines) for _, lines in FOOTNOTES)
    c.line(body_x, y + 8, body_x + 100, y + 8)
    for label, lines in FOOTNOTES:
        for i, line in enumerate(lines):
            _draw_line(c, body_x, y, f"{label} {line}" if i == 0 else line, BODY_FONT, 8)
            y -= 10


def _page(c: Canvas, printed: int, headers: bool) -> None:
    """One page of the fixture report, printed page number `printed`."""
    odd = printed % 2 == 1
    # Odd (right-hand) pages have the margin column on the right, even pages on the left.
    body_x = 40 if odd else 40 + MARGIN_W + 25
    body_w = WIDTH - 80 - MARGIN_W - 25
    note_x = body_x + body_w + 25 if odd else 40
    if headers:
        _headers(c, printed, odd)
    y = _headings(c, printed, body_x, body_w, HEIGHT - 80)
    _margin_notes(c, printed, note_x, y)
    _body(c, printed, body_x, y)
    if printed == FIRST_PAGE + 1:
        _footnotes(c, body_x)


def make_report_pdf(path: Path, *, title: str | None = "WESP 2021 layout fixture",
                    headers: bool = True) -> Path:
    """Write a 3-page A4 report: physical pages 1-3 are printed pages 115-117.

    Page 115: heading, chart panel, two paragraphs, a margin note (right). Page 116: running
    header "116 WORLD ...", hyphenated break "en-"/"sued", footnote markers 1 and 2 and their
    footnotes at the bottom, two margin notes (left). Page 117: no header, bare page number
    in the footer, a sub-heading. ``headers=False`` drops all headers and footers;
    ``title=None`` leaves the PDF metadata title unset.
    """
    c = Canvas(str(path), pagesize=A4)
    if title:
        c.setTitle(title)
    for printed in range(FIRST_PAGE, FIRST_PAGE + 3):
        _page(c, printed, headers)
        c.showPage()
    c.save()
    return path


def make_broken_pdfs(directory: Path) -> dict[str, Path]:
    """An empty file, a truncated PDF (first half of the bytes) and a text file named .pdf."""
    good = make_report_pdf(directory / "good.pdf").read_bytes()
    files = {"empty.pdf": b"", "truncated.pdf": good[: len(good) // 2],
             "notes.pdf": b"Meeting notes, not a PDF at all.\n"}
    out = {}
    for name, data in files.items():
        (directory / name).write_bytes(data)
        out[name] = directory / name
    (directory / "good.pdf").unlink()
    return out


def make_blank_pdf(path: Path) -> Path:
    """A PDF with a drawing but no text (like a scanned page)."""
    c = Canvas(str(path), pagesize=A4)
    c.rect(100, 100, 200, 200, fill=1)
    c.showPage()
    c.save()
    return path
