from __future__ import annotations

import json
from pathlib import Path

import pytest

from bluebot import cli


@pytest.fixture
def env(cli_env: Path) -> Path:
    return cli_env


def test_ingest_then_search_json(env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["ingest"]) == 0
    assert "indexed 1 files" in capsys.readouterr().out
    assert cli.main(["ingest"]) == 0
    assert "up to date" in capsys.readouterr().out
    assert cli.main(["search", "杭州获投企业有多少家", "--k", "2", "--json"]) == 0
    hits = json.loads(capsys.readouterr().out)
    assert len(hits) == 2
    assert {"chunk_id", "score", "section", "source", "text"} <= set(hits[0])
    assert "54家" in hits[0]["text"]


def test_search_without_index_names_the_fix(env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["search", "投资"]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("bluebot: error: no index in") and "bluebot ingest" in err
    assert len(err.splitlines()) == 1


def test_bad_setting_is_one_line(
    env: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("BLUEBOT_CHUNK_SIZE", "lots")
    assert cli.main(["ingest"]) == 1
    assert capsys.readouterr().err.strip() == "bluebot: error: BLUEBOT_CHUNK_SIZE='lots' is not a valid int"


def test_ingest_reports_bad_files_and_indexes_the_rest(
    env: Path, corpus_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (corpus_dir / "bad.txt").write_bytes("报告".encode("gbk"))
    assert cli.main(["ingest"]) == 0
    out = capsys.readouterr()
    assert "skipped: " in out.err and "bad.txt" in out.err
    assert "indexed 1 files" in out.out


def test_eval_retrieval_only(env: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cases = tmp_path / "set.jsonl"
    cases.write_text(
        "\n".join(
            json.dumps(c, ensure_ascii=False)
            for c in [
                {"id": "a", "question": "2024年杭州AI产业领域获投的企业有多少家？", "evidence": ["获投的企业有54家"]},
                {"id": "b", "question": "共有投资案例多少起", "evidence": ["共有投资案例 1,156 起"]},
                {"id": "c", "question": "北京呢", "answerable": False},
            ]
        ),
        encoding="utf-8",
    )
    assert cli.main(["ingest"]) == 0
    capsys.readouterr()
    assert cli.main(["eval", str(cases), "--retrieval-only", "--json"]) == 0
    scores = json.loads(capsys.readouterr().out)
    assert scores["zh"]["n"] == 2
    assert scores["zh"]["hit5"] == 1.0


def test_eval_bad_line(env: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cases = tmp_path / "set.jsonl"
    cases.write_text('{"id": "a", "question": "q"}\n{oops\n', encoding="utf-8")
    assert cli.main(["eval", str(cases), "--retrieval-only"]) == 1
    assert "line 2: not valid JSON" in capsys.readouterr().err


def test_help_has_examples(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        cli.main(["search", "--help"])
    assert "examples:" in capsys.readouterr().out
