"""Index and query figures on synthetic corpora of growing size, measured in one run.

    python bench/scale.py --sizes 1000,10000,100000 [--seed 7] [--work /tmp/scale-bench]

For each size it generates a corpus (bench/synth_corpus.py, outside the repo), then runs each
phase in its own subprocess, so the peak RSS reported is that phase's own:

* full      ``Assistant.rebuild(full=True)`` with the bundled model
* raw       sentence-transformers ``encode`` of the very texts the rebuild embedded (chunk texts
            with their context, and the sentence-sidecar units), same batch size and threads:
            the floor the rebuild is compared with (ratio = raw time / rebuild time); and the
            same texts through the ONNX encoder alone, which is what the rebuild embeds with
            once the model is exported (ratio to that: the rebuild's own overhead)
* noop      ``rebuild()`` again with nothing changed
* incr-1%   ``rebuild()`` after 1% of the paragraphs were edited
* query     warm retrieval (``Assistant.search``) and full answers (``Assistant.ask``) for a
            fixed list of questions: p50 / p95

Results go to ``<work>/scale-results.json`` and ``.md`` and are printed as a table. Not a
test: the figures depend on the machine and on whatever else runs on it.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))

BUNDLED = "bundled:all-MiniLM-L6-v2"
# Written for this benchmark about the corpus's subjects (not taken from eval/qa.jsonl).
QUESTIONS = [
    "How much did world output contract in 2020?",
    "What happened to developed economies' output?",
    "How many jobs were lost during the pandemic?",
    "What does the report say about fiscal stimulus?",
    "What are the policy priorities for the recovery?",
    "What is the outlook for the least developed countries?",
    "What should the multilateral trading system do?",
    "Why does vaccine access matter for the recovery?",
    "What role can Mexico play in the Americas?",
    "How did lockdowns affect workers?",
    "What is said about inequality and inclusion?",
    "What happened to commodity prices?",
    "How did international trade change?",
    "What does the article say about climate commitments?",
    "Which regions were hit hardest?",
    "What was the impact on poverty?",
]


def _settings(corpus: Path, index: Path):
    from assistant.config import Settings

    return Settings(corpus_dir=corpus, index_dir=index, embedding_model=BUNDLED)


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


# -- phases (each runs in a fresh subprocess) ------------------------------------------------------
def phase_rebuild(corpus: Path, index: Path, full: bool) -> dict:
    from assistant.chat import Assistant

    assistant = Assistant(_settings(corpus, index))
    assistant.embedder.model  # noqa: B018 - load the model outside the timing, as raw does
    t0 = time.perf_counter()
    report = assistant.rebuild(full=full)
    seconds = time.perf_counter() - t0
    return {"seconds": seconds, "chunks": report.chunks_total, "embedded": report.chunks_embedded,
            "changed": len(report.changed), "added": len(report.added),
            "warnings": report.warnings[:5]}


def embedded_texts(corpus: Path, index: Path) -> tuple[list[str], list[str]]:
    """The chunk texts and the sidecar unit texts of the built index, as the rebuild embeds them."""
    from assistant.config import Settings
    from assistant.corpus.loader import load_corpus
    from assistant.index.chunks import chunk_corpus
    from assistant.index.embedding import load_embedder
    from assistant.index.manifest import read_manifest
    from assistant.index.sentences import sidecar_dir
    from assistant.nlp import sentences as parser_sentences

    settings: Settings = _settings(corpus, index)
    embedder = load_embedder(BUNDLED)
    loaded = load_corpus(corpus, settings.max_file_mb, settings.max_paragraphs_per_file,
                         settings.max_corpus_paragraphs)
    chunks = chunk_corpus(loaded, embedder.count_tokens,
                          settings.chunk_max_tokens,
                          split=lambda text: parser_sentences(text, settings.spacy_pipeline))
    manifest = read_manifest(index)
    meta = json.loads((sidecar_dir(index, manifest.version) / "units.json").read_text("utf-8"))
    units = [entry["text"][s:e].strip() for entry in meta["paragraphs"] for s, e in entry["units"]]
    return [c.embed_text for c in chunks], units


def phase_raw(corpus: Path, index: Path) -> dict:
    import torch

    from assistant.config import Settings
    from assistant.index.embedding import load_embedder

    chunk_texts, unit_texts = embedded_texts(corpus, index)
    settings = Settings()
    embedder = load_embedder(BUNDLED, settings.embed_batch_size, settings.torch_threads)
    from sentence_transformers import SentenceTransformer

    torch.set_num_threads(settings.torch_threads)
    model = SentenceTransformer(str(embedder.path), device="cpu")
    t0 = time.perf_counter()
    model.encode(chunk_texts, batch_size=settings.embed_batch_size, normalize_embeddings=True)
    model.encode(unit_texts, batch_size=settings.embed_batch_size, normalize_embeddings=True)
    seconds = time.perf_counter() - t0
    # the encoder the rebuild itself uses once the model is exported: ONNX Runtime, same texts
    from assistant.index.onnx_encoder import OnnxEncoder, onnx_file

    encoder = OnnxEncoder(onnx_file(index / "models", embedder.info.name, embedder.info.fingerprint),
                          embedder.path, embedder.max_tokens, settings.torch_threads)
    t0 = time.perf_counter()
    for texts in (chunk_texts, unit_texts):
        order = sorted(texts, key=len, reverse=True)
        for i in range(0, len(order), settings.embed_batch_size):
            encoder.encode(order[i:i + settings.embed_batch_size])
    return {"seconds": seconds, "onnx_seconds": time.perf_counter() - t0,
            "texts": len(chunk_texts) + len(unit_texts),
            "chunk_texts": len(chunk_texts), "unit_texts": len(unit_texts)}


def phase_query(corpus: Path, index: Path) -> dict:
    from assistant.chat import Assistant

    assistant = Assistant(_settings(corpus, index))
    t0 = time.perf_counter()
    assistant.warm_up()
    load = time.perf_counter() - t0
    retrieve, answer = [], []
    for q in QUESTIONS:
        t = time.perf_counter()
        assistant.search(q)
        retrieve.append((time.perf_counter() - t) * 1000)
        t = time.perf_counter()
        assistant.ask(q)
        answer.append((time.perf_counter() - t) * 1000)
    return {"load_seconds": load, "retrieve_ms": retrieve, "answer_ms": answer}


def worker(argv: list[str]) -> None:
    phase, corpus, index = argv[0], Path(argv[1]), Path(argv[2])
    if phase in ("full", "noop", "incr"):
        out = phase_rebuild(corpus, index, full=phase == "full")
    elif phase == "raw":
        out = phase_raw(corpus, index)
    else:
        out = phase_query(corpus, index)
    out["peak_rss_mb"] = _peak_rss_mb()
    print("RESULT " + json.dumps(out))


# -- orchestration ---------------------------------------------------------------------------------
def run_phase(phase: str, corpus: Path, index: Path, log) -> dict:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1",
           "ANONYMIZED_TELEMETRY": "False", "TOKENIZERS_PARALLELISM": "false"}
    env = {k: v for k, v in env.items() if not k.startswith("ASSISTANT_")}
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, __file__, "--worker", phase, str(corpus), str(index)],
                          cwd=index.parent, env=env, capture_output=True, text=True, check=False)
    log(f"  {phase}: {time.perf_counter() - t0:.1f} s wall (process)")
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")]
    if proc.returncode != 0 or not lines:
        raise SystemExit(f"phase {phase} failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    return json.loads(lines[-1][7:])


def edit_one_percent(corpus: Path, seed: int) -> int:
    """Change about 1% of the prose paragraphs in place (a word appended); returns how many."""
    import random

    rng = random.Random(seed)
    edited = 0
    for path in sorted(corpus.glob("synth-*.md")):
        blocks = path.read_text("utf-8").split("\n\n")
        for i, block in enumerate(blocks):
            if block and block[0].isalpha() and rng.random() < 0.01:
                blocks[i] = block + f" Revised {rng.randint(1, 10**6)}."
                edited += 1
        path.write_text("\n\n".join(blocks), "utf-8")
    return edited


def percentile(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, round(q * (len(values) - 1)))]


def dir_mb(path: Path) -> float:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) / 1e6


def measure(size: int, work: Path, seed: int, per_file: int, log) -> dict:
    from synth_corpus import generate

    corpus, index = work / f"corpus-{size}", work / f"index-{size}"
    shutil.rmtree(index, ignore_errors=True)
    files = generate(corpus, size, seed=seed, per_file=per_file)
    log(f"size {size}: {len(files)} files, {sum(f.stat().st_size for f in files) / 1e6:.1f} MB")
    full = run_phase("full", corpus, index, log)
    raw = run_phase("raw", corpus, index, log)
    noop = run_phase("noop", corpus, index, log)
    edited = edit_one_percent(corpus, seed)
    incr = run_phase("incr", corpus, index, log)
    query = run_phase("query", corpus, index, log)
    from assistant.corpus.loader import load_corpus

    paragraphs = len(load_corpus(corpus).paragraphs)
    return {
        "size": size, "paragraphs": paragraphs, "files": len(files), "full": full, "raw": raw,
        "ratio": raw["seconds"] / full["seconds"], "onnx_ratio": raw["onnx_seconds"] / full["seconds"], "noop": noop, "incr": {**incr, "edited": edited},
        "query": {**query, "retrieve_p50": percentile(query["retrieve_ms"], 0.5),
                  "retrieve_p95": percentile(query["retrieve_ms"], 0.95),
                  "answer_p50": percentile(query["answer_ms"], 0.5),
                  "answer_p95": percentile(query["answer_ms"], 0.95)},
        "index_mb": dir_mb(index),
    }


ROWS = [
    ("paragraphs", lambda r: f"{r['paragraphs']:,}"),
    ("full rebuild s", lambda r: f"{r['full']['seconds']:.1f}"),
    ("full paragraphs/s", lambda r: f"{r['paragraphs'] / r['full']['seconds']:.1f}"),
    ("raw encode s (same texts)", lambda r: f"{r['raw']['seconds']:.1f} ({r['raw']['texts']:,} texts)"),
    ("raw encode paragraphs/s", lambda r: f"{r['paragraphs'] / r['raw']['seconds']:.1f}"),
    ("rebuild / raw throughput", lambda r: f"{r['ratio']:.2f}x"),
    ("raw ONNX encode s (same texts)", lambda r: f"{r['raw']['onnx_seconds']:.1f}"),
    ("rebuild / raw ONNX throughput", lambda r: f"{r['onnx_ratio']:.2f}x"),
    ("noop rebuild s", lambda r: f"{r['noop']['seconds']:.2f}"),
    ("1% changed rebuild s", lambda r: f"{r['incr']['seconds']:.1f} ({r['incr']['edited']} edited)"),
    ("retrieval p50 / p95 ms", lambda r: f"{r['query']['retrieve_p50']:.0f} / {r['query']['retrieve_p95']:.0f}"),
    ("answer p50 / p95 ms", lambda r: f"{r['query']['answer_p50']:.0f} / {r['query']['answer_p95']:.0f}"),
    ("query process load s", lambda r: f"{r['query']['load_seconds']:.1f}"),
    ("peak RSS MB full / raw", lambda r: f"{r['full']['peak_rss_mb']:.0f} / {r['raw']['peak_rss_mb']:.0f}"),
    ("peak RSS MB noop / incr / query",
     lambda r: f"{r['noop']['peak_rss_mb']:.0f} / {r['incr']['peak_rss_mb']:.0f} / {r['query']['peak_rss_mb']:.0f}"),
    ("index on disk MB", lambda r: f"{r['index_mb']:.1f}"),
]


def machine() -> str:
    cpu = next((ln.split(":", 1)[1].strip() for ln in Path("/proc/cpuinfo").read_text().splitlines()
                if ln.startswith("model name")), "?")
    mem = next((ln.split()[1] for ln in Path("/proc/meminfo").read_text().splitlines()
                if ln.startswith("MemTotal")), "0")
    return f"{os.cpu_count()} CPUs ({cpu}), {int(mem) / 1e6:.1f} GB RAM, Python {sys.version.split()[0]}"


def markdown(results: list[dict], command: str) -> str:
    lines = [f"Command: `{command}`", "", f"Machine: {machine()}", "",
             "| | " + " | ".join(f"{r['size']:,}" for r in results) + " |",
             "|---|" + "---|" * len(results)]
    lines += [f"| {name} | " + " | ".join(fmt(r) for r in results) + " |" for name, fmt in ROWS]
    return "\n".join(lines) + "\n"


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--worker":
        worker(sys.argv[2:])
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,10000")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--per-file", type=int, default=500)
    parser.add_argument("--work", type=Path, default=Path("/tmp/scale-bench"))
    args = parser.parse_args()
    from rich.console import Console
    from rich.table import Table

    err = Console(stderr=True)
    args.work.mkdir(parents=True, exist_ok=True)
    command = "python bench/scale.py " + " ".join(sys.argv[1:])
    results: list[dict] = []
    for size in (int(s) for s in re.split(r"[ ,]+", args.sizes.strip()) if s):
        results.append(measure(size, args.work, args.seed, args.per_file, err.print))
        (args.work / "scale-results.json").write_text(json.dumps(
            {"command": command, "machine": machine(), "results": results}, indent=1), "utf-8")
        (args.work / "scale-results.md").write_text(markdown(results, command), "utf-8")
    table = Table("", *(f"{r['size']:,}" for r in results), title=f"scale ({machine()})")
    for name, fmt in ROWS:
        table.add_row(name, *(fmt(r) for r in results))
    Console().print(table)
    err.print(f"written: {args.work / 'scale-results.json'} and .md")


if __name__ == "__main__":
    main()
