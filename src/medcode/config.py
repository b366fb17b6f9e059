"""Where medcode keeps what it writes. One place so the CLI, the site and the tests agree."""

from __future__ import annotations

import os
from pathlib import Path


def home() -> Path:
    """MEDCODE_HOME, or a per-user data folder; created on first use."""
    env = os.environ.get("MEDCODE_HOME")
    if env:
        path = Path(env).expanduser()
    else:
        import platformdirs

        path = Path(platformdirs.user_data_dir("medcode", appauthor=False))
    path.mkdir(parents=True, exist_ok=True)
    return path


def codebook_path() -> Path:
    env = os.environ.get("MEDCODE_CODEBOOK")
    return Path(env).expanduser() if env else home() / "codebook.sqlite"


def sources_dir() -> Path:
    """Imported release files are copied here so a rebuild never depends on the original path."""
    path = home() / "sources"
    path.mkdir(parents=True, exist_ok=True)
    return path


def secret_key() -> str:
    """A per-installation secret kept in MEDCODE_HOME, so signed cookies survive restarts."""
    import secrets

    path = home() / "secret_key"
    if not path.exists():
        tmp = path.with_suffix(".tmp")
        tmp.write_text(secrets.token_urlsafe(50))
        tmp.chmod(0o600)
        os.replace(tmp, path)
    return path.read_text().strip()
