"""Reference data: official code sets built into one read-only, versioned SQLite file.

Plain Python: nothing here imports Django.
"""

from .book import Book, open_book
from .codes import normalize, SYSTEMS
from .errors import CodebookError, SourceError, UnknownCode, UnknownSystem

__all__ = [
    "Book",
    "open_book",
    "normalize",
    "SYSTEMS",
    "CodebookError",
    "SourceError",
    "UnknownCode",
    "UnknownSystem",
]
