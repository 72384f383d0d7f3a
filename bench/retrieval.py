"""Retrieval side by side, on the same questions in one run: does the right paragraph come
first, is it in the top 3, and how much text does the top 3 hand to the answerer?

    .venv/bin/python bench/retrieval.py [--split dev|test|all]

Configurations: `naive` (llama-index defaults: SentenceSplitter 1024/200 over whole files,
dense top-k chunks; a chunk "contains" every paragraph it overlaps), and this project's
paragraph-level `dense`, `bm25` and `hybrid` (the default) retrievers. Answerable questions
only; follow-ups are resolved as the assistant resolves them. "Right paragraph" = any gold
paragraph of the item (eval/qa.jsonl, quotes resolved to paragraph IDs).
"""

from __future__ import annotations

import argparse

from rich.console import Console
from rich.table import Table


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--split", default="test")
    args = parser.parse_args()
    from assistant.chat import Assistant
    from assistant.evaluate.dataset import load_items
    from assistant.evaluate.runner import NaiveSystem
    from assistant.retrieve import RetrievalConfig

    base = Assistant.from_settings()
    items = [i for i in load_items(base.corpus, args.split) if i.answerable]
    shared = base.embedder
    naive = NaiveSystem(base)
    naive.warm_up()
    systems = {mode: Assistant(base.settings, embedder_factory=lambda *_: shared,
                               retrieval=RetrievalConfig(mode=mode)) for mode in ("dense", "bm25")}
    systems["hybrid"] = base
    rows = {name: [0, 0, 0] for name in ("naive", "dense", "bm25", "hybrid")}
    for item in items:
        gold = set(item.gold)
        query = base.analyse(item.question, list(item.history))  # follow-ups resolved
        hits = naive.retriever.retrieve(query.resolved)[:3]
        first = set(naive.cites[hits[0].node.node_id])
        top3 = set().union(*(naive.cites[h.node.node_id] for h in hits))
        rows["naive"][0] += bool(gold & first)
        rows["naive"][1] += bool(gold & top3)
        rows["naive"][2] += sum(len(h.node.get_content()) for h in hits)
        for name in ("dense", "bm25", "hybrid"):
            passages = systems[name].engine.retriever.search(query, k=3)
            ids = [p.paragraph_id for p in passages]
            rows[name][0] += bool(gold & set(ids[:1]))
            rows[name][1] += bool(gold & set(ids))
            rows[name][2] += sum(len(p.text) for p in passages)
    n = len(items)
    table = Table("retriever", "right paragraph first", "in top 3", "characters in top 3 (mean)",
                  title=f"{n} answerable questions, {args.split} split")
    for name, (first, top3, chars) in rows.items():
        table.add_row(name, f"{first / n:.0%}", f"{top3 / n:.0%}", f"{chars / n:,.0f}")
    Console().print(table)


if __name__ == "__main__":
    main()
