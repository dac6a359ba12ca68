"""The chat app: `python app.py` (or `bluebot serve --host --port`) -> http://127.0.0.1:7860."""

import sys

from bluebot.config import Settings
from bluebot.errors import BluebotError
from bluebot.pipeline import Bot
from bluebot.server import launch_options, prepare
from bluebot.ui import build_app

if __name__ == "__main__":
    try:
        settings = Settings.from_env()
        bot = prepare(Bot(settings))  # models on disk? index current (else built now)? then load them once
        options = launch_options()
    except BluebotError as exc:
        sys.exit(f"bluebot: error: {exc}")  # names the fix, e.g. `bluebot setup`; exit status 1
    build_app(bot, settings).launch(**options)
