"""Embedder protocol and its backends: sentence-transformers for real use, a hashing embedder for tests."""

from __future__ import annotations

import hashlib
import logging
import math
import re
from typing import Protocol

from bluebot.errors import ModelError


class Embedder(Protocol):
    name: str  # recorded in the index manifest; a query with another name is refused

    def embed_documents(self, texts: list[str]) -> list[list[float]]: ...

    def embed_query(self, text: str) -> list[float]: ...


class SentenceTransformerEmbedder:
    """Any sentence-transformers model; uses the model's own query/document prompts when it has them
    (embeddinggemma does), and L2-normalised vectors so cosine and dot product agree."""

    def __init__(self, name: str, path: str, threads: int = 2, batch_size: int = 16) -> None:
        import torch
        from sentence_transformers import SentenceTransformer
        from transformers.utils import logging as hf_logging

        # bluebot prints its own progress; the per-load weight bars and dtype notes are noise here
        hf_logging.set_verbosity_error()
        hf_logging.disable_progress_bar()
        logging.getLogger("sentence_transformers").setLevel(logging.ERROR)
        torch.set_num_threads(threads)
        self.name = name
        self.batch_size = batch_size
        try:
            self.model = SentenceTransformer(path, device="cpu")
        except (OSError, ValueError) as exc:
            raise ModelError(f"cannot load embedding model {name} from {path}: {exc}; run `bluebot setup`") from None
        prompts = getattr(self.model, "prompts", {}) or {}
        self._query_prompt = "query" if "query" in prompts else None
        self._doc_prompt = "document" if "document" in prompts else None

    def embed_documents(self, texts: list[str], progress: bool = False) -> list[list[float]]:
        vectors = self.model.encode(
            texts,
            prompt_name=self._doc_prompt,
            batch_size=self.batch_size,
            normalize_embeddings=True,
            show_progress_bar=progress,
            convert_to_numpy=True,
        )
        return vectors.astype("float32").tolist()

    def embed_query(self, text: str) -> list[float]:
        vector = self.model.encode(
            [text],
            prompt_name=self._query_prompt,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )[0]
        return vector.astype("float32").tolist()


class HashingEmbedder:
    """Deterministic, model-free embedder for fast tests: hashed character bigrams and words, so
    texts sharing words land near each other. Not for real use."""

    def __init__(self, dim: int = 256, name: str = "hashing-test-embedder") -> None:
        self.dim = dim
        self.name = name

    def _vector(self, text: str) -> list[float]:
        vec = [0.0] * self.dim
        text = text.lower()
        grams = [text[i : i + 2] for i in range(len(text) - 1)] + re.findall(r"\w+", text)
        for gram in grams:
            h = int.from_bytes(hashlib.sha256(gram.encode()).digest()[:8], "big")
            vec[h % self.dim] += 1.0 if (h >> 32) & 1 else -1.0
        norm = math.sqrt(sum(v * v for v in vec)) or 1.0
        return [v / norm for v in vec]

    def embed_documents(self, texts: list[str], progress: bool = False) -> list[list[float]]:
        return [self._vector(t) for t in texts]

    def embed_query(self, text: str) -> list[float]:
        return self._vector(text)
