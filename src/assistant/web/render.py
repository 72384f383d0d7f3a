"""Pure rendering for the web chat (no Gradio here): answers, the citation panel, the
Documents tab and the Markdown export. The HTML comes from the Jinja2 templates in
``templates/``; this module prepares what they show.

Safety rules, kept by every template and function here:

- the templates are rendered with autoescaping on: every piece of corpus text, user text,
  label or ID is HTML-escaped (``&``, ``<``, ``>``, ``"`` and ``'``), attribute values
  included; no Python code here writes markup;
- the only markup is the fixed markup of the templates: no links with URLs (citations are
  ``<button>`` elements carrying ``data-*`` attributes), so no ``javascript:`` URL and no
  remote image can ever be produced, whatever the corpus or the question contains;
- the HTML is written on one line (see :class:`JoinLines`), so the chat's Markdown renderer
  treats each message as one raw HTML block and never re-interprets corpus text as Markdown.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache

import jinja2
import markupsafe
from jinja2.ext import Extension

from assistant.answer.types import MAX_QUESTION_CHARS, REFUSAL, Answer, Citation
from assistant.corpus.injection import summary as injection_summary
from assistant.retrieve import short_reference

PANEL_CONTEXT = 1  # neighbouring paragraphs shown on each side in "show in context"
EXCERPT_CHARS = 160

_TAG = re.compile(r"<[^<>]*>")  # not [^>]*: from every unclosed "<" it would rescan to the end
_DATA_TEXT = re.compile(r'data-text="([^"]*)"')


def esc(value: object) -> str:
    """HTML-escape anything (``&``, ``<``, ``>``, ``"`` and ``'``), for text and attributes:
    the escaping the templates apply. None gives an empty string."""
    return str(markupsafe.escape("" if value is None else value))


def excerpt(text: str, limit: int = EXCERPT_CHARS) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


# -- the templates ----------------------------------------------------------------------------
class JoinLines(Extension):
    """Removes each line break of a template's source and the indentation after it, before
    the template is compiled: templates are laid out on many lines, their HTML comes out on
    one (a template writes a space where it wants one). Only the template's own layout is
    touched, never the values rendered into it."""

    _BREAK = re.compile(r"\r?\n[ \t]*")

    def preprocess(self, source: str, name: str | None, filename: str | None = None) -> str:
        return self._BREAK.sub("", source)


@cache
def templates() -> jinja2.Environment:
    """The templates' environment, built on first use: autoescaping on, undefined names are
    errors, and None prints as an empty string."""
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("assistant.web", "templates"),
        autoescape=True, undefined=jinja2.StrictUndefined, extensions=[JoinLines],
        finalize=lambda value: "" if value is None else value)
    env.filters["excerpt"] = excerpt
    env.globals["click_value"] = click_value
    return env


def _render(template: str, **context) -> str:
    return templates().get_template(template).render(**context)


def render_header(documents: Sequence) -> str:
    """The page header, naming the first three documents."""
    return _render("header.html", titles=[d.title for d in documents[:3]])


# -- the conversation -------------------------------------------------------------------------
@dataclass
class Turn:
    """One question of the conversation and its answer (or the error shown instead)."""

    question: str
    answer: Answer | None = None
    error: str | None = None
    doc: str | None = None


def history_for(turns: Sequence[Turn]) -> list[dict]:
    """The plain-text history the assistant resolves follow-ups against (answers with their
    inline [n] markers, never the rendered HTML)."""
    history: list[dict] = []
    for t in turns:
        if t.answer is None:
            continue
        history.append({"role": "user", "content": t.question})
        history.append({"role": "assistant", "content": t.answer.text})
    return history


def message_text(content) -> str:
    """The text of a chat message's content: a string, a {"text"} dict or a list of them."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, dict):
        return str(content.get("text") or content.get("value") or "")
    if isinstance(content, (list, tuple)):
        return " ".join(message_text(c) for c in content if not isinstance(c, (bytes,)))
    return str(content)


def plain_text(rendered: str) -> str:
    """The plain text behind a message of this module: the answer's own text (``data-text``)
    when present, else the markup stripped. Used for follow-ups when a caller (e.g. the API)
    passes the chat history back instead of the session state."""
    rendered = message_text(rendered)
    m = _DATA_TEXT.search(rendered)
    if m:
        return html.unescape(m.group(1))
    return " ".join(html.unescape(_TAG.sub(" ", rendered)).split())


def history_from_messages(messages: Iterable[dict]) -> list[dict]:
    out = []
    for m in messages or []:
        role = m.get("role") if isinstance(m, dict) else None
        if role not in ("user", "assistant"):
            continue
        text = plain_text(m.get("content"))
        if text:
            out.append({"role": role, "content": text})
    return out


# -- chat messages ----------------------------------------------------------------------------
def render_question(question: str) -> str:
    """The user's message. An over-long question (it will be refused) is shown shortened."""
    if len(question) > MAX_QUESTION_CHARS:
        return _render("question.html", question=excerpt(question, 300), length=len(question))
    return _render("question.html", question=question, length=None)


def render_streaming(text: str) -> str:
    """The answer while it is being written: escaped text and a cursor (markers stay plain
    text until the final answer is rendered)."""
    return _render("streaming.html", text=text)


def render_error(message: str) -> str:
    return _render("error.html", message=message)


def click_value(pid: str, turn: int | None = None, n: int | None = None) -> str:
    """What a button sends when clicked (its ``value`` attribute): JSON {"pid", "turn", "n"}.
    The chat's HTML sanitizer strips ``data-*`` attributes but keeps ``value``, so the page's
    click handler reads this."""
    data: dict = {"pid": pid}
    if turn is not None:
        data["turn"] = int(turn)
    if n is not None:
        data["n"] = int(n)
    return json.dumps(data, ensure_ascii=False, separators=(",", ":"))


@dataclass
class _ShownSentence:
    """An answer sentence as shown: its text, its support flag, the citations it cites."""

    text: str
    supported: bool
    cited: list[Citation]


@dataclass
class _ShortAnswer:
    text: str
    citation: Citation


def render_answer(answer: Answer, turn: int | None = None) -> str:
    """An answer as one HTML block: each sentence with its [n] buttons (unsupported
    sentences flagged), then the sources list; refusals show REFUSAL and the nearest
    passages. ``data-text`` carries the plain answer text (escaped) for follow-ups."""
    cites = {c.n: c for c in answer.citations}
    sentences = [_ShownSentence(s.text, s.supported, [cites[n] for n in s.citations if n in cites])
                 for s in answer.sentences]
    short = answer.short_answer
    shown_short = (_ShortAnswer(short.text, cites[short.n])
                   if short is not None and not answer.refused and short.n in cites else None)
    notes = list(answer.warnings)
    if any(not s.supported for s in answer.sentences):
        notes.append("Sentences marked ⚠ are not supported by the paragraph they cite.")
    return _render("answer.html", answer=answer, turn=None if turn is None else int(turn),
                   refusal_text=REFUSAL, sentences=sentences, short=shown_short, notes=notes)


# -- the citation panel -----------------------------------------------------------------------
@dataclass
class Click:
    """What a click on a [n] button or a paragraph sends to the server (untrusted)."""

    pid: str
    turn: int | None = None
    n: int | None = None


def _as_int(value) -> int | None:
    try:
        return int(value) if value not in (None, "") else None
    except (TypeError, ValueError):
        return None


def parse_click(payload: str | dict | None) -> Click | None:
    """What a click sent (untrusted): {"pid", "turn", "n"} as the panel event's data (a dict)
    or as JSON, or a bare paragraph ID. Anything malformed gives None."""
    if isinstance(payload, str):
        payload = payload.strip()
        if not payload:
            return None
        if payload[0] not in "{[":
            return Click(payload)
        try:
            payload = json.loads(payload)
        except ValueError:
            return None
    if not isinstance(payload, dict):
        return None
    pid = str(payload.get("pid") or "").strip()
    return Click(pid, _as_int(payload.get("turn")), _as_int(payload.get("n"))) if pid else None


def render_panel_placeholder() -> str:
    return _render("panel_placeholder.html")


def _find(quote: str, text: str) -> re.Match | None:
    """``quote`` in ``text``, whitespace-tolerant; a final stop of the quote may be missing."""
    words = quote.split()
    if not words:
        return None
    pattern = r"\s+".join(re.escape(w) for w in words)
    m = re.search(pattern, text)
    if m is None and quote[-1:] in ".;:" and len(quote) > 20:
        words[-1] = words[-1][:-1]
        m = re.search(r"\s+".join(re.escape(w) for w in words if w), text)
    return m


def highlight_segments(text: str, quotes: Iterable[str]) -> list[tuple[str, bool]]:
    """``text`` cut into (segment, marked) pairs: each quote found in it is marked
    (whitespace-tolerant; overlapping quotes merge)."""
    spans = [m.span() for q in dict.fromkeys(q.strip() for q in quotes if q and q.strip())
             if (m := _find(q, text))]
    spans.sort()
    merged: list[list[int]] = []
    for a, b in spans:
        if merged and a <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], b)
        else:
            merged.append([a, b])
    segments, pos = [], 0
    for a, b in merged:
        segments += [(text[pos:a], False), (text[a:b], True)]
        pos = b
    segments.append((text[pos:], False))
    return segments


def _footnotes(doc, para) -> list[tuple[str, str]]:
    notes = []
    for label in para.footnote_refs:
        note = doc.footnote(label)
        if note is not None:
            notes.append((label, note.text))
    return notes


def paragraph_label(corpus, pid: str) -> str:
    """The label a citation of this paragraph would carry (with its footnote reference)."""
    para = corpus.paragraph(pid)
    if para is None:
        return pid
    doc = corpus.document(para.doc_id)
    for label, text in _footnotes(doc, para):
        return f"{para.label} → footnote {label}: {short_reference(text)}"
    return para.label


def render_injection_note(reasons: Sequence) -> str:
    """The warning on a paragraph flagged by ``assistant.corpus.injection``, with its reasons."""
    return _render("injection_note.html", summary=injection_summary(reasons), reasons=reasons)


def _kicker(citation: Citation | None, quoted: bool) -> str:
    """The panel's small title: which source of the answer this is, or a bare paragraph."""
    if citation is None:
        return "Paragraph"
    n = int(citation.n)
    if citation.supported:
        return f"Source [{n}]"
    return f"Source [{n}] — not supported" if quoted else f"Nearest passage [{n}]"


def render_citation_panel(corpus, paragraph_id: str, citation: Citation | None = None,
                          quotes: Sequence[str] = (), context: int = PANEL_CONTEXT,
                          cited_for: Sequence[str] = ()) -> str:
    """The cited paragraph in full (quotes highlighted), its document, section, page and
    label, its footnotes, and a "show in context" block with the neighbouring paragraphs."""
    para = corpus.paragraph(paragraph_id) if paragraph_id else None
    if para is None:
        return _render("panel_missing.html", paragraph_id=paragraph_id)
    doc = corpus.document(para.doc_id)
    section = " › ".join(para.section[1:])  # the first heading is the document title
    meta = [("Document", doc.title), ("Section", section or "—"),
            ("Page", str(para.page) if para.page is not None else "—"),
            ("Kind", para.kind.value), ("Paragraph ID", para.id)]
    flagged = ""
    if para.injection:  # text addressed to a reader or a model: say so, above the text
        flagged = injection_summary(para.injection)
    return _render(
        "panel.html", para=para, kicker=_kicker(citation, bool(quotes)),
        label=citation.display_label if citation else paragraph_label(corpus, para.id),
        meta=meta, injection_summary=flagged,
        segments=highlight_segments(para.text, quotes),
        # answer sentences not quoted verbatim from this paragraph
        cited_for=[t for t in dict.fromkeys(cited_for) if not _find(t, para.text)],
        footnotes=_footnotes(doc, para),
        context=doc.paragraphs[max(0, para.position - context):para.position + context + 1])


def panel_for_click(corpus, payload: str | dict | None, turns: Sequence[Turn] = ()) -> str:
    """The panel for a click: the citation of answer ``turn`` numbered ``n`` when the
    session still has it (its label and quotes), else the paragraph on its own."""
    click = parse_click(payload)
    if click is None:
        return render_panel_placeholder()
    citation, quotes, cited_for = None, [], []
    if click.turn is not None and click.n is not None and 0 <= click.turn < len(turns):
        answer = turns[click.turn].answer
        if answer is not None:
            citation = next((c for c in answer.citations
                             if c.n == click.n and c.paragraph_id == click.pid), None)
            if citation is not None and not answer.refused:
                citing = [s for s in answer.sentences if click.n in s.citations]
                quotes = [s.quote for s in citing if s.quote]
                cited_for = [s.text for s in citing]
    return render_citation_panel(corpus, click.pid, citation, quotes, cited_for=cited_for)


# -- the Documents tab ------------------------------------------------------------------------
def _index_state(status) -> str:
    if status.fresh:
        return "fresh"
    return "stale" if status.manifest else "not built"


def _document_state(doc, indexed: dict[str, dict]) -> str:
    """Whether the index holds this document, with as many paragraphs as the corpus."""
    info = indexed.get(doc.doc_id)
    if info is None:
        return "not indexed"
    count = int(info.get("paragraphs", 0))
    if int(info.get("paragraphs", -1)) == len(doc.paragraphs):
        return f"indexed ({count} paragraphs)"
    return f"index holds {count} paragraphs: rebuild"


def render_documents(corpus, status=None, missing: Sequence[dict] = (), status_error: str = "") -> str:
    """Each document (title, kind, paragraph count, indexed or not) with its paragraphs as
    buttons that open them in the panel; index freshness; files still to be fetched."""
    manifest = getattr(status, "manifest", None)
    indexed = {d.get("doc_id"): d for d in (manifest.documents if manifest else [])}
    return _render(
        "documents.html", status=status, status_error=status_error, manifest=manifest,
        index_state=_index_state(status) if status is not None else "",
        missing=[{"file": s.get("file"),
                  "title": s.get("title") or s.get("short_title") or s.get("file")}
                 for s in missing],
        documents=[(doc, _document_state(doc, indexed)) for doc in corpus.documents],
        warnings=getattr(corpus, "warnings", []) or [])


# -- export -----------------------------------------------------------------------------------
def _md_text(text: str) -> str:
    """Corpus or user text for the Markdown export: one line, with ``<`` neutralised so that
    a Markdown viewer never renders it as HTML."""
    return " ".join(str(text).split()).replace("<", "&lt;")


def _md_refusal(a: Answer) -> list[str]:
    """A refused answer's Markdown lines: REFUSAL, then its nearest passages, if any."""
    lines = [REFUSAL, ""]
    if a.citations:
        lines += ["Nearest passages (they do not answer the question):", ""]
        for c in a.citations:
            lines.append(f"- [{c.n}] **{_md_text(c.display_label)}** (`{c.paragraph_id}`): "
                         f"{_md_text(excerpt(c.text, 300))}")
        lines.append("")
    return lines


def _md_sources(a: Answer) -> list[str]:
    """The Sources list: each citation with its label, document and paragraph ID, then the
    quoted sentence(s) of it that the answer rests on (none when nothing was cited)."""
    if not a.citations:
        return []
    lines = ["Sources:", ""]
    for c in a.citations:
        lines.append(f"- [{c.n}] **{_md_text(c.display_label)}** — {_md_text(c.doc_title)} "
                     f"(`{c.paragraph_id}`)")
        quotes = list(dict.fromkeys(s.quote for s in a.sentences
                                    if c.n in s.citations and s.quote))
        for q in quotes:
            lines.append(f"  > {_md_text(q)}")
    lines.append("")
    return lines


def _md_answer(a: Answer) -> list[str]:
    """An answer's Markdown lines: sentences with [n] markers (unsupported ones flagged),
    its sources and notes; a refusal as in ``_md_refusal``."""
    if a.refused:
        return _md_refusal(a)
    body = []
    for s in a.sentences:
        marks = "".join(f"[{n}]" for n in s.citations)
        flag = "⚠ " if not s.supported else ""
        body.append(f"{flag}{_md_text(s.text)} {marks}".strip())
    lines = [" ".join(body), ""]
    if any(not s.supported for s in a.sentences):
        lines += ["*⚠ marks a sentence the cited paragraph does not support.*", ""]
    lines += _md_sources(a)
    for w in a.warnings:
        lines += [f"*Note: {_md_text(w)}*", ""]
    return lines


def export_markdown(turns: Sequence[Turn], title: str = "Brief Assistant — conversation") -> str:
    """The conversation as Markdown: each answer with its [n] markers, then every citation
    resolved to its label, paragraph ID and the quoted sentence(s) it supports."""
    now = datetime.now(UTC).isoformat(timespec="seconds")
    lines = [f"# {title}", "", f"Exported {now}.", ""]
    number = 0
    for t in turns:
        if t.answer is None and not t.error:
            continue
        number += 1
        lines += [f"## {number}. {_md_text(t.question)}", ""]
        if t.answer is None:
            lines += [f"*Not answered: {_md_text(t.error)}*", ""]
        else:
            lines += _md_answer(t.answer)
    if number == 0:
        lines += ["(No questions asked yet.)", ""]
    return "\n".join(lines).rstrip() + "\n"
