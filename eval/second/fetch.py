#!/usr/bin/env python3
"""Rebuild the second evaluation collection from Debian packages.

The collection is made of chapters of the "Debian Reference" (Osamu Aoki,
GPL-2+), as shipped in the Debian 12 packages debian-reference-zh-cn and
debian-reference-en, version 2.100.  Some chapters are taken in Chinese,
others in English (no chapter in both), so that a question can have its
answer in a document of the other language only.

Usage:
    python3 eval/second/fetch.py [TARGET_DIR] [--debs DIR] [--force]

TARGET_DIR defaults to data/second/corpus/ in the repository (git-ignored).
The packages are fetched with `apt-get download PKG=VERSION` into a temporary
folder (run `apt-get update` first on a fresh machine), or taken from --debs
DIR when the .deb files are already there.  Each .deb is checked against the
SHA-256 digest below, then the chosen HTML chapters are read straight out of
it (ar + tar, standard library) and converted to Markdown-like UTF-8 text.

Idempotent: when every output file is present with its reference digest,
nothing is downloaded and the script says so.  Standard library only.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
from html.parser import HTMLParser
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_TARGET = REPO_ROOT / "data" / "second" / "corpus"

VERSION = "2.100"
PACKAGES = {
    # package name: SHA-256 of debian-reference-*_2.100_all.deb (Debian 12 "bookworm")
    "debian-reference-zh-cn": "6d2d8d9a646397e28b04cdff23d2e4374101ebf9be348e35961af62c8a2d0977",
    "debian-reference-en": "9f31d3a17df505de09689ca255512ea58c1fc47c59bb1b0c7bf1c23362e9743f",
}

HTML_DIR = "usr/share/debian-reference/"

# (package, file inside HTML_DIR, output name, SHA-256 of the converted text)
DOCUMENTS = [
    (
        "debian-reference-zh-cn",
        "ch03.zh-cn.html",
        "zh-ch03-system-initialization.md",
        "908bb74e67096374a7b873125f4fe80c270a0ce9dccd1278b9c8aea587bd25f4",
    ),
    (
        "debian-reference-zh-cn",
        "ch04.zh-cn.html",
        "zh-ch04-authentication.md",
        "182f5b36a1869ddd4347a31601b5d860be2f92bffae611636e5e4a66b32ddefe",
    ),
    (
        "debian-reference-zh-cn",
        "ch05.zh-cn.html",
        "zh-ch05-network-setup.md",
        "5f3bd21f923e1a45dcfc4743c1743443db5e42fe893a0a58c0643d1e4158025f",
    ),
    (
        "debian-reference-zh-cn",
        "ch06.zh-cn.html",
        "zh-ch06-network-applications.md",
        "61eb19164345551e1cb13a141f72d6e3644ed4d172a2702e2e533307e09c95a6",
    ),
    (
        "debian-reference-en",
        "ch08.en.html",
        "en-ch08-i18n-l10n.md",
        "586ee3e1df4d1e7fe12bd17b9a670cbeac415449778b0e5b38f22d4e0439e124",
    ),
    (
        "debian-reference-en",
        "ch10.en.html",
        "en-ch10-data-management.md",
        "830916c6c477017830aa098593fc543f34b53704f049d65d1f07b9aaa1a75140",
    ),
]


class Fail(Exception):
    """A problem worth one clear line on stderr."""


# --------------------------------------------------------------------------
# HTML (DocBook XSL output) -> text


SKIP_DIV_CLASSES = {"navheader", "navfooter", "toc", "list-of-tables"}
ADMONITIONS = {"tip", "note", "caution", "warning", "important"}
BLOCK_TAGS = {"p", "div", "ul", "ol", "dl", "dt", "dd", "blockquote", "br", "hr"}
VOID_TAGS = {"br", "hr", "img", "meta", "link", "input", "col", "area", "base", "wbr"}


class DocBookText(HTMLParser):
    """Turn one DocBook XHTML chapter into plain text with '#' headings.

    Navigation (header, footer, table of contents) is dropped; headings become
    '#' lines; list items start with '- '; data tables become one line per row
    with cells joined by ' | '; <pre> blocks are kept verbatim; admonitions
    (tips, notes, warnings) become a paragraph starting with their label.
    """

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.blocks: list[str] = []  # finished paragraphs
        self.buf: list[str] = []  # inline text of the current paragraph
        self.stack: list[tuple[str, str]] = []  # (tag, role) of open elements
        self.skip_depth = 0  # > 0 while inside a dropped element
        self.pre_depth = 0
        self.in_title = False
        self.heading: int | None = None
        self.row: list[str] | None = None  # cells of the current data-table row
        self.cell: list[str] | None = None
        self.admonition_depth = 0
        self.admonition_label: str | None = None
        self.bullet = False  # the next paragraph starts a list item

    # -- helpers
    def flush(self, prefix: str = "") -> None:
        text = "".join(self.buf)
        self.buf = []
        if self.pre_depth:
            return
        text = re.sub(r"\s+", " ", text).strip()
        if not text:
            return
        if self.admonition_label and not prefix:
            text = f"{self.admonition_label}: {text}"
            self.admonition_label = None
        if self.bullet:
            text = "- " + text
            self.bullet = False
        self.blocks.append(prefix + text)

    def in_data_table(self) -> bool:
        return self.row is not None

    # -- parser callbacks
    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        cls = set((a.get("class") or "").split())
        role = ""
        if tag in VOID_TAGS:
            if tag == "br" and not self.in_data_table() and not self.skip_depth:
                self.flush()
            return
        if self.skip_depth:
            self.stack.append((tag, "skip"))
            self.skip_depth += 1
            return
        if tag in ("head", "script", "style") or (tag == "div" and cls & SKIP_DIV_CLASSES):
            self.stack.append((tag, "skip"))
            self.skip_depth = 1
            return
        if tag == "div" and cls & ADMONITIONS:
            self.flush()
            role = "admonition"
            self.admonition_depth += 1
        elif self.admonition_depth and tag == "th":
            role = "admonition-label"  # the "Tip"/"提示" header cell
            self.flush()
        elif tag in ("h1", "h2", "h3", "h4", "h5", "h6"):
            self.flush()
            self.heading = int(tag[1])
            role = "heading"
        elif tag == "pre":
            self.flush()
            self.pre_depth += 1
            role = "pre"
        elif tag == "tr" and not self.admonition_depth:
            self.flush()
            self.row = []
            role = "row"
        elif tag in ("td", "th") and self.row is not None:
            self.cell = []
            role = "cell"
        elif tag == "li":
            self.flush()
            self.bullet = True
            role = "li"
        elif tag == "p" and "title" in cls:
            self.flush()
            role = "caption"
        elif tag in BLOCK_TAGS and not self.in_data_table():
            self.flush()
        self.stack.append((tag, role))

    def handle_endtag(self, tag):
        if tag in VOID_TAGS:
            return
        # pop up to the matching open tag (tolerates sloppy nesting)
        while self.stack:
            open_tag, role = self.stack.pop()
            if role == "skip":
                self.skip_depth -= 1
            elif role == "heading":
                text = re.sub(r"\s+", " ", "".join(self.buf)).strip()
                self.buf = []
                if text:
                    self.blocks.append("#" * (self.heading or 1) + " " + text)
                self.heading = None
            elif role == "pre":
                text = "".join(self.buf).strip("\n")
                self.buf = []
                self.pre_depth -= 1
                if text.strip():
                    body = "\n".join(line.rstrip() for line in text.split("\n"))
                    self.blocks.append("```\n" + body + "\n```")
            elif role == "cell":
                if self.row is not None and self.cell is not None:
                    self.row.append(re.sub(r"\s+", " ", "".join(self.cell)).strip())
                self.cell = None
            elif role == "row":
                if self.row:
                    self.blocks.append(" | ".join(self.row))
                self.row = None
            elif role == "admonition-label":
                label = re.sub(r"\s+", " ", "".join(self.buf)).strip()
                self.buf = []
                self.admonition_label = label or None
            elif role == "admonition":
                self.flush()
                self.admonition_depth -= 1
                self.admonition_label = None
            elif role in ("li", "caption") or (open_tag in BLOCK_TAGS and not self.in_data_table()):
                self.flush()
            if open_tag == tag:
                break

    def handle_data(self, data):
        if self.skip_depth:
            return
        if self.cell is not None:
            self.cell.append(data)
        else:
            self.buf.append(data)

    def text(self) -> str:
        self.flush()
        return "\n\n".join(self.blocks).strip() + "\n"


def html_to_text(html: str) -> str:
    parser = DocBookText()
    parser.feed(html)
    parser.close()
    return parser.text()


# --------------------------------------------------------------------------
# .deb handling


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def ar_members(data: bytes) -> dict[str, bytes]:
    if not data.startswith(b"!<arch>\n"):
        raise Fail("not a .deb (ar) archive")
    members, pos = {}, 8
    while pos + 60 <= len(data):
        header = data[pos : pos + 60]
        name = header[:16].decode("ascii").strip().rstrip("/")
        size = int(header[48:58].decode("ascii").strip())
        pos += 60
        members[name] = data[pos : pos + size]
        pos += size + (size % 2)
    return members


def deb_files(deb: Path, wanted: set[str]) -> dict[str, bytes]:
    """Return {path: bytes} for the wanted paths of the data archive of a .deb."""
    members = ar_members(deb.read_bytes())
    name = next((n for n in members if n.startswith("data.tar")), None)
    if name is None:
        raise Fail(f"{deb.name}: no data.tar member")
    data = members[name]
    try:
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:*"):
            pass
    except tarfile.ReadError:
        # e.g. zstd: let dpkg-deb do the decompression
        if not shutil.which("dpkg-deb"):
            raise Fail(f"{deb.name}: cannot read {name} and dpkg-deb is missing") from None
        data = subprocess.run(["dpkg-deb", "--fsys-tarfile", str(deb)], check=True, capture_output=True).stdout
    found = {}
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:*") as tar:
        for info in tar:
            path = info.name.removeprefix("./")
            if path in wanted and info.isfile():
                found[path] = tar.extractfile(info).read()
    missing = wanted - found.keys()
    if missing:
        raise Fail(f"{deb.name}: missing {', '.join(sorted(missing))}")
    return found


def get_debs(debs_dir: Path | None, workdir: Path) -> dict[str, Path]:
    paths = {}
    for pkg, digest in PACKAGES.items():
        fname = f"{pkg}_{VERSION}_all.deb"
        if debs_dir is not None:
            path = debs_dir / fname
            if not path.is_file():
                raise Fail(f"{path} not found (expected {pkg} {VERSION})")
        else:
            if not shutil.which("apt-get"):
                raise Fail("apt-get not found: this script needs a Debian machine (or --debs DIR with the .deb files)")
            proc = subprocess.run(
                ["apt-get", "download", "-q", f"{pkg}={VERSION}"],
                cwd=workdir,
                capture_output=True,
                text=True,
            )
            path = workdir / fname
            if proc.returncode != 0 or not path.is_file():
                err = (proc.stderr.strip().splitlines() or ["no output"])[-1]
                raise Fail(
                    f"apt-get download {pkg}={VERSION} failed ({err}); "
                    "try 'apt-get update' (the package is in Debian 12 bookworm main)"
                )
        got = sha256(path.read_bytes())
        if got != digest:
            raise Fail(f"{path.name}: SHA-256 {got} does not match the pinned {digest}")
        print(f"verified {path.name} ({path.stat().st_size} bytes, sha256 {got[:16]}...)")
        paths[pkg] = path
    return paths


# --------------------------------------------------------------------------


def is_complete(target: Path) -> bool:
    for _, _, out_name, digest in DOCUMENTS:
        path = target / out_name
        if not path.is_file():
            return False
        if digest is not None and sha256(path.read_bytes()) != digest:
            return False
    return True


def build(target: Path, debs_dir: Path | None) -> int:
    target.mkdir(parents=True, exist_ok=True)
    mismatches = []
    with tempfile.TemporaryDirectory(prefix="second-corpus-") as tmp:
        debs = get_debs(debs_dir, Path(tmp))
        for pkg, deb in debs.items():
            docs = [d for d in DOCUMENTS if d[0] == pkg]
            files = deb_files(deb, {HTML_DIR + d[1] for d in docs})
            for _, src, out_name, digest in docs:
                text = html_to_text(files[HTML_DIR + src].decode("utf-8"))
                data = text.encode("utf-8")
                (target / out_name).write_bytes(data)
                got = sha256(data)
                print(f"wrote {target / out_name} ({len(text)} chars, from {pkg} {VERSION}:{src})")
                if digest is not None and got != digest:
                    mismatches.append(f"{out_name}: sha256 {got}, reference {digest}")
    if mismatches:
        for m in mismatches:
            print(f"error: converted text differs from the reference build: {m}", file=sys.stderr)
        return 1
    return 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument(
        "target", nargs="?", type=Path, default=DEFAULT_TARGET, help="output folder (default: data/second/corpus/)"
    )
    ap.add_argument("--debs", type=Path, help="folder that already holds the pinned .deb files (no apt-get)")
    ap.add_argument("--force", action="store_true", help="rebuild even when the folder is complete")
    args = ap.parse_args(argv)
    target = args.target.resolve()
    if not args.force and is_complete(target):
        print(f"{target}: complete ({len(DOCUMENTS)} files), nothing to do")
        return 0
    try:
        return build(target, args.debs)
    except Fail as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except (OSError, subprocess.CalledProcessError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
