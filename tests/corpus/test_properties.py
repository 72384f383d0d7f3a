"""Hostile corpus input (hypothesis properties): random bytes, random Unicode, huge and empty
files. Every reader either returns blocks or raises CorpusError naming the file; paragraphs
are visible text with unique, stable IDs; chunks stay inside their paragraph; a file that
fails is named in the warnings and nothing from it reaches the index."""

from __future__ import annotations

import io
import tempfile
import unicodedata
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from assistant.corpus.loader import Corpus, load_corpus, load_file
from assistant.corpus.models import Block, Document
from assistant.corpus.readers import Parsed, reader_for
from assistant.corpus.text import split_sentences
from assistant.errors import CorpusError
from assistant.index.chunks import chunk_corpus
from assistant.index.embedding import WordCounter

SUFFIXES = [".md", ".txt", ".html", ".pdf"]
TEXT_SUFFIXES = [".md", ".txt", ".html"]
GOOD = "# A good document\n\nThe good document says that trade recovered in 2021.\n"

# Pieces that mean something to one reader or another, and characters that hurt text code:
# NUL and other controls, direction overrides, BOMs, zero-width and combining marks, line and
# paragraph separators, compatibility forms, astral characters.
SPECIAL = ["\x00", "\x1b[31m", "\x7f", "\x85", "\u202e", "\u200f", "\u2066", "\ufeff", "\u200b",
           "\u0301", "\u2028", "\u2029", "\r", "\r\n", "\n", "\n\n", "\t", "\x0b", "\x0c", "ﬁ",
           "①", "𝔘", "🙂", "é", "ـ", "שלום", "#", "# ", "###### ", "---\n", "---", "::: caption\n",
           ":::\n", "[^1]", "[^1]: ", "[x](y)", "**", "_", "1. ", "- ", "• ", "¹", "<p>", "</p>",
           "<h1>", "<li>", "<aside>", "<sup>1</sup>", "<script>", "<!--", "<title>", "&amp;",
           "&#0;", "%PDF-1.4\n", "%%EOF", "word ", "Word. ", "2020 "]
hostile_text = st.lists(st.one_of(st.text(max_size=30), st.sampled_from(SPECIAL)),
                        max_size=60).map("".join)
FAST = settings(max_examples=60, deadline=None)  # the whole file runs in about 20 s


def read_or_refuse(suffix: str, data: bytes) -> Parsed | None:
    """The reader's result, or None when it refused the file with a CorpusError naming it."""
    name = f"hostile{suffix}"
    try:
        parsed = reader_for(suffix)(data, name)
    except CorpusError as exc:
        assert name in str(exc)
        return None
    assert all(isinstance(b, Block) and isinstance(b.text, str) for b in parsed.blocks)
    return parsed


def load_one(name: str, data: bytes, max_bytes: int = 50_000_000) -> Document | None:
    """load_file on one file written to a fresh directory: the Document, or None when it was
    refused with a CorpusError naming it."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / name
        path.write_bytes(data)
        try:
            doc, _ = load_file(path, name, {}, max_bytes)
        except CorpusError as exc:
            assert name in str(exc)
            return None
    return doc


def visible(text: str) -> bool:
    return any(unicodedata.category(ch)[0] not in "CZ" for ch in text)


def has_control(text: str) -> bool:
    return any(unicodedata.category(ch) == "Cc" for ch in text)


# -- readers ------------------------------------------------------------------------------------
@pytest.mark.parametrize("suffix", SUFFIXES)
@FAST
@given(data=st.binary(max_size=4096))
def test_readers_on_random_bytes_return_blocks_or_a_corpus_error(suffix, data):
    read_or_refuse(suffix, data)


@pytest.mark.parametrize("suffix", SUFFIXES)
@FAST
@given(text=hostile_text)
def test_readers_on_random_text_return_blocks_or_a_corpus_error(suffix, text):
    read_or_refuse(suffix, text.encode("utf-8"))


@FAST
@given(front=hostile_text)
@example(front="date: 0000-01-01")  # ValueError from the YAML timestamp constructor
@example(front="date: 2021-02-30")
@example(front="when: 2021-01-01 10:00:00 +99:00")
@example(front="x: " + "[" * 2000)  # RecursionError in the YAML parser
@example(front="title: [1, 2]")
@example(front="a: &a [x, x]\nb: &b [*a, *a]\nc: &c [*b, *b]\ntitle: *c")  # shared references
def test_markdown_front_matter_is_read_or_refused(front):
    read_or_refuse(".md", f"---\n{front}\n---\n\n# Heading\n\nBody text.\n".encode())


html_tree = st.recursive(
    st.just("TEXT"),
    lambda inner: st.tuples(st.sampled_from(["p", "li", "ul", "blockquote", "div", "aside", "h2",
                                             "figcaption", "b", "sup"]),
                            st.lists(inner, max_size=4), st.booleans()),
    max_leaves=40)


def render_html(tree, words: Iterator[str]) -> str:
    if tree == "TEXT":
        return f" {next(words)} "
    tag, children, closed = tree
    inner = "".join(render_html(c, words) for c in children)
    return f"<{tag}>{inner}" + (f"</{tag}>" if closed else "")


@FAST
@given(tree=html_tree)
@example(tree=("p", [("p", ["TEXT"], False)], False))  # '<p><p> w0' gave 'w0' twice
@example(tree=("li", ["TEXT", ("ul", [("li", ["TEXT"], True)], True)], True))
def test_html_text_lands_in_one_block_however_it_is_nested(tree):
    html = render_html(tree, (f"w{i}" for i in range(10_000)))
    parsed = read_or_refuse(".html", html.encode())
    words = [w for b in parsed.blocks for w in b.text.split()]
    assert len(words) == len(set(words))  # no text twice, in an item and in its parent


def test_unclosed_list_items_are_one_block_each():
    blocks = reader_for(".html")(b"<ul>" + b"<li>item" * 4000, "deep.html").blocks
    assert [b.text for b in blocks] == ["item"] * 4000  # was each item plus all nested in it


# PDF bytes that get past the header checks into the PDF parser: a real generated report with
# bytes changed, cut short or spliced.
@pytest.fixture(scope="module")
def report_pdf(tmp_path_factory) -> bytes:
    from tests.pdf_fixtures import make_report_pdf

    return make_report_pdf(tmp_path_factory.mktemp("pdf") / "report.pdf").read_bytes()


@settings(max_examples=25, deadline=None)
@given(edits=st.lists(st.tuples(st.floats(0, 1), st.binary(min_size=1, max_size=8)), max_size=6),
       cut=st.floats(0.05, 1))
def test_pdf_reader_on_damaged_pdfs(report_pdf, edits, cut):
    data = bytearray(report_pdf[: max(64, int(len(report_pdf) * cut))])
    for where, junk in edits:
        at = int(where * (len(data) - 1))
        data[at:at + len(junk)] = junk
    read_or_refuse(".pdf", bytes(data) + b"\n%%EOF\n")


@settings(max_examples=20, deadline=None)
@given(lines=st.lists(hostile_text, min_size=1, max_size=12))
def test_pdf_reader_on_pdfs_with_hostile_text(lines):
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfgen.canvas import Canvas

    out = io.BytesIO()
    canvas = Canvas(out, pagesize=A4)
    canvas.setTitle(lines[0][:200])
    for i, line in enumerate(lines):
        canvas.setFont("Helvetica-Bold" if i % 5 == 0 else "Helvetica", 8 + (i % 4) * 3)
        canvas.drawString(40 + (i % 3) * 150, 800 - i * 60, line[:120])
    canvas.showPage()
    canvas.save()
    parsed = read_or_refuse(".pdf", out.getvalue())
    assert parsed is not None  # a valid PDF is read, whatever text it holds


# -- paragraphs ---------------------------------------------------------------------------------
@pytest.mark.parametrize("suffix", TEXT_SUFFIXES)
@FAST
@given(text=hostile_text)
@example(text="\ufeff\ufeff")  # a second BOM is not stripped by the decoder
@example(text="\u200b\n\n\u202e")  # only invisible characters
@example(text="Real text.\x00\x01\x1b\x7f")
def test_paragraphs_are_visible_text_with_unique_stable_ids(suffix, text):
    data = text.encode("utf-8")
    doc = load_one(f"hostile{suffix}", data)
    if doc is None:
        return
    assert doc.paragraphs
    ids = [p.id for p in doc.paragraphs]
    assert len(set(ids)) == len(ids)
    assert ids == [p.id for p in load_one(f"hostile{suffix}", data).paragraphs]
    for p in doc.paragraphs:
        assert p.text.strip() and visible(p.text), repr(p.text)
        assert not has_control(p.text), repr(p.text)
        assert p.id.startswith(f"{doc.doc_id}:")


@FAST
@given(data=st.binary(max_size=2048))
def test_paragraphs_from_random_bytes_carry_no_control_characters(data):
    doc = load_one("hostile.txt", data)
    for p in doc.paragraphs if doc else []:
        assert visible(p.text) and not has_control(p.text), repr(p.text)


@FAST
@given(doc_id=st.one_of(st.text(max_size=20), st.sampled_from(["a:b", "x#1", "a b", "é_1.2"])))
@example(doc_id="a:b")  # was accepted: its paragraph IDs "a:b:<hash>" were looked up in doc "a"
def test_every_paragraph_is_found_by_its_id(doc_id):
    import yaml

    front = yaml.safe_dump({"doc_id": doc_id})
    doc = load_one("doc.md", f"---\n{front}---\n\nFirst paragraph.\n\nSecond.\n".encode())
    if doc is None:
        return
    corpus = Corpus(documents=[doc])
    for p in doc.paragraphs:
        assert corpus.paragraph(p.id) is p


@pytest.mark.parametrize("sources", ["document = 5", "document = [1, 2]", 'document = "x"',
                                     'document = {file = "good.md"}'])
def test_a_malformed_sources_file_is_named(tmp_path, sources):
    from assistant.errors import AssistantError

    (tmp_path / "good.md").write_text(GOOD, "utf-8")
    (tmp_path / "sources.toml").write_text(sources, "utf-8")
    with pytest.raises(AssistantError, match="sources.toml: each document must be a"):
        load_corpus(tmp_path)


# -- chunks -------------------------------------------------------------------------------------
sentence_runs = st.lists(st.one_of(hostile_text, st.sampled_from(["A sentence. ", "Word "])),
                         min_size=1, max_size=30).map("".join)


@FAST
@given(paragraphs=st.lists(sentence_runs, min_size=1, max_size=5), window=st.integers(32, 96),
       heading=st.sampled_from(["", "Trade ", "Long heading " * 60]))
@example(paragraphs=["!" * 400], window=32, heading="")  # one "word" of 400 tokens
@example(paragraphs=["A sentence."], window=32, heading="Long heading " * 60)  # a huge context
def test_chunks_stay_inside_their_paragraph_and_fit_the_window(paragraphs, window, heading):
    text = (f"# {heading}\n\n" if heading.strip() else "") + "\n\n".join(paragraphs)
    doc = load_one("hostile.md", text.encode("utf-8"))
    if doc is None:
        return
    count = WordCounter()
    chunks = chunk_corpus(Corpus(documents=[doc]), count, window, split=split_sentences)
    assert {c.paragraph.id for c in chunks} == {p.id for p in doc.paragraphs}
    for c in chunks:
        assert c.id.startswith(f"{c.paragraph.id}#")
        assert c.text and c.text in c.paragraph.search_text
        assert count(c.embed_text) + 2 <= window


# -- encodings, huge and empty files -----------------------------------------------------------
@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-be", "utf-16-le"])
def test_utf16_text_with_its_bom_is_read(encoding):
    text = "Café growth in São Paulo.\n\nSecond paragraph."
    data = text.encode(encoding)
    data = data if encoding == "utf-16" else "\ufeff".encode(encoding) + data
    doc = load_one("unicode.txt", data)
    assert [p.text for p in doc.paragraphs] == ["Café growth in São Paulo.", "Second paragraph."]


@pytest.mark.parametrize("suffix", TEXT_SUFFIXES)
@pytest.mark.parametrize("data", [b"", b"   \n\t\n  ", b"\xef\xbb\xbf", b"\xef\xbb\xbf \n",
                                  b"\x00" * 64, "\u200b\u202e\ufeff".encode()],
                         ids=["empty", "whitespace", "bom", "bom-space", "nuls", "invisible"])
def test_empty_files_are_refused_by_name(suffix, data):
    assert load_one(f"empty{suffix}", data) is None


@pytest.mark.parametrize("suffix, piece", [
    *((suffix, "Growth slowed in the region. ") for suffix in TEXT_SUFFIXES),
    # Markdown openers never closed: each one made a pattern rescan the rest of the line
    # (60 KB of "[^" took 23 s to read)
    (".md", "[^"), (".md", "*a "), (".md", "_a "), (".md", "["), (".md", "[a]("),
])
def test_one_line_of_megabytes_is_refused_by_name(suffix, piece):
    line = piece * (2_000_000 // len(piece))  # 2 MB, no paragraph break
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"huge{suffix}"
        path.write_text(f"<p>{line}</p>" if suffix == ".html" else line, "utf-8")
        with pytest.raises(CorpusError, match=rf"huge\{suffix}.*characters long"):
            load_file(path, path.name, {}, 50_000_000)


def test_a_hundred_thousand_tiny_paragraphs_load_or_are_refused_by_name():
    data = "\n\n".join(f"P{i}." for i in range(100_000)).encode()
    doc = load_one("many.txt", data)
    if doc is not None:
        assert len({p.id for p in doc.paragraphs}) == len(doc.paragraphs) == 100_000


# -- the corpus folder and the index ------------------------------------------------------------
@settings(max_examples=30, deadline=None)
@given(suffix=st.sampled_from(SUFFIXES), garbage=st.binary(max_size=2048))
@example(suffix=".md", garbage=b"---\ndate: 0000-01-01\n---\nBody.\n")
@example(suffix=".pdf", garbage=b"%PDF-1.4\n1 0 obj <<>> endobj\n%%EOF")
def test_a_garbage_file_beside_a_good_one_is_loaded_harmlessly_or_named(suffix, garbage):
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        (folder / "good.md").write_text(GOOD, "utf-8")
        (folder / f"garbage{suffix}").write_bytes(garbage)
        corpus = load_corpus(folder)
    assert "good" in [d.doc_id for d in corpus.documents]
    if f"garbage{suffix}" in corpus.skipped:
        assert any(f"garbage{suffix}" in w for w in corpus.warnings)
        assert [d.path for d in corpus.documents] == ["good.md"]
    else:
        assert {d.path for d in corpus.documents} == {"good.md", f"garbage{suffix}"}
    for p in corpus.paragraphs:
        assert visible(p.text) and not has_control(p.text)


def indexed_after_rebuild(corpus_dir: Path, index_dir: Path):
    """Rebuild with the fast hashed embedder: (report, manifest, doc_ids in the collection,
    chunk texts in the collection)."""
    from assistant.chat import Assistant
    from assistant.config import Settings
    from assistant.index.manifest import read_manifest

    assistant = Assistant(Settings(corpus_dir=corpus_dir, index_dir=index_dir,
                                   embedding_model="hash:384"))
    report = assistant.rebuild()
    indexed = assistant.engine.index.collection.get(include=["metadatas", "documents"])
    doc_ids = {m["paragraph_id"].split(":")[0] for m in indexed["metadatas"]}
    return report, read_manifest(index_dir), doc_ids, indexed["documents"]


@settings(max_examples=4, deadline=None)  # a rebuild each: a few seconds
@given(suffix=st.sampled_from(SUFFIXES), garbage=st.one_of(st.binary(max_size=2048),
                                                           hostile_text.map(str.encode)))
def test_a_rebuild_indexes_a_garbage_file_harmlessly_or_not_at_all(suffix, garbage):
    with tempfile.TemporaryDirectory() as tmp:
        corpus = Path(tmp) / "corpus"
        corpus.mkdir()
        (corpus / "good.md").write_text(GOOD, "utf-8")
        (corpus / f"garbage{suffix}").write_bytes(garbage)
        report, manifest, doc_ids, texts = indexed_after_rebuild(corpus, Path(tmp) / "index")
    assert "good" in doc_ids
    if f"garbage{suffix}" in manifest.skipped_files:
        assert any(f"garbage{suffix}" in w for w in report.warnings)
        assert doc_ids == {"good"}
    for text in texts:
        assert visible(text) and not has_control(text)


@pytest.mark.parametrize("name, data", [
    ("bad.md", b"---\ndate: 2021-02-30\n---\nA paragraph from a file that failed.\n"),
    ("bad.pdf", b"%PDF-1.4\nA paragraph from a file that failed.\n%%EOF"),
    ("bad.txt", ("A paragraph from a file that failed. " * 3000).encode()),
    ("noise.pdf", bytes(range(256)) * 8),
])
def test_the_index_holds_nothing_from_a_file_that_failed(tmp_path, name, data):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "good.md").write_text(GOOD, "utf-8")
    (corpus / name).write_bytes(data)
    report, manifest, doc_ids, texts = indexed_after_rebuild(corpus, tmp_path / "index")
    assert manifest.skipped_files == [name]
    assert any(name in w for w in report.warnings)
    assert doc_ids == {"good"}
    assert [d["path"] for d in manifest.documents] == ["good.md"]
    assert not any("file that failed" in t for t in texts)
