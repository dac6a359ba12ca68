"""A real OpenAI-compatible server on loopback (llama-cpp-python's, serving the small local GGUF) for the
openai backend's tests."""

from __future__ import annotations

import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from chroma_server import free_port


@contextmanager
def llama_server(gguf: Path, alias: str, log_dir: Path, threads: int = 2) -> Iterator[str]:
    """Start `python -m llama_cpp.server` on 127.0.0.1 and yield its base URL (…/v1); stopped on exit."""
    port = free_port()
    log = (log_dir / f"llama-{port}.log").open("wb")
    cmd = [sys.executable, "-m", "llama_cpp.server", "--model", str(gguf), "--model_alias", alias,
           "--host", "127.0.0.1", "--port", str(port), "--n_ctx", "4096", "--n_threads", str(threads)]
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}/v1"
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"{base}/models", timeout=1):
                    break
            except OSError:
                if proc.poll() is not None:
                    raise RuntimeError(f"llama_cpp.server exited with {proc.returncode}; see {log.name}") from None
                time.sleep(0.5)
        else:
            raise RuntimeError("llama_cpp.server did not start within 120 s")
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()
