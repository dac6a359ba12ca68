"""Corpus files (.txt, .md, .pdf) -> Documents. A bad file is reported, never fatal to the others."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from bluebot.errors import LoaderError
from bluebot.types import Document

SUFFIXES = (".txt", ".md", ".pdf")


@dataclass(frozen=True)
class LoadReport:
    documents: list[Document]
    errors: list[LoaderError]
    digests: dict[str, str]  # source -> sha256 of the file bytes, for the manifest


def source_name(path: Path) -> str:
    """A stable, readable name: relative to the working directory when the file lies under it."""
    resolved = path.resolve()
    try:
        return resolved.relative_to(Path.cwd().resolve()).as_posix()
    except ValueError:
        return resolved.as_posix()


def find_files(paths: Iterable[Path]) -> list[Path]:
    """Expand folders recursively into the corpus files they hold, sorted for a stable order."""
    found: set[Path] = set()
    for path in paths:
        if path.is_dir():
            found.update(
                p
                for p in path.rglob("*")
                if p.is_file()
                and p.suffix.lower() in SUFFIXES
                and not any(part.startswith(".") for part in p.relative_to(path).parts)
            )
        elif path.is_file():
            if path.suffix.lower() not in SUFFIXES:
                raise LoaderError(f"{path}: unsupported file type {path.suffix or '(none)'}; use {', '.join(SUFFIXES)}")
            found.add(path)
        else:
            raise LoaderError(f"{path}: no such file or folder")
    return sorted(found)


def _decode_text(path: Path, data: bytes) -> str:
    if not data.strip():
        raise LoaderError(f"{path}: the file is empty")
    if b"\x00" in data[:8192]:
        raise LoaderError(f"{path}: looks like a binary file, not text")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise LoaderError(
            f"{path}: not UTF-8 text (bad byte at offset {exc.start}); convert it, e.g. "
            f"`iconv -f GB18030 -t UTF-8 {path.name} > {path.stem}.utf8{path.suffix}`"
        ) from None


def _read_pdf(path: Path, data: bytes) -> str:
    import io

    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    if not data:
        raise LoaderError(f"{path}: the file is empty")
    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted:
            raise LoaderError(f"{path}: the PDF is encrypted; save an unencrypted copy")
        pages = [page.extract_text() or "" for page in reader.pages]
    except LoaderError:
        raise
    except (PdfReadError, ValueError, KeyError, TypeError, OSError) as exc:
        raise LoaderError(f"{path}: cannot read the PDF ({type(exc).__name__}: {exc})") from None
    text = "\n\n".join(p.strip() for p in pages if p.strip())
    if not text:
        raise LoaderError(f"{path}: the PDF has no extractable text (a scan?); OCR it first")
    return text


def load_file(path: Path) -> tuple[Document, str]:
    """Read one file; returns the document and the sha256 of its bytes."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise LoaderError(f"{path}: cannot read ({exc.strerror})") from None
    digest = hashlib.sha256(data).hexdigest()
    text = _read_pdf(path, data) if path.suffix.lower() == ".pdf" else _decode_text(path, data)
    return Document(source=source_name(path), text=text), digest


def load_paths(paths: Iterable[Path]) -> LoadReport:
    """Load every corpus file under paths; unreadable files go to errors and the rest still load."""
    documents: list[Document] = []
    errors: list[LoaderError] = []
    digests: dict[str, str] = {}
    for path in find_files(paths):
        try:
            doc, digest = load_file(path)
        except LoaderError as exc:
            errors.append(exc)
            continue
        documents.append(doc)
        digests[doc.source] = digest
    return LoadReport(documents, errors, digests)
