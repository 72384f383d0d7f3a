"""Segmentation of the real op-ed and digest into paragraphs with kinds, labels, footnotes."""

from collections import Counter

from assistant.corpus.models import Kind


def kinds(doc):
    return Counter(p.kind for p in doc.paragraphs)


def test_oped_paragraph_kinds(corpus):
    oped = corpus.document("oped")
    counts = kinds(oped)
    assert counts[Kind.BODY] == 7
    assert counts[Kind.LIST_ITEM] == 3
    assert counts[Kind.CAPTION] == 1
    assert counts[Kind.BYLINE] == 1
    assert counts[Kind.FOOTNOTE] == 1
    assert counts[Kind.BIO] == 1
    assert counts[Kind.HEADING] == 1
    caption = next(p for p in oped.paragraphs if p.kind is Kind.CAPTION)
    assert caption.text.startswith("A nurse gives") and "Getty Images" in caption.text
    byline = next(p for p in oped.paragraphs if p.kind is Kind.BYLINE)
    assert "Deputy Secretary of Foreign Affairs" in byline.text
    bio = next(p for p in oped.paragraphs if p.kind is Kind.BIO)
    assert bio.text.startswith("Julian Ventura was Deputy Secretary")
    meta = " ".join(p.text for p in oped.paragraphs if p.kind is Kind.METADATA)
    assert "9 Feb 2021" in meta and "America’s Global Role" in meta


def test_oped_front_matter(corpus):
    oped = corpus.document("oped")
    assert oped.title == "The road back to effective multilateralism: A view from Mexico"
    assert oped.meta["author"] == "Julian Ventura"
    assert oped.meta["publisher"] == "Chatham House"
    assert str(oped.meta["date"]) == "2021-02-09"
    assert oped.meta["source_url"].startswith("https://americas.chathamhouse.org/article/")


def test_list_items_are_the_three_areas_in_order(corpus):
    items = [p for p in corpus.document("oped").paragraphs if p.kind is Kind.LIST_ITEM]
    assert [p.text[:3] for p in items] == ["1. ", "2. ", "3. "]
    assert "COVAX" in items[0].text and "Okonjo-Iweala" in items[1].text
    assert items[2].text.startswith("3. Putting inequality and inclusion")


def test_labels_number_body_and_list_paragraphs(corpus):
    oped = corpus.document("oped")
    numbered = [p for p in oped.paragraphs if p.kind in (Kind.BODY, Kind.LIST_ITEM)]
    assert [p.label for p in numbered] == [f"Op-ed ¶{i}" for i in range(1, 11)]
    assert numbered[6].label == "Op-ed ¶7" and numbered[6].text.startswith("3. Putting")


def test_footnote_is_linked(corpus):
    oped = corpus.document("oped")
    para = next(p for p in oped.paragraphs if "most unequal region" in p.text)
    assert para.footnote_refs == ("1",)
    assert "region.¹ In spite" in para.text  # marker kept for display, as a superscript
    assert "region.1" not in para.search_text and "region. In spite" in para.search_text
    note = oped.footnote("1")
    assert note is not None and note.kind is Kind.FOOTNOTE
    assert "World Economic Situation and Prospects 2021" in note.text
    assert note.text.endswith("p.116.")


def test_digest_sections_and_labels(corpus):
    digest = corpus.document("wesp2021-digest")
    assert digest.kind == "digest"
    headings = [p.text for p in digest.paragraphs if p.kind is Kind.HEADING]
    assert headings[1:] == [
        "Executive summary: the Great Disruption",
        "Global output in 2020 and the outlook for 2021",
        "Jobs and the human toll (chapter I)",
        "Policy priorities",
        "Latin America and the Caribbean (chapter III, p. 116)",
        "Other regions (chapter III)",
        "About the report's data (statistical annex)",
    ]
    latam = [p for p in digest.paragraphs if p.kind is Kind.BODY
             and p.section[-1].startswith("Latin America")]
    assert len(latam) == 6
    third = latam[2]
    assert third.label == "WESP 2021 digest — Latin America and the Caribbean ¶3"
    assert "8.0 per cent in 2020" in third.text
    assert third.section[0].startswith("World Economic Situation and Prospects 2021 — digest")
    assert Counter(p.kind for p in digest.paragraphs)[Kind.BODY] == 22


def test_search_text_is_normalised_display_text_is_not(corpus):
    p = next(p for p in corpus.document("oped").paragraphs if "Oval Office" in p.text)
    assert "United States´" in p.text
    assert "United States' international" in p.search_text
    assert "´" not in p.search_text and "\xa0" not in p.search_text
