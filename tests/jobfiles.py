"""Synthetic files for the job board tests (résumés, logos and hostile uploads), built in memory.

All synthetic: a one-page PDF and a minimal DOCX with made-up text, small images drawn by Pillow.
"""

from __future__ import annotations

import io
import zipfile

SYNTHETIC_TEXT = "Synthetic résumé for tests. Jane Coder, CPC. Five years of profee coding."


def pdf(text: str = SYNTHETIC_TEXT, pad: int = 0) -> bytes:
    """A small, well-formed one-page PDF (synthetic); `pad` adds a comment of that many bytes."""
    stream = f"BT /F1 12 Tf 20 100 Td ({text.encode('ascii', 'replace').decode()}) Tj ET".encode()
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 300 200] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length " + str(len(stream)).encode() + b" >>\nstream\n" + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = io.BytesIO()
    out.write(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    if pad:
        out.write(b"%" + b"x" * pad + b"\n")
    offsets = []
    for n, body in enumerate(objects, start=1):
        offsets.append(out.tell())
        out.write(f"{n} 0 obj\n".encode() + body + b"\nendobj\n")
    xref = out.tell()
    out.write(f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode())
    for off in offsets:
        out.write(f"{off:010d} 00000 n \n".encode())
    out.write(f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode())
    return out.getvalue()


CONTENT_TYPES = (b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
                 b'<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
                 b'<Default Extension="xml" ContentType="application/xml"/>'
                 b'<Override PartName="/word/document.xml" ContentType="application/vnd.openxmlformats-'
                 b'officedocument.wordprocessingml.document.main+xml"/></Types>')


def _document(text: str) -> bytes:
    return ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
            '<w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main">'
            f'<w:body><w:p><w:r><w:t>{text}</w:t></w:r></w:p></w:body></w:document>').encode()


def docx(text: str = SYNTHETIC_TEXT, extra: dict[str, bytes] | None = None, document: bool = True) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("[Content_Types].xml", CONTENT_TYPES)
        if document:
            z.writestr("word/document.xml", _document(text))
        for name, data in (extra or {}).items():
            z.writestr(name, data)
    return out.getvalue()


def zip_bomb_docx(megabytes: int = 64) -> bytes:
    """A .docx-shaped ZIP whose one extra member inflates to `megabytes` MB of zeros (~1000:1)."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as z:
        z.writestr("[Content_Types].xml", CONTENT_TYPES)
        z.writestr("word/document.xml", _document("synthetic"))
        with z.open("word/media/image1.bin", "w") as member:
            chunk = b"\0" * (1024 * 1024)
            for _ in range(megabytes):
                member.write(chunk)
    return out.getvalue()


def lying_zip_bomb_docx() -> bytes:
    """A .docx-shaped ZIP whose central directory claims a tiny size for a member that inflates to 8 MB:
    a checker trusting the headers would pass it; decompressing with a cap must refuse it."""
    data = bytearray(zip_bomb_docx(megabytes=8))
    # patch the uncompressed size of the last member in its local header and central directory entry
    name = b"word/media/image1.bin"
    true_size = (8 * 1024 * 1024).to_bytes(4, "little")
    for sig in (b"PK\x03\x04", b"PK\x01\x02"):
        start = 0
        while (at := data.find(sig, start)) != -1:
            start = at + 4
            name_len_at = at + (26 if sig == b"PK\x03\x04" else 28)
            n = int.from_bytes(data[name_len_at:name_len_at + 2], "little")
            name_at = at + (30 if sig == b"PK\x03\x04" else 46)
            if bytes(data[name_at:name_at + n]) == name:
                size_at = at + (22 if sig == b"PK\x03\x04" else 24)
                assert bytes(data[size_at:size_at + 4]) == true_size
                data[size_at:size_at + 4] = (1000).to_bytes(4, "little")
    return bytes(data)


def executable_as_pdf() -> bytes:
    """A Windows executable's header (MZ, PE stub text) and some padding: not a PDF whatever its name."""
    return b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00" + \
        b"This program cannot be run in DOS mode.\r\r\n$" + b"\0" * 2048


def png(width: int = 600, height: int = 300, color=(20, 90, 160)) -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (width, height), color).save(out, format="PNG")
    return out.getvalue()


def jpeg(width: int = 400, height: int = 400) -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (width, height), (200, 30, 30)).save(out, format="JPEG")
    return out.getvalue()
