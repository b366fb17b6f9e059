"""The assistant on questions phrased the ways coders ask them: code spotting in every spelling, intent phrasing,
retrieval with query expansion, section and sentence choice, comparisons, follow-ups, the guard on nonexistent
codes, and an honest "I don't know" for questions no source answers. Expectations come from the Book."""

from __future__ import annotations

import json
import os
import re
from datetime import date
from pathlib import Path

import pytest

from medcode.assistant import Turn, ask
from medcode.assistant.codetokens import DROPPED, FLAG, scan
from medcode.assistant.engine import phrasing, route
from medcode.assistant.expand import expand
from medcode.assistant.scope import out_of_scope
from medcode.codebook.sources import cms_manual
from medcode.codebook.sources.reftext import read_text
from medcode.codebook.writer import SourceFile

WHEN = date(2026, 5, 1)
SHARED_DATA = Path(os.environ.get("MEDCODE_SHARED_DATA", Path(__file__).resolve().parents[2].parent / "shared" / "data"))


def shared(*parts: str) -> Path:
    """A file of ../shared/data; the test is skipped without it."""
    path = SHARED_DATA.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"official data not available: {path}")
    return path


HOLDOUT = Path(__file__).resolve().parents[2] / "bench" / "assistant_holdout.jsonl"


def _ask(book, question, **kw):
    kw.setdefault("when", WHEN)
    ans = ask(book, question, **kw)
    json.dumps(ans.to_dict())
    return ans


def _quotes(ans) -> list[str]:
    return [line[2:] for line in ans.markdown.splitlines() if line.startswith("> ")]


def _index_code(book, path: str) -> str:
    """The code the ICD-10-CM Alphabetic Index gives for a path ("Stroke"), read from the book."""
    row = book.db.execute("SELECT code FROM index_terms WHERE source='index' AND lower(path)=lower(?)", (path,)).fetchone()
    assert row and row[0], path
    return row[0].rstrip("-").rstrip(".")


# --- code spotting in every spelling ------------------------------------------------------------------------

@pytest.mark.parametrize("question, code", [
    ("GY modifier?", "GY"), ("what does the -25 modifier mean", "25"), ("what is mod GA", "GA"),
    ("what is the XU modifier", "XU"), ("GZ mod", "GZ"), ("can i use mod 59 on an e/m", "59"),
])
def test_modifiers_in_every_spelling(book, question, code):
    found = [f for f in scan(book, question, WHEN, question=True) if f.system == "modifier"]
    assert [f.code for f in found] == [code]
    ans = _ask(book, question)
    assert ans.intent == "modifier" and f"Modifier {code}" in ans.markdown
    title = book.find("modifier", code, WHEN).title
    if title:
        assert title in ans.markdown


def test_words_before_modifier_are_not_modifiers(book):
    for text in ("an modifier", "the CPT modifier", "NCCI PTP-associated modifier", "to modifier"):
        assert not [f for f in scan(book, text, WHEN, question=True) if f.system == "modifier"], text
    # in an answer (not a question) a lower-case word is never read as a modifier
    assert not [f for f in scan(book, "gy modifier", WHEN) if f.system == "modifier"]


def test_contractions_are_spelled_out_for_the_intent_patterns():
    assert phrasing("whats the icd10 for stroke") == "what is the icd10 for stroke"
    assert phrasing("What's modifier LT") == "what is modifier LT"
    assert phrasing("the side isn't documented, can't tell") == "the side is not documented, can not tell"


@pytest.mark.parametrize("question, path", [
    ("whats the icd10 for stroke", "Stroke"),
    ("icd-10 for type 2 diabetes with chronic kidney disease", "Diabetes, diabetic, type 2, with, chronic kidney disease"),
    ("dx code for hyperlipidemia", "Hyperlipemia, hyperlipidemia"),
])
def test_lookup_phrasings(book, question, path):
    ans = _ask(book, question)
    assert ans.intent == "lookup"
    assert _index_code(book, path) in ans.markdown.split("\n")[0]  # the best code leads


def test_lookup_of_a_pcs_procedure_ignores_the_code_set_name(book):
    ans = _ask(book, "icd 10 pcs for open appendectomy")
    first = ans.markdown.split("\n")[0]
    assert ans.intent == "lookup" and "Appendix" in first and "Open Approach" in first
    assert "Group 10" not in first  # "10" of "icd 10 pcs" is not a search word


@pytest.mark.parametrize("question, intent", [
    ("when can G89 pain codes be first-listed", "code_guideline"),  # "first-listed" is no code-first note
    ("how many minutes before i can bill critical care 99291", "proc_rule"),
    ("who can bill 99497", "proc_rule"),
    ("what is 99291", "meaning"),
    ("patient on both insulin and oral hypoglycemics, which Z codes?", "rule_or_lookup"),
])
def test_intent_of_phrasings(book, question, intent):
    assert route(question, scan(book, question, WHEN, question=True)) == intent


def test_rule_question_about_a_procedure_code_quotes_the_policy_naming_it(book):
    ans = _ask(book, "how many minutes before i can bill critical care 99291")
    assert ans.confident and "99291" in ans.markdown.split("\n")[0]
    assert any("99291" in q for q in _quotes(ans))
    assert any(c.url.startswith("/references/cms-claims-processing-ch12/30.6.12") for c in ans.citations)


# --- retrieval: expansion, sections, sentences --------------------------------------------------------------

def test_expansion_from_the_synonym_table_reaches_the_category_and_block(book):
    code = book.find("icd10cm", _index_code(book, "Stroke"), WHEN)
    block = next(a for a in book.ancestors("icd10cm", code.code, WHEN) if a.kind == "block")
    exp = expand(book, "how do you code sequelae of a stroke")
    assert "cerebral" in exp.words  # the synonym table's index path (Infarct, cerebral)
    assert "cerebrovascular" in block.title.lower() and "cerebrovascular" in exp.words  # its block's title
    htn = expand(book, "htn with ckd")
    assert {"hypertension", "kidney", "chronic"} <= set(htn.words)
    assert {"advance", "beneficiary", "notice"} <= set(expand(book, "when is an ABN required").words)
    assert expand(book, "what is a combination code").words == []


@pytest.mark.parametrize("question, ref", [
    ("how do you code sequelae of a stroke", "I.C.9.d"),  # stroke -> cerebrovascular
    ("htn with ckd how to code", "I.C.9.a.2"),  # abbreviations
    ("new heart attack within 4 weeks of the first one", "I.C.9.e.4"),  # lay words
    ("covid-19 confirmed how to code", "I.C.1.g.1.a"),  # the sibling whose own title says what is asked
    ("can z codes be first listed?", "I.C.21"),  # a one-letter code family
    ("what does 'with' mean in icd-10-cm", "I.A.15"),  # a quoted common word
])
def test_retrieval_reaches_the_governing_guideline(book, question, ref):
    ans = _ask(book, question)
    assert ans.intent == "guideline" and ans.citations[0].url.startswith(f"/guidelines/{ref}"), ans.citations[0]


@pytest.mark.parametrize("question, url", [
    ("does medicare still pay consultation codes", "/references/cms-claims-processing-ch12/30.6.10"),
    ("what is a separate procedure per ncci", "/references/ncci-policy-manual/I.J"),
    ("split shared visit who bills", "/references/cms-claims-processing-ch12/30.6.18"),
])
def test_section_titles_and_named_sources_rank_the_policy_texts(book, question, url):
    ans = _ask(book, question)
    assert ans.citations[0].url == url


def test_the_governing_sentence_is_quoted_with_what_completes_it(book):
    section = book.reference_section("icd10cm-guidelines", "IV.H")
    first, second = [s for s in re.split(r"(?<=\.)\s+", section.text) if s][:2]
    ans = _ask(book, "uncertain diagnosis outpatient")
    quotes = _quotes(ans)
    assert quotes[0] == first and quotes[1] == second  # "Do not code ..." then "Rather, code ..."
    late = _ask(book, "how to code late effects")
    assert late.citations[0].url == "/guidelines/I.B.10"
    assert not any(q.startswith("See ") for q in _quotes(late))  # never a bare cross-reference
    assert any("residual effect" in q for q in _quotes(late))


@pytest.mark.parametrize("question, ref", [
    ("presure ulcer stages", "I.C.12.a.1"), ("what is a combinaton code", "I.B.9"),
    ("hypertenion with chronic kidney diseas", "I.C.9.a"),
])
def test_misspelt_words_are_read_as_the_texts_spell_them(book, question, ref):
    ans = _ask(book, question)
    assert ans.intent == "guideline" and ans.citations[0].url.startswith(f"/guidelines/{ref}")


def test_a_number_in_the_question_counts(book):
    ans = _ask(book, "what does modifier indicator 9 mean in ncci")
    assert any("“9”" in q or "9 =" in q for q in _quotes(ans))


@pytest.mark.parametrize("question, refs", [
    ("adverse effect vs poisoning", ["I.C.19.e.5.a", "I.C.19.e.5.b"]),
    ("what is the difference between excludes1 and excludes2", ["I.A.12.a", "I.A.12.b"]),
    ("difference between code also and use additional code notes", ["I.A.17", "I.A.13"]),
    ("inpatient vs outpatient uncertain diagnosis", ["II.H", "IV.H"]),
])
def test_a_comparison_quotes_each_side(book, question, refs):
    ans = _ask(book, question)
    assert [c.url for c in ans.citations[:2]] == [f"/guidelines/{r}" for r in refs]


# --- follow-ups ---------------------------------------------------------------------------------------------

def test_follow_up_naming_a_second_code_pairs_it_with_the_first(book):
    first = _ask(book, "what is 29881")
    ans = _ask(book, "can it be billed with 29880", history=[Turn("what is 29881", first.context)])
    edit = book.ptp_edit("29880", "29881", "practitioner", WHEN)
    assert ans.intent == "ptp" and edit is not None
    assert f"column 1 **{edit.column1}**, column 2 **{edit.column2}**" in ans.markdown
    dx = _ask(book, "what is E11.9")
    pair = _ask(book, "can i code it with E10.9?", history=[Turn("what is E11.9", dx.context)])
    assert pair.intent == "cm_pair" and "Excludes1" in pair.markdown
    # without a pointer back ("it"), a question about a new code stands alone
    alone = _ask(book, "what is 29880", history=[Turn("what is 29881", first.context)])
    assert alone.intent == "meaning" and "29881" not in alone.markdown


def test_follow_up_naming_another_modifier_by_its_bare_code(book):
    first = _ask(book, "what is modifier 59")
    ans = _ask(book, "and XS?", history=[Turn("what is modifier 59", first.context)])
    assert ans.intent == "modifier" and book.find("modifier", "XS", WHEN).title in ans.markdown
    # a bare two-character word is no modifier without a conversation about one
    assert _ask(book, "and XS?").intent != "modifier"
    k = _ask(book, "What is K21.9?")
    assert _ask(book, "and so?", history=[Turn("What is K21.9?", k.context)]).intent != "modifier"


def test_follow_up_after_a_lookup_and_after_a_procedure(book):
    looked = _ask(book, "icd code for afib")
    best = looked.context["codes"][0]["code"]
    icd9 = _ask(book, "what about the icd9?", history=[Turn("icd code for afib", looked.context)])
    gem = [r.target for r in book.crosswalks(best) if r.direction == "icd10cm->icd9cm"]
    assert icd9.intent == "crosswalk" and gem and all(t in icd9.markdown for t in gem)
    proc = _ask(book, "what is 29881")
    mue = _ask(book, "mue?", history=[Turn("what is 29881", proc.context)])
    assert mue.intent == "mue" and f"MUE **{book.mue('29881', 'practitioner', WHEN).value}**" in mue.markdown


# --- the guard: a nonexistent code nobody asked about is never repeated -------------------------------------

def test_a_nonexistent_code_printed_in_a_tabular_note_is_dropped(book):
    notes = [n.text for n in book.notes_by_kind("icd10cm", "F02", WHEN).get("code_first", [])]
    missing = [m for n in notes for m in re.findall(r"\b[A-Z]\d\d\.\d{1,4}\b", n)
               if book.find("icd10cm", m, WHEN) is None and book.find("icd10cm", m) is None]
    assert missing  # the FY2026 tabular prints one (G31.90) that the code set does not have
    ans = _ask(book, "whats the code first note for F02")
    assert all(m not in ans.markdown for m in missing) and DROPPED in ans.markdown
    assert all(c.valid for c in ans.codes)
    asked = _ask(book, f"what is {missing[0]}")  # asked about, it is named and flagged
    assert f"{missing[0]} {FLAG}" in asked.markdown
    # written in lower case without its dot, it is named as written, never spelt out as a code
    lower = _ask(book, "i109")
    assert book.find("icd10cm", "I10.9") is None
    assert "**i109** is not a valid ICD-10-CM code" in lower.markdown and "I10.9" not in lower.markdown


# --- out of scope: an honest "I don't know" -----------------------------------------------------------------

@pytest.mark.parametrize("question", [
    "whats the weather in boston today", "who won the game last night", "write me a poem about medical coding",
    "what time is it", "recommend a good book about baseball", "What is the capital of France?",
    "how tall is mount everest", "who is the president",
])
def test_questions_no_source_answers(book, question):
    ans = _ask(book, question)
    assert ans.intent == "unknown" and not ans.confident and ans.markdown.startswith("I don't know")
    assert ans.codes == [] and ans.citations == [] and ans.facts == []


@pytest.mark.parametrize("question, named", [
    ("what's the reimbursement for 99213 in Canada", "Canada"),
    ("what is the ICD-11 code for type 2 diabetes", "ICD-11"),
    ("how much does aetna pay for 99214", "Aetna"),
    ("icd-10-ca code for asthma", "ICD-10-CA"),
    ("what drg does sepsis group to", "DRG"),
])
def test_other_countries_code_sets_and_payers_are_not_answered_from_medicare(book, question, named):
    ans = _ask(book, question)
    assert ans.intent == "unknown" and ans.markdown.startswith("I don't know") and named in ans.markdown
    assert "RVU" not in ans.markdown and ans.citations == [] and ans.codes == []


def test_scope_leaves_us_questions_alone():
    for question in ("Is E11.9 billable?", "billing Indian Health Service teleradiology", "what is a drg",
                     "Spanish speaking patient interpreter billing", "What is 99213?", "who is the MAC for new york",
                     "who can bill 99497"):
        assert out_of_scope(question) is None, question


@pytest.mark.parametrize("question", ["hi", "Hello there!", "thanks", "what can you do", "help"])
def test_small_talk_gets_help_not_a_passage(book, question):
    ans = _ask(book, question)
    assert ans.intent == "help" and ans.citations == [] and ans.codes == [] and "coding questions" in ans.markdown


# --- the policy texts the importers now read whole -----------------------------------------------------------

def test_cms_chapter_sections_out_of_order_or_without_a_rev_line():
    path = shared("cms-manuals", "clm104c01_general_billing.txt")
    doc = cms_manual.parse(read_text(SourceFile(kind="x", path=path, sha256="0" * 64)),
                           SourceFile(kind="x", path=path, sha256="0" * 64))
    by_ref = {s["ref"]: s for s in doc["sections"]}
    assert by_ref["02"]["title"] == "Formats for Submitting Claims to Medicare"  # printed after 02.1.1
    assert by_ref["02.1"]["title"] == "Electronic Submission Requirements"
    assert by_ref["30.2.16"]["title"] == "Prohibition of Assignments by Beneficiaries"  # old cross-reference only
    assert "Basic Prohibition" in " ".join(by_ref["30.2.16"]["lines"])
    # the rest of a Rev line wrapped over several lines is not the section's text
    assert not " ".join(by_ref["02.2"]["lines"]).strip().startswith("ASC X12")


def test_book_holds_the_recovered_sections(book):
    for ref in ("02", "02.1", "30.2.16"):
        assert book.reference_section("cms-claims-processing-ch1", ref) is not None, ref


# --- the project's held-out set is well formed and grounded -------------------------------------------------

def test_holdout_set_is_grounded_in_the_book(book):
    items = [json.loads(line) for line in HOLDOUT.read_text().splitlines() if line.strip()]
    assert len(items) >= 60 and len({i["id"] for i in items}) == len(items)
    for item in items:
        assert {"id", "question", "kind", "must_include", "must_include_any", "must_not_include"} <= set(item)
        assert "held-out" in item["notes"]
        for s in item["must_include"]:
            if re.fullmatch(r"[A-Z]\d[0-9A-Z](?:\.[0-9A-Z]{1,4})?", s):
                assert book.find("icd10cm", s, WHEN) is not None, (item["id"], s)
            elif re.fullmatch(r"\d[0-9A-Z]{6}", s):
                assert book.find("icd10pcs", s, WHEN) is not None, (item["id"], s)
