"""PDF reader on generated PDFs laid out like the WESP 2021 report (see tests/pdf_fixtures.py)."""

import re

import pytest

from assistant.corpus.loader import load_corpus
from assistant.corpus.models import Kind
from assistant.corpus.readers.pdf import read
from assistant.errors import CorpusError
from tests.pdf_fixtures import (
    CHART_VALUES,
    CHART_YEARS,
    HEADING,
    MARGIN_NOTES,
    RUNNING_EVEN,
    RUNNING_ODD,
    SUBHEADING,
    make_blank_pdf,
    make_broken_pdfs,
    make_report_pdf,
)


@pytest.fixture(scope="module")
def parsed(tmp_path_factory):
    path = make_report_pdf(tmp_path_factory.mktemp("pdf") / "report.pdf")
    return read(path.read_bytes(), "report.pdf")


def of_kind(parsed, kind):
    return [b for b in parsed.blocks if b.kind is kind]


def test_printed_page_numbers_from_running_headers(parsed):
    para = next(b for b in parsed.blocks if b.text.startswith("Fixture paragraph A"))
    assert para.page == 116  # physical page 2
    assert {b.page for b in parsed.blocks} == {115, 116, 117}
    page116 = [b.text[:19] for b in of_kind(parsed, Kind.BODY) if b.page == 116]
    assert page116 == ["Fixture paragraph A", "Fixture paragraph B", "Fixture paragraph C"]


def test_physical_page_index_without_running_headers(tmp_path):
    path = make_report_pdf(tmp_path / "plain.pdf", headers=False)
    blocks = read(path.read_bytes(), "plain.pdf").blocks
    assert {b.page for b in blocks} == {1, 2, 3}
    assert next(b for b in blocks if b.text.startswith("Fixture paragraph A")).page == 2


def test_running_headers_and_page_numbers_dropped(parsed):
    for b in parsed.blocks:
        assert RUNNING_EVEN not in b.text and RUNNING_ODD not in b.text
        assert "WORLD ECONOMIC" not in b.text and "CHAPTER III" not in b.text
        assert not re.fullmatch(r"\d+", b.text)
        assert not re.search(r"(^|\s)11[567](\s|$)", b.text)


def test_hyphenated_line_breaks_repaired(parsed):
    text = "\n".join(b.text for b in parsed.blocks)
    assert "The downturn that ensued was deep" in text
    assert "en-" not in text and "en- " not in text
    assert "the long-term damage" in text  # real hyphen inside a line is kept
    assert "the medium-term outlook" in text  # line-end break of a word used hyphenated
    assert "mediumterm" not in text


def test_paragraphs_split_by_indent_and_gap(parsed):
    bodies = [b.text for b in of_kind(parsed, Kind.BODY)]
    assert any(t.startswith("A second fixture paragraph") for t in bodies)  # indent only
    assert any(t.startswith("Fixture paragraph C follows") for t in bodies)  # gap only
    assert all(t.count("Fixture paragraph") + t.count("A second fixture") == 1 for t in bodies)


def test_margin_notes_kept_out_of_body(parsed):
    notes = of_kind(parsed, Kind.MARGIN_NOTE)
    expected = [(page, " ".join(lines)) for page, ns in MARGIN_NOTES.items() for lines in ns]
    assert [(b.page, b.text) for b in notes] == expected
    note_lines = [line for ns in MARGIN_NOTES.values() for lines in ns for line in lines]
    for b in parsed.blocks:
        if b.kind is not Kind.MARGIN_NOTE:
            assert "margin note" not in b.text.lower()
            assert not any(line in b.text for line in note_lines if len(line) > 14), b.text


def test_chart_number_soup_dropped(parsed):
    for b in parsed.blocks:
        assert not any(v in b.text.split() for v in CHART_VALUES + CHART_YEARS), b.text


def test_footnotes_and_markers(parsed):
    notes = {b.footnote_label: b for b in of_kind(parsed, Kind.FOOTNOTE)}
    assert set(notes) == {"1", "2"}
    assert notes["1"].text == "Synthetic source note for the fixture, page 3."
    assert notes["2"].text.endswith("so that the reader has to join it.")
    assert all(n.page == 116 for n in notes.values())
    b = next(b for b in parsed.blocks if b.text.startswith("Fixture paragraph B"))
    assert b.footnote_refs == ("1",)
    assert "under review. It also" in b.text  # marker removed, no "review.1"
    c = next(b for b in parsed.blocks if b.text.startswith("Fixture paragraph C"))
    assert c.footnote_refs == ("2",) and "marker. Its" in c.text
    a = next(b for b in parsed.blocks if b.text.startswith("Fixture paragraph A"))
    assert a.footnote_refs == ()


def test_headings_set_sections(parsed):
    headings = of_kind(parsed, Kind.HEADING)
    assert [(h.text, h.section) for h in headings] == [(HEADING, ()), (SUBHEADING, (HEADING,))]
    first = next(b for b in parsed.blocks if b.text.startswith("Fixture paragraph on page one "
                                                                "hundred fifteen"))
    assert first.section == (HEADING,)
    last = next(b for b in parsed.blocks if "seventeen" in b.text)
    assert last.section == (HEADING, SUBHEADING)


def test_meta_title_from_metadata_else_first_heading(parsed, tmp_path):
    assert parsed.meta == {"kind": "report", "title": "WESP 2021 layout fixture"}
    path = make_report_pdf(tmp_path / "untitled.pdf", title=None)
    assert read(path.read_bytes(), "untitled.pdf").meta["title"] == HEADING


@pytest.mark.parametrize("name", ["empty.pdf", "truncated.pdf", "notes.pdf"])
def test_broken_files_raise_corpus_error_naming_the_file(tmp_path, name):
    path = make_broken_pdfs(tmp_path)[name]
    with pytest.raises(CorpusError) as exc:
        read(path.read_bytes(), f"reports/{name}")
    message = str(exc.value)
    assert message.startswith(f"reports/{name}: not a readable PDF (")
    assert "assistant index rebuild" in message


def test_pdf_without_text_warns_instead_of_raising(tmp_path):
    parsed = read(make_blank_pdf(tmp_path / "scan.pdf").read_bytes(), "scan.pdf")
    assert parsed.blocks == []
    assert parsed.warnings and "scan.pdf: no extractable text" in parsed.warnings[0]


def test_loader_labels_pdf_paragraphs_by_printed_page(tmp_path):
    make_report_pdf(tmp_path / "wesp.pdf")
    doc = load_corpus(tmp_path).document("wesp")
    assert doc.kind == "report"
    labels = {p.text[:19]: p.label for p in doc.paragraphs if p.kind is Kind.BODY}
    assert labels["Fixture paragraph A"] == "p. 116 ¶1"
    assert labels["Fixture paragraph C"] == "p. 116 ¶3"
