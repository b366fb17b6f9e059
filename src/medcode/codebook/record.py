"""A code's whole record as one JSON-ready dict: the shape of the API, the CLI and the code page."""

from __future__ import annotations

from datetime import date

from .book import NOTE_ORDER, Book
from .codes import CPT, HCPCS, ICD10CM, ICD10PCS, MODIFIER, POS, looks_like, normalize
from .plain import describe


def guess_system(book: Book, code: str, when: date) -> str:
    """The system a bare code belongs to: the first held system where it exists, else by shape."""
    held = book.systems()
    for system in held:
        if book.find(system, code, when) is not None:
            return system
    for system in (ICD10PCS, ICD10CM):
        compact = normalize(code, system).replace(".", "")
        if system == ICD10PCS and len(compact) == 7 and looks_like(ICD10PCS, compact):
            return ICD10PCS
    return ICD10CM


def _brief(c) -> dict:
    return {"code": c.code, "title": c.title, "billable": c.billable}


def code_record(book: Book, system: str, code: str, when: date, full: bool = True) -> dict:
    """Everything the book knows about a code on a date of service. Raises UnknownCode."""
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
    rec["edits"] = {}
    if found.billable is False and found.status == "active" and found.kind != "chapter":
        rec["billable_below"] = [_brief(c) for c in book.billable_descendants(system, found.code, at, limit=50)]
    return rec


CPT_NOTICE = ("The CPT descriptor is licensed by the American Medical Association: it is shown only when a "
              "licensee has imported the AMA data files.")


def _hcpcs_blocks(book: Book, found, at) -> dict:
    """HCPCS, modifier, place of service and CPT facts beside the title (issue 5)."""
    out: dict = {}
    if found.system == HCPCS and found.kind != "section":
        details = book.hcpcs_details(HCPCS, found.code, at)
        out["hcpcs"] = ({**details, "noc": book.hcpcs_noc(found.code, at)} if details else
                        {"noc": book.hcpcs_noc(found.code, at)})
    elif found.system == MODIFIER:
        level = "CPT" if found.kind == "cpt_modifier" else "HCPCS Level II"
        out["hcpcs"] = book.hcpcs_details(MODIFIER, found.code, at) if level != "CPT" else None
        out["modifier"] = {"level": level,
                           "guidance": book.modifier_guidance(found.code, at) if level != "CPT" else None,
                           "cpt_descriptor": book.cpt_descriptors(found.code, at).get("modifier")
                           if level == "CPT" else None}
    elif found.system == POS:
        out["pos"] = book.pos_details(found.code, at)
    elif found.system == CPT:
        descriptors = book.cpt_descriptors(found.code, at)
        out["cpt"] = {"licensed": bool(descriptors), "descriptors": descriptors,
                      "notice": None if descriptors else CPT_NOTICE}
    return out
