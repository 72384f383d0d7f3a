"""The web chat at handler level: rendering of answers, citations, the panel, the Documents
tab and the export, and the chat handler itself (driven with a stand-in for the Assistant
whose answers are built from the real corpus paragraphs). Hostile corpus text and hostile
questions must come out escaped, everywhere."""

from __future__ import annotations

import json
import re
import shutil
from html.parser import HTMLParser
from pathlib import Path

import pytest

from assistant.answer.types import REFUSAL, Answer, Citation, Refusal, Sentence, ShortAnswer
from assistant.config import Settings
from assistant.corpus.loader import load_corpus
from assistant.index.status import index_status
from assistant.query import plain_question
from assistant.web import render

ROOT = Path(__file__).resolve().parents[2]
from tests.web.hostile import IMG, INJECTION_MD, SCRIPT

HOSTILE_QUESTION = f'What about {IMG} and {SCRIPT} and <a href="javascript:alert(1)">x</a>?'
ALLOWED_TAGS = {"div", "p", "span", "button", "ol", "ul", "li", "mark", "blockquote", "details",
                "summary", "dl", "dt", "dd", "h3", "b", "i", "code"}
OPED_P9 = "oped:a5e0ca34"  # "According to the UN’s most recent yearly report ..." (footnote 1)


class TagAudit(HTMLParser):
    """Every tag and attribute of a rendered fragment."""

    def __init__(self, fragment: str):
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict]] = []
        self.text: list[str] = []
        self.feed(fragment)
        self.close()

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data):
        self.text.append(data)

    @property
    def plain(self) -> str:
        return "".join(self.text)


def assert_safe(fragment: str) -> TagAudit:
    """Only this module's own markup: no foreign tags, no event handlers, no URLs."""
    audit = TagAudit(fragment)
    for tag, attrs in audit.tags:
        assert tag in ALLOWED_TAGS, f"unexpected <{tag}> in {fragment[:200]}"
        for name, value in attrs.items():
            assert not name.startswith("on"), f"event handler attribute {name}"
            assert name not in ("href", "src", "srcset", "style", "action", "formaction")
            assert "javascript:" not in (value or "").lower() or name in ("value", "title",
                                                                           "data-text")
    for raw in ("<img", "<script", "<a "):
        assert raw not in fragment
    return audit


# -- fixtures ---------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def corpus_root(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("web")
    shutil.copytree(ROOT / "corpus", root / "corpus")
    (root / "corpus" / "injection-test-note.md").write_text(INJECTION_MD, "utf-8")
    return root


@pytest.fixture(scope="module")
def corpus(corpus_root):
    return load_corpus(corpus_root / "corpus")


@pytest.fixture(scope="module")
def settings(corpus_root):
    return Settings(corpus_dir=corpus_root / "corpus", index_dir=corpus_root / "index",
                    embedding_model="hash:384")


def para_with(corpus, needle: str):
    return next(p for p in corpus.paragraphs if needle in p.text)


def cite(corpus, n: int, para, supported: bool = True) -> Citation:
    doc = corpus.document(para.doc_id)
    footnote = render.paragraph_label(corpus, para.id).partition(" → ")[2] or None
    return Citation(n, para.id, doc.doc_id, doc.title, para.label, para.page, para.section_path,
                    para.text, 0.9, supported, footnote)


def first_sentence(text: str) -> str:
    from assistant.corpus.text import split_sentences

    return split_sentences(text)[0]


@pytest.fixture(scope="module")
def poverty_answer(corpus) -> Answer:
    """Two sentences: one supported by op-ed ¶9 and the digest, one flagged unsupported."""
    p9 = corpus.paragraph(OPED_P9)
    digest = para_with(corpus, "45 million people in the region")
    s1 = first_sentence(p9.text)
    s2 = first_sentence(digest.text)
    return Answer(
        "How many people were pushed into poverty in Latin America?",
        [Sentence(s1, [1, 2], True, s1), Sentence(s2, [2], False, s2)],
        [cite(corpus, 1, p9), cite(corpus, 2, digest)], False, "extractive")


@pytest.fixture(scope="module")
def hostile_answer(corpus) -> Answer:
    para = para_with(corpus, "zebra crossing budget")
    return Answer(HOSTILE_QUESTION, [Sentence(para.text, [1], True, para.text)],
                  [cite(corpus, 1, para)], False, "extractive")


class FakeAssistant:
    """The Assistant's web-facing surface; answers come from the real corpus paragraphs."""

    def __init__(self, corpus, settings, answers: dict[str, Answer]):
        self.corpus, self.settings, self.answers = corpus, settings, answers
        self.calls: list[tuple] = []

    def status(self):
        return index_status(self.settings)

    def available_backends(self):
        return ["extractive"]

    def stream(self, question, history=None, backend=None, doc=None):
        from assistant.query import check_question

        question = check_question(question)
        self.calls.append((question, history, backend, doc))
        yield self.answers.get(question) or Answer(question, [], [], True, "extractive")


@pytest.fixture
def handlers(corpus, settings, poverty_answer, hostile_answer, tmp_path):
    from assistant.web.app import ChatHandlers

    fake = FakeAssistant(corpus, settings, {poverty_answer.question: poverty_answer,
                                            plain_question(HOSTILE_QUESTION): hostile_answer})
    return ChatHandlers(fake, export_dir=tmp_path / "export")


def run_chat(handlers, question, messages=None, turns=None, doc="all"):
    outputs = list(handlers.chat(question, messages or [], doc, "extractive", turns or []))
    return outputs, outputs[-1]


# -- answers ----------------------------------------------------------------------------------
def test_answer_has_citation_buttons_flags_and_sources(poverty_answer):
    html = render.render_answer(poverty_answer, turn=3)
    audit = assert_safe(html)
    buttons = [a for t, a in audit.tags if t == "button" and "ba-cite" in a.get("class", "")]
    # [1][2] after the first sentence, [2] after the second, then the two sources
    assert [json.loads(b["value"])["n"] for b in buttons] == [1, 2, 2, 1, 2]
    first = json.loads(buttons[0]["value"])
    assert first == {"pid": OPED_P9, "turn": 3, "n": 1}
    assert buttons[0]["data-pid"] == OPED_P9 and buttons[0]["data-cite"] == "1"
    assert buttons[0]["title"] == "Op-ed ¶9 → footnote 1: WESP 2021, p. 116"
    assert "[1]" in audit.plain and "[2]" in audit.plain
    assert 'class="ba-sent ba-unsupported"' in html and "⚠" in audit.plain
    assert "not supported by the paragraph they cite" in audit.plain
    assert "45 million" in audit.plain
    # the plain answer text (for follow-ups through the API) rides along, escaped
    assert render.plain_text(html) == poverty_answer.text


def test_refusal_shows_the_fixed_phrase_and_nearest_passages(corpus):
    near = [cite(corpus, 1, corpus.paragraph(OPED_P9), supported=False)]
    answer = Answer("What is the capital of France?", [], near, True, "extractive",
                    refusal=Refusal("unknown_subject", "the brief never mentions France"))
    html = render.render_answer(answer, 0)
    audit = assert_safe(html)
    assert REFUSAL in audit.plain
    assert "Nearest passages" in audit.plain and "Op-ed ¶9" in audit.plain
    assert "Why: the brief never mentions France." in audit.plain  # the check's reason, in words
    assert 'class="ba-cite ba-near"' in html


def test_correction_shows_what_the_brief_says_with_citations(corpus):
    para = corpus.paragraph(OPED_P9)
    said = "In spite of various intra-regional political differences"
    answer = Answer("Why did Africa resist?", [Sentence(said, [1])], [cite(corpus, 1, para)],
                    True, "extractive", refusal=Refusal("premise_mismatch", "not about Africa"))
    html = render.render_answer(answer, 0)
    audit = assert_safe(html)
    assert audit.plain.startswith(REFUSAL)
    assert "What the brief does say:" in audit.plain and said in audit.plain
    assert 'class="ba-cite"' in html and "Nearest passages" not in audit.plain


def test_short_answer_comes_first_in_bold(corpus):
    para = corpus.paragraph(OPED_P9)
    answer = Answer("How many?", [Sentence(para.text, [1])], [cite(corpus, 1, para)], False,
                    "extractive", short_answer=ShortAnswer("45 million people", 1))
    html = render.render_answer(answer, 0)
    assert_safe(html)
    assert html.index("<b>45 million people</b>") < html.index('class="ba-sentences"')


def test_hostile_paragraph_and_question_are_escaped_everywhere(corpus, hostile_answer):
    para = corpus.paragraph(hostile_answer.citations[0].paragraph_id)
    fragments = {
        "question": render.render_question(HOSTILE_QUESTION),
        "answer": render.render_answer(hostile_answer, 0),
        "streaming": render.render_streaming(hostile_answer.text),
        "panel": render.render_citation_panel(corpus, para.id, hostile_answer.citations[0],
                                              [para.text], cited_for=[HOSTILE_QUESTION]),
        "documents": render.render_documents(corpus),
        "error": render.render_error(HOSTILE_QUESTION),
    }
    for name, html in fragments.items():
        assert_safe(html)
        assert "&lt;img" in html or "&lt;script" in html, name
    assert IMG in TagAudit(fragments["answer"]).plain  # shown as text, exactly
    assert IMG in TagAudit(fragments["panel"]).plain
    assert HOSTILE_QUESTION in TagAudit(fragments["question"]).plain
    # the second hostile paragraph (javascript: and <script>) in its own panel
    other = para_with(corpus, "javascript:alert(1)")
    html = render.render_citation_panel(corpus, other.id)
    assert SCRIPT in assert_safe(html).plain
    # the hostile document title (front matter) too
    assert "Freedonia transport note <script>" in assert_safe(render.render_documents(corpus)).plain


def test_panel_shows_paragraph_with_quote_marked_label_and_context(corpus, poverty_answer):
    html = render.panel_for_click(corpus, json.dumps({"pid": OPED_P9, "turn": 0, "n": 1}),
                                  [render.Turn(poverty_answer.question, poverty_answer)])
    audit = assert_safe(html)
    p9 = corpus.paragraph(OPED_P9)
    doc = corpus.document("oped")
    assert "Source [1]" in audit.plain
    assert "Op-ed ¶9 → footnote 1: WESP 2021, p. 116" in audit.plain
    assert doc.title in audit.plain and OPED_P9 in audit.plain
    marked = html.split("<mark>")[1].split("</mark>")[0]
    assert marked == render.esc(first_sentence(p9.text))
    assert "Footnote 1:" in audit.plain and "p.116" in audit.plain
    assert "Show in context" in audit.plain
    opens = {json.loads(a["value"])["pid"] for t, a in audit.tags
             if t == "button" and a.get("class") == "ba-para-open"}
    for n in (doc.paragraphs[p9.position - 1], doc.paragraphs[p9.position + 1]):
        assert n.label in audit.plain and n.text in audit.plain
        assert n.id in opens  # a neighbour opens in the panel when clicked
    # the digest sentence cites [2] only, so opening [2] lists no foreign quote
    digest_click = json.dumps({"pid": poverty_answer.citations[1].paragraph_id, "turn": 0, "n": 2})
    html2 = render.panel_for_click(corpus, digest_click,
                                   [render.Turn(poverty_answer.question, poverty_answer)])
    assert "Source [2]" in html2 and "<mark>" in html2
    # the op-ed sentence also cites [2]: it is not in the digest paragraph, so it is listed
    assert "Cited in the answer for" in html2


def test_panel_click_payloads_are_untrusted(corpus):
    placeholder = render.render_panel_placeholder()
    for payload in (None, "", "{not json", "[]", '{"pid": ""}'):
        assert render.panel_for_click(corpus, payload) == placeholder
    html = render.panel_for_click(corpus, json.dumps({"pid": SCRIPT, "turn": "x", "n": None}))
    assert "No paragraph" in assert_safe(html).plain
    # a stale turn number falls back to the bare paragraph
    html = render.panel_for_click(corpus, json.dumps({"pid": OPED_P9, "turn": 7, "n": 1}), [])
    assert "Paragraph" in html and "Op-ed ¶9 → footnote 1: WESP 2021, p. 116" in html
    assert "<mark>" not in html
    # a bare paragraph ID works too
    assert OPED_P9 in render.panel_for_click(corpus, OPED_P9)


def test_documents_tab_lists_documents_status_and_missing_report(corpus, settings):
    from assistant.corpus.fetch import pending

    missing = pending(settings.corpus_dir)
    html = render.render_documents(corpus, index_status(settings), missing)
    audit = assert_safe(html)
    assert "Index: not built" in audit.plain and "assistant index rebuild" in audit.plain
    assert "WESP2021_FullReport.pdf" in audit.plain and "assistant corpus fetch" in audit.plain
    for doc in corpus.documents:
        assert doc.title in audit.plain
        assert f"{doc.kind} · {len(doc.paragraphs)} paragraphs" in audit.plain
    opens = [a for t, a in audit.tags if t == "button" and a.get("class") == "ba-para-open"]
    assert len(opens) == len(corpus.paragraphs)
    assert {json.loads(a["value"])["pid"] for a in opens} == {p.id for p in corpus.paragraphs}


# -- the templates ----------------------------------------------------------------------------
def test_templates_ship_as_package_data_and_compile():
    import tomllib
    from fnmatch import fnmatch
    from importlib.resources import files

    globs = tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))["tool"]["setuptools"][
        "package-data"]["assistant"]
    names = sorted(f.name for f in (files("assistant.web") / "templates").iterdir())
    assert {"answer.html", "panel.html", "documents.html", "header.html"} <= set(names)
    for name in names:  # an installed wheel holds every template the package loader reads
        assert any(fnmatch(f"web/templates/{name}", g) for g in globs), name
        render.templates().get_template(name)


def test_templates_escape_values_and_refuse_undefined_names():
    import jinja2

    env = render.templates()
    assert env.from_string("<p title=\"{{ x }}\">{{ x }}</p>").render(x='"<b>&\'') == (
        "<p title=\"&#34;&lt;b&gt;&amp;&#39;\">&#34;&lt;b&gt;&amp;&#39;</p>")
    assert env.from_string("<p>{{ x }}</p>").render(x=None) == "<p></p>"
    with pytest.raises(jinja2.UndefinedError):
        env.from_string("<p>{{ nothing }}</p>").render()


def test_messages_are_written_on_one_line(corpus, poverty_answer, hostile_answer):
    near = [cite(corpus, 1, corpus.paragraph(OPED_P9), supported=False)]
    refusal = Answer("Capital of France?", [], near, True, "extractive",
                     refusal=Refusal("unknown_subject", "the brief never mentions France"),
                     warnings=["a note"])
    turns = [render.Turn(poverty_answer.question, poverty_answer)]
    fragments = [
        render.render_answer(poverty_answer, 0), render.render_answer(hostile_answer),
        render.render_answer(refusal, 1), render.render_question(HOSTILE_QUESTION),
        render.render_question("why " * 400), render.render_streaming("45 million"),
        render.render_error("It failed."), render.render_panel_placeholder(),
        render.panel_for_click(corpus, render.click_value(OPED_P9, 0, 1), turns),
        render.render_citation_panel(corpus, "no-such-paragraph"),
        render.render_documents(corpus), render.render_header(corpus.documents)]
    for html in fragments:  # one raw HTML block for the chat's Markdown renderer
        assert "\n" not in html and html.startswith("<") and html.endswith(">"), html[:200]
    # only the templates' own line breaks go: a value's are kept, as text
    assert render.templates().from_string("<p>\n  {{ x }}\n</p>\n").render(x="a\nb") == (
        "<p>a\nb</p>")


def test_no_markup_is_written_in_python():
    """HTML comes from the templates only: no string in the web package's code holds a tag."""
    import ast

    tag = re.compile(r"<[a-zA-Z][a-zA-Z0-9]*[\s/>]|</[a-zA-Z]")
    for path in (ROOT / "src" / "assistant" / "web").glob("*.py"):
        tree = ast.parse(path.read_text("utf-8"))
        docstrings = {id(node.body[0].value) for node in ast.walk(tree)
                      if isinstance(node, (ast.Module, ast.FunctionDef, ast.ClassDef))
                      and node.body and isinstance(node.body[0], ast.Expr)}
        for node in ast.walk(tree):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) \
                    and id(node) not in docstrings:
                assert not tag.search(node.value), f"{path.name}:{node.lineno}: {node.value[:80]}"


# -- the chat handler -------------------------------------------------------------------------
def test_chat_shows_the_extractive_answer_at_once_and_follow_ups_get_the_history(
        handlers, poverty_answer):
    outputs, (messages, turns, box, export) = run_chat(handlers, poverty_answer.question)
    # one update: the question and its rendered answer (no placeholder, no replayed typing)
    assert len(outputs) == 1
    assert messages[0] == {"role": "user", "content": render.render_question(poverty_answer.question)}
    assert messages[1]["content"] == render.render_answer(poverty_answer, 0)
    assert box == "" and len(turns) == 1 and turns[0].answer is poverty_answer
    assert export["interactive"] is True and Path(export["value"]).exists()
    fake = handlers.assistant
    assert fake.calls[-1] == (poverty_answer.question, [], "extractive", None)

    _, (messages, turns, _, _) = run_chat(handlers, "  Who said that? ", messages, turns, "oped")
    question, history, _, doc = fake.calls[-1]
    assert question == "Who said that?" and doc == "oped"
    assert history == [{"role": "user", "content": poverty_answer.question},
                       {"role": "assistant", "content": poverty_answer.text}]
    assert len(messages) == 4 and len(turns) == 2
    assert 'data-turn="1"' in messages[3]["content"]


def test_the_messages_sent_are_the_conversation_not_the_session(handlers, poverty_answer):
    """A client that sends an empty history starts afresh even though its session has turns;
    one that sends a history different from the session's gets that history."""
    fake = handlers.assistant
    _, (_, turns, _, _) = run_chat(handlers, poverty_answer.question)
    _, (messages2, turns2, _, _) = run_chat(handlers, "Who said that?", [], turns)
    assert fake.calls[-1][1] == [] and len(turns2) == 1 and len(messages2) == 2
    assert 'data-turn="0"' in messages2[1]["content"]
    other = [{"role": "user", "content": "What about jobs?"},
             {"role": "assistant", "content": "255 million jobs were lost [1]."}]
    _, (_, turns3, _, _) = run_chat(handlers, "Who said that?", other, turns)
    assert fake.calls[-1][1] == other and len(turns3) == 1


def test_chat_history_from_messages_when_there_is_no_session_state(handlers, poverty_answer):
    """API clients pass the chat history back instead of the session state."""
    _, (messages, _, _, _) = run_chat(handlers, poverty_answer.question)
    run_chat(handlers, "Who said that?", messages, [])
    assert handlers.assistant.calls[-1][1] == [
        {"role": "user", "content": poverty_answer.question},
        {"role": "assistant", "content": poverty_answer.text}]
    # Gradio hands messages over with content as a list of text parts
    parts = [{"role": m["role"], "content": [{"type": "text", "text": m["content"]}]}
             for m in messages]
    assert render.history_from_messages(parts) == handlers.assistant.calls[-1][1]


def test_chat_escapes_a_hostile_question_and_paragraph(handlers, hostile_answer):
    _, (messages, turns, _, _) = run_chat(handlers, HOSTILE_QUESTION)
    for m in messages:
        assert_safe(m["content"])
    # markup is stripped from a question before it is shown or answered (never echoed raw)
    assert TagAudit(messages[0]["content"]).plain == "What about and and x ?"
    assert "onerror" not in messages[0]["content"] and "script" not in messages[0]["content"]
    assert IMG in TagAudit(messages[1]["content"]).plain  # corpus text is shown, escaped
    assert turns[0].answer is hostile_answer


def test_over_long_and_empty_questions_get_a_friendly_message(handlers):
    _, (messages, turns, _, export) = run_chat(handlers, "why " * 400)
    assert "ba-error" in messages[-1]["content"]
    assert "the limit is 1000" in messages[-1]["content"]
    assert "Ask a shorter question" in messages[-1]["content"]
    assert turns[0].answer is None and export["interactive"] is False
    for empty in ("   ", "<b></b>", "\x00\x1b"):  # nothing left once markup and controls go
        outputs, (messages, turns, _, _) = run_chat(handlers, empty)
        assert len(outputs) == 1 and turns == []
        assert "The question is empty" in messages[-1]["content"]


def test_token_deltas_stream_as_they_come(handlers, poverty_answer, monkeypatch):
    """An LLM backend yields token deltas (leading spaces included), then the checked answer."""
    def tokens(question, history=None, backend=None, doc=None):
        yield from ["Based", " on", " the", " brief", ",", " 45 million"]
        yield poverty_answer

    monkeypatch.setattr(handlers.assistant, "stream", tokens)
    outputs, (messages, _, _, _) = run_chat(handlers, poverty_answer.question)
    shown = [TagAudit(o[0][-1]["content"]).plain for o in outputs[1:-1]]
    assert shown[-1] == "Based on the brief, 45 million▍"
    assert messages[-1]["content"] == render.render_answer(poverty_answer, 0)


def test_backend_errors_never_show_a_traceback(handlers, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("secret internals /etc/passwd")
        yield  # pragma: no cover

    monkeypatch.setattr(handlers.assistant, "stream", broken)
    _, (messages, _, _, _) = run_chat(handlers, "How much did world output contract in 2020?")
    assert "Something went wrong" in messages[-1]["content"]
    assert "secret internals" not in messages[-1]["content"]


def test_clear_resets_everything(handlers):
    messages, turns, panel, export, box = handlers.clear()
    assert messages == [] and turns == [] and box == ""
    assert panel == render.render_panel_placeholder() and export["interactive"] is False


def test_panel_and_documents_handlers(handlers, poverty_answer):
    turns = [render.Turn(poverty_answer.question, poverty_answer)]
    html = handlers.panel(json.dumps({"pid": OPED_P9, "turn": 0, "n": 1, "t": 1}), turns)
    assert "<mark>" in html and "Op-ed ¶9" in html
    docs = handlers.documents()
    assert "assistant corpus fetch" in docs and "Freedonia note ¶1" in docs


def test_a_click_reaches_the_panel_as_the_panels_event(handlers, poverty_answer):
    """The page's click handler sends {"pid", "turn", "n"} as the panel's "open_paragraph"
    event (no hidden textbox relay); the event data is untrusted."""
    import gradio as gr

    from assistant.web.app import build_app

    turns = [render.Turn(poverty_answer.question, poverty_answer)]
    html = handlers.open_paragraph(turns, gr.EventData(None, {"pid": OPED_P9, "turn": 0, "n": 1}))
    assert "Source [1]" in html and "<mark>" in html
    placeholder = render.render_panel_placeholder()
    for data in (None, [], "", 7, {"pid": ""}, {"turn": 0}):
        assert handlers.open_paragraph(turns, gr.EventData(None, data)) == placeholder
    html = handlers.open_paragraph(turns, gr.EventData(None, {"pid": SCRIPT, "n": "x"}))
    assert "No paragraph" in assert_safe(html).plain

    demo = build_app(handlers.assistant)
    config = demo.get_config_file()
    panel = next(c["id"] for c in config["components"] if c["props"].get("elem_id") == "ba-panel")
    assert not [c for c in config["components"] if c["props"].get("elem_id") == "ba-cite-box"]
    opened = [d for d in config["dependencies"] if [panel, "open_paragraph"] in
              [list(t) for t in d["targets"]]]
    assert len(opened) == 1 and opened[0]["outputs"] == [panel]


# -- export -----------------------------------------------------------------------------------
def test_export_markdown_resolves_citations_to_labels_and_quotes(corpus, poverty_answer,
                                                                  hostile_answer, handlers):
    refusal = Answer("What is the capital of France?", [],
                     [cite(corpus, 1, corpus.paragraph(OPED_P9), supported=False)], True,
                     "extractive")
    turns = [render.Turn(poverty_answer.question, poverty_answer),
             render.Turn("x" * 1200, error="The question is 1200 characters long"),
             render.Turn(refusal.question, refusal),
             render.Turn(HOSTILE_QUESTION, hostile_answer)]
    md = render.export_markdown(turns)
    assert md.startswith("# Brief Assistant — conversation")
    assert "## 1. How many people were pushed into poverty in Latin America?" in md
    assert "[1][2]" in md and "⚠ " in md  # markers kept; the unsupported sentence flagged
    assert "- [1] **Op-ed ¶9 → footnote 1: WESP 2021, p. 116** — " in md
    assert f"(`{OPED_P9}`)" in md
    assert f"  > {first_sentence(corpus.paragraph(OPED_P9).text)}" in md
    assert "*Not answered: The question is 1200 characters long*" in md
    assert f"## 3. What is the capital of France?\n\n{REFUSAL}" in md
    assert "Nearest passages" in md
    assert "<img" not in md and "<script" not in md and "&lt;img src=x" in md
    path = handlers.export_file(turns)
    assert path.suffix == ".md" and path.read_text("utf-8").startswith("# Brief Assistant")


def test_loopback_detection():
    from assistant.web.app import is_loopback

    assert is_loopback("127.0.0.1") and is_loopback("localhost") and is_loopback("::1")
    assert not is_loopback("0.0.0.0") and not is_loopback("192.168.1.5")


def test_non_loopback_without_auth_warns(monkeypatch, capsys, handlers):
    """serve() prints the warning before launching (launch itself is stubbed out)."""
    import gradio as gr

    from assistant.web import app

    launched = {}
    monkeypatch.setattr(gr.Blocks, "launch", lambda self, **kw: launched.update(kw))
    monkeypatch.setenv("GRADIO_TEMP_DIR", str(Path(handlers.export_dir)))
    quiet = {"block": False, "quiet": True}
    app.serve(handlers.assistant, host="0.0.0.0", port=7999, **quiet)
    assert "WARNING" in capsys.readouterr().err
    assert launched["share"] is False and launched["allowed_paths"] == []
    assert launched["server_name"] == "0.0.0.0" and launched["auth"] is None
    app.serve(handlers.assistant, host="0.0.0.0", port=7999, auth=("ana", "pw"), **quiet)
    assert "WARNING" not in capsys.readouterr().err and launched["auth"] == ("ana", "pw")
    app.serve(handlers.assistant, **quiet)
    assert "WARNING" not in capsys.readouterr().err and launched["server_name"] == "127.0.0.1"


# -- the real assistant (slow: the bundled model) ---------------------------------------------
@pytest.mark.slow
def test_chat_handler_with_the_real_assistant(real_assistant, tmp_path):
    from assistant.web.app import ChatHandlers

    h = ChatHandlers(real_assistant, export_dir=tmp_path)
    _, (messages, turns, _, _) = run_chat(h, "How many people were pushed into poverty in Latin America?")
    answer = turns[0].answer
    assert "45 million" in answer.text and answer.citations
    assert "ba-cite" in messages[-1]["content"] and "45 million" in messages[-1]["content"]
    _, (messages, turns, _, _) = run_chat(h, "Who said that?", messages, turns)
    assert "Julian Ventura" in turns[1].answer.text
    panel = h.panel(json.dumps({"pid": answer.citations[0].paragraph_id, "turn": 0, "n": 1}), turns)
    assert "<mark>" in panel and answer.citations[0].display_label in TagAudit(panel).plain


@pytest.mark.slow
def test_example_questions_really_get_cited_answers(real_assistant):
    from assistant.web.app import EXAMPLES

    for question in EXAMPLES:
        answer = real_assistant.ask(question)
        assert not answer.refused and answer.citations, question
        assert all(s.citations for s in answer.sentences), question


def test_panel_warns_about_a_paragraph_addressed_to_a_model(tmp_path):
    from tests.corpus.test_injection import ADDRESSED_MD, ADDRESSED_NOTE, PWNED

    (tmp_path / ADDRESSED_NOTE).write_text(ADDRESSED_MD, "utf-8")
    corpus = load_corpus(tmp_path)
    clean, flagged = (para_with(corpus, "77 million ducats"), para_with(corpus, "PWNED"))
    html = render.render_citation_panel(corpus, flagged.id)
    audit = assert_safe(html)
    assert 'class="ba-banner ba-banner-warn ba-injection"' in html
    assert html.index("ba-injection") < html.index('class="ba-panel-text"')  # above the text
    assert ("⚠ This passage contains text addressed to a reader or a model (instructions "
            "addressed to a model; chat role tags; citation markers like the app's own [n])"
            in audit.plain)
    assert "never followed as instructions" in audit.plain
    assert "“SYSTEM:" in audit.plain and "[9]" in audit.plain
    assert "&lt;/data&gt;" in html and "&lt;b&gt;PWNED&lt;/b&gt;" in html  # escaped, as text
    assert PWNED in audit.plain
    assert "ba-injection" not in render.render_citation_panel(corpus, clean.id)
    docs = render.render_documents(corpus)
    assert_safe(docs)
    assert docs.count("Addressed to a reader or a model") == 1
    assert docs.index("Addressed to a reader") > docs.index(f'data-pid="{flagged.id}"')
    real = load_corpus(ROOT / "corpus")
    assert all("ba-injection" not in render.render_citation_panel(real, p.id)
               for p in real.paragraphs)
