"""The chat's API endpoint through gradio_client, against the app served on a free loopback
port over the real corpus and the real bundled model (the session's `real_assistant`)."""

from __future__ import annotations

import re
import time

import httpx
import pytest

from assistant.web.render import plain_text
from tests.conftest import free_port

pytestmark = pytest.mark.slow

POVERTY = "How many people were pushed into poverty in Latin America?"


@pytest.fixture(scope="module")
def client(real_assistant, tmp_path_factory):
    from gradio_client import Client

    from assistant.web.app import serve

    port = free_port()
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("GRADIO_TEMP_DIR", str(tmp_path_factory.mktemp("gradio-api")))
        demo = serve(real_assistant, port=port, block=False, quiet=True)
        url = f"http://127.0.0.1:{port}/"
        deadline = time.time() + 60
        while time.time() < deadline:
            try:
                if httpx.get(url, timeout=5).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.5)
        try:
            yield Client(url, verbose=False)
        finally:
            demo.close()


def last_answer(result) -> str:
    messages = result[0]
    assert messages[-1]["role"] == "assistant"
    return plain_text(messages[-1]["content"])


def test_only_the_chat_endpoint_is_public(client):
    api = client.view_api(return_format="dict", print_info=False)
    assert list(api["named_endpoints"]) == ["/chat"]
    params = [p["parameter_name"] for p in api["named_endpoints"]["/chat"]["parameters"]]
    assert params == ["question", "messages", "doc", "backend"]


def test_chat_endpoint_answers_with_a_figure_and_citations(client):
    result = client.predict(POVERTY, [], "all", "extractive", api_name="/chat")
    answer = last_answer(result)
    assert re.search(r"\b45 million\b", answer) and re.search(r"\d", answer)
    assert re.search(r"\[\d+\]", answer)
    html = result[0][-1]["content"][0]["text"] if isinstance(result[0][-1]["content"], list) \
        else result[0][-1]["content"]
    assert 'class="ba-cite"' in html and "Op-ed ¶9" in html
    assert result[1] == ""  # the question box is cleared
    export = result[2]["value"] if isinstance(result[2], dict) else result[2]
    assert str(export).endswith(".md")  # the export is ready (downloaded by the client)
    with open(export, encoding="utf-8") as f:
        assert "## 1. " + POVERTY in f.read()

    # a follow-up through the API: the history is the chat value sent back
    follow = client.predict("Who said that?", result[0], "all", "extractive", api_name="/chat")
    assert "Julian Ventura" in last_answer(follow)
    assert len(follow[0]) == 4


def test_history_argument_is_the_whole_conversation(client, real_assistant):
    """One client calling with history=[] never continues its earlier turns, and two clients
    never see each other's (the turn number in the answer's citations starts at 0 again)."""
    from gradio_client import Client

    first = client.predict(POVERTY, [], "all", "extractive", api_name="/chat")
    again = client.predict("Who said that?", [], "all", "extractive", api_name="/chat")
    assert len(again[0]) == 2 and 'data-turn="0"' in str(again[0][-1]["content"])
    assert "Julian Ventura" not in last_answer(again)  # nothing to resolve "that" against
    other = Client(client.src, verbose=False)
    theirs = other.predict("Who said that?", first[0], "all", "extractive", api_name="/chat")
    assert "Julian Ventura" in last_answer(theirs) and len(theirs[0]) == 4


def test_uploads_are_refused(client):
    url = client.src.rstrip("/")
    for route in ("/gradio_api/upload", "/upload", "/gradio_api/upload/"):
        r = httpx.post(url + route, files={"files": ("x.txt", b"hello", "text/plain")}, timeout=30)
        assert r.status_code == 404 and "/tmp" not in r.text and "x.txt" not in r.text
    assert httpx.get(url + "/gradio_api/upload_progress?upload_id=x", timeout=30).status_code == 404


def test_chat_endpoint_doc_filter_and_long_question(client):
    result = client.predict("How much did world output contract in 2020?", [], "report",
                            "extractive", api_name="/chat")
    assert "4.3 per cent" in last_answer(result)
    result = client.predict("why " * 400, [], "all", "extractive", api_name="/chat")
    assert "the limit is 1000" in last_answer(result)


def test_auth_protects_the_app_and_its_api(real_assistant, tmp_path):
    from gradio_client import Client

    from assistant.web.app import serve

    port = free_port()
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("GRADIO_TEMP_DIR", str(tmp_path))
        demo = serve(real_assistant, port=port, block=False, quiet=True,
                     auth=("ana", "s3cret"))
        url = f"http://127.0.0.1:{port}"
        try:
            assert httpx.get(url + "/config", timeout=30).status_code == 401
            assert httpx.get(url + "/gradio_api/info", timeout=30).status_code == 401
            assert httpx.get(url + "/gradio_api/file=/etc/passwd", timeout=30).status_code in (
                401, 403, 404)
            with pytest.raises(Exception):  # noqa: B017 - the client's own error type varies
                Client(url + "/", verbose=False)
            client = Client(url + "/", auth=("ana", "s3cret"), verbose=False)
            result = client.predict("How many jobs were lost in 2020?", [], "all", "extractive",
                                    api_name="/chat")
            assert "420 million" in last_answer(result)
        finally:
            demo.close()
