"""Fit the weak-evidence check of the refusal policy on the dev split, and save it.

For every dev item of eval/qa.jsonl (originals, paraphrases, false premises) and of the
generated perturbation suite, the question is analysed and retrieved as `assistant ask` does;
items a named check already refuses (unknown subject, premise mismatch, ...) are left out, and a
logistic regression is fitted on the rest: features are the evidence scores of
``Evidence.features()``, the label is "answerable". The decision threshold is the highest one
that keeps false refusals (answerable dev items refused, by any check) within the product's
budget, FALSE_REFUSAL_BUDGET; more refusals of unanswerable items cannot be bought with more
refusals of answerable ones. The test split is never read.

    .venv/bin/python bench/calibrate_refusal.py            # fit and write refusal_model.json
    .venv/bin/python bench/calibrate_refusal.py --dry-run  # print only
"""

from __future__ import annotations

import argparse
import json
from datetime import UTC, datetime

import numpy as np

FEATURES = ("score", "semantic", "lexical", "predicate", "dense_top", "fits")
FALSE_REFUSAL_BUDGET = 0.05  # of answerable dev items: the product target (<= 0.05)


def collect(assistant, items) -> tuple[np.ndarray, np.ndarray, int, int]:
    from assistant.answer.policy import POLICY, decide

    rule_checks = tuple(c for c in POLICY if c.__name__ != "weak_evidence")
    rows, labels, ruled_right, ruled_wrong = [], [], 0, 0
    for item in items:
        query = assistant.analyse(item.question, list(item.history))
        passages = assistant.engine.retriever.search(query)
        ev = assistant.engine.extractive.evidence(query, passages)
        if query.answer_type.value == "overview":
            continue
        if decide(ev, rule_checks) is not None:
            ruled_right += not item.answerable
            ruled_wrong += item.answerable
            continue
        f = ev.features()
        rows.append([f[k] for k in FEATURES])
        labels.append(1 if item.answerable else 0)
    return np.asarray(rows), np.asarray(labels), ruled_right, ruled_wrong


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dry-run", action="store_true")
    args = parser.parse_args()
    from sklearn.linear_model import LogisticRegression

    from assistant.answer.policy import MODEL_FILE
    from assistant.chat import Assistant
    from assistant.evaluate.dataset import load_items, perturbation_items

    assistant = Assistant.from_settings()
    assistant.warm_up()
    items = load_items(assistant.corpus, "dev")
    items += [i for i in perturbation_items(assistant.corpus, assistant.nlp) if i.split == "dev"]
    x, y, ruled_right, ruled_wrong = collect(assistant, items)
    print(f"{len(items)} dev items: {ruled_right} unanswerable and {ruled_wrong} answerable refused by "
          f"the named checks; fitting on the other {len(y)} ({int(y.sum())} answerable)")
    model = LogisticRegression(C=10.0, class_weight="balanced", max_iter=5000).fit(x, y)
    p = model.predict_proba(x)[:, 1]
    answerable_total = int(y.sum()) + ruled_wrong
    budget = int(FALSE_REFUSAL_BUDGET * answerable_total) - ruled_wrong
    best = max((t for t in np.arange(0.01, 0.96, 0.01) if int(((p < t) & (y == 1)).sum()) <= budget),
               default=0.01)
    score = sum(np.where(p >= best, np.where(y == 1, 1, -1), np.where(y == 1, 0, 1)))
    print("weights:", dict(zip(FEATURES, np.round(model.coef_[0], 3))), "bias:",
          round(float(model.intercept_[0]), 3))
    print(f"threshold {best:.2f}: dev CRAG-style sum {score} over {len(y)} items "
          f"(answerable kept {int(((p >= best) & (y == 1)).sum())}/{int(y.sum())}, "
          f"unanswerable refused {int(((p < best) & (y == 0)).sum())}/{int((y == 0).sum())})")
    if args.dry_run:
        return
    MODEL_FILE.write_text(json.dumps({
        "features": list(FEATURES), "weights": [round(float(w), 4) for w in model.coef_[0]],
        "bias": round(float(model.intercept_[0]), 4), "threshold": round(float(best), 2),
        "provenance": (f"bench/calibrate_refusal.py on {datetime.now(UTC):%Y-%m-%d}: logistic "
                       f"regression (sklearn, C=10, balanced) on {len(y)} dev items not refused by "
                       f"a named check ({int(y.sum())} answerable); threshold: the highest with "
                       f"dev false refusals <= {FALSE_REFUSAL_BUDGET}; test split not used"),
    }, indent=1) + "\n", "utf-8")
    print(f"wrote {MODEL_FILE}")


if __name__ == "__main__":
    main()
