"""Real servers on loopback for the tests: `chroma run`, and llama-cpp-python's OpenAI-compatible server."""

from __future__ import annotations

import importlib.util
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from bluebot.config import Settings
from bluebot.models import LLM_MIRRORS

SMALL_MODEL = "qwen2.5-coder-0.5b-instruct"  # keeps server tests short; the protocol is the same


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _port_open(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


def _url_answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1):
            return True
    except OSError:
        return False


@contextmanager
def _process(cmd: list[str], log_path: Path, ready: Callable[[], bool], what: str, timeout: float) -> Iterator[None]:
    """Run cmd until the block ends, once ready() says it serves; its output goes to log_path."""
    with log_path.open("wb") as log:
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
        try:
            deadline = time.monotonic() + timeout
            while not ready():
                if proc.poll() is not None:
                    raise RuntimeError(f"{what} exited with {proc.returncode}; see {log_path}")
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{what} did not start within {timeout:.0f} s; see {log_path}")
                time.sleep(0.3)
            yield
        finally:
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()


def chroma_binary() -> str:
    exe = Path(sys.executable).parent / "chroma"
    return str(exe) if exe.exists() else (shutil.which("chroma") or "chroma")


@contextmanager
def chroma_server(path: Path, port: int | None = None) -> Iterator[str]:
    """Start `chroma run` on 127.0.0.1 and yield its URL; stopped on exit."""
    port = port or free_port()
    cmd = [chroma_binary(), "run", "--path", str(path), "--host", "127.0.0.1", "--port", str(port)]
    with _process(cmd, path.parent / f"chroma-{port}.log", lambda: _port_open(port), "chroma run", 30):
        yield f"http://127.0.0.1:{port}"


@contextmanager
def llama_server(gguf: Path, alias: str, log_dir: Path, threads: int = 2) -> Iterator[str]:
    """Start `python -m llama_cpp.server` on 127.0.0.1 and yield its base URL (…/v1); stopped on exit."""
    port = free_port()
    base = f"http://127.0.0.1:{port}/v1"
    cmd = [sys.executable, "-m", "llama_cpp.server", "--model", str(gguf), "--model_alias", alias,
           "--host", "127.0.0.1", "--port", str(port), "--n_ctx", "4096", "--n_threads", str(threads)]
    with _process(cmd, log_dir / f"llama-{port}.log", lambda: _url_answers(f"{base}/models"), "llama_cpp.server",
                  120):
        yield base


def small_model_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Body of a module-scoped fixture: the small local GGUF behind a real OpenAI-compatible server."""
    if importlib.util.find_spec("llama_cpp") is None:
        pytest.skip("llama-cpp-python[server] is not installed (dev extra)")
    gguf = Settings().models_dir / LLM_MIRRORS["0.5b"].gguf_name
    if not gguf.is_file():
        message = f"{gguf} is missing: run `make small-model` (`make test` does)"
        if os.environ.get("CI"):  # .ci/run prepares it: there a missing model is a failure, not a quiet skip
            pytest.fail(message)
        pytest.skip(message)
    with llama_server(gguf, SMALL_MODEL, tmp_path_factory.mktemp("llama")) as base:
        yield base
