"""Start-up for `app.py` and `bluebot serve`: check the models, build a missing or stale index, load
everything once, and the launch options (loopback by default, optional login from BLUEBOT_AUTH)."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from bluebot.errors import ConfigError, GenerationError, ModelError
from bluebot.names import NAMES_FILE

if TYPE_CHECKING:
    from bluebot.pipeline import Bot

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 7860
Log = Callable[[str], None]


def _stderr(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _embed_progress() -> Callable[[int, int], None]:
    from tqdm import tqdm

    bar: list[tqdm] = []

    def update(done: int, total: int) -> None:
        if not bar:
            bar.append(tqdm(total=total, desc="embedding", unit="chunk", file=sys.stderr))
        bar[0].n = done
        bar[0].refresh()
        if done >= total:
            bar[0].close()

    return update


def check_models(bot: Bot) -> None:
    """Raise ModelError naming `bluebot setup` when a model the settings need is not on disk."""
    from bluebot.models import resolve_embedding_model, resolve_llm_model

    settings = bot.settings
    resolve_embedding_model(settings)
    if settings.backend == "local":
        try:
            resolve_llm_model(settings)
        except ModelError as exc:
            raise ModelError(f"{exc} (or start with BLUEBOT_BACKEND=extractive to answer without it)") from None


def prepare(bot: Bot, log: Log = _stderr) -> Bot:
    """Make the bot ready to serve: models present, index current, models and index loaded and shared.

    Everything heavy happens here, once, so that the first user does not wait for it.
    """
    check_models(bot)
    reason = bot.stale_reason()
    if reason:
        log(f"building the index: {reason}")
        report = bot.ingest(on_embed=_embed_progress())
        for error in report.errors:
            log(f"skipped: {error}")
        log(f"indexed {report.files} files into {report.chunks} chunks in {report.seconds:.1f} s")
    log("loading the embedding model and the index")
    bot.retriever  # noqa: B018 - a lazy property: touching it loads the embedder and the index now
    if bot.settings.backend == "local":
        log(f"loading the answer model {bot.settings.llm_model}")
        # one token through the real path: loads the weights and warms the kernels before the first user
        for _ in bot.generator("local").stream([("user", "你好")], max_tokens=1):
            break
    if bot.settings.backend != "extractive" and (reason or not (bot.settings.index_dir / NAMES_FILE).exists()):
        log("naming the corpus's terms in English")
        try:
            names = bot.name_terms()
            log(f"English names for {names.named} of {names.terms} terms in {names.seconds:.1f} s")
        except (ModelError, GenerationError) as exc:
            log(f"warning: no English names made for the corpus's terms: {exc}")
    return bot


def parse_auth(value: str) -> tuple[str, str] | None:
    """`user:password` -> (user, password); empty -> no login."""
    value = value.strip()
    if not value:
        return None
    user, sep, password = value.partition(":")
    if not sep or not user or not password:
        raise ConfigError("BLUEBOT_AUTH must look like user:password (both parts non-empty)")
    return user, password


def launch_options(
    host: str = DEFAULT_HOST, port: int = DEFAULT_PORT, env: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """Keyword arguments for Blocks.launch(). No allowed_paths: the app serves only Gradio's own files."""
    from bluebot.ui import CSS

    env = os.environ if env is None else env
    # the closed network: Gradio's analytics calls would only time out
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    auth = parse_auth(env.get("BLUEBOT_AUTH", ""))
    if auth is None and host not in ("127.0.0.1", "localhost", "::1"):
        _stderr(f"warning: serving on {host} without a login; set BLUEBOT_AUTH=user:password to require one")
    return {
        "server_name": host,
        "server_port": port,
        "auth": auth,
        "auth_message": "bluebot: sign in with the BLUEBOT_AUTH user" if auth else None,
        "css": CSS,
        "footer_links": ["api"],
        "show_error": False,  # errors reach the user as chat messages; tracebacks stay in the console
    }
