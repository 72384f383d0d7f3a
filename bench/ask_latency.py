"""Warm `ask` latency with the extractive backend, split into retrieval and answering.

    .venv/bin/python bench/ask_latency.py [--rounds 3]

Uses the built index (run `assistant index rebuild` first) and every question of
eval/qa.jsonl (with its history). Reports p50/p95 in milliseconds. Not a test: figures
depend on the machine and on whatever else it is doing.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

from rich.console import Console
from rich.progress import track
from rich.table import Table


def percentile(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, round(q * (len(values) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    from assistant.chat import Assistant

    items = [json.loads(line) for line in Path("eval/qa.jsonl").read_text("utf-8").splitlines() if line.strip()]
    assistant = Assistant.from_settings()
    t = time.perf_counter()
    assistant.warm_up()
    warm = time.perf_counter() - t
    timings: dict[str, list[float]] = {"retrieve": [], "answer": [], "total": []}
    for _ in track(range(args.rounds), description="asking", console=Console(stderr=True)):
        for item in items:
            answer = assistant.ask(item["question"], item.get("history") or [])
            for key in timings:
                timings[key].append(answer.timings_ms[key])
    table = Table("stage", "p50 ms", "p95 ms", "mean ms",
                  title=f"extractive ask, {len(items)} questions x {args.rounds} rounds "
                        f"(warm-up {warm:.1f} s, torch threads {assistant.settings.torch_threads})")
    for key, values in timings.items():
        table.add_row(key, f"{percentile(values, 0.5):.1f}", f"{percentile(values, 0.95):.1f}",
                      f"{statistics.mean(values):.1f}")
    Console().print(table)


if __name__ == "__main__":
    main()
