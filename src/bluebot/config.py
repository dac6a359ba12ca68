"""One Settings object: defaults < BLUEBOT_* environment variables < CLI flags."""

from __future__ import annotations

import os
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from bluebot.errors import ConfigError

DEFAULT_EMBED_MODEL = "google/embeddinggemma-300m"
DEFAULT_LLM_MODEL = "qwen2.5-coder-1.5b-instruct"
BACKENDS = ("local", "openai", "extractive")
ENGLISH_PATHS = ("auto", "direct", "chinese")
# The verification checks of bluebot.checks, in the order they run (a test keeps the two lists the same).
CHECK_NAMES = ("weak-retrieval", "unsupported-figures", "unstated-year", "evidence-answers")

# env var -> (field name, parser); "flag" is 1/0, true/false, yes/no, on/off
_ENV: dict[str, tuple[str, type | str]] = {
    "BLUEBOT_CORPUS_DIR": ("corpus_dir", Path),
    "BLUEBOT_INDEX_DIR": ("index_dir", Path),
    "BLUEBOT_MODELS_DIR": ("models_dir", Path),
    "BLUEBOT_DATA_DIR": ("data_dir", Path),
    "BLUEBOT_EMBED_MODEL": ("embed_model", str),
    "BLUEBOT_CHUNK_SIZE": ("chunk_size", int),
    "BLUEBOT_CHUNK_OVERLAP": ("chunk_overlap", int),
    "BLUEBOT_K": ("k", int),
    "BLUEBOT_BACKEND": ("backend", str),
    "BLUEBOT_LLM_MODEL": ("llm_model", str),
    "BLUEBOT_LLM_BASE_URL": ("llm_base_url", str),
    "BLUEBOT_CHROMA_URL": ("chroma_url", str),
    "BLUEBOT_THREADS": ("threads", int),
    "BLUEBOT_INT8": ("int8", "flag"),
    "BLUEBOT_ENGLISH_PATH": ("english_path", str),
    "BLUEBOT_WITHOUT": ("without", "names"),
}
_FLAGS = {"1": True, "true": True, "yes": True, "on": True, "0": False, "false": False, "no": False, "off": False}


def _default_threads() -> int:
    return max(1, min(2, os.cpu_count() or 1))


@dataclass(frozen=True)
class Settings:
    corpus_dir: Path = Path("corpus")
    index_dir: Path = Path("index")
    models_dir: Path = field(default_factory=lambda: Path.home() / ".cache" / "bluebot" / "models")
    data_dir: Path = Path("data")
    embed_model: str = DEFAULT_EMBED_MODEL
    chunk_size: int = 300
    chunk_overlap: int = 60
    k: int = 5
    backend: str = "local"
    llm_model: str = DEFAULT_LLM_MODEL
    llm_base_url: str = ""
    chroma_url: str = ""
    threads: int = field(default_factory=_default_threads)
    int8: bool = True  # the local model's linear layers in int8 (int8.py), on CPUs with VNNI, AMX or AVX2
    # English questions: "auto" reads those asking for one thing in Chinese first (pipeline.Bot._write); "direct"
    # answers every one in English, "chinese" reads every one in Chinese first
    english_path: str = "auto"
    without: frozenset[str] = frozenset()  # verification checks switched off by name (bluebot eval --without)

    def __post_init__(self) -> None:
        if self.chunk_size < 50:
            raise ConfigError(f"chunk size {self.chunk_size} is too small: use 50 or more (BLUEBOT_CHUNK_SIZE)")
        if not 0 <= self.chunk_overlap < self.chunk_size // 2:
            raise ConfigError(
                f"chunk overlap {self.chunk_overlap} must be between 0 and half the chunk size "
                f"({self.chunk_size // 2}) (BLUEBOT_CHUNK_OVERLAP)"
            )
        if not 1 <= self.k <= 50:
            raise ConfigError(f"k={self.k} is out of range: pass a number of passages from 1 to 50 (--k, BLUEBOT_K)")
        if self.backend not in BACKENDS:
            raise ConfigError(
                f"unknown backend {self.backend!r}: choose one of {', '.join(BACKENDS)} (--backend, BLUEBOT_BACKEND)"
            )
        if self.english_path not in ENGLISH_PATHS:
            raise ConfigError(
                f"unknown English path {self.english_path!r}: choose one of {', '.join(ENGLISH_PATHS)} "
                "(BLUEBOT_ENGLISH_PATH)"
            )
        if unknown := sorted(self.without - set(CHECK_NAMES)):
            raise ConfigError(
                f"unknown check {', '.join(unknown)}: the checks are {', '.join(CHECK_NAMES)} "
                "(--without, BLUEBOT_WITHOUT)"
            )
        if self.threads < 1:
            raise ConfigError(f"threads={self.threads}: use 1 or more (BLUEBOT_THREADS)")

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None, **overrides: Any) -> Settings:
        """Build settings from defaults, then BLUEBOT_* variables, then non-None overrides."""
        env = dict(os.environ) if env is None else env
        values: dict[str, Any] = {}
        for var, (name, parse) in _ENV.items():
            raw = env.get(var, "").strip()
            if not raw:
                continue
            if parse == "names":
                values[name] = frozenset(n.strip() for n in raw.split(",") if n.strip())
                continue
            if parse == "flag":
                if raw.lower() not in _FLAGS:
                    raise ConfigError(f"{var}={raw!r} is not a valid flag: use 1 or 0")
                values[name] = _FLAGS[raw.lower()]
                continue
            assert isinstance(parse, type)
            try:
                values[name] = parse(raw)
            except ValueError:
                raise ConfigError(f"{var}={raw!r} is not a valid {parse.__name__}") from None
        known = {f.name for f in fields(cls)}
        for name, value in overrides.items():
            if name not in known:
                raise ConfigError(f"unknown setting {name!r}")
            if value is not None:
                values[name] = value
        return cls(**values)

    def with_(self, **changes: Any) -> Settings:
        return replace(self, **changes)
