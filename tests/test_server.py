"""Start-up of the app: model checks, index building, launch options."""

from __future__ import annotations

from pathlib import Path

import pytest

from bluebot import server
from bluebot.cli import main
from bluebot.config import Settings
from bluebot.embedding import HashingEmbedder
from bluebot.errors import ConfigError, ModelError
from bluebot.pipeline import Bot


@pytest.mark.parametrize(
    ("value", "expected"), [("", None), ("  ", None), ("ann:s3:cret", ("ann", "s3:cret")), ("bo:b", ("bo", "b"))]
)
def test_auth_from_the_environment(value: str, expected: tuple[str, str] | None) -> None:
    assert server.parse_auth(value) == expected


@pytest.mark.parametrize("value", ["ann", "ann:", ":pw"])
def test_a_malformed_login_names_the_format(value: str) -> None:
    with pytest.raises(ConfigError, match="user:password"):
        server.parse_auth(value)


def test_loopback_by_default_and_no_extra_files_served() -> None:
    options = server.launch_options(env={})
    assert options["server_name"] == "127.0.0.1" and options["server_port"] == 7860
    assert options["auth"] is None and "allowed_paths" not in options and options["show_error"] is False
    assert server.launch_options("0.0.0.0", 8080, env={"BLUEBOT_AUTH": "u:p"})["auth"] == ("u", "p")


def missing_llm(tmp_path: Path) -> dict[str, str]:
    embed = tmp_path / "embed"
    embed.mkdir()
    return {
        "BLUEBOT_EMBED_MODEL": str(embed),  # a folder counts as present; the answer model is what is missing
        "BLUEBOT_MODELS_DIR": str(tmp_path / "models"),
        "BLUEBOT_LLM_MODEL": "qwen2.5-coder-0.5b-instruct",
        "BLUEBOT_BACKEND": "local",
    }


def test_a_missing_model_names_the_setup_command(tmp_path: Path) -> None:
    bot = Bot(Settings.from_env(env=missing_llm(tmp_path)))
    with pytest.raises(ModelError, match=r"run `bluebot setup`.*BLUEBOT_BACKEND=extractive"):
        server.check_models(bot)


def test_serve_exits_non_zero_before_serving_when_models_are_missing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for var, value in missing_llm(tmp_path).items():
        monkeypatch.setenv(var, value)
    monkeypatch.setenv("BLUEBOT_INDEX_DIR", str(tmp_path / "index"))
    assert main(["serve", "--port", "0"]) == 1
    assert "bluebot setup" in capsys.readouterr().err
    assert not (tmp_path / "index").exists()


def test_serve_refuses_a_malformed_login(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("BLUEBOT_AUTH", "just-a-name")
    assert main(["serve"]) == 1
    assert "BLUEBOT_AUTH must look like user:password" in capsys.readouterr().err


def test_start_up_builds_a_missing_index(
    settings: Settings, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(server, "check_models", lambda bot: None)  # the hashing embedder needs no files
    bot = Bot(settings, embedder=HashingEmbedder())
    assert bot.stale_reason()
    assert server.prepare(bot) is bot
    assert bot.stale_reason() is None
    err = capsys.readouterr().err
    assert "building the index: there is no index" in err and "indexed 1 files" in err
