"""Calibrate the extractive answerer's evidence threshold (ExtractiveConfig.min_score) on the
dev split of eval/qa.jsonl: for every item, the best sentence score when no threshold applies,
and whether a rule (unknown name, unmatched figure, no figure for a quantity question) refused
it. Prints the threshold that maximises the CRAG-style score on dev (+1 answered-right or
refused-unanswerable, 0 refused-answerable, -1 answered-unanswerable).

    .venv/bin/python bench/calibrate_refusal.py [--split dev]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

UNANSWERABLE = {"unanswerable", "false_premise"}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--split", default="dev")
    args = parser.parse_args()
    from assistant.answer import followup
    from assistant.chat import Assistant

    items = [json.loads(x) for x in Path("eval/qa.jsonl").read_text("utf-8").splitlines() if x.strip()]
    items = [i for i in items if args.split == "all" or i["split"] == args.split]
    assistant = Assistant.from_settings()
    assistant.warm_up()
    answerer = assistant.extractive
    answerer.config.min_score = 0.0
    rows = []
    for item in items:
        resolved = followup.resolve(item["question"], item.get("history") or [])
        vector = assistant.embedder.model.get_query_embedding(resolved)
        passages = assistant.retriever.search(resolved, k=8, vector=vector)
        draft = answerer.draft(item["question"], resolved, passages, vector)
        rows.append((item["type"] in UNANSWERABLE, draft.refused, draft.best_score))
    scores = {}
    for step in range(61):
        t = step / 100
        scores[t] = sum(((1 if (ruled or s < t) else -1) if unans else (0 if (ruled or s < t) else 1))
                        for unans, ruled, s in rows)
    top = max(scores.values())
    best_range = [t for t, v in scores.items() if v == top]
    by_rule = sum(1 for u, r, _ in rows if u and r)
    print(f"{len(rows)} {args.split} items; {sum(u for u, _, _ in rows)} unanswerable, "
          f"{by_rule} of them refused by a rule before any threshold")
    left = sorted(round(s, 3) for u, r, s in rows if u and not r)
    print("best scores of unanswerable items no rule refused:", left)
    print("lowest best scores of answerable items:", sorted(round(s, 3) for u, r, s in rows if not u)[:8])
    lo, hi = min(best_range), max(best_range)
    print(f"thresholds maximising the {args.split} CRAG-style score ({top}): {lo:.2f}..{hi:.2f}; "
          f"midpoint {(lo + hi) / 2:.2f}")


if __name__ == "__main__":
    main()
