"""What the engine does with notes it cannot or need not code: a clear error, or no codes and a message."""

from __future__ import annotations

import pytest
from c2c_helpers import DATE, codes_of

from medcode.case2code import MAX_CHARS, Case2CodeError, check_text, code_note
from medcode.codebook.dates import BadDate


@pytest.mark.parametrize("text", ["", "   ", "\n\t\n"])
def test_empty(book, text):
    with pytest.raises(Case2CodeError) as err:
        code_note(book, text, "outpatient", DATE)
    assert err.value.code == "empty_text" and err.value.status == 422


def test_too_long_says_the_limit(book):
    text = "Type 2 diabetes. " * (200_000 // 17 + 1)
    assert len(text) > 200_000 - 17
    with pytest.raises(Case2CodeError) as err:
        code_note(book, text, "outpatient", DATE)
    assert err.value.status == 413 and f"{MAX_CHARS:,}" in err.value.message


def test_at_the_limit_is_read(book):
    chunk = "Patient seen today, stable. "
    text = ("Type 2 diabetes. " + chunk * (MAX_CHARS // len(chunk)))[:MAX_CHARS]
    res = code_note(book, text, "outpatient", DATE)
    assert "E11.9" in codes_of(res)


def test_binary(book):
    with pytest.raises(Case2CodeError) as err:
        code_note(book, "Type 2 diabetes\x00\x01\x02", "outpatient", DATE)
    assert err.value.code == "binary" and err.value.status == 400
    with pytest.raises(Case2CodeError) as err:
        code_note(book, "".join(chr(c) for c in range(1, 31)) * 20, "outpatient", DATE)
    assert err.value.code == "binary"


def test_bytes_must_be_utf8(book):
    with pytest.raises(Case2CodeError) as err:
        check_text("Type 2 diab\xe9tes".encode("latin-1"))
    assert err.value.code == "bad_encoding"
    assert check_text("Type 2 diabètes".encode("utf-8")) == "Type 2 diabètes"


def test_mixed_encodings_and_unicode_are_read_not_guessed(code):
    # mojibake from a double-encoded note, curly quotes, accents, emoji, right-to-left text, a lone surrogate
    text = "Patient’s “type 2 diabetes” â€” stable. Café visit 🙂. مريض. Caf\udce9. Hypertension."
    res = code(text)
    assert codes_of(res) == ["E11.9", "I10"]


@pytest.mark.parametrize("text", [
    "Lorem ipsum dolor sit amet, consectetur adipiscing elit.",
    "Patient seen today. Vitals stable. Return in 3 months.",
    "12345 67890 !!! ??? ---",
    "Denies chest pain, shortness of breath, or fever.",
])
def test_nothing_codable_gives_no_codes_and_a_message(code, text):
    res = code(text)
    assert res.codes == []
    assert any("no codable condition" in w for w in res.warnings)


@pytest.mark.parametrize("setting", ["", None])
def test_default_setting(book, setting):
    assert code_note(book, "Type 2 diabetes.", setting, DATE).codes


@pytest.mark.parametrize("setting", ["clinic", "OUTPATIENT ", 7, "inpatient; drop table"])
def test_bad_setting(book, setting):
    if setting == "OUTPATIENT ":
        assert code_note(book, "Type 2 diabetes.", setting, DATE).codes  # case and spaces are forgiven
        return
    with pytest.raises(Case2CodeError) as err:
        code_note(book, "Type 2 diabetes.", setting, DATE)
    assert err.value.code == "bad_setting"


@pytest.mark.parametrize("when", ["2026-13-01", "yesterday", "01/02/2026x"])
def test_bad_date(book, when):
    with pytest.raises(BadDate):
        code_note(book, "Type 2 diabetes.", "outpatient", when)


def test_html_in_a_note_is_only_text(code):
    text = "<script>alert(1)</script> Type 2 diabetes <b>with</b> CKD stage 2."
    res = code(text)
    assert "E11.22" in codes_of(res)
