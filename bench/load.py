"""Load on the web chat: N concurrent gradio_client sessions, each asking Q questions through
the chat's API endpoint, against a running app.

    python bench/load.py --sessions 20,50 --questions 5            # starts `assistant chat`
    python bench/load.py --url http://127.0.0.1:7860/ --sessions 20 # an app already running
    python bench/load.py --concurrency 1,2,4 --max-queue 64          # compare queue settings
    python bench/load.py --pin                                       # server and clients apart

For every (server settings, sessions) pair it reports requests answered, requests the server
refused cleanly ("Queue is full": the client is told to retry), other errors, throughput,
p50/p95/max latency per request (submit to final answer) and the server's peak RSS. Each
server setting gets a fresh `assistant chat` process (the index must exist: `make index`).
With --pin the server runs on the first CPU and the clients on the others, as they would
on other machines (on a small box the clients otherwise take CPU from the server). Timings are
figures for a report (bench/RESULTS.md), never test assertions.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import httpx
import psutil
from rich.console import Console
from rich.table import Table

QUESTIONS = [
    "How much did world output contract in 2020?",
    "How many people were pushed into poverty in Latin America?",
    "How many jobs were lost in 2020?",
    "What does the op-ed say about the WTO?",
    "What does the op-ed say about vaccines?",
    "Who wrote the op-ed?",
    "What is the outlook for world trade?",
    "What happened to remittances?",
]
RETRY = "queue is full"


@dataclass
class Run:
    concurrency: int
    max_queue: int
    sessions: int
    questions: int
    answered: int = 0
    told_to_retry: int = 0
    errors: int = 0
    error_samples: list[str] = field(default_factory=list)
    wall_s: float = 0.0
    latencies_ms: list[float] = field(default_factory=list)
    server_peak_rss_mb: float = 0.0
    server_cpu_s: float = 0.0  # the server's user + system CPU seconds during the run
    client_cpu_s: float = 0.0  # this process's (all the sessions') CPU seconds during the run

    def summary(self) -> dict:
        lat = sorted(self.latencies_ms)
        q = (lambda p: lat[min(len(lat) - 1, round(p * (len(lat) - 1)))]) if lat else (lambda p: None)
        data = {k: v for k, v in asdict(self).items() if k != "latencies_ms"}
        data.update(requests=self.sessions * self.questions,
                    throughput_rps=round(self.answered / self.wall_s, 2) if self.wall_s else None,
                    p50_ms=q(0.5), p95_ms=q(0.95), max_ms=lat[-1] if lat else None,
                    mean_ms=round(statistics.fmean(lat), 1) if lat else None,
                    server_cpu_ms_per_request=round(1000 * self.server_cpu_s / self.answered, 1)
                    if self.answered else None,
                    client_cpu_ms_per_request=round(1000 * self.client_cpu_s / self.answered, 1)
                    if self.answered else None)
        return data


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(concurrency: int, max_queue: int,
                 cpus: set[int] | None = None) -> tuple[subprocess.Popen, str]:
    port = free_port()
    cmd = [str(Path(sys.executable).parent / "assistant"), "chat", "--port", str(port),
           "--concurrency", str(concurrency), "--max-queue", str(max_queue)]
    env = dict(os.environ, HF_HUB_OFFLINE="1", GRADIO_ANALYTICS_ENABLED="False")
    if cpus:  # every thread of the server inherits it
        cmd = ["taskset", "-c", ",".join(map(str, sorted(cpus))), *cmd]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            start_new_session=True)
    url = f"http://127.0.0.1:{port}/"
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"`assistant chat` exited: {proc.stderr.read().decode()[-2000:]}")
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return proc, url
        except httpx.HTTPError:
            time.sleep(0.3)
    proc.kill()
    raise SystemExit("`assistant chat` did not come up in 300 s")


class RssSampler(threading.Thread):
    def __init__(self, pid: int):
        super().__init__(daemon=True)
        self.proc, self.peak, self._done = psutil.Process(pid), 0, threading.Event()

    def run(self) -> None:
        while not self._done.is_set():
            try:
                rss = self.proc.memory_info().rss + sum(
                    c.memory_info().rss for c in self.proc.children(recursive=True))
                self.peak = max(self.peak, rss)
            except psutil.Error:
                return
            self._done.wait(0.1)

    def stop(self) -> float:
        self._done.set()
        self.join(timeout=2)
        return self.peak / 2**20


def _cpu_seconds(pid: int | None) -> float:
    if not pid:
        return 0.0
    t = psutil.Process(pid).cpu_times()
    return t.user + t.system


def drive(url: str, run: Run) -> None:
    from gradio_client import Client

    # before the clock; the export file each answer offers is not downloaded (a chat client
    # has no use for it, and on a 2-core machine the clients share the server's CPUs)
    clients = [Client(url, verbose=False, download_files=False, analytics_enabled=False)
               for _ in range(run.sessions)]
    lock, barrier = threading.Lock(), threading.Barrier(run.sessions)

    def session(i: int, client) -> None:
        barrier.wait()
        for j in range(run.questions):
            question = QUESTIONS[(i + j) % len(QUESTIONS)]
            t0 = time.perf_counter()
            try:
                result = client.predict(question, [], "all", "extractive", api_name="/chat")
                ok = bool(result and result[0])
                error = None if ok else "empty result"
            except Exception as exc:  # noqa: BLE001 - every failure is counted and sampled
                ok, error = False, f"{type(exc).__name__}: {exc}"
            ms = (time.perf_counter() - t0) * 1000
            with lock:
                if ok:
                    run.answered += 1
                    run.latencies_ms.append(round(ms, 1))
                elif RETRY in error.lower():
                    run.told_to_retry += 1
                else:
                    run.errors += 1
                    if len(run.error_samples) < 5:
                        run.error_samples.append(error[:200])

    threads = [threading.Thread(target=session, args=(i, c)) for i, c in enumerate(clients)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    run.wall_s = round(time.perf_counter() - t0, 2)
    for c in clients:
        try:
            c.close()
        except Exception:  # noqa: BLE001, S110 - closing is best effort
            pass


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--url", help="an app already running (else one is started per setting)")
    ap.add_argument("--sessions", default="20,50", help="comma-separated session counts")
    ap.add_argument("--questions", type=int, default=5, help="questions per session")
    ap.add_argument("--concurrency", default="2", help="comma-separated `--concurrency` values")
    ap.add_argument("--max-queue", default="64", help="comma-separated `--max-queue` values")
    ap.add_argument("--pin", action="store_true", help="server on CPU 0, clients on the rest")
    ap.add_argument("--out", type=Path, default=Path("bench/results/load.json"))
    args = ap.parse_args()
    sessions = [int(s) for s in args.sessions.split(",")]
    settings = [(int(c), int(q)) for c in args.concurrency.split(",") for q in args.max_queue.split(",")]
    console, runs = Console(), []
    cpus = sorted(os.sched_getaffinity(0))
    server_cpus = set(cpus[:1]) if args.pin else None
    if args.pin and len(cpus) > 1:  # threads started from here on (the sessions) inherit it
        os.sched_setaffinity(0, set(cpus[1:]))
    for concurrency, max_queue in settings if not args.url else [(0, 0)]:
        proc, url = (None, args.url) if args.url else start_server(concurrency, max_queue, server_cpus)
        try:
            pid = proc.pid if proc else None
            for n in sessions:
                run = Run(concurrency, max_queue, n, args.questions)
                sampler = RssSampler(pid) if pid else None
                cpu0, own0 = _cpu_seconds(pid), _cpu_seconds(os.getpid())
                if sampler:
                    sampler.start()
                console.print(f"concurrency {concurrency}, queue {max_queue}: {n} sessions × "
                              f"{args.questions} questions …")
                drive(url, run)
                run.server_peak_rss_mb = round(sampler.stop(), 1) if sampler else 0.0
                run.server_cpu_s = round(_cpu_seconds(pid) - cpu0, 2)
                run.client_cpu_s = round(_cpu_seconds(os.getpid()) - own0, 2)
                runs.append(run.summary())
        finally:
            if proc:
                os.killpg(proc.pid, 9)
                proc.wait()
    table = Table(title="Web chat under load (gradio_client sessions)")
    for col in ("concurrency", "max queue", "sessions", "requests", "answered", "retry", "errors",
                "req/s", "p50 ms", "p95 ms", "max ms", "server CPU ms/req", "client CPU ms/req",
                "server RSS MB"):
        table.add_column(col, justify="right")
    for r in runs:
        table.add_row(*(str(x) for x in (r["concurrency"], r["max_queue"], r["sessions"],
                                          r["requests"], r["answered"], r["told_to_retry"],
                                          r["errors"], r["throughput_rps"], r["p50_ms"],
                                          r["p95_ms"], r["max_ms"], r["server_cpu_ms_per_request"],
                                          r["client_cpu_ms_per_request"], r["server_peak_rss_mb"])))
    console.print(table)
    for r in runs:
        for sample in r["error_samples"]:
            console.print(f"[red]error sample[/] ({r['sessions']} sessions): {sample}", highlight=False)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"pinned": args.pin, "machine": {"cpus": os.cpu_count(),
                                                "ram_gb": round(psutil.virtual_memory().total / 2**30, 1)},
                                    "runs": runs}, indent=2))
    console.print(f"written {args.out}")


if __name__ == "__main__":
    main()
