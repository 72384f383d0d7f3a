"""Plain text and HTML readers, decoding fallbacks, and bad input in the corpus folder."""

import shutil

from assistant.corpus.loader import load_corpus
from assistant.corpus.models import Kind
from assistant.corpus.readers.html import read as read_html
from assistant.corpus.readers.plaintext import read as read_txt
from tests.conftest import RAW_OPED


def test_plaintext_reader_on_the_supplied_oped():
    parsed = read_txt(RAW_OPED.read_bytes(), RAW_OPED.name)
    by_kind = {}
    for b in parsed.blocks:
        by_kind.setdefault(b.kind, []).append(b)
    items = [b.text for b in by_kind[Kind.LIST_ITEM]]
    assert [t[:3] for t in items if t[0].isdigit()] == ["1. ", "2. ", "3. "]
    (note,) = by_kind[Kind.FOOTNOTE]
    assert note.footnote_label == "1" and note.text.startswith("United Nations")
    linked = [b for b in by_kind[Kind.BODY] if b.footnote_refs == ("1",)]
    assert len(linked) == 1 and "most unequal region" in linked[0].text


def test_html_reader_kinds_and_no_markup():
    html = b"""<html><head><title>T</title><script>alert(1)</script></head><body><article>
    <h1>Title</h1><figure><img src=x><figcaption>A photo caption.</figcaption></figure>
    <p class="byline">By Someone</p><h2>Part one</h2><p>Body <b>text</b> here.<sup>1</sup></p>
    <ul><li>First item</li><li>Second item</li></ul><aside><p>Margin note.</p></aside>
    <ol class="footnotes"><li id="fn1">A source, p. 3.</li></ol></article></body></html>"""
    blocks = read_html(html, "x.html").blocks
    got = [(b.kind, b.text) for b in blocks]
    assert (Kind.CAPTION, "A photo caption.") in got
    assert (Kind.BYLINE, "By Someone") in got
    assert (Kind.LIST_ITEM, "Second item") in got
    assert (Kind.MARGIN_NOTE, "Margin note.") in got
    body = next(b for b in blocks if b.text.startswith("Body"))
    assert body.section == ("Title", "Part one") and body.footnote_refs == ("1",)
    note = next(b for b in blocks if b.kind is Kind.FOOTNOTE)
    assert note.footnote_label == "1"
    assert not any("alert" in b.text for b in blocks)


def test_bad_files_are_reported_by_name_and_skipped(corpus_dir):
    (corpus_dir / "empty.pdf").write_bytes(b"")
    (corpus_dir / "notes.pdf").write_bytes(b"this is not a pdf at all")
    (corpus_dir / "truncated.pdf").write_bytes(b"%PDF-1.4\n1 0 obj\n<< /Type /Catalog")
    (corpus_dir / "slides.pptx").write_bytes(b"PK\x03\x04")
    (corpus_dir / "latin1.txt").write_bytes("Caf\xe9 au lait in S\xe3o Paulo.".encode("latin-1"))
    corpus = load_corpus(corpus_dir)
    assert {d.doc_id for d in corpus.documents} == {"oped", "wesp2021-digest", "latin1"}
    text = "\n".join(corpus.warnings)
    for name in ("empty.pdf", "notes.pdf", "truncated.pdf", "slides.pptx"):
        assert name in text and name in corpus.skipped
    assert "latin1.txt: not valid UTF-8" in text
    assert corpus.document("latin1").paragraphs[0].text == "Café au lait in São Paulo."


def test_file_over_size_limit_is_refused_by_name(corpus_dir):
    shutil.copy(corpus_dir / "wesp2021-digest.md", corpus_dir / "big.md")
    (corpus_dir / "big.md").write_text("# Big\n\n" + "word " * 300_000, "utf-8")
    corpus = load_corpus(corpus_dir, max_file_mb=1)
    assert "big.md" in corpus.skipped
    assert any("big.md" in w and "limit" in w for w in corpus.warnings)
    assert corpus.document("oped") is not None


def test_report_pdf_in_the_corpus_gets_page_labels(corpus_dir):
    from tests.pdf_fixtures import make_report_pdf

    make_report_pdf(corpus_dir / "WESP2021_FullReport.pdf")
    corpus = load_corpus(corpus_dir)
    report = corpus.document("wesp2021")  # doc_id, kind and label scope come from sources.toml
    assert report is not None and report.kind == "report"
    on_116 = [p for p in report.paragraphs if p.page == 116 and p.kind is Kind.BODY]
    assert on_116 and [p.label for p in on_116][:2] == ["p. 116 ¶1", "p. 116 ¶2"]
    assert all("WORLD ECONOMIC SITUATION AND PROSPECTS" not in p.text for p in report.paragraphs)
    assert any(p.kind is Kind.MARGIN_NOTE for p in report.paragraphs)
