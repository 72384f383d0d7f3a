"""report.md, results.json, summary.png and the console summary, from fabricated results."""

from __future__ import annotations

import json

from rich.console import Console

from assistant.evaluate.report import (
    compare_table,
    console_lines,
    console_table,
    markdown,
    write_report,
)
from assistant.evaluate.runner import summarise_results
from tests.evaluate.fake_results import fabricated_rows


def results(split: str = "all") -> dict:
    rows = [r for r in fabricated_rows() if split == "all" or r["split"] == split]
    return {"backend": "extractive", "split": split, "started": "2026-12-01T10:00:00+00:00",
            "fallbacks": 0, "judge": {"kind": "proxy", "threshold": 0.62},
            "run_seconds": {"warm_up": 1.0, "answering": 2.0, "scoring": 0.5},
            **summarise_results(rows, split), "items": rows}


def section(md: str, title: str) -> str:
    """The text of a '## title' section, up to the next heading."""
    return md.split(f"## {title}\n\n", 1)[1].split("\n## ", 1)[0]


def table_row(text: str, first_cell: str) -> list[str]:
    line = next(li for li in text.splitlines() if li.startswith(f"| {first_cell} |"))
    return [c.strip() for c in line.strip("|").split("|")]


def test_the_first_table_has_dev_test_and_the_gap():
    md = markdown(results())
    assert md.startswith("# Evaluation: `extractive` on dev + test splits")
    assert "14 hand-written questions + 6 generated perturbations" in md
    first = section(md, "Dev and test (hand-written items)")
    assert first.splitlines()[0] == r"| metric | dev | test | \|gap\| | n (dev / test) |"
    assert table_row(first, "questions")[:3] == ["questions", "7", "7"]
    assert table_row(first, "**paraphrase_consistency**") == [
        "**paraphrase_consistency**", "1.000", "0.500", "0.500", "2 / 2"]
    assert table_row(first, "**refusal_rate**")[1:4] == ["1.000", "0.750", "0.250"]
    assert table_row(first, "latency_p50_ms")[3] == "–"


def test_the_set_table_lists_each_set_per_split():
    by_set = section(markdown(results()), "By set")
    for split in ("dev", "test"):
        for label in ("originals", "paraphrases", "new false premises", "perturbations (generated)"):
            assert f"| {split} | {label} |" in by_set
    row = next(li for li in by_set.splitlines() if li.startswith("| test | paraphrases |"))
    assert row.split("|")[3].strip() == "4"


def test_consistency_perturbation_and_check_tables():
    md = markdown(results())
    consistency = section(md, "Paraphrase consistency")
    assert table_row(consistency, "test") == ["test", "2", "1", "0.500"]
    inconsistent = section(md, "Inconsistent paraphrase groups")
    assert "- test `num-t1`: num-t1 answered; num-t1-p1 answered; " \
           "num-t1-p2 refused (answer_type_absent)" in inconsistent
    assert "dev `" not in inconsistent
    pert = section(md, "Perturbations (generated)")
    assert table_row(pert, "entity swapped (refuse)")[1:4] == ["1", "1/1 (1.00)", "0/1 (0.00)"]
    assert table_row(pert, "year swapped (refuse)")[5:7] == ["0/1 (0.00)", "1/1 (1.00)"]
    assert "test: refused 0.500 of perturbed, answered 1.000 of unperturbed" in pert
    checks = section(md, "Refusals by check")
    assert ("| check | dev: false | dev: correct | test: false | test: correct | "
            "perturbations: false | perturbations: correct |") in checks
    assert table_row(checks, "unknown_subject")[1:5] == ["0", "2", "0", "2"]
    assert table_row(checks, "answer_type_absent")[3] == "1"
    assert table_row(checks, "subject_not_found")[6] == "2"
    assert table_row(checks, "**refused / items**")[1:5] == ["0/3", "4/4", "1/3", "3/4"]


def test_per_type_latency_and_misses_still_render():
    md = markdown(results())
    per_type = section(md, "Per type (test split, hand-written)")
    assert table_row(per_type, "numeric")[1] == "3" and "| consistent |" in per_type
    assert table_row(section(md, "Latency (ms, every item)"), "total")[3] == "90"
    misses = section(md, "Misses (CRAG ≤ 0)")
    assert "| num-t1-p2 | test | paraphrase | numeric | +0 | answer_type_absent |" in misses


def test_a_single_split_report_has_no_gap_column():
    md = markdown(results("dev"))
    assert md.startswith("# Evaluation: `extractive` on dev split\n")
    first = section(md, "Dev and test (hand-written items)")
    assert first.splitlines()[0] == "| metric | dev | n (dev) |"
    assert "Inconsistent paraphrase groups" not in md


def test_write_report_keeps_every_row(tmp_path):
    res = results()
    target = write_report(res, tmp_path)
    assert (target / "report.md").read_text("utf-8") == markdown(res)
    assert (target / "summary.png").stat().st_size > 0
    saved = json.loads((target / "results.json").read_text("utf-8"))
    assert len(saved["items"]) == 20 and saved["overall_split"] == "test"
    assert {r["set"] for r in saved["items"]} == {"original", "paraphrase", "false_premise_new",
                                                  "perturbation"}
    assert saved["dev_test_gap"]["paraphrase_consistency"] == 0.5


def test_console_summary():
    console = Console(record=True, width=400)
    res = results()
    console.print(console_table(res))
    for line in console_lines(res):
        console.print(line)
    text = console.export_text()
    assert "paraphrase_consistency │ 1.000 │ 0.500 │ 0.500" in text
    assert "gate: test" in text
    assert "test: originals 2, paraphrases 4, new false premises 1, perturbations 3" in text
    assert "false refusals 1/3 (answer_type_absent 1)" in text


def test_compare_table_renders():
    rows = [{"metric": "paraphrase_consistency", "a": 0.5, "b": 0.75, "delta": 0.25}]
    console = Console(record=True, width=120)
    console.print(compare_table({"a": "naive", "b": "extractive", "split": "test", "n": 7,
                                 "rows": rows}))
    assert "+0.250" in console.export_text()
