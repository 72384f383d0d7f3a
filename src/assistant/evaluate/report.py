"""Writing the results: report.md (tables), results.json (every item) and summary.png."""

from __future__ import annotations

import json
from pathlib import Path

from rich.table import Table

from assistant.evaluate.metrics import (
    GAP_METRICS,
    METRICS,
    NO_CHECK,
    SUMMED,
    dev_test_gap,
    outcome,
    percentile,
)

# Short column names for the per-type table.
TYPE_COLUMNS = {
    "recall_at_3": "R@3", "mrr_at_10": "MRR@10", "ndcg_at_10": "nDCG@10",
    "gold_citation_precision": "gold cit. P", "gold_citation_recall": "gold cit. R",
    "citation_recall": "ALCE cit. R", "citation_precision": "ALCE cit. P",
    "key_fact_recall": "key facts", "all_facts": "all facts", "faithfulness": "faithful",
    "unsupported_numbers": "unsup. numbers", "refusal_rate": "refusal",
    "false_refusal_rate": "false refusal", "crag_score": "CRAG",
    "paraphrase_consistency": "consistent", "latency_p50_ms": "p50 ms",
}
SET_COLUMNS = ("key_fact_recall", "all_facts", "citation_precision", "faithfulness", "refusal_rate",
               "false_refusal_rate", "crag_score")
SET_LABELS = {"original": "originals", "paraphrase": "paraphrases",
              "false_premise_new": "new false premises", "perturbation": "perturbations (generated)"}
KIND_LABELS = {"none": "none (unperturbed: answer)", "entity": "entity swapped (refuse)",
               "figure": "figure swapped (refuse)", "year": "year swapped (refuse)"}
CHART = ("recall_at_3", "key_fact_recall", "gold_citation_precision", "faithfulness", "refusal_rate",
         "crag_score")


def fmt(name: str, value) -> str:
    if value is None:
        return "–"
    if name.endswith("_ms"):
        return f"{value:.0f}"
    if name in SUMMED:
        return str(int(value))
    return f"{value:+.2f}" if name == "crag_score" else f"{value:.3f}"


def _md_table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return "\n".join(lines + ["| " + " | ".join(r) + " |" for r in rows])


def _targets_section(results: dict) -> list[str]:
    targets = results.get("targets") or {}
    if not targets.get("table"):
        return []
    missed = targets.get("missed") or []
    lines = "\n".join(f"- not reached: {m}" for m in missed) or "- every target is reached"
    return ["## Product targets (eval/thresholds.toml [target])", lines]


def markdown(results: dict) -> str:
    splits, types = results["splits"], results["by_type"]
    names = list(splits)
    run = results["run_seconds"]
    n_hand = results["n_hand_written"]
    parts = [
        (f"# Evaluation: `{results['backend']}` on {' + '.join(names) or 'no'} "
         f"split{'s' if len(names) > 1 else ''}"),
        (f"{n_hand} hand-written questions + {results['n'] - n_hand} generated perturbations · "
         f"started {results['started']} UTC · warm-up {run['warm_up']:.1f} s, answering "
         f"{run['answering']:.1f} s, scoring {run['scoring']:.1f} s"
         + (f" · **{results['fallbacks']} answers fell back to extractive**"
            if results.get("fallbacks") else "")),
        ("> **Tuned on dev.** The answerer's parameters and the gate in `eval/thresholds.toml` were "
         "set on the *dev* split; the *test* split is the held-out measure. The gate reads the "
         f"**{results['overall_split']}** column (hand-written items: originals, paraphrases and "
         "new false premises; generated perturbations are reported apart).\n>\n"
         "> **The support judge is a proxy.** ALCE-style citation recall/precision and faithfulness "
         "use `assistant.answer.verify.support_score` (lexical coverage + MiniLM cosine, threshold "
         f"{results['judge']['threshold']}) instead of an NLI model; a sentence found verbatim in "
         "its cited text counts as supported. Definitions: `src/assistant/evaluate/metrics.py`."),
        "## Dev and test (hand-written items)",
        _split_table(results),
        *_targets_section(results),
        "## By set",
        _md_table(["split", "set", "n", *(TYPE_COLUMNS[m] for m in SET_COLUMNS)],
                  [[name, SET_LABELS.get(key, key), str(s["n"]),
                    *(fmt(m, s["metrics"][m]) for m in SET_COLUMNS)]
                   for name in names for key, s in splits[name]["by_set"].items()]),
        "## Paraphrase consistency",
        ("Groups of an original and its paraphrases whose members all get the same outcome: "
         "(refused, every key fact found) when answerable, refused when not."),
        _md_table(["split", "groups", "consistent", "share"],
                  [[name, str(pc["groups"]), str(pc["consistent"]),
                    fmt("paraphrase_consistency", pc["value"])]
                   for name in names for pc in [splits[name]["paraphrase_consistency"]]])
        + ("\n\nThe inconsistent groups are listed below the latency table."
           if any(s["paraphrase_consistency"]["inconsistent"] for s in splits.values()) else ""),
        "## Perturbations (generated)",
        _perturbation_table(results),
        "## Refusals by check",
        ("Which check of the refusal policy fired. *False* = refusals of answerable questions; "
         "*correct* = refusals of unanswerable and false-premise ones."),
        _checks_table(results),
        f"## Per type ({results['overall_split']} split, hand-written)",
        _md_table(["type", "n", *TYPE_COLUMNS.values()],
                  [[t, str(s["n"]), *(fmt(m, s["metrics"][m]) for m in TYPE_COLUMNS)]
                   for t, s in types.items()]),
        "## Latency (ms, every item)",
        _md_table(["stage", "p50", "p95", "max"], _latency_rows(results["items"])),
        "Slowest: " + ", ".join(f"{r['id']} ({r['latency_ms']:.0f} ms)" for r in sorted(
            results["items"], key=lambda r: -(r["latency_ms"] or 0))[:5]),
        _inconsistent_groups(results),
        "## Misses (CRAG ≤ 0)",
        _md_table(["id", "split", "set", "type", "CRAG", "refusal check", "answer"], [
            [r["id"], r["split"], r["set"], r["type"], f"{r['scores']['crag_score']:+d}",
             r.get("refusal_check") or "", _cell(r["answer"]["answer"][:160])]
            for r in results["items"] if r["scores"]["crag_score"] <= 0]
            or [["–", "", "", "", "", "", ""]]),
    ]
    return "\n\n".join(p for p in parts if p) + "\n"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _split_table(results: dict) -> str:
    """Metrics as rows; a column per split that ran, and |dev - test| when both did."""
    splits = results["splits"]
    names = list(splits)
    both = {"dev", "test"} <= set(names)
    gaps = dev_test_gap(splits["dev"]["metrics"], splits["test"]["metrics"], METRICS) if both else {}
    header = ["metric", *names, *([r"\|gap\|"] if both else []), "n (" + " / ".join(names) + ")"]
    rows = [["questions", *(str(splits[n]["n"]) for n in names), *([""] if both else []), ""]]
    for m in METRICS:
        label = f"**{m}**" if m in GAP_METRICS else m
        gap = gaps.get(m)
        shown = "–" if gap is None or m in SUMMED or m.endswith("_ms") else f"{gap:.3f}"
        rows.append([label, *(fmt(m, splits[n]["metrics"][m]) for n in names),
                     *([shown] if both else []),
                     " / ".join(str(splits[n]["counts"][m]) for n in names)])
    note = ("Bold: the metrics whose dev-test gap is recorded (`dev_test_gap` in results.json). "
            "n: the items (groups, for paraphrase consistency) each value is over.")
    return _md_table(header, rows) + "\n\n" + note


def _describe(row: dict) -> str:
    """An item's outcome (metrics.outcome) in words."""
    result = outcome(row)
    refused = result[0]
    text = f"refused ({row.get('refusal_check') or NO_CHECK})" if refused else "answered"
    if len(result) == 2:  # answerable: say when the facts do not go with the verdict
        facts = result[1]
        if refused and facts:
            text += ", key facts given"
        elif not refused and not facts:
            text += ", facts missing"
    return text


def _inconsistent_groups(results: dict) -> str:
    lines = []
    for name, s in results["splits"].items():
        for group in s["paraphrase_consistency"]["inconsistent"]:
            members = [r for r in results["items"]
                       if r["group"] == group and r["set"] != "perturbation"]
            lines.append(f"- {name} `{group}`: " + "; ".join(
                f"{r['id']} {_describe(r)}" for r in members))
    return ("## Inconsistent paraphrase groups\n\n" + "\n".join(lines)) if lines else ""


def _share(count: int, n: int) -> str:
    return f"{count}/{n} ({count / n:.2f})" if n else "–"


def _perturbation_table(results: dict) -> str:
    present = {name: s["perturbations"] for name, s in results["splits"].items()
               if s.get("perturbations")}
    if not present:
        return "No perturbation items ran."
    kinds = list(dict.fromkeys(k for p in present.values() for k in p["by_kind"]))
    header = ["kind"]
    for name in present:
        header += [f"{name} n", f"{name} refused", f"{name} answered"]
    rows = []
    for kind in kinds:
        row = [KIND_LABELS.get(kind, kind)]
        for p in present.values():
            k = p["by_kind"].get(kind, {"n": 0, "refused": 0, "answered": 0})
            row += [str(k["n"]), _share(k["refused"], k["n"]), _share(k["answered"], k["n"])]
        rows.append(row)
    summary = " · ".join(
        f"{name}: refused {fmt('refusal_rate', p['refusal_rate'])} of perturbed, answered "
        f"{fmt('refusal_rate', p['answered_rate'])} of unperturbed" for name, p in present.items())
    return _md_table(header, rows) + "\n\n" + summary


def _checks_table(results: dict) -> str:
    columns = []  # (header, {"n", "refused", "by_check"})
    for name, s in results["splits"].items():
        columns += [(f"{name}: false", s["refusal_checks"]["answerable"]),
                    (f"{name}: correct", s["refusal_checks"]["unanswerable"])]
    perturbed = [s["perturbations"]["refusal_checks"] for s in results["splits"].values()
                 if s.get("perturbations")]
    if perturbed:
        for key, label in (("answerable", "false"), ("unanswerable", "correct")):
            merged = {"n": sum(p[key]["n"] for p in perturbed),
                      "refused": sum(p[key]["refused"] for p in perturbed), "by_check": {}}
            for p in perturbed:
                for check, count in p[key]["by_check"].items():
                    merged["by_check"][check] = merged["by_check"].get(check, 0) + count
            columns.append((f"perturbations: {label}", merged))
    checks = sorted({c for _, col in columns for c in col["by_check"]},
                    key=lambda c: (-sum(col["by_check"].get(c, 0) for _, col in columns), c))
    rows = [[c, *(str(col["by_check"].get(c, 0)) for _, col in columns)] for c in checks]
    rows.append(["**refused / items**", *(f"{col['refused']}/{col['n']}" for _, col in columns)])
    return _md_table(["check", *(h for h, _ in columns)], rows)


def _latency_rows(items: list[dict]) -> list[list[str]]:
    stages = list(dict.fromkeys(k for r in items for k in r["timings_ms"]))
    rows = []
    for stage in stages:
        values = [r["timings_ms"][stage] for r in items if stage in r["timings_ms"]]
        rows.append([stage, f"{percentile(values, 0.5):.0f}", f"{percentile(values, 0.95):.0f}",
                     f"{max(values):.0f}"])
    return rows


def chart(results: dict, path: Path) -> None:
    import matplotlib  # matplotlib: ~0.5 s, for the report's chart only

    matplotlib.use("Agg")  # before pyplot is imported: no display here
    import matplotlib.pyplot as plt  # (see above)

    types = list(results["by_type"])
    if not types:
        return
    width = 0.8 / len(CHART)
    fig, ax = plt.subplots(figsize=(11, 4.5))
    for i, name in enumerate(CHART):
        values = [results["by_type"][t]["metrics"][name] for t in types]
        xs = [j + (i - (len(CHART) - 1) / 2) * width for j in range(len(types))]
        ax.bar(xs, [float("nan") if v is None else v for v in values], width,
               label=TYPE_COLUMNS.get(name, name))
    ax.set_xticks(range(len(types)), types, rotation=15)
    ax.set_ylim(-1.05, 1.05)
    ax.axhline(0, color="black", linewidth=0.6)
    ax.set_title(f"{results['backend']} on {results['overall_split']}, hand-written "
                 f"({results['overall']['n']} questions)")
    ax.legend(ncols=len(CHART), fontsize=8, loc="lower center", bbox_to_anchor=(0.5, -0.32))
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def write_report(results: dict, out_dir: Path) -> Path:
    stamp = results["started"].replace("-", "").replace(":", "").split("+")[0]
    target = out_dir / f"{stamp}Z-{results['backend']}"
    n = 1
    while target.exists():
        n += 1
        target = out_dir / f"{stamp}Z-{results['backend']}-{n}"
    target.mkdir(parents=True)
    results["dir"] = str(target)
    (target / "results.json").write_text(json.dumps(results, indent=1, ensure_ascii=False), "utf-8")
    (target / "report.md").write_text(markdown(results), "utf-8")
    chart(results, target / "summary.png")
    return target


def compare_table(result: dict):
    """A rich table: metric, A, B, delta (B - A)."""
    table = Table("metric", result["a"], result["b"], "Δ",
                  title=f"{result['a']} vs {result['b']} on {result['split']} ({result['n']} questions)")
    for row in result["rows"]:
        name, delta = row["metric"], row["delta"]
        shown = "–" if delta is None else (f"{delta:+.0f}" if name.endswith("_ms") or name in SUMMED
                                           else f"{delta:+.3f}")
        table.add_row(name, fmt(name, row["a"]), fmt(name, row["b"]), shown)
    return table


# The console summary of `assistant eval`: the headline metrics only (report.md has them all).
HEADLINE = ("recall_at_3", "mrr_at_10", "citation_precision", "key_fact_recall", "faithfulness",
            "unsupported_numbers", "refusal_rate", "false_refusal_rate", "crag_score",
            "paraphrase_consistency", "latency_p50_ms")


def console_table(results: dict):
    """A rich table: headline metrics as rows; dev | test | |gap| (the splits that ran)."""
    splits = results["splits"]
    names = list(splits)
    both = {"dev", "test"} <= set(names)
    gaps = dev_test_gap(splits["dev"]["metrics"], splits["test"]["metrics"], HEADLINE) if both else {}
    title = (f"{results['backend']}, hand-written questions: "
             + ", ".join(f"{n} {splits[n]['n']}" for n in names)
             + f" (gate: {results['overall_split']})")
    table = Table("metric", *names, *(["|gap|"] if both else []), title=title)
    for m in HEADLINE:
        gap = gaps.get(m)
        shown = "–" if gap is None or m in SUMMED or m.endswith("_ms") else f"{gap:.3f}"
        table.add_row(m, *(fmt(m, splits[n]["metrics"][m]) for n in names),
                      *([shown] if both else []))
    return table


def console_lines(results: dict) -> list[str]:
    """One line per split: the sets, perturbations and the most frequent refusal checks."""
    lines = []
    for name, s in results["splits"].items():
        by_set = ", ".join(f"{SET_LABELS[k].split(' (')[0]} {v['n']}" for k, v in s["by_set"].items())
        line = f"{name}: {by_set}"
        p = s.get("perturbations")
        if p:
            line += (f" · perturbed refused {fmt('refusal_rate', p['refusal_rate'])}, unperturbed "
                     f"answered {fmt('refusal_rate', p['answered_rate'])}")
        checks = s["refusal_checks"]
        for key, label in (("answerable", "false refusals"), ("unanswerable", "correct refusals")):
            top = ", ".join(f"{c} {n}" for c, n in list(checks[key]["by_check"].items())[:3])
            line += f" · {label} {checks[key]['refused']}/{checks[key]['n']}" + (f" ({top})" if top else "")
        lines.append(line)
    return lines
