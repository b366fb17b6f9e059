"""One rule at a time, with short notes written for these tests. Expected codes are read from the Book
(the Alphabetic Index path a coder would follow, the Tabular's titles and notes) wherever they can be."""

from __future__ import annotations

import re

import pytest
from c2c_helpers import DATE, codes_of, first_of

from medcode.case2code import code_note
from medcode.case2code.lexicon import NEGATION_PRE, UNCERTAIN_PRE

SETTINGS = ("outpatient", "ed", "inpatient")


def index_code(book, path: str) -> str:
    """The code the Alphabetic Index prints at exactly this path."""
    row = book.db.execute("SELECT code FROM index_terms WHERE source='index' AND path=? AND column_name IS NULL "
                          "AND code IS NOT NULL", (path,)).fetchone()
    assert row, f"no Index entry {path!r}"
    return row[0]


def billable_below(book, header: str, *words: str) -> str:
    """The billable code under a header whose title says all the words (the Tabular's choice)."""
    found = [c for c in book.billable_descendants("icd10cm", header.rstrip("-").rstrip("."), DATE)
             if all(w.lower() in c.title.lower() for w in words)]
    assert len(found) == 1, (header, words, [(c.code, c.title) for c in found])
    return found[0].code


def title(book, code: str) -> str:
    return book.get("icd10cm", code, DATE).title.lower()


# --- negation: every cue, every setting -------------------------------------------------------------

NEGATED = [cue for cue in NEGATION_PRE if cue not in ("nor", "not in", "absent")]


@pytest.mark.parametrize("setting", SETTINGS)
@pytest.mark.parametrize("cue", NEGATED)
def test_each_negation_cue_in_each_setting(code, book, cue, setting):
    pneumonia = index_code(book, "Pneumonia")
    bronchitis = index_code(book, "Bronchitis, acute or subacute")
    said = code(f"Assessment: acute bronchitis. {cue.capitalize()} pneumonia.", setting)
    assert bronchitis in codes_of(said) and pneumonia not in codes_of(said), (cue, codes_of(said))
    control = code("Assessment: acute bronchitis. Pneumonia.", setting)
    assert pneumonia in codes_of(control)


@pytest.mark.parametrize("setting", SETTINGS)
@pytest.mark.parametrize("after", ["ruled out", "was excluded", "is negative", "not seen"])
def test_trailing_negation(code, book, after, setting):
    res = code(f"Acute bronchitis. Pneumonia {after}.", setting)
    assert index_code(book, "Pneumonia") not in codes_of(res)


def test_negation_reaches_a_list_but_stops_at_a_new_clause(code, book):
    res = code("Denies fever, chills, or night sweats; reports a productive cough.")
    assert codes_of(res) == [index_code(book, "Cough")]


def test_negation_stops_at_but(code, book):
    res = code("No fever but has a cough.")
    assert index_code(book, "Cough") in codes_of(res)
    assert index_code(book, "Fever") not in codes_of(res)


def test_without_picks_the_without_subterm(code, book):
    res = code("Migraine without aura, not intractable, without status migrainosus.")
    assert codes_of(res) == [index_code(book, "Migraine, without aura, not intractable, without status migrainosus")]


# --- uncertainty: every cue, every setting -----------------------------------------------------------

UNCERTAIN = [cue for cue in UNCERTAIN_PRE if cue not in ("differential", "vs", "r/o", "may be", "may have")]


@pytest.mark.parametrize("setting", SETTINGS)
@pytest.mark.parametrize("cue", UNCERTAIN)
def test_each_uncertainty_cue_in_each_setting(code, book, cue, setting):
    pneumonia, cough = index_code(book, "Pneumonia"), index_code(book, "Cough")
    res = code(f"Productive cough for a week. Assessment: {cue} pneumonia.", setting)
    if setting == "inpatient":
        # Guidelines II.H: coded as if established at discharge; the cough is then integral
        assert pneumonia in codes_of(res) and cough not in codes_of(res), (cue, codes_of(res))
        assert "II.H" in next(s.rationale for s in res.codes if s.code == pneumonia)
    else:
        # Guidelines IV.H: not coded; the documented symptom is
        assert pneumonia not in codes_of(res) and cough in codes_of(res), (cue, codes_of(res))
        assert any("uncertain" in w and "IV.H" in w for w in res.warnings)


@pytest.mark.parametrize("setting", ("outpatient", "ed"))
def test_versus_makes_both_sides_uncertain(code, book, setting):
    res = code("Right lower quadrant abdominal pain. Appendicitis versus ovarian cyst.", setting)
    assert [c for c in codes_of(res) if c.startswith("R10")], codes_of(res)
    assert not [c for c in codes_of(res) if c.startswith(("K35", "K37", "N83"))]


def test_rule_out_shorthand(code, book):
    res = code("Cough and fever, r/o pneumonia.", "ed")
    assert index_code(book, "Pneumonia") not in codes_of(res)
    assert index_code(book, "Cough") in codes_of(res)


# --- history, family, whose condition ----------------------------------------------------------------

def test_resolved_condition_is_personal_history(code, book):
    res = code("Assessment: essential hypertension. History of pneumonia, resolved.")
    assert index_code(book, "History, personal, pneumonia") in codes_of(res)
    assert index_code(book, "Pneumonia") not in codes_of(res)


def test_history_shorthand(code, book):
    res = code("h/o DVT, completed anticoagulation. Now acute bronchitis.")
    assert any(c.startswith("Z86.71") for c in codes_of(res)), codes_of(res)
    assert not any(c.startswith("I82") for c in codes_of(res))


def test_chronic_condition_documented_as_history_stays_current(code, book):
    res = code("History of hypertension, on lisinopril.")
    assert codes_of(res) == [index_code(book, "Hypertension, hypertensive")]


def test_excised_malignancy_is_history(code, book):
    res = code("Status post right mastectomy for breast cancer 5 years ago; no further treatment. "
               "No evidence of recurrence.")
    assert index_code(book, "History, personal, malignant neoplasm, breast") in codes_of(res)
    assert not any(c.startswith("C50") for c in codes_of(res))
    assert billable_below(book, "Z90.1", "right") in codes_of(res)  # acquired absence of the right breast


def test_family_history(code, book):
    res = code("Mother with breast cancer, father had a myocardial infarction. Assessment: hyperlipidemia.")
    assert index_code(book, "History, family, malignant neoplasm, breast") in codes_of(res)
    assert any(c.startswith("Z82.4") for c in codes_of(res))
    assert not any(c.startswith(("C50", "I21")) for c in codes_of(res))


def test_a_relative_reporting_is_not_family_history(code, book):
    res = code("Mother reports the child has a cough.")
    assert index_code(book, "Cough") in codes_of(res)


def test_hypothetical_and_vaccine_mentions_are_not_conditions(code, book):
    res = code("Return if fever develops. Tetanus updated. Assessment: laceration of left forearm.", "ed")
    assert not any(c.startswith(("R50", "A35")) for c in codes_of(res)), codes_of(res)


# --- specificity: laterality, stage, 7th characters, trimester ----------------------------------------

@pytest.mark.parametrize("side", ["left", "right"])
def test_laterality(code, book, side):
    res = code(f"Acute otitis media of the {side} ear.")
    (only,) = res.codes
    assert side in only.title.lower()
    assert any(side in e.text.lower() for e in only.evidence)


def test_bilateral_from_both(code, book):
    res = code("Primary open-angle glaucoma of both eyes, moderate stage.")
    (only,) = res.codes
    assert "bilateral" in only.title.lower() and "moderate stage" in only.title.lower()


@pytest.mark.parametrize("stage", ["1", "2", "3a", "3b", "4", "5"])
def test_ckd_stage(code, book, stage):
    res = code(f"Chronic kidney disease stage {stage}.")
    (only,) = res.codes
    assert f"stage {stage}" in only.title.lower()


@pytest.mark.parametrize("stage", ["2", "3", "4"])
def test_pressure_ulcer_stage(code, book, stage):
    res = code(f"Stage {stage} pressure ulcer of the sacrum.")
    (only,) = res.codes
    assert only.code.startswith("L89.15") and f"stage {stage}" in only.title.lower()


def test_injury_initial_encounter_in_the_ed(code, book):
    res = code("ED: closed displaced fracture of the shaft of the left tibia after a fall.", "ed")
    (only,) = res.codes
    assert only.code[-1] == "A" and "initial encounter for closed fracture" in only.title.lower()
    assert "left" in only.title.lower()
    assert "I.C.19.a" in only.rationale


def test_injury_subsequent_encounter_routine_healing(code, book):
    res = code("Follow-up visit: right distal radius fracture 6 weeks after the fall, healing well in cast.")
    (only,) = res.codes
    assert only.code[-1] == "D" and "routine healing" in only.title.lower() and "right" in only.title.lower()


def test_injury_subsequent_encounter_with_malunion(code, book):
    res = code("Follow-up visit: right distal radius fracture with malunion.")
    (only,) = res.codes
    assert "malunion" in only.title.lower() and only.code[-1] == "P"


def test_open_fracture_gustilo_type(code, book):
    res = code("ED: open fracture of the shaft of the right tibia, Gustilo type II.", "ed")
    (only,) = res.codes
    assert only.code.endswith("B") and "open fracture type i or ii" in only.title.lower()


def test_seventh_character_with_placeholder(code, book):
    res = code("ED: metallic foreign body embedded in the left cornea, removed.", "ed")
    (only,) = res.codes
    assert re.fullmatch(r"T15\.02XA", only.code), only.code


def test_trimester_and_weeks_of_gestation(code, book):
    res = code("28-year-old G2P1 at 24 weeks gestation. Pre-existing essential hypertension.")
    assert billable_below(book, "O10.01", "second trimester") in codes_of(res)
    assert "Z3A.24" in codes_of(res)
    assert first_of(res).startswith("O")  # chapter 15 first (Guidelines I.C.15.a)


# --- combination codes and conventions ----------------------------------------------------------------

def test_diabetes_with_ckd_and_stage(code, book):
    res = code("Type 2 diabetes with CKD stage 3a.")
    assert codes_of(res)[:1] == [index_code(book, "Diabetes, diabetic, type 2, with, chronic kidney disease")]
    assert index_code(book, "Disease, diseased, kidney, chronic, stage 3a") in codes_of(res)


def test_diabetes_and_ckd_in_different_sentences_are_linked(code, book):
    res = code("Type 2 diabetes, diet controlled. Labs show chronic kidney disease stage 4.")
    assert index_code(book, "Diabetes, diabetic, type 2, with, chronic kidney disease") in codes_of(res)
    assert not any(c == "E11.9" for c in codes_of(res))
    s = next(s for s in res.codes if s.code.startswith("E11.2"))
    assert "I.A.15" in s.rationale


def test_hypertension_with_ckd(code, book):
    res = code("Hypertension. Chronic kidney disease stage 3b.")
    cats = {c[:3] for c in codes_of(res)}
    assert "I12" in cats and "I10" not in cats and "N18" in cats
    assert index_code(book, "Disease, diseased, kidney, chronic, stage 3b") in codes_of(res)


def test_hypertension_with_esrd(code, book):
    res = code("End stage renal disease on hemodialysis. Hypertension.", "inpatient")
    assert "stage 5" in title(book, next(c for c in codes_of(res) if c.startswith("I12")))
    assert any(c.startswith("N18.6") for c in codes_of(res))
    assert any(c.startswith("Z99.2") for c in codes_of(res))


def test_hypertension_with_heart_failure(code, book):
    res = code("Hypertension with chronic diastolic heart failure.")
    assert codes_of(res)[0].startswith("I11")
    hf = next(s for s in res.codes if s.code.startswith("I50"))
    assert "chronic diastolic" in hf.title.lower()
    assert "I11" in " ".join(c[:3] for c in codes_of(res)) and "I10" not in codes_of(res)


def test_hypertension_heart_failure_and_ckd(code, book):
    res = code("Admitted for acute on chronic systolic heart failure. History of hypertension and CKD stage 4.",
               "inpatient")
    cats = [c[:3] for c in codes_of(res)]
    assert cats[0] == "I13" and "I50" in cats and "N18" in cats, codes_of(res)
    assert "acute on chronic systolic" in title(book, next(c for c in codes_of(res) if c.startswith("I50")))
    assert "stage 4" in title(book, next(c for c in codes_of(res) if c.startswith("N18")))


def test_use_additional_for_insulin_type_2_only(code, book):
    t2 = code("Type 2 diabetes mellitus, on insulin.")
    t1 = code("Type 1 diabetes mellitus, on an insulin pump.")
    insulin = index_code(book, "Long-term, insulin")
    assert insulin in codes_of(t2) and insulin not in codes_of(t1)
    notes = [n.text for n in book.notes("icd10cm", "E11.9", DATE) if n.kind == "use_additional"]
    assert any(insulin in n for n in notes)  # the Tabular note the rule reads


def test_oral_hypoglycemic(code, book):
    res = code("Type 2 diabetes on metformin.")
    assert index_code(book, "Long-term, oral, hypoglycemic") in codes_of(res)


def test_long_term_opiate(code, book):
    res = code("Lumbar spondylosis, maintained on long-term oxycodone.")
    assert index_code(book, "Long-term, opiate analgesic") in codes_of(res)


def test_copd_exacerbation_combination(code, book):
    res = code("Acute exacerbation of COPD.")
    assert codes_of(res) == [index_code(book, "Disease, diseased, lung, obstructive, with, acute, exacerbation NEC")]


def test_both_sibling_subterms_are_coded(code, book):
    res = code("Acute on chronic respiratory failure with both hypoxia and hypercapnia.", "inpatient")
    assert {"J96.21", "J96.22"} <= set(codes_of(res))


def test_etiology_code_first(code, book):
    res = code("Admitted with COVID-19 pneumonia.", "inpatient")
    assert codes_of(res)[:2] == ["U07.1", "J12.82"]
    notes = [n.text for n in book.notes("icd10cm", "J12.82", DATE) if n.kind == "code_first"]
    assert any("U07.1" in n for n in notes)


def test_pregnancy_delivery_outcome_and_o80(code, book):
    res = code("Delivery summary: G1P0 at 39 weeks with gestational diabetes, diet controlled. Spontaneous "
               "vaginal delivery of a single liveborn infant.", "inpatient")
    cats = codes_of(res)
    assert cats[0].startswith("O24.42") and "diet controlled" in title(book, cats[0])  # in childbirth
    assert "Z3A.39" in cats and index_code(book, "Outcome of delivery, single NEC, liveborn") in cats
    assert "O80" not in cats
    assert any("O80" in w for w in res.warnings)


def test_newborn_record(code, book):
    res = code("Newborn record: term infant born vaginally in the hospital at 39 weeks. Neonatal jaundice.",
               "inpatient")
    assert first_of(res).startswith("Z38")
    assert not any(c.startswith(("O", "Z3A", "Z37")) for c in codes_of(res))


def test_symptoms_integral_to_a_diagnosis_are_not_coded(code, book):
    res = code("Presents with wheezing and shortness of breath. Assessment: mild persistent asthma with acute "
               "exacerbation.", "ed")
    assert codes_of(res) == [index_code(book, "Asthma, asthmatic, persistent, mild, with, exacerbation")]


def test_symptom_due_to_its_cause(code, book):
    res = code("Impression: syncope due to orthostatic hypotension.", "ed")
    assert codes_of(res) == [index_code(book, "Hypotension, orthostatic")]


def test_an_unrelated_symptom_in_the_assessment_is_kept(code, book):
    res = code("Assessment: 1. Essential hypertension. 2. Fatigue.")
    assert index_code(book, "Fatigue") in codes_of(res)


def test_well_child_with_abnormal_findings(code, book):
    res = code("Well-child check: 4-year-old. Assessment: bilateral impacted cerumen.")
    assert first_of(res) == index_code(book, "Examination, child, with abnormal findings")
    assert billable_below(book, "H61.2", "bilateral") in codes_of(res)


def test_follow_up_after_completed_treatment(code, book):
    res = code("Follow-up 4 weeks after completing antibiotics for pneumonia. Pneumonia resolved.")
    assert codes_of(res) == [index_code(book, "Examination, follow-up"),
                             index_code(book, "History, personal, pneumonia")]


def test_underdosing(code, book):
    res = code("Type 1 diabetes admitted in diabetic ketoacidosis after running out of insulin because she could "
               "not afford it.", "inpatient")
    cats = codes_of(res)
    assert cats[0].startswith("E10.1")
    assert any(c.startswith("T38.3X6") for c in cats) and "Z91.120" in cats
    assert not any(c.startswith("Z79") for c in cats)


def test_allergy_status(code, book):
    res = code("Allergic to penicillin (hives). No reaction today.")
    assert codes_of(res) == [index_code(book, "History, personal, allergy, penicillin")]


def test_bmi_needs_a_weight_diagnosis(code, book):
    with_dx = code("Obesity with BMI 32.")
    alone = code("Routine visit, BMI 32, otherwise well.")
    bmi = [c.code for c in book.billable_descendants("icd10cm", "Z68", DATE) if "32.0-32.9" in c.title][0]
    assert bmi in codes_of(with_dx) and bmi not in codes_of(alone)


# --- checks: Excludes1, validity ----------------------------------------------------------------------

def test_excludes1_symptom_gives_way(code, book):
    res = code("Fainted at home. Impression: syncope due to orthostatic hypotension.", "ed")
    r55 = index_code(book, "Syncope")
    assert r55 not in codes_of(res)
    notes = [n.text for n in book.notes("icd10cm", r55, DATE) if n.kind == "excludes1"]
    assert any("I95.1" in n for n in notes)


def test_excludes1_status_gives_way_to_the_diagnosis(code, book):
    res = code("Tobacco use. Nicotine dependence, cigarettes, uncomplicated.")
    assert "Z72.0" not in codes_of(res) and codes_of(res)[0].startswith("F17.21")
    assert any("Excludes1" in w and "Z72.0" in w for w in res.warnings)


def test_combination_takes_the_symptom_and_excludes1_agrees(code, book):
    res = code("Reports hypoglycemia episodes. Assessment: type 1 diabetes with hypoglycemia without coma.")
    assert codes_of(res) == [index_code(book, "Diabetes, diabetic, type 1, with, hypoglycemia")]


def test_a_code_deleted_on_the_date_is_never_suggested(book):
    """Every code comes from the Book on the date: an early date with no release held is an error, not a guess."""
    from medcode.codebook.errors import CodebookError

    with pytest.raises(CodebookError):
        code_note(book, "Type 2 diabetes.", "outpatient", "1999-01-01")


# --- evidence ------------------------------------------------------------------------------------------

def test_evidence_slices_the_input_exactly(code, book):
    text = "ED:  54 y/o w/ DM2  &  CKD 3a;\n  c/o L heel ulcer. Denies CP.  HTN."
    res = code(text, "ed")
    assert res.codes
    for s in res.codes:
        for e in s.evidence:
            assert text[e.start:e.end] == e.text


def test_evidence_points_at_the_words(code, book):
    text = "Patient with type 2 diabetes and chronic kidney disease stage 3b."
    res = code(text)
    e11 = next(s for s in res.codes if s.code.startswith("E11"))
    said = " ".join(e.text for e in e11.evidence).lower()
    assert "type 2 diabetes" in said and "chronic kidney disease" in said
    n18 = next(s for s in res.codes if s.code.startswith("N18"))
    assert any("3b" in e.text for e in n18.evidence)


def test_pregnancy_chapter_precedence(code, book):
    res = code("G2P1 at 20 weeks with type 2 diabetes on insulin.")
    cats = codes_of(res)
    o24 = index_code(book, "Pregnancy, complicated by, diabetes, pre-existing, type 2")
    assert cats[0].startswith(o24.rstrip("-")) and "second trimester" in title(book, cats[0])
    assert "E11.9" in cats and cats.index("E11.9") > 0  # the O code's note: use additional code from E11
    assert "Z3A.20" in cats and "Z79.4" in cats
    anemia = code("Pregnant at 30 weeks with iron deficiency anemia.")
    assert codes_of(anemia)[0].startswith("O99.01") and "D50.9" in codes_of(anemia)


def test_a_tabular_inclusion_term_no_index_term_says(code, book):
    """Concept extraction also reads the Tabular's inclusion terms and titles (through medcode.search)."""
    term = "Angiostrongylus costaricensis"
    owner = book.db.execute("SELECT code FROM notes WHERE kind='inclusion_terms' AND text=?", (term,)).fetchone()[0]
    res = code(f"Assessment: {term}.")
    assert codes_of(res) == [owner]
    assert "inclusion term" in res.codes[0].rationale and res.codes[0].evidence[0].text == term
