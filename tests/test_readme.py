"""The README's promises that are cheap to check: every file it links to exists, every `bluebot` command line it
shows parses with the real parser, every `make` target it names exists, and every BLUEBOT_* setting it lists is
one the settings read."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

from bluebot import cli
from bluebot.config import _ENV

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")
# `.venv/bin/bluebot ask "..." --k 3` or `bluebot eval ... --without echo`, in code spans and code blocks
COMMANDS = sorted(
    {m.group(1).split("#")[0].strip() for m in re.finditer(r"(?:\.venv/bin/)?(bluebot (?:[a-z]+)[^`\n|]*)", README)}
)


def test_every_file_the_readme_links_to_exists() -> None:
    links = re.findall(r"\]\(([^)#\s]+)\)", README)
    assert links, "the README links to no file"
    missing = [link for link in links if not link.startswith("http") and not (ROOT / link).exists()]
    assert missing == []


# (a line with "..." quotes an error message, not a command)
@pytest.mark.parametrize("line", [c for c in COMMANDS if c.split()[1] in cli.EXAMPLES and "..." not in c])
def test_every_bluebot_command_line_parses(line: str) -> None:
    args = shlex.split(line)[1:]
    cli.build_parser().parse_args(args)  # an unknown option or a missing argument exits with status 2


def test_the_make_targets_it_names_exist() -> None:
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    for target in set(re.findall(r"make (app|test|lint|bench)\b", README)):
        assert re.search(rf"^{target}:", makefile, re.M), target


def test_the_settings_it_lists_are_read() -> None:
    listed = set(re.findall(r"`(BLUEBOT_[A-Z0-9_]+)`", README))
    read_elsewhere = {
        "BLUEBOT_LLM_API_KEY",
        "BLUEBOT_AUTH",
        "BLUEBOT_JUDGE_BASE_URL",
        "BLUEBOT_JUDGE_MODEL",
        "BLUEBOT_JUDGE_API_KEY",
    }  # read where used (secrets, the server, the judge), not by Settings
    sources = "".join(p.read_text(encoding="utf-8") for p in (ROOT / "src" / "bluebot").glob("*.py"))
    assert listed, "the README lists no setting"
    for name in listed:
        assert name in _ENV or (name in read_elsewhere and name in sources), name
