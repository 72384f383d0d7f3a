"""The CLI as a user runs it, hashed embedder for speed. Most tests call the real entry point
(`assistant.cli.main`, with its one-red-line error handling) in process, under click's
CliRunner isolation; each command also has one end-to-end run as a subprocess, marked slow."""

import json
import os
import subprocess
import sys
from dataclasses import dataclass

import pytest
from typer.testing import CliRunner

from assistant.cli import main


@dataclass
class Ran:
    stdout: str
    stderr: str
    returncode: int


def invoke_in_process(args, env: dict[str, str]) -> Ran:
    """Run `assistant ARGS` in this process, as the console script does: `main` turns an
    AssistantError or a bad setting into one line on stderr and exit code 1. Settings read
    ASSISTANT_* when each command builds them, so the env given here applies."""
    with CliRunner().isolation(env=env) as (stdout, stderr, _):
        try:
            main(list(args))
            code = 0
        except SystemExit as exc:  # an unhandled exception propagates: a traceback fails the test
            code = exc.code if isinstance(exc.code, int) else 1
        sys.stdout.flush()
        sys.stderr.flush()
        return Ran(stdout.getvalue().decode(), stderr.getvalue().decode("utf-8", "replace"), code)


def invoke_subprocess(args, env: dict[str, str]) -> Ran:
    res = subprocess.run([sys.executable, "-m", "assistant.cli", *args], env=dict(os.environ, **env),
                         capture_output=True, text=True, timeout=300, check=False)
    return Ran(res.stdout, res.stderr, res.returncode)


def _runner(invoke, corpus_dir, tmp_path):
    env = {"ASSISTANT_CORPUS_DIR": str(corpus_dir), "ASSISTANT_INDEX_DIR": str(tmp_path / "index"),
           "ASSISTANT_EMBEDDING_MODEL": "hash:384", "HF_HUB_OFFLINE": "1", "COLUMNS": "200"}

    def run(*args, code=0) -> Ran:
        res = invoke(args, env)
        assert res.returncode == code, res.stderr
        assert "Traceback" not in res.stderr
        return res

    return run


@pytest.fixture
def run(corpus_dir, tmp_path):
    """`run(*args, code=0)`: the CLI in process; checks the exit code and that no traceback."""
    return _runner(invoke_in_process, corpus_dir, tmp_path)


@pytest.fixture(params=["in_process", pytest.param("subprocess", marks=pytest.mark.slow)])
def run_both(request, corpus_dir, tmp_path):
    """The same, once in process and once end to end as a subprocess (slow): used by the one
    test per command that is also run as a user runs it."""
    invoke = invoke_in_process if request.param == "in_process" else invoke_subprocess
    return _runner(invoke, corpus_dir, tmp_path)


def test_rebuild_status_list_show(run_both, corpus_dir):
    run = run_both
    res = run("index", "status", "--json")
    assert json.loads(res.stdout)["fresh"] is False
    res = run("index", "rebuild")
    assert "49 added, 0 changed, 0 removed paragraphs" in res.stdout
    assert "embedding chunks" in res.stderr  # the progress bar
    status = json.loads(run("index", "status", "--json").stdout)
    assert status["fresh"] and status["paragraphs"] == 49
    assert status["documents"][0] == {"doc_id": "oped", "title": "The road back to effective "
                                      "multilateralism: A view from Mexico", "kind": "article",
                                      "paragraphs": 18}
    listing = json.loads(run("corpus", "list", "--json").stdout)
    assert [d["paragraphs"] for d in listing["documents"]] == [18, 31]
    assert listing["missing"] == ["WESP2021_FullReport.pdf"]
    shown = json.loads(run("corpus", "list").stdout and run("search", "Okonjo-Iweala WTO", "--json").stdout)
    pid = shown[0]["paragraph_id"]
    res = json.loads(run("corpus", "show", pid, "--json").stdout)
    assert res["text"].startswith("2. Making the multilateral trading system work")
    assert [c["label"] for c in res["context"]] == ["Op-ed ¶5", "Op-ed ¶6", "Op-ed ¶7"]
    text = run("corpus", "show", pid).stdout
    assert "Op-ed ¶6" in text and "1. Supporting" in text and "3. Putting" in text


def test_clear_errors_without_traceback(run):
    res = run("search", "GDP", code=1)
    assert "No index" in res.stderr and "assistant index rebuild" in res.stderr
    res = run("ask", "How much did world output fall in 2020?", code=1)
    assert "No index" in res.stderr and "assistant index rebuild" in res.stderr
    res = run("ask", "   ", code=1)
    assert "The question is empty" in res.stderr
    res = run("corpus", "show", "oped:nothere", code=1)
    assert "No paragraph 'oped:nothere'" in res.stderr


def test_fetch_fails_with_one_clear_line_when_offline(run_both, corpus_dir):
    run = run_both
    sources = corpus_dir / "sources.toml"
    # a closed loopback port stands in for "no network"; the real URL stays in the real file
    sources.write_text(sources.read_text("utf-8").replace(
        "https://www.un.org/development/desa/dpad/wp-content/uploads/sites/45/WESP2021_FullReport.pdf\"\nfetch = true",
        "http://127.0.0.1:9/WESP2021_FullReport.pdf\"\nfetch = true"), "utf-8")
    res = run("corpus", "fetch", "--timeout", "5", code=1)
    lines = [line for line in res.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "WESP2021_FullReport.pdf" in lines[0]
    assert "cannot download" in lines[0] and "Indexing works without it" in lines[0]
    assert not (corpus_dir / "WESP2021_FullReport.pdf").exists()
    run("index", "rebuild", "-q")  # indexing works without it


def test_real_sources_list_the_report_pdf():
    import tomllib
    from pathlib import Path

    data = tomllib.loads((Path(__file__).parents[1] / "corpus" / "sources.toml").read_text("utf-8"))
    urls = {d["file"]: d["url"] for d in data["document"]}
    assert urls["WESP2021_FullReport.pdf"] == ("https://www.un.org/development/desa/dpad/wp-content/"
                                               "uploads/sites/45/WESP2021_FullReport.pdf")
    assert urls["oped-road-back-to-multilateralism.md"].startswith("https://americas.chathamhouse.org/")


def test_ask_on_a_stale_index_answers_with_a_warning(run_both, corpus_dir):
    run = run_both
    run("index", "rebuild", "-q")
    (corpus_dir / "extra.md").write_text("# Extra\n\nA new paragraph about tariffs.\n", "utf-8")
    res = run("ask", "How much did world gross product contract in 2020?", "--json")
    data = json.loads(res.stdout)
    assert "4.3 per cent" in data["answer"] and data["citations"]
    assert any("stale" in w and "extra.md" in w for w in data["warnings"])
    lines = run("ask", "--batch", str(_batch(corpus_dir)), "--json").stdout.splitlines()
    rows = [json.loads(line) for line in lines]
    assert [r["id"] for r in rows] == ["a", "b", None]
    assert "error" in rows[2]


def _batch(corpus_dir):
    path = corpus_dir.parent / "batch.jsonl"
    path.write_text("\n".join([
        json.dumps({"id": "a", "question": "How much did world gross product contract in 2020?"}),
        json.dumps({"id": "b", "question": "And in 2021?", "history": [
            {"role": "user", "content": "How much did world gross product contract in 2020?"}]}),
        "not json"]) + "\n", "utf-8")
    return path


def test_a_manifest_of_the_wrong_shape_is_one_line_and_rebuild_full_recovers(run, tmp_path):
    run("index", "rebuild", "-q")
    (tmp_path / "index" / "manifest.json").write_text("[1, 2]", encoding="utf-8")
    for args in (("index", "status"), ("ask", "How many people were pushed into poverty?")):
        res = run(*args, code=1)
        assert "assistant index rebuild --full" in res.stderr
        assert len(res.stderr.strip().splitlines()) <= 3
    run("index", "rebuild", "--full", "-q")
    assert json.loads(run("index", "status", "--json").stdout)["fresh"]


def test_corpus_show_flags_a_paragraph_addressed_to_a_model(corpus_dir, tmp_path):
    """In process, with typer's runner: the flag and its reasons are printed, and given
    in --json; a clean neighbour gets none."""

    from assistant.cli import app
    from assistant.corpus.loader import load_corpus
    from tests.corpus.test_injection import ADDRESSED_MD, ADDRESSED_NOTE

    (corpus_dir / ADDRESSED_NOTE).write_text(ADDRESSED_MD, "utf-8")
    pid = next(p.id for p in load_corpus(corpus_dir).paragraphs if "PWNED" in p.text)
    env = {"ASSISTANT_CORPUS_DIR": str(corpus_dir), "ASSISTANT_INDEX_DIR": str(tmp_path / "index"),
           "ASSISTANT_EMBEDDING_MODEL": "hash:384", "COLUMNS": "400"}
    runner = CliRunner()
    res = runner.invoke(app, ["corpus", "show", pid], env=env)
    assert res.exit_code == 0, res.output
    lines = res.output.splitlines()
    warning = [ln for ln in lines if ln.startswith("⚠ This passage contains text addressed")]
    assert len(warning) == 1  # the flagged paragraph, not its clean neighbour
    assert "instructions addressed to a model" in warning[0] and "“Ignore previous" in warning[0]
    assert lines.index(warning[0]) == next(i for i, ln in enumerate(lines) if "PWNED" in ln) - 1
    data = json.loads(runner.invoke(app, ["corpus", "show", pid, "--json"], env=env).output)
    assert [r["code"] for r in data["injection"]] == ["instruction", "role_tag", "citation_marker"]
    clean = next(c["paragraph_id"] for c in data["context"] if "77 million" in c["text"])
    clean_data = json.loads(runner.invoke(app, ["corpus", "show", clean, "--json"], env=env).output)
    assert clean_data["injection"] == []


@pytest.mark.slow
def test_chat_serves_at_once_and_answers_the_first_question(corpus_dir, tmp_path):
    """`assistant chat` builds a missing index, serves the page, loads its parts beside it,
    and answers a question asked as soon as the page is up."""
    import time

    import httpx
    from gradio_client import Client

    from tests.conftest import free_port

    port = free_port()
    env = dict(os.environ, ASSISTANT_CORPUS_DIR=str(corpus_dir),
               ASSISTANT_INDEX_DIR=str(tmp_path / "index"), ASSISTANT_EMBEDDING_MODEL="hash:384",
               HF_HUB_OFFLINE="1", GRADIO_TEMP_DIR=str(tmp_path / "gradio"))
    proc = subprocess.Popen([sys.executable, "-m", "assistant.cli", "chat", "--port", str(port)],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    url = f"http://127.0.0.1:{port}/"
    try:
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                if httpx.get(url, timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.2)
        assert proc.poll() is None, proc.stderr.read()
        result = Client(url, verbose=False).predict("How many jobs were lost in 2020?", [], "all",
                                                    "extractive", api_name="/chat")
        assert "ba-cite" in str(result[0][-1]["content"])
    finally:
        proc.terminate()
        _, stderr = proc.communicate(timeout=30)
    assert "Building the index first" in stderr and "Traceback" not in stderr
