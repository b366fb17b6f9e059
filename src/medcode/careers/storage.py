"""Private files (résumés, logos) under settings.MEDCODE_PRIVATE_ROOT: never under STATIC_ROOT, never
served by a URL of their own; views hand them out after checking who asks.

Names are generated here (a random hex name and the suffix the content proved); a stored
relative path is checked to stay inside the root before it is opened or deleted.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from django.conf import settings


def root() -> Path:
    return Path(settings.MEDCODE_PRIVATE_ROOT)


def _resolve(rel: str) -> Path:
    base = root().resolve()
    path = (base / rel).resolve()
    if not rel or base not in path.parents:
        raise FileNotFoundError(rel)
    return path


def save(folder: str, chunks, suffix: str) -> str:
    """Writes the chunks (bytes, or an iterable of bytes) to a new private file; returns its relative path."""
    directory = root() / folder
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    rel = f"{folder}/{secrets.token_hex(16)}{suffix}"
    final = root() / rel
    tmp = final.with_suffix(final.suffix + ".part")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as out:
            for chunk in ([chunks] if isinstance(chunks, bytes) else chunks):
                out.write(chunk)
        os.replace(tmp, final)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return rel


def open_file(rel: str):
    return open(_resolve(rel), "rb")


def delete(rel: str) -> None:
    if not rel:
        return
    try:
        _resolve(rel).unlink(missing_ok=True)
    except (FileNotFoundError, OSError):
        pass
