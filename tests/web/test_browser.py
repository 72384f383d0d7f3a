"""The web chat in headless Chromium (Debian's /usr/bin/chromium, driven by Playwright's sync
API): ask, watch the answer stream in, open citations in the sources panel, ask a follow-up,
export, browse the Documents tab; hostile corpus text and questions never run; no file outside
the app is served. The app runs on a free loopback port over a private corpus copy (the real
corpus plus a hostile Markdown note) indexed with the real bundled model. Screenshots go to
tests/artifacts/ (gitignored)."""

from __future__ import annotations

import http.client
import shutil
import time
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest

pytestmark = [pytest.mark.browser, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "tests" / "artifacts"
CHROMIUM = "/usr/bin/chromium"
BUNDLED = "bundled:all-MiniLM-L6-v2"
from tests.conftest import free_port
from tests.web.hostile import IMG, INJECTION_MD, SCRIPT

POVERTY = "How many people were pushed into poverty in Latin America?"
FOLLOW_UP = "Who said that?"
ANSWERS = "#ba-chat .ba-answer:not(.ba-streaming)"


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    """(base URL, assistant, root): the chat served once for the whole module."""
    from assistant.chat import Assistant
    from assistant.config import Settings
    from assistant.web.app import serve

    root = tmp_path_factory.mktemp("browser")
    shutil.copytree(ROOT / "corpus", root / "corpus")
    (root / "corpus" / "injection-test-note.md").write_text(INJECTION_MD, "utf-8")
    assistant = Assistant(Settings(corpus_dir=root / "corpus", index_dir=root / "index",
                                   embedding_model=BUNDLED))
    assistant.rebuild()
    assistant.warm_up()
    port = free_port()
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("GRADIO_TEMP_DIR", str(root / "gradio"))
        demo = serve(assistant, port=port, block=False, quiet=True)
        url = f"http://127.0.0.1:{port}"
        deadline = time.time() + 60
        while time.time() < deadline:
            try:
                if httpx.get(url + "/", timeout=5).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.5)
        try:
            yield url, assistant, root
        finally:
            demo.close()


@pytest.fixture(scope="module")
def browser():
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} is not installed (make chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True,
                              args=["--no-sandbox", "--disable-background-networking",
                                    "--disable-component-update", "--disable-gpu"])
        try:
            yield b
        finally:
            b.close()


@pytest.fixture
def page(browser, app):
    url = app[0]
    context = browser.new_context(viewport={"width": 1400, "height": 1000}, accept_downloads=True)
    page = context.new_page()
    page.set_default_timeout(120_000)  # two cores, other work running
    errors: list[str] = []
    remote: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("request", lambda r: None if r.url.startswith(url) or r.url.startswith("data:")
            else remote.append(r.url))
    page.goto(url)
    page.wait_for_selector("#ba-question textarea")
    page.wait_for_function("window.__baCiteHandler === true")
    yield page
    assert not errors, errors
    assert not remote, f"the page fetched remote resources: {remote}"
    context.close()


def shot(page, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def ask(page, question: str):
    """Type a question, send it with Enter, wait for the final (not streaming) answer."""
    before = page.locator(ANSWERS).count() + page.locator("#ba-chat .ba-error").count()
    page.fill("#ba-question textarea", question)
    page.press("#ba-question textarea", "Enter")
    page.wait_for_function(
        "n => document.querySelectorAll('#ba-chat .ba-answer:not(.ba-streaming)').length > n",
        arg=before)
    return page.locator(ANSWERS).last


def panel_text(page, contains: str) -> str:
    page.wait_for_function(
        "s => (document.querySelector('#ba-panel')?.textContent || '').includes(s)", arg=contains)
    return page.locator("#ba-panel").text_content()


def pwned(page):
    return page.evaluate("window.__pwned")


def test_ask_stream_cite_follow_up_export_documents(page, app):
    _, assistant, _ = app
    expected = assistant.ask(POVERTY)
    first = expected.citations[0]
    shot(page, "01-start")

    page.fill("#ba-question textarea", POVERTY)
    page.press("#ba-question textarea", "Enter")
    page.wait_for_selector(ANSWERS)  # the extractive answer appears whole, no replayed typing
    answer = page.locator(ANSWERS).last
    answer.locator("button.ba-cite").first.wait_for()
    text = answer.text_content()
    assert "45 million" in text and "[1]" in text
    assert "Sources" in text and first.display_label in text

    answer.locator("button.ba-cite", has_text="[1]").first.click()
    panel = panel_text(page, "Source [1]")
    assert first.display_label in panel  # "Op-ed ¶9 → footnote 1: WESP 2021, p. 116"
    assert first.text in panel and first.doc_title in panel
    marks = page.locator("#ba-panel mark").all_text_contents()
    assert marks and all(m in first.text for m in marks)
    assert "Show in context" in panel
    shot(page, "02-citation-panel")

    # the second source too: the panel follows every click
    answer.locator("button.ba-cite", has_text="[2]").first.click()
    panel = panel_text(page, "Source [2]")
    assert expected.citations[1].display_label in panel

    follow = ask(page, FOLLOW_UP)
    assert "Julian Ventura" in follow.text_content()  # resolved against the previous turn
    follow.locator("button.ba-cite", has_text="[1]").first.click()
    expected_follow = assistant.ask(FOLLOW_UP, history=[
        {"role": "user", "content": POVERTY}, {"role": "assistant", "content": expected.text}])
    panel = panel_text(page, expected_follow.citations[0].display_label)
    assert expected_follow.citations[0].text in panel
    shot(page, "03-follow-up")

    with page.expect_download() as info:
        page.click("#ba-export")
    exported = Path(info.value.path()).read_text("utf-8")
    assert f"## 1. {POVERTY}" in exported and f"## 2. {FOLLOW_UP}" in exported
    assert f"**{first.display_label}**" in exported and "  > " in exported

    page.get_by_role("tab", name="Documents").click()
    docs = page.locator("#ba-documents")
    docs.get_by_text("WESP2021_FullReport.pdf").wait_for()
    assert "assistant corpus fetch" in docs.text_content()
    assert "Index: fresh" in docs.text_content()
    oped = assistant.corpus.document("oped")
    page.locator("details.ba-doc[data-doc='oped'] summary").click()
    para = oped.paragraphs[5]
    page.locator("details.ba-doc[data-doc='oped'] button.ba-para-open",
                 has_text=para.label).first.click()
    panel = panel_text(page, para.text[:60])
    assert para.label in panel and "Paragraph" in panel
    shot(page, "04-documents")


def test_doc_filter_clear_and_long_question(page):
    page.locator("#ba-doc").get_by_label("Op-ed", exact=True).check()
    answer = ask(page, POVERTY)
    labels = [b.get_attribute("title") for b in answer.locator("button.ba-cite").all()]
    assert labels and all(label.startswith("Op-ed") for label in labels)

    page.locator("#ba-doc").get_by_label("UN report", exact=True).check()
    answer = ask(page, "How much did world output contract in 2020?")
    assert "4.3 per cent" in answer.text_content()
    labels = [b.get_attribute("title") for b in answer.locator("button.ba-cite").all()]
    assert labels and all(label.startswith("WESP 2021") for label in labels)

    page.fill("#ba-question textarea", "why " * 300)
    page.press("#ba-question textarea", "Enter")
    error = page.locator("#ba-chat .ba-error").last
    error.wait_for()
    assert "the limit is 1000" in error.text_content()
    shot(page, "05-filter-and-long-question")

    page.click("#ba-clear")
    page.wait_for_function("document.querySelectorAll('#ba-chat .ba-answer').length === 0")
    assert "Click a citation" in page.locator("#ba-panel").text_content()


def test_injected_markup_never_runs(page):
    hostile = f"What was the zebra crossing budget of Freedonia {IMG.replace('1', '3')}?"
    answer = ask(page, hostile)
    user = page.locator("#ba-chat .ba-question").last.text_content()
    # markup is stripped from the question before it is shown or answered
    assert user == "What was the zebra crossing budget of Freedonia ?"
    near = answer.locator("button.ba-cite", has_text="[1]").first
    near.click()
    panel = panel_text(page, "Freedonia")
    assert IMG in panel  # the paragraph is shown as text, literally
    assert page.locator("#ba-panel img, #ba-panel script").count() == 0
    assert pwned(page) is None

    answer = ask(page, "How many zebra crossings did Freedonia repaint?")
    assert SCRIPT in answer.text_content() and "javascript:alert(1)" in answer.text_content()
    answer.locator("button.ba-cite", has_text="[1]").first.click()
    assert SCRIPT in panel_text(page, "1,200 zebra crossings")

    page.get_by_role("tab", name="Documents").click()
    doc = page.locator("details.ba-doc[data-doc='injection-test-note']")
    doc.locator("summary").click()
    assert "Freedonia transport note <script>" in doc.text_content()
    doc.locator("button.ba-para-open", has_text="Freedonia note ¶1").click()
    assert IMG in panel_text(page, "77 million ducats")
    page.wait_for_timeout(500)  # give any injected handler the chance to fire
    assert page.locator("#ba-chat img, #ba-panel img, #ba-documents img").count() == 0
    assert page.locator("a[href^='javascript:' i]").count() == 0
    assert pwned(page) is None
    shot(page, "06-injection")


def _raw_get(url: str, path: str) -> int:
    """GET with the path sent byte for byte (httpx would normalise ../ away)."""
    host, port = url.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=30)
    try:
        conn.request("GET", path)
        resp = conn.getresponse()
        body = resp.read()
        assert b"root:" not in body
        return resp.status
    finally:
        conn.close()


def test_no_file_outside_the_app_is_served(app):
    url, _, root = app
    corpus_file = (root / "corpus" / "sources.toml").resolve()
    index_file = (root / "index" / "manifest.json").resolve()
    encoded = [
        "/gradio_api/file=/etc/passwd",
        "/gradio_api/file=" + quote("/etc/passwd", safe=""),
        "/gradio_api/file=..%2F..%2F..%2F..%2F..%2F..%2Fetc%2Fpasswd",
        "/gradio_api/file=%2E%2E/%2E%2E/%2E%2E/%2E%2E/%2E%2E/etc/passwd",
        "/gradio_api/file=..%252F..%252F..%252Fetc%252Fpasswd",
        f"/gradio_api/file={corpus_file}",
        f"/gradio_api/file={index_file}",
        f"/gradio_api/file={Path(__file__).resolve()}",
        "/gradio_api/file=http://127.0.0.1:1/",  # no relaying of remote URLs either
        "/file=/etc/passwd",
        "/gradio_api/file=~/.bashrc",
        "/static/..%2F..%2F..%2F..%2F..%2Fetc%2Fpasswd",
        "/assets/..%2F..%2F..%2F..%2F..%2Fetc%2Fpasswd",
    ]
    with httpx.Client(base_url=url, timeout=30) as client:
        assert client.get("/").status_code == 200
        for path in encoded:
            resp = client.get(path)
            assert resp.status_code in (403, 404), (path, resp.status_code)
            assert "root:" not in resp.text
    for path in ("/gradio_api/file=../../../../../../etc/passwd",
                 "/gradio_api/file=/tmp/../etc/passwd",
                 "/gradio_api/file=./../../../../../../etc/passwd",
                 "/gradio_api/../../../../etc/passwd"):
        assert _raw_get(url, path) in (403, 404), path
    config = httpx.get(url + "/config", timeout=30).json()
    assert config.get("analytics_enabled") is False and not config.get("share_url")
