"""Thumbs up/down from the chat, appended as test-set lines (EVAL_FORMAT.md) so they can become test cases."""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from bluebot.types import Answer, Turn

FEEDBACK_FILE = "feedback.jsonl"
REASONS = ("wrong number", "wrong source", "not in the report")
Verdict = Literal["up", "down"]

# one process may serve many sessions: keep their lines whole and in order
_LOCK = threading.Lock()


def feedback_case(
    answer: Answer, history: Sequence[Turn], verdict: Verdict, reason: str = "", now: datetime | None = None
) -> dict[str, Any]:
    """One test-set line: the question as asked, the answer given, and what the user thought of it."""
    if reason and reason not in REASONS:
        raise ValueError(f"unknown feedback reason {reason!r}: use one of {REASONS}")
    now = now or datetime.now(UTC)
    digest = hashlib.sha256(f"{answer.question}\n{answer.text}".encode()).hexdigest()[:8]
    return {
        # time first so ids sort by date; the digest tells apart two verdicts given in the same microsecond
        "id": f"fb-{now:%Y%m%dT%H%M%S%f}-{digest}",
        "question": answer.question,
        "answer": answer.text,
        "lang": answer.lang,
        "history": [{"role": t.role, "content": t.content} for t in history],
        "category": "feedback",
        "feedback": verdict,
        "reason": reason,
        "cited": [c.chunk.id for c in answer.citations],
        "backend": answer.backend,
        "timestamp": now.isoformat(timespec="seconds"),
    }


def append_feedback(data_dir: Path, case: dict[str, Any]) -> Path:
    """Append one line to data_dir/feedback.jsonl (created with its folder when missing)."""
    path = data_dir / FEEDBACK_FILE
    line = json.dumps(case, ensure_ascii=False) + "\n"
    with _LOCK:
        data_dir.mkdir(parents=True, exist_ok=True)
        with path.open("a", encoding="utf-8") as f:
            f.write(line)
    return path
