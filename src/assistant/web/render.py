"""Pure rendering for the web chat (no Gradio here): answers, the citation panel, the
Documents tab and the Markdown export.

Safety rules, kept by every function in this module:

- every piece of corpus text, user text, label or ID goes through :func:`esc`
  (``html.escape`` with quotes) before it is put into HTML, attribute values included;
- the only markup is the fixed markup written here: no links with URLs (citations are
  ``<button>`` elements carrying ``data-*`` attributes), so no ``javascript:`` URL and no
  remote image can ever be produced, whatever the corpus or the question contains;
- the HTML is written without blank lines, so the chat's Markdown renderer treats each
  message as one raw HTML block and never re-interprets corpus text as Markdown.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from assistant.answer.types import REFUSAL, Answer, Citation, Sentence

PANEL_CONTEXT = 1  # neighbouring paragraphs shown on each side in "show in context"
EXCERPT_CHARS = 160

_TAG = re.compile(r"<[^<>]*>")  # not [^>]*: from every unclosed "<" it would rescan to the end
_DATA_TEXT = re.compile(r'data-text="([^"]*)"')


def esc(value: object) -> str:
    """HTML-escape anything (``&``, ``<``, ``>``, ``"`` and ``'``), for text and attributes."""
    return html.escape("" if value is None else str(value), quote=True)


def excerpt(text: str, limit: int = EXCERPT_CHARS) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


# -- the conversation -------------------------------------------------------------------------
@dataclass
class Turn:
    """One question of the conversation and its answer (or the error shown instead)."""

    question: str
    answer: Answer | None = None
    error: str | None = None
    doc: str | None = None
    asked_at: str = field(default_factory=lambda: datetime.now(UTC).isoformat(
        timespec="seconds"))


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
    from assistant.answer.types import MAX_QUESTION_CHARS

    if len(question) > MAX_QUESTION_CHARS:
        return (f'<div class="ba-question">{esc(excerpt(question, 300))} '
                f'<span class="ba-note">({len(question)} characters)</span></div>')
    return f'<div class="ba-question">{esc(question)}</div>'


def render_streaming(text: str) -> str:
    """The answer while it is being written: escaped text and a cursor (markers stay plain
    text until the final answer is rendered)."""
    return (f'<div class="ba-answer ba-streaming"><p class="ba-sentences">{esc(text)}'
            '<span class="ba-cursor" aria-hidden="true">▍</span></p></div>')


def render_error(message: str) -> str:
    return f'<div class="ba-answer ba-error" role="alert"><p>⚠ {esc(message)}</p></div>'


def click_value(pid: str, turn: int | None = None, n: int | None = None) -> str:
    """What a button sends when clicked (its ``value`` attribute, escaped by the caller):
    JSON {"pid", "turn", "n"}. The chat's HTML sanitizer strips ``data-*`` attributes but
    keeps ``value``, so the page's click handler reads this."""
    data: dict = {"pid": pid}
    if turn is not None:
        data["turn"] = int(turn)
    if n is not None:
        data["n"] = int(n)
    return json.dumps(data, ensure_ascii=False, separators=(",", ":"))


def para_button(pid: str, text: str, title: str = "") -> str:
    title_attr = f' title="{esc(title)}"' if title else ""
    return (f'<button type="button" class="ba-para-open" value="{esc(click_value(pid))}" '
            f'data-pid="{esc(pid)}"{title_attr}>{esc(text)}</button>')


def cite_button(c: Citation, turn: int | None, extra_class: str = "") -> str:
    turn_attr = f' data-turn="{int(turn)}"' if turn is not None else ""
    cls = "ba-cite" + (f" {extra_class}" if extra_class else "")
    return (f'<button type="button" class="{cls}" value="{esc(click_value(c.paragraph_id, turn, c.n))}" '
            f'data-cite="{int(c.n)}" data-pid="{esc(c.paragraph_id)}"{turn_attr} '
            f'title="{esc(c.display_label)}" aria-label="Source {int(c.n)}: '
            f'{esc(c.display_label)}">[{int(c.n)}]</button>')


def _citation_map(answer: Answer) -> dict[int, Citation]:
    return {c.n: c for c in answer.citations}


def _refusal_html(answer: Answer) -> list[str]:
    """The REFUSAL line of a refused answer and, when known, why it was refused."""
    parts = [f'<p class="ba-sentences ba-refusal-text">{esc(REFUSAL)}</p>']
    if answer.refusal is not None:
        parts.append(f'<p class="ba-why">Why: {esc(answer.refusal.detail)}.</p>')
    return parts


def _nearest_html(answer: Answer, turn: int | None) -> list[str]:
    """The nearest passages of a refusal with no sentences (none when nothing was cited)."""
    if not answer.citations:
        return []
    parts = [('<div class="ba-sources ba-nearest"><div class="ba-sources-title">'
              'Nearest passages (they do not answer the question)</div><ol>')]
    for c in answer.citations:
        parts.append(f'<li>{cite_button(c, turn, "ba-near")} '
                     f'<span class="ba-src-label">{esc(c.display_label)}</span>'
                     f'<span class="ba-src-excerpt">{esc(excerpt(c.text))}</span></li>')
    parts.append("</ol></div>")
    return parts


def _sentence_html(s: Sentence, cites: dict[int, Citation], turn: int | None) -> str:
    """One answer sentence with its [n] buttons, flagged when the paragraph does not support it."""
    buttons = "".join(cite_button(cites[n], turn) for n in s.citations if n in cites)
    if s.supported:
        return f'<span class="ba-sent">{esc(s.text)} {buttons}</span>'
    return ('<span class="ba-sent ba-unsupported" title="Not supported by the cited '
            'paragraph: check the source before relying on it">'
            f'<span class="ba-flag" aria-label="unsupported">⚠</span> {esc(s.text)} '
            f'{buttons}</span>')


def _sources_html(answer: Answer, turn: int | None) -> list[str]:
    """The numbered sources list (none when nothing was cited)."""
    if not answer.citations:
        return []
    parts = ['<div class="ba-sources"><div class="ba-sources-title">Sources</div><ol>']
    for c in answer.citations:
        flag = "" if c.supported else ' <span class="ba-flag">⚠ not supported</span>'
        parts.append(f'<li>{cite_button(c, turn)} <span class="ba-src-label">'
                     f'{esc(c.display_label)}</span>{flag}</li>')
    parts.append("</ol></div>")
    return parts


def _body_html(answer: Answer, cites: dict[int, Citation], turn: int | None,
               notes: list[str]) -> list[str]:
    """The answer's sentences and sources list; adds a note to `notes` when a sentence is
    unsupported. A refusal's sentences are introduced as what the brief does say."""
    sentences = [_sentence_html(s, cites, turn) for s in answer.sentences]
    lead = '<span class="ba-says">What the brief does say:</span> ' if answer.refused else ""
    parts = [f'<p class="ba-sentences">{lead}{" ".join(sentences)}</p>']
    if any(not s.supported for s in answer.sentences):
        notes.append("Sentences marked ⚠ are not supported by the paragraph they cite.")
    return parts + _sources_html(answer, turn)


def render_answer(answer: Answer, turn: int | None = None) -> str:
    """An answer as one HTML block: each sentence with its [n] buttons (unsupported
    sentences flagged), then the sources list; refusals show REFUSAL and the nearest
    passages. ``data-text`` carries the plain answer text (escaped) for follow-ups."""
    turn_attr = f' data-turn="{int(turn)}"' if turn is not None else ""
    parts = [(f'<div class="ba-answer{" ba-refusal" if answer.refused else ""}"{turn_attr} '
              f'data-text="{esc(answer.text)}">')]
    notes = list(answer.warnings)
    cites = _citation_map(answer)
    if answer.refused:
        parts += _refusal_html(answer)
    if answer.short_answer is not None and not answer.refused and answer.short_answer.n in cites:
        c = cites[answer.short_answer.n]
        parts.append(f'<p class="ba-short"><b>{esc(answer.short_answer.text)}</b> '
                     f'{cite_button(c, turn)}</p>')
    if answer.refused and not answer.sentences:
        parts += _nearest_html(answer, turn)
    else:
        parts += _body_html(answer, cites, turn, notes)
    for note in notes:
        parts.append(f'<p class="ba-note">{esc(note)}</p>')
    parts.append("</div>")
    return "".join(parts)


# -- the citation panel -----------------------------------------------------------------------
@dataclass
class Click:
    """What a click on a [n] button or a paragraph sends to the server (untrusted)."""

    pid: str
    turn: int | None = None
    n: int | None = None


def parse_click(payload: str | None) -> Click | None:
    """The hidden textbox value written by the page's click handler: JSON
    {"pid", "turn", "n", "t"} or a bare paragraph ID. Anything malformed gives None."""
    payload = (payload or "").strip()
    if not payload:
        return None
    if payload[0] in "{[":
        try:
            data = json.loads(payload)
        except ValueError:
            return None
        if not isinstance(data, dict):
            return None
        pid = str(data.get("pid") or "").strip()

        def as_int(v):
            try:
                return int(v) if v not in (None, "") else None
            except (TypeError, ValueError):
                return None

        return Click(pid, as_int(data.get("turn")), as_int(data.get("n"))) if pid else None
    return Click(payload)


def render_panel_placeholder() -> str:
    return ('<div class="ba-panel ba-panel-empty"><div class="ba-panel-kicker">Sources</div>'
            '<p>Click a citation such as <span class="ba-cite-sample">[1]</span> in an answer, '
            'or a paragraph in the <b>Documents</b> tab, to read the paragraph it points to '
            'here, with the sentence the answer rests on highlighted.</p></div>')


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


def highlight(text: str, quotes: Iterable[str]) -> str:
    """Escaped ``text`` with each quote found in it wrapped in <mark> (whitespace-tolerant)."""
    spans = [m.span() for q in dict.fromkeys(q.strip() for q in quotes if q and q.strip())
             if (m := _find(q, text))]
    spans.sort()
    merged: list[list[int]] = []
    for a, b in spans:
        if merged and a <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], b)
        else:
            merged.append([a, b])
    out, pos = [], 0
    for a, b in merged:
        out.append(esc(text[pos:a]))
        out.append(f"<mark>{esc(text[a:b])}</mark>")
        pos = b
    out.append(esc(text[pos:]))
    return "".join(out)


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
        from assistant.retrieve import short_reference  # lazy: retrieve imports llama-index

        return f"{para.label} → footnote {label}: {short_reference(text)}"
    return para.label


def render_injection_note(reasons: Sequence) -> str:
    """The warning on a paragraph flagged by ``assistant.corpus.injection``, with its reasons."""
    from assistant.corpus.injection import summary

    items = "".join(f"<li>{esc(r.detail)}</li>" for r in reasons)
    return (f'<div class="ba-banner ba-banner-warn ba-injection" role="note"><p>⚠ '
            f'{esc(summary(reasons))}</p><ul>{items}</ul></div>')


def render_citation_panel(corpus, paragraph_id: str, citation: Citation | None = None,
                          quotes: Sequence[str] = (), context: int = PANEL_CONTEXT,
                          cited_for: Sequence[str] = ()) -> str:
    """The cited paragraph in full (quotes highlighted), its document, section, page and
    label, its footnotes, and a "show in context" block with the neighbouring paragraphs."""
    para = corpus.paragraph(paragraph_id) if paragraph_id else None
    if para is None:
        return ('<div class="ba-panel ba-panel-missing"><div class="ba-panel-kicker">Source'
                f'</div><p>No paragraph <code>{esc(paragraph_id)}</code> in the corpus. The '
                'corpus may have changed since this answer; ask again.</p></div>')
    doc = corpus.document(para.doc_id)
    label = citation.display_label if citation else paragraph_label(corpus, para.id)
    kicker = f"Source [{int(citation.n)}]" if citation else "Paragraph"
    if citation is not None and not citation.supported:
        kicker = (f"Nearest passage [{int(citation.n)}]" if not quotes
                  else f"Source [{int(citation.n)}] — not supported")
    section = " › ".join(para.section[1:])  # the first heading is the document title
    meta = [("Document", doc.title), ("Section", section or "—"),
            ("Page", str(para.page) if para.page is not None else "—"),
            ("Kind", para.kind.value), ("Paragraph ID", para.id)]
    parts = [f'<div class="ba-panel" data-panel-pid="{esc(para.id)}">',
             f'<div class="ba-panel-kicker">{esc(kicker)}</div>',
             f'<h3 class="ba-panel-label">{esc(label)}</h3>',
             '<dl class="ba-panel-meta">']
    for k, v in meta:
        parts.append(f"<dt>{esc(k)}</dt><dd>{esc(v)}</dd>")
    parts.append("</dl>")
    if para.injection:  # text addressed to a reader or a model: say so, above the text
        parts.append(render_injection_note(para.injection))
    parts.append(f'<blockquote class="ba-panel-text">{highlight(para.text, quotes)}</blockquote>')
    cited_for = [t for t in dict.fromkeys(cited_for) if not _find(t, para.text)]
    if cited_for:  # answer sentences not quoted verbatim from this paragraph
        parts.append('<div class="ba-cited-for"><div class="ba-cited-for-title">Cited in the '
                     'answer for</div><ul>' + "".join(f"<li>{esc(t)}</li>" for t in cited_for)
                     + "</ul></div>")
    for fn_label, fn_text in _footnotes(doc, para):
        parts.append(f'<p class="ba-footnote"><span class="ba-footnote-label">Footnote '
                     f'{esc(fn_label)}:</span> {esc(fn_text)}</p>')
    lo, hi = max(0, para.position - context), para.position + context + 1
    around = doc.paragraphs[lo:hi]
    if len(around) > 1:
        parts.append('<details class="ba-context" open><summary>Show in context</summary>'
                     '<ol class="ba-context-list">')
        for p in around:
            current = p.id == para.id
            cls = "ba-ctx ba-ctx-current" if current else "ba-ctx"
            parts.append(
                f'<li class="{cls}">{para_button(p.id, p.label, "Open " + p.label)}'
                f'<div class="ba-ctx-text">{esc(p.text)}</div></li>')
        parts.append("</ol></details>")
    parts.append("</div>")
    return "".join(parts)


def panel_for_click(corpus, payload: str | None, turns: Sequence[Turn] = ()) -> str:
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
def render_documents(corpus, status=None, missing: Sequence[dict] = (), status_error: str = "") -> str:
    """Each document (title, kind, paragraph count, indexed or not) with its paragraphs as
    buttons that open them in the panel; index freshness; files still to be fetched."""
    parts = ['<div class="ba-docs">']
    manifest = getattr(status, "manifest", None)
    if status_error:
        parts.append(f'<div class="ba-banner ba-banner-warn">Index: {esc(status_error)}</div>')
    elif status is not None:
        if status.fresh:
            state = "fresh"
            cls = "ba-banner-ok"
        else:
            state = "stale" if manifest else "not built"
            cls = "ba-banner-warn"
        parts.append(f'<div class="ba-banner {cls}"><b>Index: {esc(state)}</b>')
        if manifest:
            parts.append(f' — built {esc(manifest.built_at)}, version {esc(manifest.version)}, '
                         f'{int(manifest.paragraph_count)} paragraphs in {int(manifest.chunk_count)} '
                         f'chunks, model {esc(manifest.embedding_model)} ({esc(manifest.mode)} store).')
        if status.reasons:
            parts.append('<ul class="ba-reasons">' + "".join(
                f"<li>{esc(r)}</li>" for r in status.reasons) + "</ul>")
            parts.append('<div>Rebuild with <code>assistant index rebuild</code>.</div>')
        parts.append("</div>")
    for source in missing:
        title = source.get("title") or source.get("short_title") or source.get("file")
        parts.append(
            f'<div class="ba-banner ba-banner-info"><b>{esc(source.get("file"))}</b> '
            f'({esc(title)}) is not in the corpus: answers about the UN report come from the '
            f'digest. To add it, run <code>assistant corpus fetch</code>, then '
            f'<code>assistant index rebuild</code>.</div>')
    indexed = {d.get("doc_id"): d for d in (manifest.documents if manifest else [])}
    for doc in corpus.documents:
        info = indexed.get(doc.doc_id)
        if info is None:
            state = "not indexed"
        elif int(info.get("paragraphs", -1)) == len(doc.paragraphs):
            state = f"indexed ({int(info.get('paragraphs', 0))} paragraphs)"
        else:
            state = f"index holds {int(info.get('paragraphs', 0))} paragraphs: rebuild"
        parts.append(
            f'<details class="ba-doc" data-doc="{esc(doc.doc_id)}"><summary>'
            f'<span class="ba-doc-title">{esc(doc.title)}</span>'
            f'<span class="ba-doc-meta">{esc(doc.kind)} · {len(doc.paragraphs)} paragraphs · '
            f'{esc(state)} · <code>{esc(doc.path)}</code></span></summary><ol class="ba-para-list">')
        for p in doc.paragraphs:
            parts.append(
                f'<li class="ba-para-item ba-kind-{esc(p.kind.value)}">{para_button(p.id, p.label)}'
                + ('<span class="ba-flag" title="Addressed to a reader or a model: open it to see '
                   'why">⚠</span>' if p.injection else "")
                + f'<span class="ba-para-excerpt">{esc(excerpt(p.text, 140))}</span></li>')
        parts.append("</ol></details>")
    for w in getattr(corpus, "warnings", []) or []:
        parts.append(f'<div class="ba-banner ba-banner-warn">{esc(w)}</div>')
    parts.append("</div>")
    return "".join(parts)


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
