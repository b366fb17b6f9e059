"""The CMS lists that reach us as plain CSV with a fixed header and no date (modifiers, POS)."""

from __future__ import annotations

import csv
import io
from datetime import date

from ..errors import SourceError
from ..writer import SourceFile, sha256_of
from .hcpcs_anweb import date_from_name, option_date, original_name, read_text


def header_is(head: bytes, columns: tuple[str, ...]) -> bool:
    """sniff(): the first line is exactly this header (a byte-order mark and quotes allowed)."""
    first = head.lstrip(b"\xef\xbb\xbf").split(b"\n", 1)[0].strip().decode("latin-1")
    return tuple(c.strip().strip('"') for c in first.split(",")) == columns


def effective(src: SourceFile, known_copies: dict, example: str) -> tuple[date, str | None]:
    """The list's start date: an import option, a date in the file name, or a known copy's checksum."""
    found = option_date(src) or date_from_name(original_name(src))
    if found:
        return found, None
    known = known_copies.get(src.sha256 or sha256_of(src.path))
    if known:
        return known
    raise SourceError(src.path, "the file carries no date: put the date the list is effective from in its name "
                                f"({example}) and import it again")


def rows(src: SourceFile, columns: tuple[str, ...]):
    """(line number, fields) for each non-blank row after the header; SourceError on a bad header or width."""
    reader = csv.reader(io.StringIO(read_text(src), newline=""))
    header = next(reader, None)
    if header is None or tuple(h.strip() for h in header) != columns:
        raise SourceError(src.path, f"header row is not {','.join(columns)}", 1)
    for row in reader:
        if not any(c.strip() for c in row):
            continue
        if len(row) != len(columns):
            raise SourceError(src.path, f"{len(row)} columns, the header has {len(columns)}", reader.line_num)
        yield reader.line_num, row
