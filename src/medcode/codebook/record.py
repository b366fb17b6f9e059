"""A code's whole record as one JSON-ready dict: the shape of the API, the CLI and the code page."""

from __future__ import annotations

from datetime import date

from .book import CPT_MODIFIERS_BY_NUMBER, NCCI_PTP_MODIFIERS, NOTE_ORDER, Book
from .codes import CPT, HCPCS, ICD10CM, ICD10PCS, MODIFIER, POS, looks_like, normalize
from .plain import describe


def guess_system(book: Book, code: str, when: date) -> str:
    """The system a bare code belongs to: the first held system where it exists, else by shape."""
    held = book.systems()
    for system in held:
        if book.find(system, code, when) is not None:
            return system
    if CPT not in held and book.find(CPT, code, when) is not None:  # known by number from the CMS files
        return CPT
    for system in (ICD10PCS, ICD10CM):
        compact = normalize(code, system).replace(".", "")
        if system == ICD10PCS and len(compact) == 7 and looks_like(ICD10PCS, compact):
            return ICD10PCS
    return ICD10CM


def _brief(c) -> dict:
    return {"code": c.code, "title": c.title, "billable": c.billable}


def code_record(book: Book, system: str, code: str, when: date, full: bool = True) -> dict:
    """Everything the book knows about a code on a date of service. Raises UnknownCode."""
    with book.memo():  # the description, notes and hierarchy ask for the same codes again
        return _code_record(book, system, code, when, full)


def _code_record(book: Book, system: str, code: str, when: date, full: bool) -> dict:
    found = book.get(system, code, when)
    # a deleted or future code is still described, from the version that existed
    at = when if found.status == "active" else (found.valid_to or found.valid_from)
    release = None
    try:
        release = book.release_for(system, when)
    except Exception:
        pass
    rec = {
        "system": found.system,
        "code": found.code,
        "title": found.title,
        "kind": found.kind,
        "billable": found.billable and found.status == "active",
        "status": found.status,
        "effective": {"from": found.valid_from, "to": found.valid_to},
        "release": found.release,
        "date_of_service": when,
        "release_in_effect": release.name if release else None,
        "hierarchy": [{"code": a.code, "title": a.title, "kind": a.kind} for a in book.ancestors(system, found.code, at)],
        "children": [_brief(c) for c in book.children(system, found.code, at)],
        "plain_language": describe(book, found.system, found.code, when),
    }
    if not full:
        return rec
    grouped = {k: [] for k in NOTE_ORDER}
    for note in book.notes(system, found.code, at):
        grouped.setdefault(note.kind, []).append(
            {"text": note.text, "origin": note.origin, "origin_kind": note.origin_kind, "inherited": note.inherited})
    rec["notes"] = grouped
    rec["seventh_characters"] = {s.char: s.meaning for s in book.seventh_characters(system, found.code, at)}
    rec["index_entries"] = [
        {"source": e.source, "path": e.path, "code": e.code, "column": e.column}
        for e in book.index_entries(found.code, system)]
    if found.system == ICD10PCS:
        # what each character means, and the index terms that lead to the code or to its table
        rec["pcs"] = {
            "axes": book.pcs_axes(found.code) or [],
            "table": book.pcs_table(found.code) if len(found.code) == 3 else None,
            "index_entries": [{"path": e.path, "code": e.code, "see": e.see, "use": e.see_also}
                              for e in book.pcs_index_entries(found.code)],
        }
    if found.system in (HCPCS, MODIFIER, POS, CPT):
        rec.update(_hcpcs_blocks(book, found, at))
    rec["crosswalks"] = {
        "icd9cm": [{"code": x.target, "title": x.target_title, "approximate": x.approximate, "no_map": x.no_map,
                    "combination": x.combination, "scenario": x.scenario, "choice_list": x.choice_list}
                   for x in book.crosswalks(found.code, system) if x.direction == "icd10cm->icd9cm"],
        "from_icd9cm": [{"code": x.source, "title": book.icd9_title(x.source), "approximate": x.approximate}
                        for x in book.crosswalks(found.code, system) if x.direction == "icd9cm->icd10cm"],
    }
    rec["history"] = [{"title": v.title, "billable": v.billable, "valid_from": v.valid_from, "valid_to": v.valid_to,
                       "release": v.release} for v in book.history(system, found.code)]
    rec["edits"] = edits_record(book, found.code, when) if found.system in (HCPCS, CPT) and found.kind == "code" else {}
    if found.billable is False and found.status == "active" and found.kind != "chapter":
        rec["billable_below"] = [_brief(c) for c in book.billable_descendants(system, found.code, at, limit=50)]
    return rec


CPT_NOTICE = ("The CPT descriptor is licensed by the American Medical Association: it is shown only when a "
              "licensee has imported the AMA data files.")

# --- what the CMS indicator values mean (the CMS record layouts' value lists, shortened) --------------

# HCPCS record layout: pricing indicator (up to 4 per code).
PRICING_INDICATORS = {
    "00": "not separately priced by Part B (not covered, bundled, or paid under another system)",
    "11": "priced with national relative values (physician fee schedule)",
    "12": "priced with national anesthesia base units",
    "13": "priced by the contractor (physician fee schedule)",
    "21": "clinical lab fee schedule: subject to the national limitation amount",
    "22": "clinical lab fee schedule: priced by the contractor",
    "31": "DMEPOS: frequently serviced items",
    "32": "DMEPOS: inexpensive and other routinely purchased items",
    "33": "DMEPOS: oxygen and oxygen equipment",
    "34": "DMEPOS: DME supplies",
    "35": "DMEPOS: surgical dressings",
    "36": "DMEPOS: capped rental items",
    "37": "DMEPOS: ostomy, tracheostomy and urological supplies",
    "38": "DMEPOS: orthotics, prosthetics, prosthetic devices and vision services",
    "39": "DMEPOS: parenteral and enteral nutrition",
    "40": "DMEPOS: lymphedema compression treatment items",
    "45": "DMEPOS: customized DME items",
    "46": "DMEPOS: priced by the contractor",
    "51": "drugs",
    "52": "reasonable charge",
    "53": "statute",
    "54": "vaccinations",
    "55": "splints and casts",
    "56": "intraocular lenses inserted in a physician's office",
    "57": "other: priced by the contractor",
    "99": "no value established",
}
MULTIPLE_PRICING = {
    "9": "one pricing method applies",
    "A": "not applicable: not priced separately by Part B, or no value established",
    "C": "the physician interpretation is priced on the physician fee schedule, the lab portion on the lab fee schedule",
}
COVERAGE = {
    "C": "carrier judgment: the contractor decides coverage",
    "D": "special coverage instructions apply",
    "I": "not payable by Medicare (another code is used)",
    "M": "not covered by Medicare",
    "S": "not covered by Medicare by statute",
}
TYPE_OF_SERVICE = {
    "0": "whole blood", "1": "medical care", "2": "surgery", "3": "consultation", "4": "diagnostic radiology",
    "5": "diagnostic laboratory", "6": "therapeutic radiology", "7": "anesthesia", "8": "assistant at surgery",
    "9": "other medical items or services", "A": "used DME", "B": "high risk screening mammography",
    "C": "low risk screening mammography", "D": "ambulance", "E": "enteral/parenteral nutrients and supplies",
    "F": "ambulatory surgical center (facility usage for surgical services)", "G": "immunosuppressive drugs",
    "H": "hospice", "J": "diabetic shoes", "K": "hearing items and services", "L": "ESRD supplies",
    "M": "monthly capitation payment for dialysis", "N": "kidney donor",
    "P": "lump sum purchase of DME, prosthetics, orthotics", "Q": "vision items or services",
    "R": "rental of DME", "S": "surgical dressings or other medical supplies",
    "T": "outpatient mental health treatment limitation", "U": "occupational therapy",
    "V": "pneumococcal, influenza or hepatitis B vaccine", "W": "physical therapy",
    "Y": "second opinion on elective surgery", "Z": "third opinion on elective surgery",
}
BETOS = {
    "M1A": "office visits: new", "M1B": "office visits: established", "M2A": "hospital visit: initial",
    "M2B": "hospital visit: subsequent", "M2C": "hospital visit: critical care", "M3": "emergency room visit",
    "M4A": "home visit", "M4B": "nursing home visit", "M5A": "specialist: pathology",
    "M5B": "specialist: psychiatry", "M5C": "specialist: ophthalmology", "M5D": "specialist: other",
    "M6": "consultations", "P0": "anesthesia", "P1A": "major procedure: breast",
    "P1B": "major procedure: colectomy", "P1C": "major procedure: cholecystectomy", "P1D": "major procedure: TURP",
    "P1E": "major procedure: hysterectomy", "P1F": "major procedure: explor/decompr/excisional disc",
    "P1G": "major procedure: other", "P2A": "major procedure, cardiovascular: CABG",
    "P2B": "major procedure, cardiovascular: aneurysm repair",
    "P2C": "major procedure, cardiovascular: thromboendarterectomy",
    "P2D": "major procedure, cardiovascular: coronary angioplasty (PTCA)",
    "P2E": "major procedure, cardiovascular: pacemaker insertion", "P2F": "major procedure, cardiovascular: other",
    "P3A": "major procedure, orthopedic: hip fracture repair", "P3B": "major procedure, orthopedic: hip replacement",
    "P3C": "major procedure, orthopedic: knee replacement", "P3D": "major procedure, orthopedic: other",
    "P4A": "eye procedure: corneal transplant", "P4B": "eye procedure: cataract removal/lens insertion",
    "P4C": "eye procedure: retinal detachment", "P4D": "eye procedure: treatment of retinal lesions",
    "P4E": "eye procedure: other", "P5A": "ambulatory procedures: skin", "P5B": "ambulatory procedures: musculoskeletal",
    "P5C": "ambulatory procedures: inguinal hernia repair", "P5D": "ambulatory procedures: lithotripsy",
    "P5E": "ambulatory procedures: other", "P6A": "minor procedures: skin", "P6B": "minor procedures: musculoskeletal",
    "P6C": "minor procedures: other (Medicare fee schedule)",
    "P6D": "minor procedures: other (non-Medicare fee schedule)", "P7A": "oncology: radiation therapy",
    "P7B": "oncology: other", "P8A": "endoscopy: arthroscopy", "P8B": "endoscopy: upper gastrointestinal",
    "P8C": "endoscopy: sigmoidoscopy", "P8D": "endoscopy: colonoscopy", "P8E": "endoscopy: cystoscopy",
    "P8F": "endoscopy: bronchoscopy", "P8G": "endoscopy: laparoscopic cholecystectomy",
    "P8H": "endoscopy: laryngoscopy", "P8I": "endoscopy: other",
    "P9A": "dialysis services (Medicare fee schedule)", "P9B": "dialysis services (non-Medicare fee schedule)",
    "I1A": "standard imaging: chest", "I1B": "standard imaging: musculoskeletal", "I1C": "standard imaging: breast",
    "I1D": "standard imaging: contrast gastrointestinal", "I1E": "standard imaging: nuclear medicine",
    "I1F": "standard imaging: other", "I2A": "advanced imaging: CAT/CT/CTA, brain/head/neck",
    "I2B": "advanced imaging: CAT/CT/CTA, other", "I2C": "advanced imaging: MRI/MRA, brain/head/neck",
    "I2D": "advanced imaging: MRI/MRA, other", "I3A": "echography/ultrasonography: eye",
    "I3B": "echography/ultrasonography: abdomen/pelvis", "I3C": "echography/ultrasonography: heart",
    "I3D": "echography/ultrasonography: carotid arteries", "I3E": "echography/ultrasonography: prostate, transrectal",
    "I3F": "echography/ultrasonography: other", "I4A": "imaging/procedure: heart, including cardiac catheterization",
    "I4B": "imaging/procedure: other", "T1A": "lab tests: routine venipuncture (non-Medicare fee schedule)",
    "T1B": "lab tests: automated general profiles", "T1C": "lab tests: urinalysis", "T1D": "lab tests: blood counts",
    "T1E": "lab tests: glucose", "T1F": "lab tests: bacterial cultures",
    "T1G": "lab tests: other (Medicare fee schedule)", "T1H": "lab tests: other (non-Medicare fee schedule)",
    "T2A": "other tests: electrocardiograms", "T2B": "other tests: cardiovascular stress tests",
    "T2C": "other tests: EKG monitoring", "T2D": "other tests: other", "D1A": "DME: medical/surgical supplies",
    "D1B": "DME: hospital beds", "D1C": "DME: oxygen and supplies", "D1D": "DME: wheelchairs", "D1E": "DME: other",
    "D1F": "prosthetic/orthotic devices", "D1G": "drugs administered through DME", "O1A": "ambulance",
    "O1B": "chiropractic", "O1C": "enteral and parenteral", "O1D": "chemotherapy", "O1E": "other drugs",
    "O1F": "vision, hearing and speech services", "O1G": "influenza immunization",
    "Y1": "other: Medicare fee schedule", "Y2": "other: non-Medicare fee schedule", "Z1": "local codes",
    "Z2": "undefined codes",
}

# PFS relative value file record layout (RVU26B), Attachment A and the indicator fields.
RVU_STATUS = {
    "A": "active: paid separately under the physician fee schedule, if covered",
    "B": "bundled: payment is always included in other services",
    "C": "contractors price the code",
    "D": "deleted code",
    "E": "excluded from the physician fee schedule by regulation",
    "F": "deleted or discontinued code (no grace period)",
    "G": "not valid for Medicare: Medicare uses another code (90-day grace period)",
    "H": "deleted modifier: the TC or 26 component was deleted",
    "I": "not valid for Medicare: Medicare uses another code",
    "J": "anesthesia service: no RVUs and no payment amounts",
    "M": "measurement code: reporting only",
    "N": "not covered by Medicare",
    "P": "bundled or excluded: no separate payment under the fee schedule",
    "R": "restricted coverage: special coverage instructions apply; contractor priced if covered",
    "T": "injection: paid only when no other fee schedule service is billed that day by the same provider",
    "X": "statutory exclusion: not a physician service for fee schedule payment",
}
GLOBAL_DAYS = {
    "000": "0 days: endoscopic or minor procedure; related pre- and postoperative work on the day of the "
           "procedure only",
    "010": "10 days: minor procedure with a 10-day postoperative period",
    "090": "90 days: major surgery with a 1-day preoperative and a 90-day postoperative period",
    "MMM": "maternity code: the usual global period does not apply",
    "XXX": "the global concept does not apply",
    "YYY": "the contractor sets the global period",
    "ZZZ": "related to another service and always included in its global period",
}
PCTC = {
    "0": "physician service: modifiers 26 and TC cannot be used",
    "1": "diagnostic test with professional and technical components: modifiers 26 and TC can be used",
    "2": "professional component only: modifiers 26 and TC cannot be used",
    "3": "technical component only: modifiers 26 and TC cannot be used",
    "4": "global test only: modifiers 26 and TC cannot be used",
    "5": "incident-to service: modifiers 26 and TC cannot be used",
    "6": "laboratory physician interpretation: modifier TC cannot be used",
    "7": "physical therapy service not payable in a hospital setting",
    "8": "physician interpretation of an abnormal smear for a hospital inpatient",
    "9": "the PC/TC concept does not apply",
}
MULTIPLE_PROCEDURE = {
    "0": "no multiple procedure reduction applies",
    "1": "standard reduction rules in effect before 1995 apply",
    "2": "standard multiple procedure reduction: 100%, then 50% for each further procedure",
    "3": "multiple endoscopy rules apply (same endoscopic family)",
    "4": "diagnostic imaging reduction applies (same imaging family)",
    "5": "50% reduction of the practice expense for certain therapy services",
    "6": "25% reduction of the TC of further diagnostic cardiovascular services",
    "7": "20% reduction of the TC of further diagnostic ophthalmology services",
    "9": "the concept does not apply",
}
BILATERAL = {
    "0": "no 150% bilateral adjustment: both sides paid at 100% of one code at most",
    "1": "150% bilateral adjustment applies (modifier 50, RT and LT, or 2 units)",
    "2": "no 150% adjustment: the values already assume a bilateral procedure",
    "3": "no bilateral adjustment: each side paid at 100%",
    "9": "the bilateral concept does not apply",
}
ASSISTANT = {
    "0": "assistant at surgery paid only with documentation of medical necessity",
    "1": "assistant at surgery may not be paid (statutory restriction)",
    "2": "assistant at surgery may be paid",
    "9": "the concept does not apply",
}
CO_SURGEONS = {
    "0": "co-surgeons not permitted",
    "1": "co-surgeons may be paid with documentation of medical necessity",
    "2": "co-surgeons permitted, no documentation needed when the two-specialty requirement is met",
    "9": "the concept does not apply",
}
TEAM_SURGERY = {
    "0": "team surgeons not permitted",
    "1": "team surgeons may be paid with documentation of medical necessity; paid by report",
    "2": "team surgeons permitted; paid by report",
    "9": "the concept does not apply",
}

# NCCI: PTP modifier indicators (NCCI Policy Manual chapter I, section E), MAIs, add-on edit types.
PTP_MODIFIER_WORDS = {
    0: "not allowed: no modifier lets the two codes be reported together",
    1: "allowed with an NCCI PTP-associated modifier when the clinical circumstances justify it",
    9: "not applicable: the edit was deleted on its effective date",
}
MAI_WORDS = {
    1: "the units on each claim line are checked against the MUE",
    2: "the units of all lines on the date are added up; the limit is absolute (policy)",
    3: "the units of all lines on the date are added up; more may be paid on appeal with documentation (clinical)",
}
AOC_TYPE_WORDS = {
    1: "reported only with one of the listed primary codes",
    2: "the contractor defines the primary codes",
    3: "reported with one of the listed primary codes, or others the contractor allows",
}

PTP_SHOWN = 100  # pairs of each column per setting in a record: the counts say how many there are


def _words(table: dict, value):
    return table.get(value) if value not in (None, "") else None


def _iso(d):
    return d.isoformat() if isinstance(d, date) else d


def edits_record(book: Book, code: str, when: date, ptp_shown: int = PTP_SHOWN) -> dict:
    """The NCCI edits, MUEs, add-on code relations, PFS relative values and national payment of a HCPCS or
    CPT code on the date of service, with every indicator also in words."""
    ptp = {}
    for setting in ("practitioner", "hospital"):
        counts = book.ptp_counts(code, setting, when)
        pairs = book.ptp_pairs(code, setting, when, limit=ptp_shown)
        ptp[setting] = {
            col: {"count": counts[col], "pairs": [
                {"column1": e.column1, "column2": e.column2, "effective": e.effective, "deletion": e.deletion,
                 "modifier": e.modifier, "prior_1996": e.prior_1996, "rationale": e.rationale} for e in pairs[col]]}
            for col in ("column1", "column2")}
        ptp[setting]["releases"] = sorted({e.release for col in pairs.values() for e in col})
    mue = {}
    for setting in ("practitioner", "hospital", "dme"):
        m = book.mue(code, setting, when)
        mue[setting] = None if m is None else {
            "units": m.value, "mai": m.mai, "mai_label": m.mai_label, "mai_meaning": MAI_WORDS.get(m.mai),
            "rationale": m.rationale, "effective_from": m.effective_from, "effective_to": m.effective_to,
            "release": m.release}

    def aoc(e) -> dict:
        return {"addon": e.addon, "primary": e.primary, "contractor_defined": e.contractor_defined,
                "type": e.aoc_type, "type_meaning": AOC_TYPE_WORDS.get(e.aoc_type), "effective": e.effective,
                "deletion": e.deletion, "note": e.note, "release": e.release}

    rvus = book.rvus(code, when)
    ptp["modifier_indicators"] = {str(k): v for k, v in PTP_MODIFIER_WORDS.items()}
    return {
        "date_of_service": when,
        "ptp": ptp,
        "mue": mue,
        "addon": {"primaries": [aoc(e) for e in book.addon_primaries(code, when)],
                  "addons": [aoc(e) for e in book.addons_for(code, when)]},
        "rvu": [_rvu(r) for r in rvus],
        "payment": national_payment(rvus, when),
    }


def _rvu(r) -> dict:
    return {
        "modifier": r.modifier, "status": r.status, "status_meaning": _words(RVU_STATUS, r.status),
        "not_used_for_medicare": r.not_used_for_medicare,
        "work": r.work, "pe_nonfacility": r.pe_nonfacility, "pe_nonfacility_na": r.pe_nonfacility_na,
        "pe_facility": r.pe_facility, "pe_facility_na": r.pe_facility_na, "mp": r.mp,
        "total_nonfacility": r.total_nonfacility, "total_facility": r.total_facility,
        "global_days": r.global_days, "global_meaning": _words(GLOBAL_DAYS, r.global_days),
        "preop": r.preop, "intraop": r.intraop, "postop": r.postop,
        "pctc": r.pctc, "pctc_meaning": _words(PCTC, r.pctc),
        "multiple_procedure": r.multiple_procedure,
        "multiple_procedure_meaning": _words(MULTIPLE_PROCEDURE, r.multiple_procedure),
        "bilateral": r.bilateral, "bilateral_meaning": _words(BILATERAL, r.bilateral),
        "assistant": r.assistant, "assistant_meaning": _words(ASSISTANT, r.assistant),
        "co_surgeons": r.co_surgeons, "co_surgeons_meaning": _words(CO_SURGEONS, r.co_surgeons),
        "team_surgery": r.team_surgery, "team_surgery_meaning": _words(TEAM_SURGERY, r.team_surgery),
        "endoscopic_base": r.endoscopic_base, "conversion_factor": r.conversion_factor,
        "release": r.release, "effective_from": r.effective_from, "effective_to": r.effective_to,
    }


def _amount(r, facility: bool):
    """The national (unadjusted: every GPCI 1.0) amount, or None with the reason."""
    from .sources.pfs_rvu import PAYABLE_STATUS, payment_amount

    if r.status not in PAYABLE_STATUS:
        return None, f"status {r.status}: not paid on the physician fee schedule"
    if r.pe_facility_na if facility else r.pe_nonfacility_na:
        return None, f"NA: rarely or never performed in the {'facility' if facility else 'non-facility'} setting"
    pe = r.pe_facility if facility else r.pe_nonfacility
    return float(payment_amount(r.work, pe, r.mp, 1, 1, 1, r.conversion_factor)), None


def national_payment(rvus, when: date) -> dict | None:
    """The national payment amounts of each RVU record (global service, 26, TC, 53): the RVU totals times
    the conversion factor, before any locality's GPCIs; None when no PFS file covers the date."""
    if not rvus:
        return None
    rows = []
    for r in rvus:
        nf, nf_why = _amount(r, False)
        f, f_why = _amount(r, True)
        rows.append({"modifier": r.modifier, "nonfacility": nf, "nonfacility_reason": nf_why, "facility": f,
                     "facility_reason": f_why})
    return {"basis": "national", "locality": None, "conversion_factor": rvus[0].conversion_factor,
            "date_of_service": when, "amounts": rows, "release": rvus[0].release}


def locality_payment(book: Book, code: str, locality: str, when: date) -> dict | None:
    """The same amounts adjusted by one locality's GPCIs (book.payment); None when the book has no RVUs for
    the code on the date. Raises CodebookError for a locality that is not written as MAC-locality."""
    rvus = book.rvus(code, when)
    if not rvus:
        return None
    rows = []
    for r in rvus:
        nf = book.payment(code, locality, when, facility=False, modifier=r.modifier)
        f = book.payment(code, locality, when, facility=True, modifier=r.modifier)
        rows.append({"modifier": r.modifier, "nonfacility": _money(nf.amount), "nonfacility_reason": nf.reason,
                     "facility": _money(f.amount), "facility_reason": f.reason})
    g = book.gpci(locality, when)
    return {"basis": "locality", "locality": g.id if g else str(locality),
            "gpci": {"work": g.work_on(when), "pe": g.pe, "mp": g.mp} if g else None,
            "conversion_factor": rvus[0].conversion_factor, "date_of_service": when, "amounts": rows,
            "release": rvus[0].release}


def _money(amount):
    """Amounts are exact decimals in the book; the record is JSON-ready, in dollars."""
    return None if amount is None else float(amount)


def _hcpcs_words(details: dict) -> dict:
    """The ANWEB indicator codes of a record, in words."""
    return {
        "pricing_meanings": [PRICING_INDICATORS.get(p) for p in details.get("pricing_indicators") or []],
        "multiple_pricing_meaning": _words(MULTIPLE_PRICING, details.get("multiple_pricing_indicator")),
        "coverage_meaning": _words(COVERAGE, details.get("coverage_code")),
        "betos_meaning": _words(BETOS, (details.get("betos") or "").strip()),
        "type_of_service_meanings": [TYPE_OF_SERVICE.get(t) for t in details.get("type_of_service") or []],
    }


def _with_descriptions(book: Book, system: str, code: str, at, details: dict | None) -> dict | None:
    """A release with attributes only (no descriptions) takes them from the newest one that has them."""
    if details is None:
        return None
    if details.get("long_description") is None and details.get("short_description") is None:
        found = book.hcpcs_descriptions(system, code, at)
        if found:
            details = {**details, "long_description": found["long_description"],
                       "short_description": found["short_description"], "descriptions_release": found["release"]}
    return {**details, **_hcpcs_words(details)}


def _hcpcs_blocks(book: Book, found, at) -> dict:
    """HCPCS, modifier, place of service and CPT facts beside the title (issue 5)."""
    out: dict = {}
    if found.system == HCPCS and found.kind != "section":
        details = _with_descriptions(book, HCPCS, found.code, at, book.hcpcs_details(HCPCS, found.code, at))
        out["hcpcs"] = ({**details, "noc": book.hcpcs_noc(found.code, at)} if details else
                        {"noc": book.hcpcs_noc(found.code, at)})
    elif found.system == MODIFIER:
        level = "CPT" if found.kind == "cpt_modifier" else "HCPCS Level II"
        out["hcpcs"] = (_with_descriptions(book, MODIFIER, found.code, at, book.hcpcs_details(MODIFIER, found.code, at))
                        if level != "CPT" else None)
        out["modifier"] = {"level": level,
                           "guidance": book.modifier_guidance(found.code, at) if level != "CPT" else None,
                           "cpt_descriptor": book.cpt_descriptors(found.code, at).get("modifier")
                           if level == "CPT" else None}
        if level == "CPT":
            out["modifier"]["named_in"] = CPT_MODIFIERS_BY_NUMBER.get(found.code)
            out["modifier"]["notice"] = None if out["modifier"]["cpt_descriptor"] else CPT_NOTICE
        out["modifier"]["ncci_ptp_associated"] = found.code in NCCI_PTP_MODIFIERS
    elif found.system == POS:
        out["pos"] = book.pos_details(found.code, at)
    elif found.system == CPT:
        descriptors = book.cpt_descriptors(found.code, at)
        out["cpt"] = {"licensed": bool(descriptors), "descriptors": descriptors,
                      "notice": None if descriptors else CPT_NOTICE,
                      "listed_in": book.cms_listed(found.code, at)}
    return out
