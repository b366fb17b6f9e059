"""Case to code tests: short notes written for these tests, coded against the real test codebook."""

from __future__ import annotations

import pytest
from c2c_helpers import DATE, check_invariants


@pytest.fixture(scope="session")
def code(book):
    """code(text, setting="outpatient") -> Result, on the fixed date of service; every result is checked
    for the engine's invariants (valid billable codes, exact evidence slices, one first-listed code)."""
    from medcode.case2code import code_note

    def run(text: str, setting: str = "outpatient"):
        result = code_note(book, text, setting, DATE)
        check_invariants(book, text, result)
        return result

    return run
