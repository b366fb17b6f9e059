"""Search: find the right code from words, index terms, abbreviations, typos and partial codes.

Pure Python over the codebook (no Django). `search(book, "diab typ 2 w neph")` answers with the
API's shape: {"query", "corrected_query", "results": [{"system", "code", "title", "billable",
"score", "match"}]}. The index lives inside the codebook file (built by `build_search_index`
at the end of `medcode data build`); the storage backend is pluggable (see backends/).
"""

from .engine import DEFAULT_LIMIT, MAX_LIMIT, MAX_QUERY_CHARS, Engine, SearchError, engine_for, search
from .index import build_search_index

__all__ = ["search", "SearchError", "Engine", "engine_for", "build_search_index", "DEFAULT_LIMIT", "MAX_LIMIT",
           "MAX_QUERY_CHARS"]
