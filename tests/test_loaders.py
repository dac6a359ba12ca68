from __future__ import annotations

from pathlib import Path

import pytest

from bluebot.errors import LoaderError
from bluebot.loaders import find_files, load_file, load_paths

# A minimal one-page PDF with the text "Hello bluebot PDF" (Helvetica).
_PDF_CONTENT = b"BT /F1 12 Tf 72 720 Td (Hello bluebot PDF) Tj ET"


def make_pdf() -> bytes:
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n" % len(_PDF_CONTENT) + _PDF_CONTENT + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = b"%PDF-1.4\n"
    offsets = []
    for i, obj in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % i + obj + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % o for o in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return out


def test_txt_md_and_pdf_load(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("中文报告。", encoding="utf-8")
    (tmp_path / "b.md").write_text("# Title\n\nBody text.", encoding="utf-8")
    (tmp_path / "c.pdf").write_bytes(make_pdf())
    report = load_paths([tmp_path])
    assert not report.errors
    texts = {Path(d.source).name: d.text for d in report.documents}
    assert texts["a.txt"] == "中文报告。"
    assert texts["b.md"].startswith("# Title")
    assert "Hello bluebot PDF" in texts["c.pdf"]
    assert set(report.digests) == {d.source for d in report.documents}


def test_utf8_bom_is_accepted(tmp_path: Path) -> None:
    path = tmp_path / "bom.txt"
    path.write_bytes("\ufeff报告".encode())
    doc, _ = load_file(path)
    assert doc.text == "报告"


def test_bad_files_are_reported_and_the_rest_still_load(tmp_path: Path) -> None:
    (tmp_path / "good.txt").write_text("好的文件。", encoding="utf-8")
    (tmp_path / "gbk.txt").write_bytes("中文报告".encode("gbk"))
    (tmp_path / "broken.pdf").write_bytes(b"%PDF-1.4\nthis is not really a pdf")
    (tmp_path / "empty.md").write_text("  \n", encoding="utf-8")
    (tmp_path / "binary.txt").write_bytes(b"\x00\x01\x02binary")
    report = load_paths([tmp_path])
    assert [Path(d.source).name for d in report.documents] == ["good.txt"]
    messages = sorted(str(e) for e in report.errors)
    assert len(messages) == 4
    assert any("binary.txt" in m and "binary" in m for m in messages)
    assert any("broken.pdf" in m and "cannot read the PDF" in m for m in messages)
    assert any("empty.md" in m and "empty" in m for m in messages)
    assert any("gbk.txt" in m and "not UTF-8" in m and "iconv" in m for m in messages)
    assert all("\n" not in m for m in messages)


def test_find_files_recurses_and_skips_hidden_and_other_types(tmp_path: Path) -> None:
    (tmp_path / "sub" / "deep").mkdir(parents=True)
    (tmp_path / "sub" / "deep" / "x.md").write_text("x", encoding="utf-8")
    (tmp_path / ".hidden").mkdir()
    (tmp_path / ".hidden" / "y.txt").write_text("y", encoding="utf-8")
    (tmp_path / "image.png").write_bytes(b"\x89PNG")
    assert [p.name for p in find_files([tmp_path])] == ["x.md"]


def test_missing_path_and_wrong_type_raise(tmp_path: Path) -> None:
    with pytest.raises(LoaderError, match="no such file"):
        find_files([tmp_path / "nope.txt"])
    (tmp_path / "a.docx").write_bytes(b"PK")
    with pytest.raises(LoaderError, match="unsupported file type .docx"):
        find_files([tmp_path / "a.docx"])
