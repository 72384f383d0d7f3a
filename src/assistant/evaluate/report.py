"""Writing the results: report.md (tables), results.json (every item) and summary.png."""

from __future__ import annotations

import json
from pathlib import Path

from assistant.evaluate.metrics import METRICS, SUMMED

# Short column names for the per-type table.
TYPE_COLUMNS = {
    "recall_at_3": "R@3", "mrr_at_10": "MRR@10", "ndcg_at_10": "nDCG@10",
    "gold_citation_precision": "gold cit. P", "gold_citation_recall": "gold cit. R",
    "citation_recall": "ALCE cit. R", "citation_precision": "ALCE cit. P",
    "key_fact_recall": "key facts", "all_facts": "all facts", "faithfulness": "faithful",
    "unsupported_numbers": "unsup. numbers", "refusal_rate": "refusal",
    "false_refusal_rate": "false refusal", "crag_score": "CRAG", "latency_p50_ms": "p50 ms",
}
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


def markdown(results: dict) -> str:
    overall, types = results["overall"], results["by_type"]
    run = results["run_seconds"]
    parts = [
        f"# Evaluation: `{results['backend']}` on the **{results['split']}** split",
        (f"{results['n']} questions · started {results['started']} UTC · warm-up "
         f"{run['warm_up']:.1f} s, answering {run['answering']:.1f} s, "
         f"scoring {run['scoring']:.1f} s"
         + (f" · **{results['fallbacks']} answers fell back to extractive**"
            if results.get("fallbacks") else "")),
        ("> **Tuned on dev.** The answerer's parameters and the gate in `eval/thresholds.toml` were "
         "set on the *dev* split; the *test* split is the held-out measure.\n>\n"
         "> **The support judge is a proxy.** ALCE-style citation recall/precision and faithfulness "
         "use `assistant.answer.verify.support_score` (lexical coverage + MiniLM cosine, threshold "
         f"{results['judge']['threshold']}) instead of an NLI model; a sentence found verbatim in "
         "its cited text counts as supported. Definitions: `src/assistant/evaluate/metrics.py`."),
        "## Overall",
        _md_table(["metric", "value", "n"],
                  [[m, fmt(m, overall["metrics"][m]), str(overall["counts"][m])] for m in METRICS]),
        "## Per type",
        _md_table(["type", "n", *TYPE_COLUMNS.values()],
                  [[t, str(s["n"]), *(fmt(m, s["metrics"][m]) for m in TYPE_COLUMNS)]
                   for t, s in types.items()]),
        "## Latency (ms)",
        _md_table(["stage", "p50", "p95", "max"], _latency_rows(results["items"])),
        "Slowest: " + ", ".join(f"{r['id']} ({r['latency_ms']:.0f} ms)" for r in sorted(
            results["items"], key=lambda r: -(r["latency_ms"] or 0))[:5]),
        "## Misses (CRAG ≤ 0)",
        _md_table(["id", "type", "CRAG", "answer"], [
            [r["id"], r["type"], f"{r['scores']['crag_score']:+d}",
             r["answer"]["answer"][:160].replace("|", "\\|").replace("\n", " ")]
            for r in results["items"] if r["scores"]["crag_score"] <= 0] or [["–", "", "", ""]]),
    ]
    return "\n\n".join(parts) + "\n"


def _latency_rows(items: list[dict]) -> list[list[str]]:
    from assistant.evaluate.metrics import percentile

    stages = list(dict.fromkeys(k for r in items for k in r["timings_ms"]))
    rows = []
    for stage in stages:
        values = [r["timings_ms"][stage] for r in items if stage in r["timings_ms"]]
        rows.append([stage, f"{percentile(values, 0.5):.0f}", f"{percentile(values, 0.95):.0f}",
                     f"{max(values):.0f}"])
    return rows


def chart(results: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    types = list(results["by_type"])
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
    ax.set_title(f"{results['backend']} on {results['split']} ({results['n']} questions)")
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
    from rich.table import Table

    table = Table("metric", result["a"], result["b"], "Δ",
                  title=f"{result['a']} vs {result['b']} on {result['split']} ({result['n']} questions)")
    for row in result["rows"]:
        name, delta = row["metric"], row["delta"]
        shown = "–" if delta is None else (f"{delta:+.0f}" if name.endswith("_ms") or name in SUMMED
                                           else f"{delta:+.3f}")
        table.add_row(name, fmt(name, row["a"]), fmt(name, row["b"]), shown)
    return table
