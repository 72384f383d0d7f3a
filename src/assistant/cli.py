"""Command line: parses, wires (through Assistant) and prints. No logic of its own."""

from __future__ import annotations

import json
import sys
import threading
from pathlib import Path
from typing import Annotated

import click
import typer
from pydantic import ValidationError
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from assistant.chat import Assistant
from assistant.config import Settings
from assistant.corpus.injection import summary as injection_summary
from assistant.errors import AssistantError, IndexCorruptError, QuestionError
from assistant.evaluate.report import console_lines, console_table
from assistant.evaluate.runner import compare as compare_configs
from assistant.evaluate.runner import run_eval

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  help="Ask questions of a policy brief; every answer cites its paragraphs.")
index_app = typer.Typer(no_args_is_help=True, help="Build and inspect the embeddings index.")
corpus_app = typer.Typer(no_args_is_help=True, help="Inspect and fetch the corpus documents.")
app.add_typer(index_app, name="index")
app.add_typer(corpus_app, name="corpus")

out = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)


def _assistant(**overrides) -> Assistant:
    return Assistant.from_settings(**{k: v for k, v in overrides.items() if v is not None})


def _print_json(data) -> None:
    sys.stdout.write(json.dumps(data, ensure_ascii=False) + "\n")


@index_app.command("rebuild")
def index_rebuild(
    full: Annotated[bool, typer.Option("--full", help="Re-embed everything from scratch.")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")] = False,
) -> None:
    """Rebuild the index: only new or changed paragraphs are embedded (unless --full)."""
    report = _rebuild_with_progress(_assistant(), full, quiet)
    mode = "full" if report.full else "incremental"
    why = f" ({report.reason_full})" if report.full and report.reason_full else ""
    out.print(f"Index {report.version} built ({mode}{why}): "
              f"{len(report.added)} added, {len(report.changed)} changed, "
              f"{len(report.removed)} removed paragraphs; {report.chunks_embedded} chunks embedded, "
              f"{report.chunks_reused} reused, {report.chunks_total} in all.", highlight=False)


def _rebuild_with_progress(assistant, full: bool = False, quiet: bool = False):
    """Rebuild with a progress bar (counts of chunks embedded) on stderr; print warnings."""
    with Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                  TimeElapsedColumn(), console=err, disable=quiet, transient=False) as bar:
        task = bar.add_task("reading corpus", total=None)

        def progress(stage: str, done: int, total: int) -> None:
            bar.update(task, description="embedding chunks", completed=done, total=total)

        report = assistant.rebuild(full=full, progress=progress)
    for w in report.warnings:
        err.print(f"[yellow]warning:[/] {w}", markup=True, highlight=False)
    return report


@index_app.command("status")
def index_status(
    as_json: Annotated[bool, typer.Option("--json")] = False,
    deep: Annotated[bool, typer.Option("--deep", help="Also run sampled self-queries against "
                                       "the store (loads the query encoder).")] = False,
) -> None:
    """Is the index fresh, and if not, why. Checks the store opens and holds the manifest's
    chunks; --deep also queries it."""
    status = _assistant().status(deep=deep)
    if as_json:
        _print_json(status.to_json())
        return
    data = status.to_json()
    state = "[green]fresh[/]" if status.fresh else "[yellow]stale[/]"
    out.print(f"Index: {state}", highlight=False)
    for r in status.reasons:
        out.print(f"  - {r}", highlight=False)
    if status.manifest:
        out.print(f"{data['paragraphs']} paragraphs, {data['chunks']} chunks, model "
                  f"{data['embedding_model']}, built {data['built_at']} ({data['version']}, "
                  f"{data['store']['mode']})", highlight=False)
    if status.deep is not None:
        d = status.deep
        out.print(f"Self-queries: {d['passed']} of {d['samples']} passed (query encoder: "
                  f"{d['query_encoder']})", highlight=False)
        for failure in d["failures"]:
            out.print(f"  - {failure}", highlight=False)
    if not status.fresh:
        raise typer.Exit(0)


@corpus_app.command("list")
def corpus_list(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Documents in the corpus with their paragraph counts."""
    assistant = _assistant()
    corpus = assistant.corpus
    rows = [{"doc_id": d.doc_id, "title": d.title, "kind": d.kind, "path": d.path,
             "paragraphs": len(d.paragraphs)} for d in corpus.documents]
    from assistant.corpus.fetch import pending  # imports httpx: only for this and `fetch`

    missing = [s["file"] for s in pending(Path(assistant.settings.corpus_dir))]
    if as_json:
        _print_json({"documents": rows, "missing": missing, "warnings": corpus.warnings})
        return
    table = Table("doc_id", "title", "kind", "paragraphs", "file")
    for r in rows:
        table.add_row(r["doc_id"], r["title"], r["kind"], str(r["paragraphs"]), r["path"])
    out.print(table)
    for name in missing:
        out.print(f"Not downloaded: {name} (run `assistant corpus fetch`)", highlight=False)
    for w in corpus.warnings:
        err.print(f"[yellow]warning:[/] {w}", highlight=False)


@corpus_app.command("show")
def corpus_show(
    paragraph_id: str,
    context: Annotated[int, typer.Option(help="Neighbouring paragraphs on each side.")] = 1,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """A paragraph with its neighbours."""
    corpus = _assistant().corpus
    para = corpus.paragraph(paragraph_id)
    if para is None:
        raise AssistantError(f"No paragraph '{paragraph_id}'. IDs look like 'oped:015a5c71'; "
                             "`assistant corpus list` shows the documents and `assistant search "
                             "TEXT` finds paragraphs.")
    doc = corpus.document(para.doc_id)
    lo, hi = max(0, para.position - context), para.position + context + 1
    around = doc.paragraphs[lo:hi]
    if as_json:
        _print_json({"paragraph_id": para.id, "doc_id": doc.doc_id, "doc_title": doc.title,
                     "label": para.label, "kind": para.kind.value, "section": para.section_path,
                     "page": para.page, "text": para.text,
                     "injection": [{"code": r.code, "detail": r.detail} for r in para.injection],
                     "context": [{"paragraph_id": p.id, "label": p.label, "text": p.text}
                                 for p in around]})
        return
    out.print(f"[bold]{doc.title}[/]", highlight=False)
    for p in around:
        where = " · ".join(x for x in (p.section_path, f"p. {p.page}" if p.page else "") if x)
        style = "bold" if p.id == para.id else "dim"
        out.print(f"\n[{style}]{p.label}[/] ({p.id}, {p.kind.value}){' — ' + where if where else ''}",
                  highlight=False)
        if p.injection:
            warning = f"⚠ {injection_summary(p.injection)} Found: " + "; ".join(r.detail for r in p.injection)
            out.print(warning, style="yellow", highlight=False, markup=False)
        out.print(p.text, style=None if p.id == para.id else "dim", highlight=False, markup=False)


@corpus_app.command("fetch")
def corpus_fetch(timeout: Annotated[float, typer.Option(help="Seconds per download.")] = 60.0) -> None:
    """Download the originals listed in corpus/sources.toml that are missing."""
    from assistant.corpus.fetch import fetch_one, pending  # imports httpx: only here and `list`

    corpus_dir = Path(Settings().corpus_dir)
    todo = pending(corpus_dir)
    if not todo:
        out.print("Nothing to fetch: every source with `fetch = true` is present.")
        return
    for source in todo:
        rec = fetch_one(source, corpus_dir, timeout)
        out.print(f"Fetched {rec.file} ({rec.bytes:,} bytes, sha256 {rec.sha256[:16]}…). "
                  "Run `assistant index rebuild` to index it.", highlight=False)


@app.command("search")
def search(query: str, k: Annotated[int, typer.Option("-k")] = 5,
           doc: Annotated[str | None, typer.Option("--doc", help="A doc_id, or 'report'.")] = None,
           as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """The paragraphs nearest a query (hybrid retrieval only, no answer)."""
    assistant = _assistant()
    _warn_if_stale(assistant)
    passages = assistant.search(query, k=k, doc=doc)
    if as_json:
        _print_json([{"paragraph_id": p.paragraph_id, "label": p.label, "kind": p.kind,
                      "score": round(p.score, 4), "text": p.text} for p in passages])
        return
    for p in passages:
        out.print(f"[bold]{p.label}[/] ({p.paragraph_id}, {p.kind}, {p.score:.4f})", highlight=False)
        out.print(p.text[:300], highlight=False, markup=False)


@app.command("ask")
def ask(
    question: Annotated[str | None, typer.Argument(help="The question (omit with --batch).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the JSON of DESIGN.md.")] = False,
    backend: Annotated[str | None, typer.Option(help="extractive | openai | local")] = None,
    doc: Annotated[str | None, typer.Option("--doc", help="Only this doc_id, or 'report'.")] = None,
    batch: Annotated[Path | None, typer.Option(help="JSONL file: {id, question, history}.")] = None,
) -> None:
    """Answer a question with paragraph citations (or every line of a --batch file)."""
    assistant = _assistant()
    if batch is None:
        if question is None:
            raise AssistantError("Give a QUESTION, or --batch FILE.jsonl.")
        answer = assistant.ask(question, backend=backend, doc=doc)
        if as_json:
            _print_json(answer.to_json())
        else:
            _print_answer(answer)
        return
    try:
        lines = batch.read_text("utf-8").splitlines()
    except OSError as exc:
        raise AssistantError(f"Cannot read {batch}: {exc.strerror}.") from None
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
            answer = assistant.ask(item["question"], item.get("history") or [], backend=backend,
                                   doc=item.get("doc", doc))
            data = answer.to_json(item.get("id"))
        except (json.JSONDecodeError, KeyError, TypeError) as exc:
            data = {"id": None, "error": f"line {number}: not a JSON object with a 'question' ({exc})"}
        except QuestionError as exc:
            data = {"id": item.get("id"), "question": item.get("question"), "error": str(exc)}
        if as_json:
            _print_json(data)
        elif "error" in data:
            err.print(f"[red]error:[/] {data['error']}", highlight=False)
        else:
            out.print(f"[bold]{data['id']}[/] {data['question']}", highlight=False)
            _print_answer(answer)


@app.command("chat")
def chat(
    host: Annotated[str, typer.Option(help="Interface to listen on (loopback by default).")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port of the web chat.")] = 7860,
    auth: Annotated[str | None, typer.Option(
        help="USER:PASS required to open the chat (or set ASSISTANT_CHAT_AUTH, which keeps the "
             "password out of the process list).")] = None,
    concurrency: Annotated[int | None, typer.Option(
        help="Questions answered at the same time (default: the chat_concurrency setting, 2).")] = None,
    max_queue: Annotated[int | None, typer.Option(
        help="Questions waiting at most; more are told to retry (default: the chat_max_queue "
             "setting, 64).")] = None,
) -> None:
    """Start the web chat: builds the index first if it is missing or stale."""
    credentials = None
    auth = auth if auth is not None else Settings().chat_auth
    if auth is not None:
        user, sep, password = auth.partition(":")
        if not sep or not user or not password:
            raise AssistantError("--auth takes USER:PASS (both non-empty), e.g. --auth ana:s3cret.")
        credentials = (user, password)
    assistant = _assistant()
    try:
        status = assistant.status()
        fresh, reasons, full = status.fresh, status.reasons, False
    except IndexCorruptError as exc:
        fresh, reasons, full = False, [str(exc)], True
    if not fresh:
        err.print("Building the index first (" + "; ".join(reasons) + ").", highlight=False)
        report = _rebuild_with_progress(assistant, full)
        out.print(f"Index {report.version} built: {report.chunks_total} chunks.", highlight=False)
    from assistant.web.app import serve  # gradio takes ~2 s to import: only the chat needs it

    # the page is served at once; the parser, index and retriever load beside it (a question
    # asked meanwhile waits for them: the Assistant builds each part once, under a lock)
    demo = serve(assistant, host=host, port=port, auth=credentials, concurrency=concurrency,
                 max_size=max_queue, block=False)
    threading.Thread(target=_warm_up, args=(assistant,), name="warm-up", daemon=True).start()
    demo.block_thread()


def _warm_up(assistant) -> None:
    try:
        assistant.warm_up()
    except AssistantError as exc:  # the chat stays up and shows the same message per question
        err.print(f"[yellow]warning:[/] {exc}", highlight=False)


def _print_answer(answer) -> None:
    for w in answer.warnings:
        err.print(f"[yellow]warning:[/] {w}", highlight=False)
    out.print(answer.text, highlight=False, markup=False)
    if answer.refusal is not None:
        out.print(f"[dim]({answer.refusal.check}: {answer.refusal.detail})[/]", highlight=False)
    title = "Nearest passages:" if answer.refused else "Sources:"
    out.print(f"\n[bold]{title}[/]", highlight=False)
    for c in answer.citations:
        excerpt = c.text if len(c.text) <= 240 else c.text[:237] + "..."
        flag = "" if c.supported or answer.refused else " [red](not supported)[/]"
        out.print(f"[{c.n}] [bold]{c.display_label}[/]{flag} ({c.paragraph_id})", highlight=False)
        out.print(f"    {excerpt}", highlight=False, markup=False)


def _warn_if_stale(assistant) -> None:
    status = assistant.status()
    if status.manifest and not status.fresh:
        err.print("[yellow]warning:[/] the index is stale (" + "; ".join(status.reasons) + ")",
                  highlight=False)


@app.command("eval")
def eval_command(
    backend: Annotated[str, typer.Option(help="extractive | naive | dense | bm25 | openai | local")]
    = "extractive",
    split: Annotated[str, typer.Option(help="dev | test | all (dev and test side by side)")] = "all",
    as_json: Annotated[bool, typer.Option("--json", help="Print the summary as JSON.")] = False,
    out_dir: Annotated[Path, typer.Option("--out", help="Where result folders go.")]
    = Path("eval/results"),
    compare: Annotated[tuple[str, str] | None, typer.Option(
        help="Run two configurations on the same items and compare (test split, hand-written "
             "items; dev with --split dev): --compare naive extractive")]
    = None,
) -> None:
    """Answer the question set (eval/qa.jsonl) and the generated perturbations and score them;
    writes report.md, results.json and summary.png under --out."""
    assistant = _assistant()
    _warn_if_stale(assistant)
    if compare and all(compare):
        result = compare_configs(*compare, split=split, assistant=assistant, out_dir=out_dir,
                                 progress=True, print_table=not as_json)
        if as_json:
            _print_json(result)
        return
    results = run_eval(assistant, backend, split, out_dir, progress=True)
    if as_json:
        _print_json({k: results[k] for k in ("backend", "split", "n", "n_hand_written", "dir",
                                             "overall_split", "overall", "by_type", "splits",
                                             "dev_test_gap")})
        return
    out.print(console_table(results))
    for line in console_lines(results):
        out.print(line, highlight=False)
    out.print(f"Report: {results['dir']}/report.md", highlight=False)


def main(args: list[str] | None = None) -> None:
    """The `assistant` command: runs the app on args (the command line by default); an
    AssistantError or a bad setting becomes one red line on stderr and exit code 1."""
    try:
        app(args=args, standalone_mode=False)
    except AssistantError as exc:
        err.print(f"[red]error:[/] {exc}", highlight=False)
        sys.exit(1)
    except ValidationError as exc:  # a setting from assistant.toml, ASSISTANT_* or a flag
        for e in exc.errors():
            name = ".".join(str(x) for x in e["loc"])
            err.print(f"[red]error:[/] setting {name} (ASSISTANT_{name.upper()}): {e['msg']}.",
                      highlight=False)
        sys.exit(1)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except (typer.Abort, KeyboardInterrupt):
        err.print("aborted")
        sys.exit(130)
    except click.ClickException as exc:  # usage errors: a bad option or a missing argument
        exc.show()
        sys.exit(exc.exit_code)


if __name__ == "__main__":
    main()
