"""Fixtures for `medcode data update`: a loopback server playing CMS/CDC, archives packed in the
official layouts from ../shared/data, and homes (MEDCODE_HOME) to run updates in."""

from __future__ import annotations

import pytest

from official_packs import Packs
from release_server import ReleaseServer


@pytest.fixture(scope="session")
def packs(tmp_path_factory) -> Packs:
    return Packs(tmp_path_factory.mktemp("packs"))


@pytest.fixture(scope="session")
def release_server():
    with ReleaseServer() as srv:
        yield srv


@pytest.fixture(scope="session")
def packaged_registry():
    from medcode.codebook.update import load_registry

    return load_registry(None)
