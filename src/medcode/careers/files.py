"""What an uploaded résumé is, judged from its bytes (never its name or the browser's type).

A PDF starts with "%PDF-1." or "%PDF-2." and ends with "%%EOF". A DOCX is a ZIP archive with
[Content_Types].xml and word/document.xml; it is opened as a ZIP without extracting anything
to disk, and every member is decompressed in memory in small chunks with a running cap, so a
ZIP bomb (tiny archive, enormous content, or headers that lie about the sizes) is refused
after reading at most MAX_DOCX_UNCOMPRESSED bytes. Macro-enabled and encrypted documents are
refused too: the employer who opens the file must not get more than a document.
"""

from __future__ import annotations

import re
import zipfile
import zlib
from typing import BinaryIO

MAX_RESUME = 5 * 1024 * 1024
MAX_DOCX_MEMBERS = 500
MAX_DOCX_UNCOMPRESSED = 40 * 1024 * 1024
MAX_RATIO = 200  # uncompressed / compressed for one member; text XML is ~10-30
CHUNK = 64 * 1024

PDF = "pdf"
DOCX = "docx"
CONTENT_TYPES = {PDF: "application/pdf",
                 DOCX: "application/vnd.openxmlformats-officedocument.wordprocessingml.document"}

_PDF_HEAD = re.compile(rb"%PDF-[12]\.\d")
NOT_A_RESUME = "Upload your résumé as a PDF or a Word (.docx) document; this file is neither."


class FileRefused(ValueError):
    """The message is for the person who uploaded the file."""


def _read_at(f: BinaryIO, offset: int, n: int, whence: int = 0) -> bytes:
    f.seek(offset, whence)
    return f.read(n)


def resume_kind(f: BinaryIO, size: int) -> str:
    """PDF or DOCX, from the content; raises FileRefused with a message for the uploader."""
    if size <= 0:
        raise FileRefused("The file is empty.")
    if size > MAX_RESUME:
        raise FileRefused(f"The file is {size / 1048576:.1f} MB; a résumé may be at most "
                          f"{MAX_RESUME // 1048576} MB.")
    head = _read_at(f, 0, 8)
    try:
        if _PDF_HEAD.match(head):
            _check_pdf(f, size)
            return PDF
        if head.startswith(b"PK\x03\x04"):
            _check_docx(f)
            return DOCX
    finally:
        f.seek(0)
    raise FileRefused(NOT_A_RESUME)


def _check_pdf(f: BinaryIO, size: int) -> None:
    tail = _read_at(f, max(0, size - 2048), 2048)
    if b"%%EOF" not in tail:
        raise FileRefused("This PDF is incomplete or damaged (it has no end-of-file marker). "
                          "Save it again and upload the new copy.")


def _check_docx(f: BinaryIO) -> None:
    f.seek(0)
    try:
        archive = zipfile.ZipFile(f)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError, EOFError):
        raise FileRefused("This Word document is damaged (not a readable .docx file).") from None
    with archive:
        members = archive.infolist()
        if len(members) > MAX_DOCX_MEMBERS:
            raise FileRefused("This file holds too many parts to be a résumé.")
        names = {m.filename for m in members}
        if "[Content_Types].xml" not in names or "word/document.xml" not in names:
            raise FileRefused(NOT_A_RESUME)
        if any(n.lower().endswith("vbaproject.bin") for n in names):
            raise FileRefused("Documents with macros (.docm) are not accepted; save it as a plain .docx.")
        declared = 0
        for m in members:
            if m.flag_bits & 0x1:
                raise FileRefused("Password-protected documents are not accepted.")
            declared += m.file_size
            if declared > MAX_DOCX_UNCOMPRESSED or m.file_size > MAX_RATIO * max(m.compress_size, 1024):
                raise FileRefused("This file expands to far more than a résumé (a ZIP bomb?); it was refused.")
        _inflate_all(archive, members)


def _inflate_all(archive: zipfile.ZipFile, members: list[zipfile.ZipInfo]) -> None:
    """Decompress every member in memory with a running cap: headers can lie about sizes."""
    total = 0
    try:
        for m in members:
            if m.is_dir():
                continue
            seen = 0
            with archive.open(m) as stream:
                while chunk := stream.read(CHUNK):
                    seen += len(chunk)
                    total += len(chunk)
                    if total > MAX_DOCX_UNCOMPRESSED or seen > MAX_RATIO * max(m.compress_size, 1024):
                        raise FileRefused("This file expands to far more than a résumé (a ZIP bomb?); "
                                          "it was refused.")
    except FileRefused:
        raise
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError, ValueError, NotImplementedError, RuntimeError):
        raise FileRefused("This Word document is damaged (not a readable .docx file).") from None
