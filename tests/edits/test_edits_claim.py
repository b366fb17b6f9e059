"""Reading claim lines: what people type on the command line or in the form's paste box, and the API's
JSON lines. Everything that cannot be read is a ClaimError that names the line and says why."""

from __future__ import annotations

import pytest
from hypothesis import given, settings as hsettings, strategies as st

from medcode.edits import MAX_LINES, MAX_UNITS, ClaimError, ClaimLine, parse_token, read_lines, split_text


@pytest.mark.parametrize("token, code, mods, units", [
    ("29880-59", "29880", ("59",), 1),
    ("J1100x12", "J1100", (), 12),
    ("29881-LT-59x2", "29881", ("LT", "59"), 2),
    ("j1100 x 12", "J1100", (), 12),
    ("  29880 - 59  ", "29880", ("59",), 1),
    ("29880 59 lt", "29880", ("59", "LT"), 1),
    ("29881-XSx2", "29881", ("XS",), 2),       # the X of XS is a modifier's, the last x the units'
    ("29881-X1", "29881", ("X1",), 1),         # after a dash, X1 is a modifier
    ("29881-XS-X2", "29881", ("XS", "X2"), 1),
    ("J1100*3", "J1100", (), 3),
    ("J1100\u00d73", "J1100", (), 3),
    ("0001u", "0001U", (), 1),
    ("29880\u201359", "29880", ("59",), 1),     # an en dash from a word processor
    ("E11.9", "E11.9", (), 1),                 # read; the checker says it is a diagnosis code
])
def test_tokens(token, code, mods, units):
    assert parse_token(token) == ClaimLine(code, mods, units)


@pytest.mark.parametrize("token, message", [
    ("", "the line is empty"),
    ("29880x", "a number of units must follow the x"),
    ("29880-59x", "a number of units must follow the x"),
    ("29880x2-59", "put the units last"),
    ("29880--59", "a modifier is empty"),
    ("29880-", "a modifier is empty"),
    ("29881 29880", "looks like a code, not a modifier"),
    ("29880-5", "modifier '5' is not two letters or digits"),
    ("29880-LTX", "a number of units must follow the x"),
    ("29880-59-59", "modifier 59 is given twice"),
    ("29880-LT-RT-59-XS-25", "5 modifiers; a claim line holds at most 4"),
    ("29880x0", "units must be at least 1"),
    (f"29880x{MAX_UNITS + 1}", "more than any claim line holds"),
    ("29880x99999999999999999999", "more than any claim line holds"),
    ("!!!", "is not a code"),
    ("2988/0", "is not a code"),
    ("9" * 80, "characters long"),
])
def test_bad_tokens_say_why(token, message):
    with pytest.raises(ClaimError) as err:
        parse_token(token, 1)
    assert message in str(err.value)
    assert err.value.problems[0]["line"] == 1 and str(err.value).startswith("line 2: ") or token == ""
    assert isinstance(err.value, ValueError)


def test_api_lines_are_checked_field_by_field():
    lines = read_lines([{"code": " 29880 ", "modifiers": ["59", "lt"], "units": 2}, {"code": "j1100"}])
    assert lines == [ClaimLine("29880", ("59", "LT"), 2), ClaimLine("J1100", (), 1)]
    with pytest.raises(ClaimError) as err:
        read_lines([{"code": "29880-59"}, {"code": 29880}, {"code": "29881", "modifiers": "59"},
                    {"code": "29881", "units": 0}, {"code": "29881", "units": True}, {"code": "29881", "unit": 2},
                    "29882x", 7, {"code": "29881", "units": 1.5}])
    problems = {(p["line"], p["field"]): p["message"] for p in err.value.problems}
    assert "carries more than a code" in problems[(0, "code")]
    assert "code is required" in problems[(1, "code")]
    assert "modifiers must be a list" in problems[(2, "modifiers")]
    assert "at least 1" in problems[(3, "units")]
    assert "whole number" in problems[(4, "units")]
    assert "unknown field 'unit'" in problems[(5, "unit")]
    assert "units must follow" in problems[(6, "units")]
    assert "must be text" in problems[(7, "line")]
    assert "whole number" in problems[(8, "units")]
    assert "and 4 more problems" in str(err.value)  # five shown, the rest counted
    assert len(err.value.problems) == 9  # a line with a problem is not also taken for a duplicate


def test_claim_level_limits():
    with pytest.raises(ClaimError, match="no lines"):
        read_lines([])
    with pytest.raises(ClaimError, match="no lines"):
        read_lines(" ,\n; ")
    with pytest.raises(ClaimError, match="1,000 lines; at most 50"):
        read_lines([f"{10000 + i}" for i in range(1000)])
    assert len(read_lines([str(10000 + i) for i in range(MAX_LINES)])) == MAX_LINES
    with pytest.raises(ClaimError, match="must be a list"):
        read_lines({"code": "29880"})
    with pytest.raises(ClaimError, match="characters long; at most"):
        read_lines("29880, " * 2000)


def test_duplicate_lines_are_refused_with_the_way_out():
    with pytest.raises(ClaimError) as err:
        read_lines(["29881-59", "J1100", "29881-59x2"])
    (p,) = err.value.problems
    assert p["line"] == 2 and "lines 1 and 3 are the same service" in p["message"] and "29881x3" in p["message"]
    # the same code with other modifiers is another line; modifier order does not make a new line
    assert len(read_lines(["29881-LT", "29881-RT"])) == 2
    with pytest.raises(ClaimError, match="lines 1 and 2 are the same"):
        read_lines(["29881-LT-59", "29881-59-LT"])


def test_split_text():
    assert split_text("29881, 29880-59\nJ1100 x12;  \n\n G0008 ") == ["29881", "29880-59", "J1100 x12", "G0008"]
    assert read_lines("29881, 29880-59") == [ClaimLine("29881"), ClaimLine("29880", ("59",))]


@hsettings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(st.text(max_size=30), st.from_regex(r"[0-9A-Za-z]{5}(-[0-9A-Za-z]{2}){0,5}(x[0-9]{1,7})?",
                                                               fullmatch=True)), max_size=60))
def test_anything_typed_reads_or_says_why(tokens):
    try:
        lines = read_lines(tokens)
    except ClaimError as exc:
        assert exc.problems and all(p["message"] for p in exc.problems)
    else:
        assert 1 <= len(lines) <= MAX_LINES
        assert all(1 <= li.units <= MAX_UNITS and len(li.modifiers) <= 4 for li in lines)
