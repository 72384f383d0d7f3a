"""Run a configuration over the question set, score it, and write the report.

Items: every eval/qa.jsonl item of the split(s) plus the generated perturbation suite
(``dataset.perturbation_items``) of the same split(s). Each result row records its ``set``:

* ``original``: the 120 hand-written questions;
* ``paraphrase``: hand-written rephrasings of an original (``paraphrase_of``; same group);
* ``false_premise_new``: the hand-written false premises added with them (ids ``fp2-``);
* ``perturbation``: generated (``perturbation`` none | entity | figure | year).

The metrics of a split are over its hand-written items (the first three sets); the gate reads
``results["overall"]``, the test split's (dev's when only dev ran). Perturbations, the per-set
breakdown, paraphrase consistency and refusal checks are reported per split beside them.

Configurations:

* ``extractive`` (default), ``openai``, ``local``: ``Assistant.ask(question, history,
  backend=...)``; the retrieval ranking scored is ``assistant.engine.retriever.search`` of
  ``assistant.analyse(answer.resolved_question)`` (the history is already resolved in it).
  An LLM backend that is not reachable stops the run; answers that fell back to extractive
  are scored as given and counted in ``fallbacks``.
* ``dense``, ``bm25``: the extractive answerer over a single retriever
  (``RetrievalConfig(mode=...)``), for the retrieval comparison.
* ``naive``: llama-index's defaults, as a baseline: ``SentenceSplitter(chunk_size=1024,
  chunk_overlap=200)`` over each whole document file, embedded with the same bundled model into
  an in-memory ``VectorStoreIndex``, dense top-2; the answer is the retrieved chunks, each
  sentence citing every paragraph its chunk overlaps. It never refuses and ignores the
  conversation history. Its ranking is the top-10 chunks, each expanded to its paragraphs in
  document order.
"""

from __future__ import annotations

import time
import tomllib
from datetime import UTC, datetime
from difflib import SequenceMatcher
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from assistant.answer.types import Answer, Citation, Sentence
from assistant.chat import Assistant
from assistant.corpus.text import normalise, split_sentences
from assistant.errors import AssistantError
from assistant.evaluate.dataset import DEFAULT_QA, Item, load_items, perturbation_items
from assistant.evaluate.metrics import (
    METRICS,
    SupportJudge,
    by_type,
    dev_test_gap,
    gap_failures,
    gate_failures,
    paraphrase_consistency,
    perturbation_summary,
    refusal_checks,
    score_item,
    summarise,
)
from assistant.evaluate.report import compare_table, write_report
from assistant.retrieve import RetrievalConfig

CONFIGS = ("extractive", "naive", "dense", "bm25", "openai", "local")
RANK_DEPTH = 10
SETS = ("original", "paraphrase", "false_premise_new", "perturbation")
HAND_WRITTEN = SETS[:3]
SPLIT_NAMES = ("dev", "test")


def item_set(item: Item) -> str:
    """Which set an item belongs to (see the module doc)."""
    if item.perturbation is not None:
        return "perturbation"
    if item.paraphrase_of:
        return "paraphrase"
    if item.id.startswith("fp2-"):
        return "false_premise_new"
    return "original"


class AssistantSystem:
    def __init__(self, assistant, backend: str = "extractive"):
        self.assistant, self.backend = assistant, backend

    def warm_up(self) -> None:
        if self.backend != "extractive":  # never score extractive answers under an LLM's name
            try:
                self.assistant.backends.get(self.backend).check()
            except AssistantError as exc:
                raise AssistantError(f"Cannot evaluate the {self.backend} backend: {exc}") from None
        self.assistant.warm_up()

    def run(self, item: Item) -> tuple[Answer, list[str]]:
        answer = self.assistant.ask(item.question, list(item.history), backend=self.backend)
        query = self.assistant.analyse(answer.resolved_question or item.question)  # history resolved
        ranking = [p.paragraph_id for p in self.assistant.engine.retriever.search(query, k=RANK_DEPTH)]
        return answer, ranking


class NaiveSystem:
    """llama-index defaults (see the module doc). Built in ``warm_up``."""

    min_overlap = 40  # characters of a paragraph a chunk must share to cite it

    def __init__(self, assistant, top_k: int = 2):
        self.assistant, self.top_k = assistant, top_k

    def warm_up(self) -> None:
        # llama-index: only the naive baseline builds an index of its own
        from llama_index.core import Document, VectorStoreIndex
        from llama_index.core.node_parser import SentenceSplitter

        corpus, root = self.assistant.corpus, Path(self.assistant.settings.corpus_dir)
        docs = [Document(text=self._file_text(root, d), metadata={"file_name": d.path},
                         id_=d.doc_id) for d in corpus.documents]
        nodes = SentenceSplitter(chunk_size=1024, chunk_overlap=200).get_nodes_from_documents(docs)
        self.paragraphs = {d.doc_id: d.paragraphs for d in corpus.documents}
        self.docs = {d.doc_id: d for d in corpus.documents}
        self.cites = {n.node_id: self._overlapping(n.text, n.ref_doc_id) for n in nodes}
        index = VectorStoreIndex(nodes, embed_model=self.assistant.embedder.model)
        self.retriever = index.as_retriever(similarity_top_k=RANK_DEPTH)

    @staticmethod
    def _file_text(root: Path, doc) -> str:
        """What SimpleDirectoryReader would read: the file's text (joined paragraphs for a PDF)."""
        if doc.path.lower().endswith(".pdf"):
            return "\n\n".join(p.text for p in doc.paragraphs)
        return (root / doc.path).read_text("utf-8", errors="replace")

    def _overlapping(self, chunk: str, doc_id: str) -> list[str]:
        """Paragraphs sharing at least min_overlap characters (or all of themselves) with the
        chunk, compared normalised."""
        chunk = normalise(chunk).lower()
        out = []
        for p in self.paragraphs[doc_id]:
            text = p.search_text.lower()
            m = SequenceMatcher(None, text, chunk, autojunk=False).find_longest_match(
                0, len(text), 0, len(chunk))
            if m.size >= min(self.min_overlap, len(text)):
                out.append(p.id)
        return out

    def run(self, item: Item) -> tuple[Answer, list[str]]:
        t0 = time.perf_counter()
        hits = self.retriever.retrieve(item.question)
        t1 = time.perf_counter()
        ranking = list(dict.fromkeys(pid for h in hits for pid in self.cites[h.node.node_id]))
        numbering: dict[str, int] = {}
        sentences = []
        for hit in hits[:self.top_k]:
            marks = [numbering.setdefault(pid, len(numbering) + 1)
                     for pid in self.cites[hit.node.node_id]]
            for block in hit.node.get_content().split("\n\n"):
                sentences += [Sentence(s, marks) for s in split_sentences(block) if any(
                    ch.isalpha() for ch in s)]
        citations = [self._citation(n, pid) for pid, n in numbering.items()]
        answer = Answer(item.question, sentences, citations, False, "naive",
                        resolved_question=item.question)
        t2 = time.perf_counter()
        answer.timings_ms = {"retrieve": (t1 - t0) * 1000, "answer": (t2 - t1) * 1000,
                             "total": (t2 - t0) * 1000}
        return answer, ranking

    def _citation(self, n: int, pid: str) -> Citation:
        doc = self.docs[pid.split(":", 1)[0]]
        p = doc.by_id(pid)
        return Citation(n, pid, doc.doc_id, doc.title, p.label, p.page, p.section_path, p.text, 0.0)


def system_name(config: str) -> str:
    """The Answer.backend a configuration's answers carry (others are fallbacks)."""
    return "extractive" if config in ("dense", "bm25") else config


def make_system(config: str, assistant):
    if config not in CONFIGS:
        raise AssistantError(f"Unknown configuration '{config}'. Use one of: {', '.join(CONFIGS)}.")
    if config == "naive":
        return NaiveSystem(assistant)
    if config in ("dense", "bm25"):
        shared = assistant.embedder
        assistant = Assistant(assistant.settings, embedder_factory=lambda *_: shared,
                              retrieval=RetrievalConfig(mode=config))
        return AssistantSystem(assistant, "extractive")
    return AssistantSystem(assistant, config)


def eval_items(assistant, split: str = "all", qa_path: Path = DEFAULT_QA,
               perturbations: bool = True) -> list[Item]:
    """The qa.jsonl items of the split(s), then the perturbation items of the same split(s)."""
    items = load_items(assistant.corpus, split, qa_path)
    if perturbations:
        items += [i for i in perturbation_items(assistant.corpus, assistant.nlp)
                  if split == "all" or i.split == split]
    return items


def run_eval(assistant, backend: str = "extractive", split: str = "all",
             out_dir: Path | None = Path("eval/results"), progress: bool = True,
             qa_path: Path = DEFAULT_QA, perturbations: bool = True) -> dict:
    """Answer and score every item of the split ("dev", "test" or "all": both) and the
    perturbation suite of the same split(s); write report.md, results.json and summary.png
    under out_dir/<UTC timestamp>-<backend>/ unless out_dir is None. Returns the results
    (``summarise_results``)."""
    started = datetime.now(UTC)
    items = eval_items(assistant, split, qa_path, perturbations)
    system = make_system(backend, assistant)
    t0 = time.perf_counter()
    system.warm_up()
    t1 = time.perf_counter()
    judge = SupportJudge(assistant.embed_sentences)
    rows, answer_s, score_s = [], 0.0, 0.0
    with Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                  TimeElapsedColumn(), console=Console(stderr=True), disable=not progress) as bar:
        for item in bar.track(items, description=f"{backend} on {split}"):
            a = time.perf_counter()
            answer, ranking = system.run(item)
            b = time.perf_counter()
            scores = score_item(item, answer, ranking, judge)
            score_s += time.perf_counter() - b
            answer_s += b - a
            rows.append(result_row(item, answer, ranking, scores))
    results = {
        "backend": backend, "split": split, "started": started.isoformat(timespec="seconds"),
        "fallbacks": sum(r["answered_by"] != system_name(backend) for r in rows),
        "judge": {"kind": "verify.support_score proxy", "threshold": judge.threshold},
        "run_seconds": {"warm_up": t1 - t0, "answering": answer_s, "scoring": score_s},
        **summarise_results(rows, split), "items": rows,
    }
    if out_dir is not None:
        results["dir"] = str(write_report(results, Path(out_dir)))
    return results


def result_row(item: Item, answer: Answer, ranking: list[str], scores: dict) -> dict:
    """One item's row of results.json."""
    return {"id": item.id, "set": item_set(item), "split": item.split, "group": item.group,
            "type": item.type, "perturbation": item.perturbation, "paraphrase_of": item.paraphrase_of,
            "question": item.question, "history": list(item.history),
            "resolved_question": answer.resolved_question, "gold": list(item.gold),
            "ranking": ranking, "reference": item.reference, "answerable": item.answerable,
            "refused": answer.refused,
            "refusal_check": answer.refusal.check if answer.refusal is not None else None,
            "answer": answer.to_json(item.id), "answered_by": answer.backend,
            "latency_ms": answer.timings_ms.get("total"), "timings_ms": answer.timings_ms,
            "scores": scores}


def split_summary(rows: list[dict]) -> dict:
    """One split's rows (every set) -> its metrics over the hand-written items, plus the
    breakdown by set, paraphrase consistency, refusal checks and the perturbation summary."""
    hand = [r for r in rows if r["set"] in HAND_WRITTEN]
    pert = [r for r in rows if r["set"] == "perturbation"]
    return {**summarise(hand),
            "by_set": {name: summarise([r for r in rows if r["set"] == name], consistency=False)
                       for name in SETS if any(r["set"] == name for r in rows)},
            "paraphrase_consistency": paraphrase_consistency(hand),
            "refusal_checks": refusal_checks(hand),
            "perturbations": perturbation_summary(pert) if pert else None}


def summarise_results(rows: list[dict], split: str) -> dict:
    """The aggregate part of the results: "n" (every row), "splits" ({dev, test}: see
    ``split_summary``), "overall_split" and "overall" (the gated metrics: the test split's
    hand-written items, or dev's when only dev ran), "by_type" (of the same items) and
    "dev_test_gap" (empty unless both splits ran)."""
    splits = {name: split_summary([r for r in rows if r["split"] == name])
              for name in SPLIT_NAMES if any(r["split"] == name for r in rows)}
    overall_split = "dev" if split == "dev" else "test"
    gated = [r for r in rows if r["split"] == overall_split and r["set"] in HAND_WRITTEN]
    overall = {key: value for key, value in splits[overall_split].items()
               if key in ("n", "metrics", "counts")} if overall_split in splits else summarise(gated)
    gap = (dev_test_gap(splits["dev"]["metrics"], splits["test"]["metrics"])
           if {"dev", "test"} <= set(splits) else {})
    return {"n": len(rows), "n_hand_written": sum(r["set"] in HAND_WRITTEN for r in rows),
            "overall_split": overall_split, "overall": overall, "by_type": by_type(gated),
            "splits": splits, "dev_test_gap": gap, "targets": targets(overall, gap)}


THRESHOLDS = Path("eval/thresholds.toml")


def targets(overall: dict, gap: dict, path: Path = THRESHOLDS) -> dict:
    """The product targets of eval/thresholds.toml ([target.*]) and which are missed, with the
    figures (empty when the file has none)."""
    try:
        target = tomllib.loads(Path(path).read_text("utf-8")).get("target", {})
    except (OSError, tomllib.TOMLDecodeError):
        target = {}
    missed = gate_failures(overall.get("metrics", {}), target) if target else []
    missed += gap_failures(gap, target.get("max_gap", {})) if target and gap else []
    return {"table": target, "missed": missed}


def compare(config_a: str, config_b: str, split: str = "test", assistant=None,
            out_dir: Path | None = None, progress: bool = True, print_table: bool = True) -> dict:
    """Run two configurations on the same items; print and return a side-by-side table with
    deltas (B - A), overall and per type: over the hand-written items of the test split (of
    dev when split is "dev")."""
    if assistant is None:
        assistant = Assistant.from_settings()
    split = "dev" if split == "dev" else "test"  # dev would only slow "all" down: not compared
    a = run_eval(assistant, config_a, split, out_dir, progress)
    b = run_eval(assistant, config_b, split, out_dir, progress)
    rows = []
    for name in METRICS:
        va, vb = a["overall"]["metrics"].get(name), b["overall"]["metrics"].get(name)
        delta = vb - va if va is not None and vb is not None else None
        rows.append({"metric": name, "a": va, "b": vb, "delta": delta})
    result = {"split": a["overall_split"], "a": config_a, "b": config_b, "n": a["overall"]["n"],
              "rows": rows,
              "by_type": {t: {"a": a["by_type"][t]["metrics"], "b": b["by_type"][t]["metrics"]}
                          for t in a["by_type"]},
              "dirs": [a.get("dir"), b.get("dir")]}
    if print_table:
        Console().print(compare_table(result))
    return result
