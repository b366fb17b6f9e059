"""ICD-10-PCS Tables, CMS XML layout (`ICD10PCS.tabular`): every valid code, expanded from the table rows.

A PCS table fixes axes 1-3 (section, body system, operation); each of its rows lists the values
allowed on axes 4-7, and every combination is a valid code. CMS publishes no title per code in
this file, so each title is composed from the axis labels the way CMS writes its long
descriptions (checked in the tests against the official code-description files).
"""

from __future__ import annotations

import itertools
import json
import xml.etree.ElementTree as ET
from datetime import date, timedelta
from pathlib import Path

from ..codes import ICD10PCS
from ..dates import fiscal_year_start
from ..errors import SourceError
from .xmlfile import fiscal_year, parse_xml
from ..writer import BuildContext, SourceFile

KIND = "icd10pcs_tables"
SYSTEM = ICD10PCS
ORDER = 40

ROOT = "ICD10PCS.tabular"
_CHARS = set("0123456789ABCDEFGHJKLMNPQRSTUVWXYZ")  # PCS never uses I or O


def sniff(path: Path, head: bytes) -> bool:
    return b"<" + ROOT.encode() in head


def _text(el: ET.Element | None) -> str:
    return " ".join((el.text or "").split()) if el is not None else ""


def _axes(parent: ET.Element, positions: range, where: str, src: SourceFile) -> dict[int, tuple[str, list]]:
    """{pos: (axis title, [(char, label), ...])} for the axes a table header or row must carry."""
    found: dict[int, tuple[str, list]] = {}
    for axis in parent.findall("axis"):
        pos = axis.get("pos", "")
        here = f"{where}/axis[@pos='{pos}']"
        if not pos.isdigit() or int(pos) not in positions or int(pos) in found:
            raise SourceError(src.path, f"unexpected or repeated axis pos={pos!r}", here)
        values = []
        for label in axis.findall("label"):
            char = (label.get("code") or "").strip().upper()
            if len(char) != 1 or char not in _CHARS:
                raise SourceError(src.path, f"label code {char!r} is not a PCS character", here)
            text = _text(label)
            if not text:
                raise SourceError(src.path, f"label {char} has no text", here)
            values.append((char, text))
        if not values:
            raise SourceError(src.path, "axis without labels", here)
        found[int(pos)] = (_text(axis.find("title")) or f"Axis {pos}", values)
    missing = [p for p in positions if p not in found]
    if missing:
        raise SourceError(src.path, f"missing axis pos {', '.join(map(str, missing))}", where)
    return found


def load(ctx: BuildContext, src: SourceFile) -> dict:
    root = parse_xml(src, ROOT)
    fy = fiscal_year(root, src)
    start = fiscal_year_start(fy)
    tables = root.findall("pcsTable")
    if not tables:
        raise SourceError(src.path, "no <pcsTable> elements: not a complete tables file", f"/{ROOT}")
    # in effect until a later release replaces it (see build._close_releases)
    release_id = ctx.add_release(system=SYSTEM, name=f"ICD-10-PCS FY{fy}", kind=KIND, effective_from=start,
                                 effective_to=None, src=src)
    valid_from = start.isoformat()

    headers: dict[str, tuple] = {}   # code -> (title, kind, parent), in tabular order
    codes: dict[str, tuple] = {}     # code -> (title, parent)
    table_rows: list[tuple] = []
    grid_rows: list[tuple] = []
    for n, table in enumerate(ctx.progress(tables, total=len(tables), desc="ICD-10-PCS tables"), 1):
        where = f"/{ROOT}/pcsTable[{n}]"
        head = _axes(table, range(1, 4), where, src)
        for pos, (_title, values) in head.items():
            if len(values) != 1:
                raise SourceError(src.path, f"table header axis {pos} has {len(values)} labels, expected 1", where)
        (c1, section), (c2, body), (c3, operation) = (head[p][1][0] for p in (1, 2, 3))
        table_code = c1 + c2 + c3
        where = f"/{ROOT}/pcsTable[{table_code}]"
        if table_code in headers:
            raise SourceError(src.path, f"table {table_code} appears twice", where)
        headers.setdefault(c1, (section, "section", None))
        headers.setdefault(c1 + c2, (section if body == "None" else body, "body_system", c1))
        headers[table_code] = (_table_title(c1, section, body, operation), "table", c1 + c2)
        definition = _text(table.find("axis[@pos='3']/definition")) or None
        table_rows.append((table_code, section, body, operation, definition, release_id))
        rows = table.findall("pcsRow")
        if not rows:
            raise SourceError(src.path, "table without <pcsRow>", where)
        for row_no, row in enumerate(rows, 1):
            rwhere = f"{where}/pcsRow[{row_no}]"
            axes = _axes(row, range(4, 8), rwhere, src)
            expected = row.get("codes")
            combos = list(itertools.product(*(axes[p][1] for p in range(4, 8))))
            if expected is not None and expected.strip() != str(len(combos)):
                raise SourceError(src.path, f"row says codes={expected} but its axes give {len(combos)}", rwhere)
            grid_rows.append((table_code, row_no, json.dumps(
                [{"pos": p, "title": axes[p][0], "values": [list(v) for v in axes[p][1]]} for p in range(4, 8)])))
            head_labels = [section, body, operation]
            for combo in combos:
                code = table_code + "".join(c for c, _ in combo)
                if code in codes:
                    raise SourceError(src.path, f"code {code} is allowed by two rows", rwhere)
                codes[code] = (compose(code, head_labels + [label for _, label in combo]), table_code)

    rows_out = _code_rows(ctx, src, headers, codes, valid_from, release_id)
    ctx.insert("codes", ("system", "code", "valid_from", "valid_to", "title", "kind", "parent", "billable",
                         "seq", "release_id"), rows_out)
    _close_versions(ctx)
    _store_grid(ctx, table_rows, grid_rows, start)
    counts = {"tables": len(table_rows), "rows": len(grid_rows), "billable": len(codes), "headers": len(headers)}
    ctx.set_counts(release_id, counts)
    return counts


def _table_title(section_char: str, section: str, body: str, operation: str) -> str:
    """'Replacement of Upper Joints'; F's second axis is a section qualifier, shown in brackets."""
    if body == "None":
        return operation
    if section_char == "F":
        return f"{operation} ({body})"
    return f"{operation} of {body}"


def _code_rows(ctx: BuildContext, src: SourceFile, headers: dict, codes: dict, valid_from: str,
               release_id: int) -> list[tuple]:
    """One row per code of this release, headers first, in tabular order."""
    if ctx.conn.execute("SELECT 1 FROM releases WHERE kind=? AND effective_from=? AND id!=?",
                        (KIND, valid_from, release_id)).fetchone():
        raise SourceError(src.path, f"another ICD-10-PCS tables release starting {valid_from} is already imported")
    items = [(code, t, kind, parent, 0) for code, (t, kind, parent) in headers.items()]
    items += [(code, t, "code", parent, 1) for code, (t, parent) in codes.items()]
    return [(SYSTEM, code, valid_from, None, title, kind, parent, billable, seq, release_id)
            for seq, (code, title, kind, parent, billable) in enumerate(items, 1)]


def _close_versions(ctx: BuildContext) -> None:
    """Each tables release lists its whole code set, so a code's version from one release ends the day
    before the next release starts, whatever order the files were imported in (the next release
    either has the code again, as a version of its own, or has dropped it)."""
    starts = [(rid, date.fromisoformat(start)) for rid, start in ctx.conn.execute(
        "SELECT id, effective_from FROM releases WHERE kind=? ORDER BY effective_from", (KIND,))]
    ends = [((nxt - timedelta(days=1)).isoformat(), rid) for (rid, _), (_, nxt) in zip(starts, starts[1:])]
    ends.append((None, starts[-1][0]))
    ctx.conn.executemany("UPDATE codes SET valid_to=? WHERE system='icd10pcs' AND release_id=?", ends)


def _store_grid(ctx: BuildContext, table_rows: list[tuple], grid_rows: list[tuple], start: date) -> None:
    """The grid holds one release per table: the newest effective one wins whatever the import order."""
    newer = {code for (code,) in ctx.conn.execute(
        "SELECT t.code FROM pcs_tables t JOIN releases r ON r.id=t.release_id WHERE r.effective_from>?",
        (start.isoformat(),))}
    table_rows = [t for t in table_rows if t[0] not in newer]
    grid_rows = [g for g in grid_rows if g[0] not in newer]
    ctx.conn.executemany("DELETE FROM pcs_rows WHERE table_code=?", [(t[0],) for t in table_rows])
    ctx.conn.executemany("INSERT OR REPLACE INTO pcs_tables(code,section,body_system,operation,definition,release_id)"
                         " VALUES (?,?,?,?,?,?)", table_rows)
    ctx.insert("pcs_rows", ("table_code", "row_no", "axes"), grid_rows)


# --- titles ------------------------------------------------------------------------------------
# CMS composes each long description from the axis labels with a few fixed patterns per section
# and a handful of per-table habits; the rules below reproduce them.

SIDES = {"Right", "Left", "Bilateral"}
NONE = {"No Qualifier", "No Device", "None", "No Device / Substance / Technology"}

# Labels CMS does not turn around ("Coronary Artery, Two Arteries" stays as printed).
_KEEP_ORDER = ("Stomach, Pylorus", "Thoracic Aorta, ", "Products of Conception", "Hepatobiliary System, All",
               "Musculoskeletal System, Other", "Musculoskeletal System, All", "First Trimester, ",
               "Second Trimester, ", "Third Trimester, ", "Hematopoietic Stem/Progenitor Cells, ",
               # lists of parts, not "part, qualifier"
               "Chest, Abdomen and Pelvis", "Gallbladder, Bile Ducts and Pancreatic Ducts",
               "Ileal Loop, Ureters and Kidneys", "Kidneys, Ureters and Bladder", "Skin, Subcutaneous Tissue and ",
               "Ear, Nose and Sinus", "Serum, Toxoid and Vaccine")
_PHRASES = {
    "Pulmonary Vein, Confluence": "Pulmonary Vein Confluence",
    "Skin, Subcutaneous Tissue and Fascia": "Skin, Subcutaneous Tissue and Fascia",
}


def site(label: str) -> str:
    """A label as CMS words it inside a title: 'Lower Arm, Left' -> 'Left Lower Arm',
    'Lymphatic, Internal Mammary, Left' -> 'Left Internal Mammary Lymphatic'."""
    if label in _PHRASES:
        return _PHRASES[label]
    parts = label.split(", ")
    if len(parts) == 1 or label.startswith(_KEEP_ORDER):
        return label
    if parts[0] == "Coronary Artery" and parts[1].endswith(("Artery", "Arteries")):
        return label  # "Coronary Artery, Two Arteries"
    if len(parts) == 2:
        return f"{parts[1]} {parts[0]}"
    if len(parts) == 3 and parts[2] in SIDES:
        if parts[0] == "Lymphatic":
            return f"{parts[2]} {parts[1]} {parts[0]}"
        return f"{parts[2]} {parts[0]}, {parts[1]}"
    return label


_COUNTS = {"Two", "Three", "Four or More"}
_DEVICE_PHRASES = {
    "Hearing Device, Multiple Channel Cochlear Prosthesis": "Multiple Channel Cochlear Prosthesis",
    "Hearing Device, Single Channel Cochlear Prosthesis": "Single Channel Cochlear Prosthesis",
    "Intraluminal Device, Airway": "Airway",
    "Intraluminal Device, Endobronchial Valve": "Endobronchial Valve",
    "Intraluminal Device, Endotracheal Airway": "Endotracheal Airway",
    "Intraluminal Device, Pessary": "Pessary",
    "Synthetic Substitute, Intraocular Telescope": "Intraocular Telescope",
    "Infusion Device, Pump": "Infusion Pump",
    "Cardiac Lead, Defibrillator": "Defibrillator Lead",
    "Cardiac Lead, Pacemaker": "Pacemaker Lead",
    "Synthetic Substitute, Unicondylar Lateral": "Lateral Unicondylar Synthetic Substitute",
    "Synthetic Substitute, Unicondylar Medial": "Medial Unicondylar Synthetic Substitute",
    "Biologic with Synthetic Substitute, Autoregulated Electrohydraulic":
        "Biologic and Synthetic Substitute, Autoregulated Electrohydraulic",
}
_DEVICE_KEEP = ("Pacemaker, ", "Radioactive Element, ", "Synthetic Substitute, Pneumatic",
                "Intraluminal Device, Flow Diverter", "Spinal Stabilization Device, Vertebral Body Tether")


def device(label: str) -> str:
    """'Intraluminal Device, Drug-eluting, Two' -> 'Two Drug-eluting Intraluminal Devices'."""
    if label in _DEVICE_PHRASES:
        return _DEVICE_PHRASES[label]
    parts = label.split(", ")
    if len(parts) == 1 or label.startswith(_DEVICE_KEEP):
        return label
    if parts[-1] in _COUNTS:
        middle = "".join(p + " " for p in reversed(parts[1:-1]))
        return f"{parts[-1]} {middle}{parts[0]}s"
    if len(parts) == 2:
        return f"{parts[1]} {parts[0]}"
    return f"{parts[1]} {parts[0]}, {', '.join(parts[2:])}"


# Medical and Surgical ------------------------------------------------------------------------
# qualifiers that say how it was done: "... using X"
_USING = {"Drug-Coated Balloon", "Laser Interstitial Thermal Therapy", "Connectomic Analysis",
          "Irreversible Electroporation", "Stent Retriever", "Rapid Deployment Technique",
          "Stereoelectroencephalographic Radiofrequency Ablation"}
# qualifiers printed after the approach
_AFTER = {"Diagnostic", "Ultrasonic", "Hand-Assisted", "Allogeneic", "Syngeneic", "Zooplastic", "Vertical"}
_TEETH = {"Single", "Multiple", "All"}
# qualifiers that name the treated site itself, in place of the body part
_SITE_QUALIFIERS = {"Left Atrial Appendage", "Ductus Arteriosus", "Prostatic Artery, Left", "Prostatic Artery, Right",
                    "Uterine Artery, Left", "Uterine Artery, Right", "Hemorrhoidal Plexus"}
# qualifiers printed right after the body part, ahead of the device
_BEFORE_DEVICE = {"Bifurcation", "Sesamoid Bone(s) 1st Toe"}
_TISSUE_LAYERS = {"Skin", "Subcutaneous Tissue", "Skin and Subcutaneous Tissue", "Skin, Subcutaneous Tissue and Fascia"}
# tables (or only some body parts there) where CMS writes "<Operation> of" for an operation that otherwise takes none
_OF_TABLES = {"03F": (), "04F": (), "05F": (), "06F": (), "0JU": (), "02F": ("Pulmonary",), "08U": ("Eye,",),
              "0CQ": ("Upper Tooth", "Lower Tooth")}
# tables where the "Via Natural or Artificial Opening" approaches are followed by "Approach"
_VIA_APPROACH = {"07Q", "0WJ"}
_NO_OF = {"Map", "Release", "Repair", "Reposition", "Supplement", "Transfer"}


def _approach(label: str, table: str, qualifier: str) -> str:
    if not label.startswith("Via"):
        return label + " Approach"
    if table in _VIA_APPROACH or (table == "079" and qualifier == "Diagnostic"):
        return label + " Approach"
    return label


def _surgical(code: str, labels: list[str]) -> str:
    table = code[:3]
    op, bp_label, ap_label, dv, q = labels[2], labels[3], labels[4], labels[5], labels[6]
    bp = site(bp_label)
    ap = _approach(ap_label, table, q)
    if table == "0UD" and bp_label == "Ova":
        ap = ap_label
    dev = None if dv in NONE else device(dv)
    qual = None if q in NONE else q
    using = ""
    if qual in _SITE_QUALIFIERS:
        bp, qual = site(qual), None
    if qual == "Biventricular":
        dev, qual = f"{qual} {dev}", None
    if qual and qual.endswith("Flap") and op == "Replacement":
        dev, using, qual = None, f" using {qual}", None
    if op in ("Repair", "Supplement") and qual and "Valve" in qual:
        bp, qual = f"{bp} created from {site(qual)}", None
    teeth_first = op == "Replacement" or (op == "Reposition" and ap_label != "Open")
    if dev and (qual in _BEFORE_DEVICE or (qual in _TEETH and teeth_first)):
        bp, qual = f"{bp}, {qual},", None
    if op == "Replacement" and qual and qual.startswith("Toe"):
        dev, qual = f"{site(qual)}, {dev}", None
    after = (qual in _AFTER and op != "Transplantation") or (qual in _TEETH and op in ("Drainage", "Excision"))
    if qual in _USING:
        using, qual = f" using {qual}", None
    w = f" with {dev}" if dev else ""
    pre = _OF_TABLES.get(table)
    of = " of" if pre is not None and (not pre or bp_label.startswith(pre)) else ""
    if op == "Bypass":
        frm = table == "021" and bp_label.startswith(("Coronary", "Pulmonary"))
        if frm and bp_label.startswith("Pulmonary") and not dev:
            w = " with No Device"
        s, qual = f"Bypass {bp} {'from' if frm else 'to'} {site(q)}{w}", None
    elif op == "Creation":
        s = f"Creation of {bp} from {q} using {dev}" if table == "024" else f"Creation of {q} in {bp}{w}"
        qual = None
    elif op == "Change":
        s = f"Change {dev} in {bp}"
    elif op == "Control":
        s = f"Control Bleeding in {bp}{w}"
    elif op == "Detachment":
        s = f"Detachment at {bp}{w}"
    elif op == "Extirpation":
        s = f"Extirpation of Matter from {bp}{w}"
    elif op == "Fragmentation":
        s = f"Fragmentation{of or ' in'} {bp}{w}"
    elif op == "Insertion":
        if qual == "Via Umbilical Vein":
            dev, qual = f"{dev}, {qual},", None
        s = f"Insertion of {dev} into {bp}"
    elif op == "Removal":
        s = f"Removal of {dev} from {bp}"
    elif op == "Revision":
        s = f"Revision of {dev} in {bp}"
    elif op == "Transfer" and qual and not qual.endswith("Flap"):
        s, qual = f"Transfer {bp} {'with' if qual in _TISSUE_LAYERS else 'to'} {site(q)}", None
    elif op in _NO_OF:
        s = f"{op}{of} {bp}{w}"
    else:
        s = f"{op} of {bp}{w}"
    if using:
        s += ("," if dev else "") + using
    out = [s[:-1] if s.endswith(",") else s]
    if qual and not after:
        out.append(qual)
    out.append(ap)
    if qual and after:
        out.append(qual)
    return ", ".join(out)


def _obstetrics(code, labels):
    op, bp, ap_label, dv, q = labels[2:]
    ap = _approach(ap_label, "", q)
    dev = None if dv in NONE else device(dv)
    qual = None if q in NONE else q
    if op == "Drainage":
        fluid = qual if qual.startswith("Amniotic") else site(qual)
        return f"Drainage of {fluid} from {bp}, {ap}"
    if op == "Repair":
        w = f" with {dev}" if dev else ""
        return f"Repair {qual} in {bp}{w}, {ap}"
    if op == "Transplantation":
        return f"Transplantation of {qual} into {bp}, {ap}"
    if qual == "Manual":
        return f"Manual Extraction of {bp}, {ap}"
    return _surgical(code, labels)


def _placement(code, labels):
    op, region, dev = labels[2], site(labels[3]), labels[5]
    if code[1] == "Y":
        region = f"{region} Region" if op == "Packing" and region in ("Nasal", "Anorectal") else region
        if op == "Change":
            return f"Change {region} {dev}"
        if op == "Removal":
            return f"Removal of {region} {dev}"
    if op == "Change":
        return f"Change {dev} on {region}"
    if op == "Removal":
        return f"Removal of {dev} on {region}"
    if dev in NONE:
        return f"{op} of {region}"
    return f"{op} of {region} using {dev}"


# qualifiers that modify the substance ("Autologous Fertilized Ovum", "Nitric Oxide Gas")
_SUBSTANCE_MODIFIERS = {"Autologous", "Nonautologous", "Hyperthermic", "Nitric Oxide", "Blood Brain Barrier Disruption"}


def _introduced(sub, qual):
    """What Administration puts in: the qualifier names the substance more exactly when there is one."""
    if not qual or qual == "Other Substance":
        return site(sub)
    if qual in _SUBSTANCE_MODIFIERS:
        return f"{qual} {site(sub).replace('Other Therapeutic ', '')}"
    if qual == "Monoclonal Antibody":
        return f"{sub}, {qual},"
    return qual


def _administration(code, labels):
    op, region, ap_label, sub, q = labels[2:]
    ap = _approach(ap_label, "", q)
    qual = None if q in NONE else q
    if op == "Transfusion":
        return f"Transfusion of {qual.replace(',', '') + ' ' if qual else ''}{site(sub)} into {region}, {ap}"
    if op == "Irrigation":
        where = "Indwelling Device" if region in NONE else region
        parts = [f"Irrigation of {where} using {sub}"]
        if ap_label != "External" or code[1] == "C":
            parts.append(ap)
        if qual:
            parts.append(qual)
        return ", ".join(parts)
    if sub == "Immunotherapeutic" or qual == "Recombinant Human-activated Protein C":
        ap = ap_label
    return f"Introduction of {_introduced(sub, qual)} into {region}, {ap}"


def _measurement(code, labels):
    op, system, ap_label, fn, q = labels[2:]
    ap = _approach(ap_label, "", q)
    qual = None if q in NONE else q
    if qual == "Intracranial" and system == "Central Nervous":
        system, qual = qual, None
    subject = fn if system in NONE else f"{system} {fn}"
    s = f"{op} of {subject}"
    if qual and (qual.endswith("Dye") or qual == "Wireless Sensor"):
        s += f" using {qual}"
    elif qual:
        s += f", {qual}"
    return f"{s}, {ap}"


def _physiological(code, labels):
    op, system, duration, fn, q = labels[2:]
    qual = None if q in NONE else q
    if fn == "Oxygenation" and qual == "Hyperbaric":
        return f"Extracorporeal Hyperbaric Oxygenation, {duration}"
    if qual == "High Flow/Velocity Cannula":
        qual = "High Nasal Flow/Velocity"
    if op == "Assistance":
        if qual and "Pump" in qual or qual in ("Pulsatile Compression",):
            return f"Assistance with {system} {fn} using {qual}, {duration}"
        s = f"Assistance with {system} {fn}, {duration}"
    elif op == "Performance" and fn == "Ventilation":
        s = f"{system} {fn}, {duration}"
    elif op == "Performance" and fn == "Oxygenation":
        s = "Extracorporeal Oxygenation"
        if duration != "Continuous":
            return f"{s}, {qual}, {duration}"
    else:
        s = f"{op} of {system} {fn}, {duration}"
    if qual:
        s += f", {qual}"
    return s


def _therapies(code, labels):
    op, system, duration, q1, q = labels[2:]
    qual = None if q in NONE else q
    if q1 not in NONE:
        return f"{op} of {system} {q1}, {duration}"
    if system == "Skin":
        return f"{op} of Skin, {duration}"
    if qual:
        return f"{op} of {site(qual)}, {duration}"
    if system in NONE:
        return f"{op}, {duration}"
    return f"{op}, {system}, {duration}"


# spine levels read as "<level> Region"; the other body regions are nouns already
_REGION_LEVELS = {"Cervical", "Thoracic", "Lumbar"}
# osteopathic methods that are not "... Forces"
_NOT_FORCES = {"Fascial Release", "General Mobilization", "Lymphatic Pump", "Other Method"}


def _region(label):
    return f"{label} Region" if label in _REGION_LEVELS else label


def _osteopathic(code, labels):
    region, method = _region(labels[3]), labels[5]
    return f"Osteopathic Treatment of {region} using {method}{'' if method in _NOT_FORCES else ' Forces'}"


def _other(code, labels):
    region, ap_label, method, q = labels[3], labels[4], labels[5], labels[6]
    qual = None if q in NONE else q
    if method == "Other Method":
        if region in NONE:
            return qual
        return f"{qual} {'from' if qual.endswith('Removal') else 'of'} {region}"
    if method == "Collection":
        if code[1] == "C":
            return f"Collection of {qual} from Indwelling Device in {region}"
        return f"{qual} Collection"
    s = f"{method} of {region}"
    if qual and method == "Fluorescence Guided Procedure":
        s, qual = f"{s} using {qual}", None
    if ap_label != "External":
        s += f", {_approach(ap_label, '', '')}"
    return f"{s}, {qual}" if qual else s


def _chiropractic(code, labels):
    region, method = labels[3], labels[5]
    return f"Chiropractic Manipulation of {_region(region)}, {method}"


def _imaging(code, labels):
    kind, bp, contrast, q1, q2 = labels[2:]
    s = f"{kind} of {site(bp)}"
    if contrast not in NONE:
        s += f" using {contrast}{' Contrast' if contrast.endswith('Osmolar') else ''}"
    elif q1 in ("Intravascular Optical Coherence", "Bacterial Autofluorescence") or q1.startswith("Hyperpolarized"):
        s, q1 = f"{s} using {q1}", "None"
    if q1 == "Laser" and q2 not in NONE:
        q1, q2 = f"{q1} {q2}", "None"  # "Laser Intraoperative"
    for extra in (q1, q2):
        if extra not in NONE:
            s += f", {extra}"
    return s


def _nuclear(code, labels):
    kind, bp, nuclide, q1, q2 = labels[2:]
    s = f"{kind} of {site(bp)}"
    if nuclide not in NONE:
        s += f" using {nuclide}"
    return s


def _radiation(code, labels):
    modality, bp, mq, isotope, q = labels[2:]
    target = site(bp)
    if modality == "Beam Radiation":
        s = f"Beam Radiation of {target} using {mq}"
    elif modality == "Brachytherapy":
        s = f"{mq} Brachytherapy of {target}"
    else:
        s = f"{mq} of {target}"
    if mq == "Isotope Administration":
        s = s.replace(" of ", " to ")
    if isotope not in NONE:
        s += f" using {isotope}"
    if q not in NONE:
        s += f", {q}"
    return s


# equipment labels that are things in their own right, printed without "Equipment"
_EQUIPMENT_NOUNS = {"Audiometer", "Computer", "Orthosis", "Other Equipment", "Physical Agents", "Prosthesis",
                    "Sound Field / Booth", "Speech Prosthesis", "Tympanometer"}


def _rehabilitation(code, labels):
    kind, region, tq, equip, q = labels[2:]
    if kind == "Caregiver Training":
        s = f"Caregiver Training in {tq}"
    elif kind == "Device Fitting":
        s = f"{tq} Device Fitting"
    else:
        s = f"{tq} {kind.split()[-1]}"
    if region not in NONE:
        s += f" of {region}"
    if equip not in NONE:
        s += f" using {equip}{'' if equip in _EQUIPMENT_NOUNS else ' Equipment'}"
    return s


def _mental(code, labels):
    kind, q = labels[2], labels[3]
    if q in NONE or q in ("Other Family Psychotherapy", "Other Biofeedback"):
        return kind
    if kind == "Counseling" or q == "Other " + kind:
        return q if q.startswith("Other") else f"{q} {kind}"
    return f"{kind}, {q}"


def _substance(code, labels):
    kind, q = labels[2], labels[3]
    s = f"{kind} for Substance Abuse Treatment"
    return s if q in NONE or q == "Other " + kind else f"{s}, {q}"


_TECH_KEEP = ("Synthetic Substitute, Medial Meniscus", "Synthetic Substitute, Lateral Meniscus",
              "Synthetic Substitute, Extraluminal Support Device")


def _new_technology(code, labels):
    op, bp, ap_label, tech, group = labels[2:]
    ap = _approach(ap_label, "", "")
    bp = site(bp)
    thing = tech if tech.startswith(_TECH_KEEP) else device(tech)
    if op == "Introduction" and code[1] == "Y":  # the Extracorporeal body system
        target = "" if bp == "Extracorporeal" else f" to {bp}"
        return f"Extracorporeal Introduction of {thing}{target}, {group}"
    if op in ("Introduction", "Transfusion", "Insertion"):
        s = f"{op} of {thing} into {bp}"
    elif op == "Extirpation":
        s = f"Extirpation of Matter from {bp} using {thing}"
    elif op in ("Replacement",):
        s = f"{op} of {bp} with {thing}"
    elif op in ("Supplement",):
        s = f"{op} {bp} with {thing}"
    elif op == "Restriction":
        s = f"{op} of {bp} with {thing}"
    elif op in ("Bypass", "Release", "Repair", "Transfer"):
        s = f"{op} {bp} using {thing}"
    elif op == "Monitoring":
        s = f"Monitoring of {bp} {thing}"
    elif op == "Measurement":
        return f"Measurement of {tech}, {group}"
    else:
        s = f"{op} of {bp} using {thing}"
    return f"{s}, {ap}, {group}"


_SECTIONS = {"0": _surgical, "1": _obstetrics, "2": _placement, "3": _administration, "4": _measurement,
             "5": _physiological, "6": _therapies, "7": _osteopathic, "8": _other, "9": _chiropractic,
             "B": _imaging, "C": _nuclear, "D": _radiation, "F": _rehabilitation, "G": _mental, "H": _substance,
             "X": _new_technology}


def compose(code: str, labels: list[str]) -> str:
    """The long title of `code` from its axis labels (positions 1-7, in order)."""
    return _SECTIONS.get(code[0], _surgical)(code, labels)
