"""Metrics, per item and aggregated (overall and per question type).

Retrieval (answerable items): recall@1/3/5, MRR@10 and nDCG@10 (binary relevance) of the
paragraph ranking against the gold paragraphs.

Citations: ``gold_citation_precision``/``gold_citation_recall`` compare the cited paragraph IDs
with the gold ones (answerable, non-refused). ``citation_recall``/``citation_precision`` follow
ALCE (Gao et al., 2023) over every non-refused answer: a sentence is recalled when its cited
paragraphs together support it; a citation is irrelevant when it alone does not support its
sentence and the sentence's other citations do; a sentence whose citations together fail earns
no precision credit.

The support judge is a **proxy**, not an NLI model: texts support a sentence when every number
of the sentence occurs in them (``evidence.numbers``) and ``assistant.answer.verify.support_score``
(lexical coverage of the sentence's content words mixed with the best MiniLM cosine against a
cited sentence) reaches its calibrated threshold. A sentence that occurs verbatim (normalised)
in the texts is supported without asking.

Answers: key-fact recall (share of facts with any alias in the answer, normalised,
case-insensitive) and all-facts accuracy (answerable items); faithfulness (share of sentences
supported by the answer's cited paragraphs taken together, whichever markers the sentence
carries); ``unsupported_numbers`` counts numbers of answer sentences found in none of the
sentence's own cited paragraphs.

Refusals: refusal rate on unanswerable and false-premise items, false-refusal rate on
answerable ones, and a CRAG-style score: +1 correct (answerable: not refused and every fact
found; unanswerable/false premise: refused), 0 a refusal of an answerable question, -1 wrong.
``refusal_checks`` counts which check of the refusal policy fired, separately for answerable
items (false refusals) and unanswerable ones (correct refusals).

Robustness: ``paraphrase_consistency`` is the share of groups (an original and its
hand-written paraphrases) whose members all get the same outcome: (refused, every key fact
found) for answerable items, refused for unanswerable ones. ``dev_test_gap`` is |dev - test| of
the gated metrics; a large gap means a rule fits the dev questions rather than the task.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Iterable
from functools import lru_cache

from assistant.answer.evidence import numbers
from assistant.answer.types import Answer
from assistant.answer.verify import default_threshold, support_score
from assistant.corpus.text import normalise
from assistant.evaluate.dataset import Item

RETRIEVAL = ("recall_at_1", "recall_at_3", "recall_at_5", "mrr_at_10", "ndcg_at_10")
CITATIONS = ("gold_citation_precision", "gold_citation_recall", "citation_recall",
             "citation_precision")
ANSWERS = ("key_fact_recall", "all_facts", "faithfulness", "unsupported_numbers")
REFUSALS = ("refusal_rate", "false_refusal_rate", "crag_score")
ROBUSTNESS = ("paraphrase_consistency",)
LATENCY = ("latency_p50_ms", "latency_p95_ms")
METRICS = RETRIEVAL + CITATIONS + ANSWERS + REFUSALS + ROBUSTNESS + LATENCY
SUMMED = frozenset({"unsupported_numbers"})  # aggregated as a count, not a mean
# The metrics whose dev - test gap is reported (and may be gated by eval/thresholds.toml [max_gap]).
GAP_METRICS = ("key_fact_recall", "refusal_rate", "false_refusal_rate", "paraphrase_consistency",
               "citation_precision")


# -- retrieval ------------------------------------------------------------------------------
def recall_at(ranking: list[str], gold: Iterable[str], k: int) -> float:
    gold = set(gold)
    return len(gold & set(ranking[:k])) / len(gold)


def mrr_at(ranking: list[str], gold: Iterable[str], k: int = 10) -> float:
    gold = set(gold)
    return next((1.0 / rank for rank, pid in enumerate(ranking[:k], 1) if pid in gold), 0.0)


def ndcg_at(ranking: list[str], gold: Iterable[str], k: int = 10) -> float:
    gold = set(gold)
    dcg = sum(1.0 / math.log2(rank + 1) for rank, pid in enumerate(ranking[:k], 1) if pid in gold)
    ideal = sum(1.0 / math.log2(rank + 1) for rank in range(1, min(len(gold), k) + 1))
    return dcg / ideal


# -- answers --------------------------------------------------------------------------------
@lru_cache(maxsize=4096)
def _key(text: str) -> str:
    return normalise(text).lower()


def facts_found(facts: Iterable[Iterable[str]], text: str) -> list[bool]:
    text = _key(text)
    return [any(_key(alias) in text for alias in aliases) for aliases in facts]


def crag_score(answerable: bool, refused: bool, all_facts: bool) -> int:
    if not answerable:
        return 1 if refused else -1
    if refused:
        return 0
    return 1 if all_facts else -1


class SupportJudge:
    """Does a set of cited paragraphs support a sentence? See the module doc (a proxy)."""

    def __init__(self, embed: Callable[[list[str]], object] | None = None,
                 threshold: float | None = None):
        self.embed = embed
        self.threshold = default_threshold(embed) if threshold is None else threshold
        self._cache: dict[tuple[str, tuple[str, ...]], bool] = {}

    def __call__(self, sentence: str, texts: Iterable[str]) -> bool:
        texts = tuple(dict.fromkeys(texts))
        if not texts:
            return False
        key = (sentence, texts)
        if key not in self._cache:
            plain = _key(sentence).rstrip(" .")
            if plain and any(plain in _key(t) for t in texts):
                self._cache[key] = True
            else:
                self._cache[key] = (numbers(sentence) <= set().union(*map(numbers, texts)) and
                                    support_score(sentence, list(texts), self.embed) >= self.threshold)
        return self._cache[key]


def _sentence_scores(answer: Answer, judge: SupportJudge) -> dict:
    """ALCE citation recall and precision, faithfulness and unsupported numbers of an answer."""
    texts = {c.n: c.text for c in answer.citations}
    recalled = faithful = precise = n_citations = unsupported = 0
    for s in answer.sentences:
        cited = [texts[n] for n in dict.fromkeys(s.citations) if n in texts]
        together = judge(s.text, cited)
        recalled += together
        n_citations += len(cited)
        if together and len(cited) > 1:
            for i, text in enumerate(cited):
                needed = judge(s.text, [text]) or not judge(s.text, cited[:i] + cited[i + 1:])
                precise += needed
        else:
            precise += together
        unsupported += len(numbers(s.text) - set().union(*map(numbers, cited)))
        faithful += judge(s.text, texts.values())
    n = len(answer.sentences)
    return {"citation_recall": recalled / n if n else 0.0,
            "citation_precision": precise / n_citations if n_citations else 0.0,
            "faithfulness": faithful / n if n else 0.0,
            "unsupported_numbers": unsupported}


def score_item(item: Item, answer: Answer, ranking: list[str], judge: SupportJudge) -> dict:
    """Every metric that applies to this item (the others are None)."""
    scores: dict = dict.fromkeys(RETRIEVAL + CITATIONS + ANSWERS + REFUSALS)
    refused = answer.refused
    found = facts_found(item.facts, answer.text)
    scores["crag_score"] = crag_score(item.answerable, refused, all(found))
    if item.answerable:
        scores.update(recall_at_1=recall_at(ranking, item.gold, 1),
                      recall_at_3=recall_at(ranking, item.gold, 3),
                      recall_at_5=recall_at(ranking, item.gold, 5),
                      mrr_at_10=mrr_at(ranking, item.gold), ndcg_at_10=ndcg_at(ranking, item.gold),
                      key_fact_recall=sum(found) / len(found) if found else 1.0,
                      all_facts=float(all(found)), false_refusal_rate=float(refused))
        if not refused:
            cited = {c.paragraph_id for c in answer.citations}
            hit = len(cited & set(item.gold))
            scores.update(gold_citation_precision=hit / len(cited) if cited else 0.0,
                          gold_citation_recall=hit / len(item.gold))
    else:
        scores["refusal_rate"] = float(refused)
    if not refused:
        scores.update(_sentence_scores(answer, judge))
    return scores


# -- aggregation ----------------------------------------------------------------------------
def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..1)."""
    values = sorted(values)
    return values[min(len(values) - 1, max(0, math.ceil(q * len(values)) - 1))]


def summarise(rows: list[dict], consistency: bool = True) -> dict:
    """rows: {"scores": score_item(...), "latency_ms": float} -> {"n", "metrics", "counts"}:
    the mean of each metric over the items it applies to (a sum for SUMMED), and that count.
    ``paraphrase_consistency`` (count: groups) is measured over the groups the rows hold two or
    more members of (rows with a "group"; generated perturbations excluded), None without."""
    metrics, counts = {}, {}
    for name in RETRIEVAL + CITATIONS + ANSWERS + REFUSALS:
        values = [r["scores"][name] for r in rows if r["scores"].get(name) is not None]
        counts[name] = len(values)
        if name in SUMMED:
            metrics[name] = sum(values) if values else None
        else:
            metrics[name] = sum(values) / len(values) if values else None
    pc = paraphrase_consistency(rows) if consistency else {"value": None, "groups": 0}
    metrics["paraphrase_consistency"], counts["paraphrase_consistency"] = pc["value"], pc["groups"]
    latencies = [r["latency_ms"] for r in rows if r.get("latency_ms") is not None]
    metrics["latency_p50_ms"] = percentile(latencies, 0.5) if latencies else None
    metrics["latency_p95_ms"] = percentile(latencies, 0.95) if latencies else None
    counts["latency_p50_ms"] = counts["latency_p95_ms"] = len(latencies)
    return {"n": len(rows), "metrics": metrics, "counts": counts}


def by_type(rows: list[dict]) -> dict[str, dict]:
    types = sorted({r["type"] for r in rows})
    return {t: summarise([r for r in rows if r["type"] == t]) for t in types}


# -- robustness and refusals ----------------------------------------------------------------
def _refused(row: dict) -> bool:
    return bool(row["refused"] if "refused" in row else row["answer"]["refused"])


def _answerable(row: dict) -> bool:
    if "answerable" in row:
        return bool(row["answerable"])
    return row["scores"].get("refusal_rate") is None


def outcome(row: dict) -> tuple[bool, ...]:
    """(refused, every key fact found) for an answerable item; (refused,) for an unanswerable one."""
    if _answerable(row):
        return (_refused(row), row["scores"].get("all_facts") == 1.0)
    return (_refused(row),)


def paraphrase_consistency(rows: list[dict]) -> dict:
    """Over the groups with two or more members among the rows (an original and its
    paraphrases; rows of the generated perturbation set are left out, their members are meant
    to differ): the share whose members all have the same ``outcome``. Returns {"value" (None
    without such groups), "groups", "consistent", "inconsistent": [group ids]}."""
    groups: dict[str, list[dict]] = {}
    for r in rows:
        if r.get("group") and r.get("set") != "perturbation":
            groups.setdefault(r["group"], []).append(r)
    multi = {g: members for g, members in groups.items() if len(members) > 1}
    inconsistent = sorted(g for g, members in multi.items()
                          if len({outcome(r) for r in members}) > 1)
    n = len(multi)
    return {"value": (n - len(inconsistent)) / n if n else None, "groups": n,
            "consistent": n - len(inconsistent), "inconsistent": inconsistent}


NO_CHECK = "unspecified"  # a refusal that names no policy check (an older or LLM answer)


def refusal_checks(rows: list[dict]) -> dict:
    """Which refusal check fired, counted separately for answerable items (false refusals) and
    unanswerable ones (correct refusals): {"answerable"|"unanswerable": {"n", "refused",
    "by_check": {check: count}}}, checks most frequent first."""
    out = {}
    for key, wanted in (("answerable", True), ("unanswerable", False)):
        part = [r for r in rows if _answerable(r) == wanted]
        refused = [r for r in part if _refused(r)]
        counts = Counter(r.get("refusal_check") or NO_CHECK for r in refused)
        out[key] = {"n": len(part), "refused": len(refused),
                    "by_check": dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))}
    return out


def perturbation_summary(rows: list[dict]) -> dict:
    """Generated perturbations by kind ("none" = the unperturbed question, to be answered;
    entity/figure/year = a false premise, to be refused): n, refused, answered and correct
    (CRAG +1) counts and shares; "refusal_rate" over the perturbed kinds together,
    "answered_rate" over "none"."""
    kinds: dict[str, list[dict]] = {}
    for r in rows:
        kinds.setdefault(r.get("perturbation") or "none", []).append(r)
    order = ["none", *sorted(k for k in kinds if k != "none")]
    by_kind = {}
    for kind in order:
        members = kinds.get(kind, [])
        n, refused = len(members), sum(_refused(r) for r in members)
        correct = sum(r["scores"]["crag_score"] == 1 for r in members)
        by_kind[kind] = {"n": n, "refused": refused, "answered": n - refused, "correct": correct,
                         "refused_share": refused / n if n else None,
                         "answered_share": (n - refused) / n if n else None,
                         "correct_share": correct / n if n else None}
    perturbed = [r for r in rows if (r.get("perturbation") or "none") != "none"]
    none = kinds.get("none", [])
    return {"n": len(rows), "by_kind": by_kind,
            "refusal_rate": (sum(map(_refused, perturbed)) / len(perturbed)) if perturbed else None,
            "answered_rate": (sum(not _refused(r) for r in none) / len(none)) if none else None,
            "refusal_checks": refusal_checks(rows)}


def dev_test_gap(dev: dict, test: dict, names: Iterable[str] = GAP_METRICS) -> dict:
    """|dev - test| of each metric (None where either split lacks it)."""
    return {name: abs(dev[name] - test[name])
            if dev.get(name) is not None and test.get(name) is not None else None
            for name in names}


def gate_failures(metrics: dict, thresholds: dict) -> list[str]:
    """thresholds: {"min": {metric: value}, "max": {metric: value}} -> what fails."""
    failures = []
    for bound, table in (("min", thresholds.get("min", {})), ("max", thresholds.get("max", {}))):
        for name, limit in table.items():
            value = metrics.get(name)
            if value is None:
                failures.append(f"{name}: not measured (limit {bound} {limit})")
            elif (value < limit) if bound == "min" else (value > limit):
                failures.append(f"{name} = {value:.3f}, {bound} allowed {limit}")
    return failures


def gap_failures(gaps: dict, max_gap: dict) -> list[str]:
    """max_gap: {metric: largest allowed |dev - test|} -> what fails (or was not measured)."""
    failures = []
    for name, limit in max_gap.items():
        value = gaps.get(name)
        if value is None:
            failures.append(f"{name}: dev-test gap not measured (limit {limit})")
        elif value > limit:
            failures.append(f"{name}: |dev - test| = {value:.3f}, max allowed {limit}")
    return failures
