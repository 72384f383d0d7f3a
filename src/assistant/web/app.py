"""The web chat (Gradio 6): a chat that streams cited answers, a sources panel beside it that
shows the paragraph behind any clicked [n], a Documents tab, and a Markdown export.

Everything shown is rendered by :mod:`assistant.web.render` (HTML-escaped, no URLs). Clicks
on [n] buttons and paragraph buttons are caught by one delegated click handler (``CLICK_JS``,
the sources panel's ``js_on_load``) that sends {"pid", "turn", "n"} as the panel's
``open_paragraph`` event; its listener calls :func:`render.panel_for_click` on the server,
which looks the paragraph up in the corpus (the browser's payload is never trusted or echoed
unescaped).

``serve`` launches it locally: 127.0.0.1 by default, never shared, analytics off, no extra
file paths served, a queue with a concurrency limit and a maximum size.
"""

from __future__ import annotations

import ipaddress
import logging
import os
import re
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import unquote

os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"  # before gradio is imported

import gradio as gr
from gradio.utils import get_upload_folder
from starlette.middleware import Middleware
from starlette.responses import PlainTextResponse

from assistant.answer.types import Answer
from assistant.config import Settings
from assistant.corpus.fetch import pending
from assistant.errors import AssistantError
from assistant.query import plain_question
from assistant.web import render

log = logging.getLogger(__name__)

EXAMPLES = [
    "How many people were pushed into poverty in Latin America?",
    "How much did world output contract in 2020?",
    "How many jobs were lost in 2020?",
    "What does the op-ed say about the WTO?",
    "What does the op-ed say about vaccines?",
    "Who wrote the op-ed?",
]
BACKEND_LABELS = {"extractive": "Extractive (quotes the brief)", "openai": "LLM (OpenAI-compatible)",
                  "local": "Local LLM"}
CHAT_API_NAME = "chat"
EXPORT_MAX_AGE = 3600.0  # seconds an export file is kept (Gradio serves its own copy)

# The sources panel's js_on_load (run once, when the panel mounts): a click on any [n] or
# paragraph button of the page (in a chat message, the panel or the Documents tab) sends the
# button's {"pid", "turn", "n"} as the panel's "open_paragraph" event, with Gradio's
# `trigger(event, data)`; the listener gets it as gr.EventData (gradio/components/html.py:
# `js_on_load`'s `trigger`, and `HTML.__getattr__`, which makes `panel.open_paragraph` exist
# because the name appears quoted here). One listener on the document serves every click
# source; the Chatbot's own .select() (gr.SelectData) tells which message was clicked, not
# which button in it.
CLICK_JS = r"""
window.__baOpenParagraph = (data) => trigger('open_paragraph', data);
if (window.__baCiteHandler) return;
window.__baCiteHandler = true;
document.addEventListener('click', (ev) => {
  const el = ev.target instanceof Element
    ? ev.target.closest('button.ba-cite, button.ba-para-open') : null;
  if (!el) return;
  ev.preventDefault();
  ev.stopPropagation();
  let data = {};
  try { data = JSON.parse(el.value || '{}') || {}; } catch (e) { data = {}; }
  if (!data.pid && el.dataset.pid) data = {pid: el.dataset.pid};
  if (!data.pid) return;
  window.__baOpenParagraph(data);
  document.querySelectorAll('.ba-active').forEach((e) => e.classList.remove('ba-active'));
  el.classList.add('ba-active');
  const panel = document.getElementById('ba-panel');
  if (panel && window.innerWidth < 1000) panel.scrollIntoView({behavior: 'smooth', block: 'start'});
}, true);
"""

CSS = r"""
/* The theme's bundled Source Sans Pro SemiBold is a 5 kB subset that lacks some capitals (they
   fall back to another font, mid-word). Same files under another name, with the complete Bold
   file for every bold weight. */
@font-face { font-family: 'BA Sans'; font-style: normal; font-weight: 100 500;
  src: url('static/fonts/SourceSansPro/SourceSansPro-Regular.woff2') format('woff2'); }
@font-face { font-family: 'BA Sans'; font-style: normal; font-weight: 600 900;
  src: url('static/fonts/SourceSansPro/SourceSansPro-Bold.woff2') format('woff2'); }
.gradio-container { --font: 'BA Sans', 'Source Sans Pro', ui-sans-serif, system-ui, sans-serif; }
#ba-header h1 { margin: 0; font-size: 1.5rem; }
#ba-header p { margin: 0.2rem 0 0; color: var(--body-text-color-subdued); }
#ba-panel-col { position: sticky; top: 0.5rem; align-self: flex-start; }
#ba-panel { max-height: calc(100vh - 2rem); overflow-y: auto; }
.ba-question { white-space: pre-wrap; }
.ba-answer .ba-sentences { margin: 0 0 0.4rem; line-height: 1.55; }
.ba-cursor { animation: ba-blink 1s steps(1) infinite; margin-left: 1px; }
@keyframes ba-blink { 50% { opacity: 0; } }
button.ba-cite, .ba-cite-sample {
  display: inline-block; border: 1px solid var(--color-accent); color: var(--color-accent);
  background: var(--color-accent-soft); border-radius: 6px; padding: 0 0.3em; margin: 0 0.08em;
  font-size: 0.78em; line-height: 1.35; font-weight: 600; cursor: pointer;
  vertical-align: baseline; font-family: var(--font-mono);
}
button.ba-cite:hover, button.ba-cite.ba-active { background: var(--color-accent); color: white; }
button.ba-cite:focus-visible, button.ba-para-open:focus-visible { outline: 2px solid var(--color-accent); }
.ba-unsupported { text-decoration: underline wavy #d97706; text-underline-offset: 3px; }
.ba-flag { color: #b45309; font-weight: 600; }
.ba-sources { margin-top: 0.5rem; font-size: 0.86em; border-top: 1px solid var(--border-color-primary); padding-top: 0.35rem; }
.ba-sources-title { font-weight: 600; color: var(--body-text-color-subdued); margin-bottom: 0.15rem; }
.ba-sources ol { margin: 0; padding-left: 0; list-style: none; }
.ba-sources li { margin: 0.15rem 0; }
.ba-src-excerpt { display: block; color: var(--body-text-color-subdued); margin-left: 2.2em; }
.ba-refusal-text { font-weight: 600; }
.ba-short { font-size: 1.05em; margin: 0 0 0.3rem; }
.ba-why, .ba-says { color: var(--body-text-color-subdued); font-size: 0.9em; }
.ba-note { font-size: 0.82em; color: var(--body-text-color-subdued); margin: 0.3rem 0 0; }
.ba-error p { color: #b91c1c; margin: 0; }
.ba-panel { padding: 0.9rem 1rem; border: 1px solid var(--border-color-primary); border-radius: 10px;
  background: var(--background-fill-primary); }
.ba-panel-empty { color: var(--body-text-color-subdued); }
.ba-panel-kicker { text-transform: uppercase; letter-spacing: 0.06em; font-size: 0.72rem; font-weight: 700;
  color: var(--color-accent); }
.ba-panel-label { margin: 0.15rem 0 0.5rem; font-size: 1.08rem; }
.ba-panel-meta { display: grid; grid-template-columns: max-content 1fr; gap: 0.1rem 0.7rem;
  font-size: 0.82rem; margin: 0 0 0.6rem; }
.ba-panel-meta dt { color: var(--body-text-color-subdued); }
.ba-panel-meta dd { margin: 0; overflow-wrap: anywhere; }
.ba-panel-text { margin: 0 0 0.6rem; padding: 0.5rem 0.8rem; border-left: 3px solid var(--color-accent);
  background: var(--background-fill-secondary); line-height: 1.55; white-space: pre-wrap; }
.ba-panel mark { background: #fde68a; color: #111827; padding: 0 1px; border-radius: 2px; }
.ba-footnote { font-size: 0.82rem; }
.ba-footnote-label { font-weight: 600; }
.ba-cited-for { font-size: 0.82rem; margin-bottom: 0.5rem; }
.ba-cited-for-title { font-weight: 600; color: var(--body-text-color-subdued); }
.ba-context summary { cursor: pointer; font-weight: 600; font-size: 0.88rem; }
.ba-context-list { list-style: none; padding-left: 0; margin: 0.4rem 0 0; }
.ba-ctx { margin: 0 0 0.5rem; font-size: 0.84rem; color: var(--body-text-color-subdued); }
.ba-ctx-current { color: var(--body-text-color); }
.ba-ctx-current .ba-ctx-text { border-left: 3px solid var(--color-accent); padding-left: 0.5rem; }
button.ba-para-open { border: none; background: none; padding: 0; margin: 0 0.4rem 0 0; cursor: pointer;
  color: var(--color-accent); font-weight: 600; font-size: inherit; text-align: left; }
button.ba-para-open:hover { text-decoration: underline; }
.ba-docs .ba-banner { padding: 0.5rem 0.75rem; border-radius: 8px; margin-bottom: 0.5rem; font-size: 0.9rem;
  border: 1px solid var(--border-color-primary); }
.ba-banner-ok { background: rgba(22, 163, 74, 0.08); }
.ba-banner-warn { background: rgba(217, 119, 6, 0.12); }
.ba-banner-info { background: rgba(37, 99, 235, 0.08); }
.ba-reasons { margin: 0.25rem 0; }
.ba-doc { border: 1px solid var(--border-color-primary); border-radius: 8px; padding: 0.5rem 0.75rem;
  margin-bottom: 0.5rem; }
.ba-doc summary { cursor: pointer; }
.ba-doc-title { font-weight: 600; }
.ba-doc-meta { display: block; font-size: 0.82rem; color: var(--body-text-color-subdued); }
.ba-para-list { list-style: none; padding-left: 0; margin: 0.5rem 0 0; max-height: 28rem; overflow-y: auto; }
.ba-para-item { font-size: 0.84rem; margin: 0.2rem 0; }
.ba-para-excerpt { color: var(--body-text-color-subdued); }
.ba-kind-heading .ba-para-excerpt { font-weight: 600; color: var(--body-text-color); }
"""


def available_backends(assistant) -> list[str]:
    """Backends the chat may offer: always "extractive"; others only when configured and
    reachable, as ``Assistant.available_backends()`` reports them (checked once, at start)."""
    backends = ["extractive"]
    probe = getattr(assistant, "available_backends", None)
    if callable(probe):
        try:
            backends += [b for b in probe() if b != "extractive"]
        except Exception:  # an unreachable server must not take the chat down
            log.warning("backend probe failed", exc_info=True)
    return backends


def _doc_value(doc: str | None) -> str | None:
    return None if not doc or doc == "all" else doc


def continued_turns(turns: list, messages: list) -> list:
    """The session's turns, if the messages the client sent are exactly that conversation;
    otherwise none. The `messages` argument is the conversation: a client (or an API call)
    that sends an empty or different history starts from it, never from what this session
    said earlier."""
    if len(messages) != 2 * len(turns):
        return []
    for i, turn in enumerate(turns):
        sent = messages[2 * i]
        if not isinstance(sent, dict) or sent.get("role") != "user" or \
                render.plain_text(sent.get("content")) != render.plain_text(render.render_question(turn.question)):
            return []
    return list(turns)


class ChatHandlers:
    """The event handlers, separate from the layout so tests can drive them directly."""

    def __init__(self, assistant, export_dir: str | Path | None = None):
        self.assistant = assistant
        self._export_dir = Path(export_dir) if export_dir else None

    @property
    def export_dir(self) -> Path:
        """Where exports are written before Gradio copies them to its cache: inside Gradio's
        temp dir (private to the app when started by :func:`serve`)."""
        if self._export_dir is None:
            self._export_dir = Path(get_upload_folder()) / "brief-assistant-exports"
        self._export_dir.mkdir(parents=True, exist_ok=True)
        return self._export_dir

    # -- chat ---------------------------------------------------------------------------------
    def chat(self, question: str, messages: list | None, doc: str | None = "all",
             backend: str | None = "extractive", turns: list | None = None) -> Iterator[tuple]:
        """Yields (messages, turns, question box, export file) as the answer streams."""
        messages = list(messages or [])
        turns = list(turns or [])
        question = plain_question(question)  # no markup or control characters, ever echoed
        if not question:
            messages.append({"role": "assistant", "content": render.render_error(
                "The question is empty. Ask something about the op-ed or the UN report.")})
            yield list(messages), list(turns), "", self._export(turns)
            return
        turns = continued_turns(turns, messages)
        history = render.history_for(turns) if turns else render.history_from_messages(messages)
        turn_index = len(turns)
        doc_value = _doc_value(doc)
        messages.append({"role": "user", "content": render.render_question(question)})
        messages.append({"role": "assistant", "content": render.render_streaming("")})
        if (backend or "extractive") != "extractive":  # an LLM writes over seconds: show the
            yield list(messages), list(turns), "", gr.skip()  # question and a cursor at once

        answer: Answer | None = None
        shown = ""
        try:
            for event in self.assistant.stream(question, history, backend or "extractive",
                                               doc_value):
                if isinstance(event, Answer):
                    answer = event
                    continue
                # an LLM's token deltas, shown as they come (the extractive answer comes whole,
                # as the Answer alone: it appears at once, with no replayed typing)
                shown += str(event)
                messages[-1] = {"role": "assistant", "content": render.render_streaming(shown)}
                yield list(messages), gr.skip(), gr.skip(), gr.skip()
        except AssistantError as exc:  # QuestionError (too long), index missing, ...
            turns.append(render.Turn(question, error=str(exc), doc=doc_value))
            messages[-1] = {"role": "assistant", "content": render.render_error(str(exc))}
            yield list(messages), list(turns), "", self._export(turns)
            return
        except Exception as exc:  # never a traceback in the page
            log.exception("answering %r failed", question)
            message = f"Something went wrong while answering ({type(exc).__name__}). The server log has the details."
            turns.append(render.Turn(question, error=message, doc=doc_value))
            messages[-1] = {"role": "assistant", "content": render.render_error(message)}
            yield list(messages), list(turns), "", self._export(turns)
            return
        if answer is None:
            message = "No answer came back from the backend. Try again."
            turns.append(render.Turn(question, error=message, doc=doc_value))
            messages[-1] = {"role": "assistant", "content": render.render_error(message)}
        else:
            turns.append(render.Turn(question, answer=answer, doc=doc_value))
            messages[-1] = {"role": "assistant", "content": render.render_answer(answer, turn_index)}
        yield list(messages), list(turns), "", self._export(turns)

    def clear(self):
        return [], [], render.render_panel_placeholder(), self._export([]), ""

    # -- panel and documents ------------------------------------------------------------------
    def panel(self, payload: str | dict | None, turns: list | None) -> str:
        try:
            return render.panel_for_click(self.assistant.corpus, payload, turns or [])
        except Exception:  # never a traceback in the page: logged, and the reader told
            log.exception("rendering the panel failed")
            return render.render_error("This paragraph could not be shown.")

    def open_paragraph(self, turns: list | None, evt: gr.EventData) -> str:
        """The panel's "open_paragraph" event: the clicked button's {"pid", "turn", "n"}."""
        # the raw payload, whatever the browser sent (EventData's attribute access assumes a
        # dict); panel_for_click validates it
        return self.panel(evt._data, turns)

    def documents(self) -> str:
        status, error = None, ""
        try:
            status = self.assistant.status()
        except AssistantError as exc:
            error = str(exc)
        try:
            missing = pending(Path(self.assistant.settings.corpus_dir))
        except (AssistantError, OSError):
            missing = []
        return render.render_documents(self.assistant.corpus, status, missing, error)

    # -- export -------------------------------------------------------------------------------
    def _export(self, turns: list):
        """The DownloadButton update: the conversation written as Markdown (disabled when
        there is nothing to export)."""
        if not any(t.answer is not None for t in turns):
            return gr.update(value=None, interactive=False)
        return gr.update(value=str(self.export_file(turns)), interactive=True)

    def export_file(self, turns: list) -> Path:
        folder = self.export_dir
        cutoff = time.time() - EXPORT_MAX_AGE
        for old in folder.glob("brief-assistant-conversation-*.md"):
            try:
                if old.stat().st_mtime < cutoff:
                    old.unlink()
            except OSError:
                pass
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%f")
        path = folder / f"brief-assistant-conversation-{stamp}.md"
        path.write_text(render.export_markdown(turns), "utf-8")
        return path


def build_app(assistant) -> gr.Blocks:
    """The Blocks of the web chat. Launch it with :func:`serve` (which also passes the page's
    CSS: ``demo.launch(**demo.ba_launch_kwargs)`` if you launch it yourself)."""
    handlers = ChatHandlers(assistant)
    backends = available_backends(assistant)
    configured = getattr(getattr(assistant, "settings", None), "backend", "extractive")
    default_backend = configured if configured in backends else "extractive"

    with gr.Blocks(title="Brief Assistant", analytics_enabled=False,
                   delete_cache=(3600, 86400)) as demo:
        gr.HTML(render.render_header(assistant.corpus.documents), js_on_load=None)
        turns = gr.State([])
        with gr.Row(equal_height=False):
            with gr.Column(scale=3, min_width=420), gr.Tabs():
                with gr.Tab("Chat", id="chat"):
                    chatbot = gr.Chatbot(
                        elem_id="ba-chat", label="Conversation", show_label=False, height=520,
                        latex_delimiters=[], feedback_options=None, buttons=[],
                        layout="panel", autoscroll=True,
                        placeholder="**Ask a question about the brief.** Answers quote the "
                                    "op-ed and the UN report digest, with a citation per "
                                    "sentence.")
                    with gr.Row(equal_height=True):
                        question = gr.Textbox(
                            elem_id="ba-question", show_label=False, scale=5, lines=1,
                            max_lines=4, autofocus=True,
                            placeholder="Ask about the op-ed or the UN report… (Enter to send)")
                        ask = gr.Button("Ask", variant="primary", scale=1, min_width=80,
                                        elem_id="ba-ask")
                    with gr.Row():
                        doc = gr.Radio(assistant.corpus.filters(), value="all", label="Search in",
                                       elem_id="ba-doc", scale=3)
                        backend = gr.Dropdown(
                            [(BACKEND_LABELS.get(b, b), b) for b in backends],
                            value=default_backend, label="Answer backend", elem_id="ba-backend",
                            interactive=len(backends) > 1, scale=2)
                    gr.Examples([[q] for q in EXAMPLES], inputs=[question],
                                label="Example questions (click one, then Ask)",
                                examples_per_page=len(EXAMPLES))
                    with gr.Row():
                        clear = gr.Button("Clear conversation", elem_id="ba-clear", size="sm")
                        export = gr.DownloadButton("Export conversation (.md)", value=None,
                                                   interactive=False, size="sm",
                                                   elem_id="ba-export")
                with gr.Tab("Documents", id="documents") as docs_tab:
                    docs_html = gr.HTML(render.render_documents(assistant.corpus),
                                        elem_id="ba-documents", js_on_load=None)
                    refresh = gr.Button("Refresh index status", size="sm")
            with gr.Column(scale=2, min_width=320, elem_id="ba-panel-col"):
                panel = gr.HTML(render.render_panel_placeholder(), elem_id="ba-panel",
                                js_on_load=CLICK_JS)

        chat_outputs = [chatbot, turns, question, export]
        chat_inputs = [question, chatbot, doc, backend, turns]
        submitted = question.submit(handlers.chat, chat_inputs, chat_outputs,
                                    api_name=CHAT_API_NAME, trigger_mode="once",
                                    show_progress="minimal")
        clicked = ask.click(handlers.chat, chat_inputs, chat_outputs, api_visibility="private",
                            trigger_mode="once", show_progress="minimal")
        clear.click(handlers.clear, None, [chatbot, turns, panel, export, question],
                    cancels=[submitted, clicked], api_visibility="private")
        chatbot.clear(handlers.clear, None, [chatbot, turns, panel, export, question],
                      api_visibility="private")
        panel.open_paragraph(handlers.open_paragraph, turns, panel, api_visibility="private",
                             show_progress="hidden", concurrency_limit=None,
                             trigger_mode="always_last")
        refresh.click(handlers.documents, None, docs_html, api_visibility="private")
        docs_tab.select(handlers.documents, None, docs_html, api_visibility="private",
                        show_progress="hidden")
        demo.load(handlers.documents, None, docs_html, api_visibility="private",
                  show_progress="hidden")

    demo.ba_launch_kwargs = {"css": CSS}
    return demo


def is_loopback(host: str) -> bool:
    if host in ("localhost", "localhost.localdomain"):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


class _OwnFilesOnly:
    """ASGI middleware for the two file routes this app has no use for. Gradio's
    ``/file=<http(s) URL>`` route makes the server fetch and relay a remote URL, and its
    upload route stores anonymous files and answers with their server path; the app takes no
    uploads and serves only its own files, so both get 404."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope.get("type") == "http":
            path = unquote(unquote(scope.get("path", ""))).lower().rstrip("/")
            if re.search(r"/file=\s*(https?:|//)", path) or re.search(r"(^|/)upload(_progress)?$", path):
                await PlainTextResponse("Not found", status_code=404)(scope, receive, send)
                return
        await self.app(scope, receive, send)


def serve(assistant, host: str = "127.0.0.1", port: int = 7860,
          auth: tuple[str, str] | None = None, concurrency: int | None = None,
          max_size: int | None = None, block: bool = True, quiet: bool = False) -> gr.Blocks:
    """Launch the chat. Loopback only unless ``host`` says otherwise (a warning is printed
    when it is reachable from other machines without ``auth``); never shared; no file paths
    beyond the app's own. ``block=False`` returns once the server is up (tests)."""
    if not os.environ.get("GRADIO_TEMP_DIR"):  # files this app creates, and only those
        os.environ["GRADIO_TEMP_DIR"] = tempfile.mkdtemp(prefix="brief-assistant-gradio-")
    if not is_loopback(host) and not auth:
        print(f"WARNING: the chat listens on {host}:{port}, reachable from other machines, "
              "without a password. Pass --auth USER:PASS, or use --host 127.0.0.1.",
              file=sys.stderr, flush=True)
    demo = build_app(assistant)
    settings = getattr(assistant, "settings", None) or Settings()
    demo.queue(default_concurrency_limit=max(1, int(concurrency or settings.chat_concurrency)),
               max_size=max(1, int(max_size or settings.chat_max_queue)))
    blocked = [str(Path(p).resolve()) for p in (getattr(settings, "corpus_dir", None),
                                                getattr(settings, "index_dir", None)) if p]
    demo.launch(
        server_name=host, server_port=int(port), auth=auth, share=False, inbrowser=False,
        allowed_paths=[], blocked_paths=blocked, prevent_thread_lock=True, quiet=True,
        show_error=False, footer_links=["api"], run_history=False, enable_monitoring=False,
        mcp_server=False, ssr_mode=False, pwa=False, max_file_size="1mb",
        app_kwargs={"middleware": [Middleware(_OwnFilesOnly)]},
        **demo.ba_launch_kwargs,
    )
    if not quiet:
        shown = "127.0.0.1" if host in ("0.0.0.0", "::") else host
        shown = f"[{shown}]" if ":" in shown else shown
        print(f"Brief Assistant chat: http://{shown}:{demo.server_port}/"
              f"{' (password required)' if auth else ''} — Ctrl+C stops it.", flush=True)
    if block:
        demo.block_thread()
    return demo
