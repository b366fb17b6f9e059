"""Reading an official XML release file: one place for the errors every XML importer gives."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from ..errors import SourceError
from ..writer import SourceFile


def parse_xml(src: SourceFile, root_tag: str) -> ET.Element:
    """The parsed file, or a SourceError naming the line (bad XML) or the root (wrong file)."""
    if src.path.stat().st_size == 0:
        raise SourceError(src.path, "file is empty", 1)
    try:
        root = ET.parse(src.path).getroot()
    except ET.ParseError as exc:
        line, _col = exc.position
        raise SourceError(src.path, f"not well-formed XML ({exc})", line) from None
    if root.tag != root_tag:
        raise SourceError(src.path, f"root element is <{root.tag}>, expected <{root_tag}>", f"/{root.tag}")
    return root


def fiscal_year(root: ET.Element, src: SourceFile) -> int:
    """The <version> element CDC and CMS put at the top of their XML: the fiscal year."""
    text = (root.findtext("version") or "").strip()
    if not (text.isdigit() and len(text) == 4):
        raise SourceError(src.path, "missing or non-numeric <version> (the fiscal year)", f"/{root.tag}/version")
    return int(text)
