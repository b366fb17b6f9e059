"""The claim edit checker's tests. The page tests use the web tests' small DOM (tests/web/pagedom.py)."""

import sys
from pathlib import Path

_WEB = str(Path(__file__).resolve().parent.parent / "web")
if _WEB not in sys.path:
    sys.path.append(_WEB)
