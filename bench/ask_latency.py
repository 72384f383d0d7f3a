"""Warm `ask` latency with the extractive backend, split into retrieval and answering.

    .venv/bin/python bench/ask_latency.py [--rounds 3]
    .venv/bin/python bench/ask_latency.py --against 1cfab2e [--rounds 3]

Uses the built index (run `assistant index rebuild` first) and every question of
eval/qa.jsonl (with its history). Reports p50/p95 in milliseconds.

``--against REF`` measures another commit side by side in the same run: it checks REF out
into a temporary git worktree, builds that version's index there with that version's code,
and then alternates rounds (this tree, REF, this tree, REF, ...), each round a fresh warm
process asking every question once, so both see the same machine load. Not a test: figures
depend on the machine and on whatever else it is doing.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from rich.console import Console
from rich.table import Table

ROOT = Path(__file__).resolve().parents[1]
WORKER = r"""
import json, sys, time
from assistant.chat import Assistant
items = [json.loads(l) for l in open(sys.argv[1], encoding="utf-8") if l.strip()]
a = Assistant.from_settings()
a.warm_up()
out = {"retrieve": [], "answer": [], "total": []}
for item in items:
    answer = a.ask(item["question"], item.get("history") or [])
    for k in out:
        out[k].append(answer.timings_ms[k])
print(json.dumps(out))
"""


def percentile(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, round(q * (len(values) - 1)))]


def run_round(tree: Path, questions: Path) -> dict[str, list[float]]:
    env = {**os.environ, "PYTHONPATH": str(tree / "src"), "HF_HUB_OFFLINE": "1"}
    done = subprocess.run([sys.executable, "-c", WORKER, str(questions)], cwd=tree, env=env,
                          capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def prepare(ref: str, where: Path) -> Path:
    tree = where / "tree"
    subprocess.run(["git", "worktree", "add", "--detach", str(tree), ref], cwd=ROOT, check=True,
                   capture_output=True)
    env = {**os.environ, "PYTHONPATH": str(tree / "src"), "HF_HUB_OFFLINE": "1"}
    subprocess.run([sys.executable, "-m", "assistant.cli", "index", "rebuild", "-q"], cwd=tree,
                   env=env, check=True, capture_output=True)
    return tree


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--against", help="a git ref to measure side by side (e.g. 1cfab2e)")
    args = parser.parse_args()
    questions = ROOT / "eval" / "qa.jsonl"
    trees = {"this tree": ROOT}
    with tempfile.TemporaryDirectory() as tmp:
        try:
            if args.against:
                trees[args.against] = prepare(args.against, Path(tmp))
            timings = {name: {"retrieve": [], "answer": [], "total": []} for name in trees}
            for r in range(args.rounds):
                for name, tree in trees.items():
                    Console(stderr=True).print(f"round {r + 1}/{args.rounds}: {name}")
                    for key, values in run_round(tree, questions).items():
                        timings[name][key] += values
        finally:
            if args.against:
                subprocess.run(["git", "worktree", "remove", "--force", str(Path(tmp) / "tree")],
                               cwd=ROOT, capture_output=True, check=False)
    n = sum(1 for line in questions.read_text("utf-8").splitlines() if line.strip())
    table = Table("version", "stage", "p50 ms", "p95 ms", "mean ms",
                  title=f"warm extractive ask, {n} questions x {args.rounds} rounds, alternating")
    for name, stages in timings.items():
        for key, values in stages.items():
            table.add_row(name, key, f"{percentile(values, 0.5):.1f}",
                          f"{percentile(values, 0.95):.1f}", f"{statistics.mean(values):.1f}")
    Console().print(table)
    if args.against:
        a, b = (statistics.median(timings[k]["total"]) for k in trees)
        Console().print(f"p50 total ratio this tree / {args.against}: {a / b:.2f}")


if __name__ == "__main__":
    main()
