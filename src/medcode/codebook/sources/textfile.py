"""Decoding CMS text and CSV files: UTF-8 (with or without a byte-order mark), else Windows-1252."""

from __future__ import annotations

from pathlib import Path


def read_cms_text(path: Path) -> str:
    data = Path(path).read_bytes()
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data.decode("cp1252", errors="replace")  # CMS publishes Windows-1252 text
