"""Load test: N concurrent chat sessions against a running bluebot app on loopback.

    .venv/bin/python benchmarks/load.py --sessions 20 --seconds 120 --backend extractive
    .venv/bin/python benchmarks/load.py --sessions 3 --seconds 180 --backend local

Starts `bluebot serve` on a free 127.0.0.1 port (or uses --url of one already running, with --pid
for its memory), then each session is a gradio_client Client that asks questions of the shipped
test sets one after another, follow-ups included, until --seconds or --max-questions run out.
Prints errors (target: none), answer latency p50/p95 as seen by the client, and the server's
memory before and after. Traffic goes to loopback only, and the run stops by itself.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

from gradio_client import Client


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def rss_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")


def start_server(backend: str, port: int) -> subprocess.Popen[bytes]:
    env = dict(os.environ, BLUEBOT_BACKEND=backend, HF_HUB_OFFLINE="1", GRADIO_ANALYTICS_ENABLED="False")
    cmd = [sys.executable, "-m", "bluebot", "serve", "--host", "127.0.0.1", "--port", str(port)]
    return subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def wait_ready(url: str, proc: subprocess.Popen[bytes] | None, timeout: float = 300) -> None:
    import httpx

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise SystemExit(f"the app exited with {proc.returncode} before it was ready")
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(1)
    raise SystemExit(f"the app at {url} was not ready within {timeout:.0f} s")


def questions() -> list[dict]:
    cases = []
    for name in ("eval/report_zh.jsonl", "eval/report_en.jsonl"):
        cases += [json.loads(line) for line in Path(name).read_text(encoding="utf-8").splitlines() if line.strip()]
    return cases


def session(
    url: str,
    backend: str,
    k: int,
    until: float,
    budget: list[int],
    lock: threading.Lock,
    latencies: list[float],
    errors: list[str],
    seed: int,
) -> None:
    rng = random.Random(seed)
    cases = questions()
    client = Client(url, verbose=False)
    chat: list = []
    while time.monotonic() < until:
        with lock:
            if budget[0] <= 0:
                return
            budget[0] -= 1
        case = rng.choice(cases)
        if not case.get("history"):
            chat = []  # a new conversation unless the case is a follow-up
        lang = "zh" if case.get("lang") == "zh" else "en"
        t = time.perf_counter()
        try:
            _, chat, _ = client.predict(case["question"], chat, backend, k, lang, api_name="/ask")
            text = "".join(p.get("text", "") for p in chat[-1]["content"] if isinstance(p, dict))
            if not text.strip():
                raise RuntimeError("empty answer")
            latencies.append(time.perf_counter() - t)
        except Exception as exc:  # every failure is a finding of the load test
            errors.append(f"{type(exc).__name__}: {exc}"[:200])
            chat = []


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sessions", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=120)
    parser.add_argument("--max-questions", type=int, default=2000)
    parser.add_argument("--backend", default="extractive", choices=["extractive", "local", "openai"])
    parser.add_argument("--k", type=int, default=5)
    parser.add_argument("--url", default="", help="an app already running on loopback")
    parser.add_argument("--pid", type=int, default=0, help="its process id, for memory figures")
    args = parser.parse_args()

    proc = None
    url, pid = args.url, args.pid
    if not url:
        port = free_port()
        proc = start_server(args.backend, port)
        url, pid = f"http://127.0.0.1:{port}/", proc.pid
    try:
        t0 = time.perf_counter()
        wait_ready(url, proc)
        print(f"app ready in {time.perf_counter() - t0:.1f} s at {url}")
        before = rss_mb(pid) if pid else float("nan")
        latencies: list[float] = []
        errors: list[str] = []
        lock = threading.Lock()
        budget = [args.max_questions]
        until = time.monotonic() + args.seconds
        threads = [
            threading.Thread(
                target=session, args=(url, args.backend, args.k, until, budget, lock, latencies, errors, i), daemon=True
            )
            for i in range(args.sessions)
        ]
        started = time.perf_counter()
        for th in threads:
            th.start()
        for th in threads:
            th.join(args.seconds + 600)
        wall = time.perf_counter() - started
        after = rss_mb(pid) if pid else float("nan")
        latencies.sort()

        def pct(q: float) -> float:
            return latencies[min(len(latencies) - 1, round(q * (len(latencies) - 1)))] if latencies else float("nan")

        print(
            f"backend {args.backend}, {args.sessions} sessions, {wall:.0f} s: {len(latencies)} answers, "
            f"{len(errors)} errors, {len(latencies) / wall:.2f} answers/s"
        )
        print(f"latency p50 {pct(0.5):.2f} s, p95 {pct(0.95):.2f} s, max {pct(1.0):.2f} s")
        print(f"server memory: {before:.0f} MB before, {after:.0f} MB after")
        for err in sorted(set(errors))[:10]:
            print(f"error: {err}")
    finally:
        if proc is not None:
            proc.terminate()
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                proc.kill()


if __name__ == "__main__":
    main()
