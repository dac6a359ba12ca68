"""The report's names and special terms in English (corpus/glossary.tsv), for English answers. The small model
translates a company's name by the meaning of its characters and paraphrases an agency's; given the English
name next to the Chinese one it copies it. Used twice: in an English prompt each listed term is followed by its
English name, and Chinese left in an English answer is looked up here before the model is asked.

The file: UTF-8, one term per line, the Chinese as written in the report, a tab, the English name. Lines that
are blank or start with "#" are skipped. A malformed line is an error naming the file and line.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from bluebot.errors import ConfigError
from bluebot.text import english_words, has_chinese

GLOSSARY_FILE = "glossary.tsv"


@dataclass(frozen=True)
class Glossary:
    terms: dict[str, str] = field(default_factory=dict)  # Chinese -> English

    @classmethod
    def read(cls, path: Path) -> Glossary:
        """The glossary at path; an empty one when there is no such file (another corpus may have none)."""
        try:
            lines = path.read_text(encoding="utf-8").splitlines()
        except FileNotFoundError:
            return cls()
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"{path}: cannot read the glossary: {exc}") from None
        terms: dict[str, str] = {}
        for number, line in enumerate(lines, 1):
            if not line.strip() or line.startswith("#"):
                continue
            parts = [p.strip() for p in line.split("\t")]
            if len(parts) != 2 or not all(parts) or has_chinese(parts[1]):
                raise ConfigError(f"{path}:{number}: expected a Chinese term, a tab and its English name, got {line!r}")
            terms[parts[0]] = parts[1]
        return cls(terms)

    def corrected(self, corrections: Glossary) -> Glossary:
        """These terms with corrections' English names winning, and corrections' other terms added."""
        return Glossary(self.terms | corrections.terms)

    @cached_property
    def _pattern(self) -> re.Pattern[str] | None:
        if not self.terms:
            return None
        # longest first, so that 青禾科技母基金二期（人工智能） wins over 青禾科技母基金
        return re.compile("|".join(re.escape(t) for t in sorted(self.terms, key=len, reverse=True)))

    def gloss(self, text: str) -> str:
        """Each listed term's first occurrence followed by its English name: "华为" -> "华为 (Huawei)"."""
        pattern = self._pattern
        if pattern is None:
            return text
        seen: set[str] = set()

        def add(m: re.Match[str]) -> str:
            term = m.group(0)
            if term in seen:
                return term
            seen.add(term)
            return f"{term} ({self.terms[term]})"

        return pattern.sub(add, text)

    def about(self, english: str) -> Glossary:
        """The terms whose English name shares a content word with an English text (a question): the names worth
        giving the model that reads the question in Chinese, to match its words to the passages'."""
        words = english_words(english)
        return Glossary({zh: en for zh, en in self.terms.items() if english_words(en) & words})

    def found(self, text: str) -> dict[str, str]:
        """The listed terms in text (longest match first, no overlaps) -> their English names, in order."""
        pattern = self._pattern
        return {m.group(0): self.terms[m.group(0)] for m in pattern.finditer(text)} if pattern else {}

    def __len__(self) -> int:
        return len(self.terms)
