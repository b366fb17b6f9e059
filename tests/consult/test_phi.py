"""PHI redaction (pure): names after patient/pt, DOB, MRN, phone, SSN, street address, email; codes untouched."""

from __future__ import annotations

import pytest
from hypothesis import given, settings, strategies as st

from medcode.consult.phi import describe, redact


@pytest.mark.parametrize("text, gone, kinds", [
    ("Patient John Smith, DOB 03/14/1962, MRN 00451234, phone (555) 123-4567. Is E11.9 billable?",
     ["John", "Smith", "03/14/1962", "00451234", "123-4567"], ["phone", "mrn", "dob", "name"]),
    ("pt Mary O'Neil dob: 1950-02-03 MRN: A123456 seen for I50.22", ["Mary", "O'Neil", "1950-02-03", "A123456"],
     ["mrn", "dob", "name"]),
    ("pt. Garcia-Lopez was admitted", ["Garcia-Lopez"], ["name"]),
    ("Mrs. Jane Doe has E11.9", ["Jane", "Doe"], ["name"]),
    ("The patient's name is robert brown and date of birth January 5, 1970.", ["robert", "brown", "January 5, 1970"],
     ["dob", "name"]),
    ("Name: smith, john  Is 0DTJ4ZZ right?", ["smith", "john"], ["name"]),
    ("patient named Anna Lee Park", ["Anna", "Lee", "Park"], ["name"]),
    ("She lives at 123 Main Street, Apt 4B, Springfield, IL 62704", ["123 Main", "62704", "Apt 4B"], ["address"]),
    ("address: 77 Sunset Blvd", ["77 Sunset"], ["address"]),
    ("SSN 123-45-6789 and ssn: 987654321", ["123-45-6789", "987654321"], ["ssn"]),
    ("mail jane.doe+x@example.com please", ["jane.doe+x@example.com"], ["email"]),
    ("call 555.987.6543 or +1 (617) 555 0100, fax: 6175550199", ["555.987.6543", "555 0100", "6175550199"],
     ["phone"]),
    ("Medical record number 99887766, account # 1234-5678", ["99887766", "1234-5678"], ["mrn"]),
    ("born on 12/01/1948", ["12/01/1948"], ["dob"]),
])
def test_phi_is_replaced_by_placeholders(text, gone, kinds):
    got = redact(text)
    for value in gone:
        assert value not in got.text, (value, got.text)
    assert got.kinds == kinds
    assert got.found


@pytest.mark.parametrize("text", [
    "Is E11.9 billable for a visit on 2025-03-01?",
    "Patient has type 2 diabetes with CKD stage 3. Which code? E11.22 and N18.30?",
    "Patient is a 65 yo male with COPD (J44.1). CPT 99213 billed with modifier 25.",
    "Patient Presents with chest pain. Pt Denies SOB.",
    "What is the difference between E11.9 and E11.65? Also NDC 0002-1433-80 and J1100 x 2 units.",
    "Can 0DTJ4ZZ and 0DTJ0ZZ be reported together? PTP edit with 44950?",
    "DOS 01/02/2025, admitted 2025-01-01, discharged 2025-01-05; a condition called Kawasaki disease.",
    "",
])
def test_coding_content_is_left_alone(text):
    got = redact(text)
    assert got.text == text and got.kinds == []


CODES = st.one_of(
    st.from_regex(r"\A[A-TV-Z][0-9][0-9A-Z](\.[0-9A-Z]{1,4})?\Z"),  # ICD-10-CM
    st.from_regex(r"\A[0-9A-HJ-NP-Z]{7}\Z"),  # ICD-10-PCS
    st.from_regex(r"\A[0-9]{5}\Z"),  # CPT shape
    st.from_regex(r"\A[A-V][0-9]{4}\Z"),  # HCPCS Level II
)


@settings(max_examples=300, deadline=None)
@given(st.lists(CODES, min_size=1, max_size=6))
def test_any_code_shaped_token_survives(codes):
    text = "Is " + " and ".join(codes) + " billable for the patient?"
    assert redact(text).text == text


def test_describe_lists_the_kinds_in_words():
    assert describe(["name", "dob", "phone"]) == "names, dates of birth and phone numbers"
    assert describe(["mrn"]) == "record numbers (MRN)"
    assert describe([]) == ""
