"""Errors the codebook raises; each one carries enough to tell the user what to fix."""

from __future__ import annotations


class CodebookError(Exception):
    """Base for every codebook failure the CLI and the site turn into a clear message."""


class UnknownSystem(CodebookError):
    pass


class UnknownCode(CodebookError):
    def __init__(self, system: str, code: str, message: str | None = None):
        self.system = system
        self.code = code
        super().__init__(message or f"{code!r} is not a {system} code")


class NoRelease(CodebookError):
    """No release of a system is held for the date asked about."""


class BookMissing(CodebookError):
    pass


class SourceError(CodebookError):
    """A release file that cannot be read. `where` is a line number or an element path."""

    def __init__(self, path, message: str, where: str | int | None = None):
        self.path = str(path)
        self.where = where
        self.detail = message
        loc = f"{self.path}"
        if where is not None:
            loc += f":{where}" if isinstance(where, int) else f" ({where})"
        super().__init__(f"{loc}: {message}")
