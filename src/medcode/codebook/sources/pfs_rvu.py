"""Medicare Physician Fee Schedule relative value file (PPRRVU), CMS's fixed-width text layout.

`PPRRVU2026_Apr_nonQPP.txt` (release RVU26B) and its siblings: header records starting "HDR" (the
AMA and ADA copyright notices), then one record per code and modifier, laid out as in the release's
documentation (RVU26B record layout; positions 1-based, inclusive):

    1-5 HCPCS code    6-7 modifier    8-57 description    58 status code    59 '+' not used for
    Medicare payment    60-65 work RVU    67-72 non-facility PE RVU    73-74 non-facility NA indicator
    76-81 facility PE RVU    82-83 facility NA indicator    85-89 malpractice RVU
    91-96 total non-facility RVUs    97-102 total facility RVUs    103 PC/TC indicator
    104-106 global surgery    107-109 / 110-112 / 113-115 pre-, intra-, postoperative percentage
    116 multiple procedure    117 bilateral surgery    118 assistant at surgery    119 co-surgeons
    120 team surgery    121 pricing (QPP) indicator    122-127 filler    128-132 endoscopic base code
    133-140 conversion factor    142-143 physician supervision of diagnostic procedures
    144 calculation flag    146-147 diagnostic imaging family    152-157 / 159-164 / 166-171 PE
    (non-facility, facility) and malpractice RVUs used for the OPPS payment amount

The file's CPT codes have AMA-copyrighted descriptions and its dental (D) codes ADA-copyrighted ones:
the description is stored only for HCPCS Level II codes (a letter other than D and four digits) and
dropped for every other row, whatever the file holds. The CPT codes and their status still tell the
book which CPT codes Medicare lists on a date, without any descriptor.

The release date comes from the file name (PPRRVU2026_Apr: April 1, 2026; RVU26B: April 1, 2026;
January, April, July and October releases are A, B, C, D). A file applies within its calendar year.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

from ..errors import SourceError
from ..writer import BuildContext, SourceFile
from .ncci_ptp import CODE, option_date, original_name

KIND = "pfs_rvu"
SYSTEM = "pfs"  # the non-QPP (or only) conversion factor; a QPP file is recorded as 'pfs-qpp'
ORDER = 93

RECORD = 171  # the data records' length in the file (the documentation says 200: trailing filler is cut)
LEVEL2 = re.compile(r"^[A-CE-V][0-9]{4}$")  # HCPCS Level II, not dental: CMS's own public-domain text
STATUS_CODES = frozenset("ABCDEFGHIJMNPRTX")
PAYABLE_STATUS = frozenset("ART")  # "Only RVUs associated with status codes of A, R, or T are used for payment"
GLOBAL_DAYS = frozenset({"000", "010", "090", "MMM", "XXX", "YYY", "ZZZ"})
_MONTHS = {"jan": 1, "apr": 4, "jul": 7, "oct": 10}
_NAME_MONTH = re.compile(r"(?:pprrvu|rvu)?(20\d{2}|\d{2})[_ -]?(jan|apr|jul|oct)", re.I)
_NAME_LETTER = re.compile(r"rvu(\d{2})([a-d])(?:r\d*)?(?![a-z])", re.I)
_HDR_YEAR = re.compile(r"\b(20\d{2})\s+AMERICAN MEDICAL ASSOCIATION", re.I)
_NUMBER = re.compile(r"^ *-?\d*\.\d+$")
_PERCENT = re.compile(r"^\d?\.\d{1,2}$")
_MODIFIER = re.compile(r"^(  |[0-9A-Z]{2})$")


@dataclass(frozen=True)
class Field:
    name: str
    start: int  # 1-based, inclusive, as in the CMS layout
    end: int
    kind: str  # text, code, number, percent, flag, na, digit, or a set name


# the data record, in the CMS layout's order
FIELDS = (
    Field("code", 1, 5, "code"),
    Field("modifier", 6, 7, "modifier"),
    Field("description", 8, 57, "text"),
    Field("status", 58, 58, "status"),
    Field("not_used_for_medicare", 59, 59, "plus"),
    Field("work", 60, 65, "number"),
    Field("pe_nonfacility", 67, 72, "number"),
    Field("pe_nonfacility_na", 73, 74, "na"),
    Field("pe_facility", 76, 81, "number"),
    Field("pe_facility_na", 82, 83, "na"),
    Field("mp", 85, 89, "number"),
    Field("total_nonfacility", 91, 96, "number"),
    Field("total_facility", 97, 102, "number"),
    Field("pctc", 103, 103, "digit"),
    Field("global_days", 104, 106, "global"),
    Field("preop", 107, 109, "percent"),
    Field("intraop", 110, 112, "percent"),
    Field("postop", 113, 115, "percent"),
    Field("multiple_procedure", 116, 116, "digit"),
    Field("bilateral", 117, 117, "digit"),
    Field("assistant", 118, 118, "digit"),
    Field("co_surgeons", 119, 119, "digit"),
    Field("team_surgery", 120, 120, "digit"),
    Field("pricing", 121, 121, "optdigit"),  # blank before the 2026 layout
    Field("endoscopic_base", 128, 132, "optcode"),
    Field("conversion_factor", 133, 140, "number"),
    Field("supervision", 142, 143, "text2"),
    Field("calculation_flag", 144, 144, "digit"),
    Field("imaging_family", 146, 147, "text2"),
    Field("opps_pe_nonfacility", 152, 157, "number"),
    Field("opps_pe_facility", 159, 164, "number"),
    Field("opps_mp", 166, 171, "number"),
)
# positions the layout leaves blank between fields: a character there means the columns have shifted
BLANKS = (66, 75, 84, 90, 122, 123, 124, 125, 126, 127, 141, 145, 148, 149, 150, 151, 158, 165)
_COLS = ("release_id",) + tuple(f.name for f in FIELDS)


def sniff(path: Path, head: bytes) -> bool:
    """HDR copyright records, then fixed-width records with a status letter at position 58."""
    lines = head.split(b"\n")
    if not lines or not lines[0].startswith(b"HDR "):
        return False
    for line in lines[1:-1]:  # the last piece may be cut off by the 4 KB head
        if line.startswith(b"HDR"):
            continue
        line = line.rstrip(b"\r")
        return len(line) >= 164 and line[57:58].isalpha() and line[59:65].strip(b" ").replace(b".", b"").isdigit()
    return b"AMERICAN MEDICAL ASSOCIATION" in head.upper() and b"HDR" in head


def _year_of(src: SourceFile, header_year: int | None) -> tuple[date, str]:
    """(effective date, release label) from the file name, e.g. PPRRVU2026_Apr or RVU26B."""
    start = option_date(src)
    name = original_name(src)
    variant = " (non-QPP)" if re.search(r"non[-_ ]?qpp", name, re.I) else (" (QPP)" if re.search(r"qpp", name, re.I)
                                                                          else "")
    m = _NAME_MONTH.search(name)
    if m:
        year = int(m.group(1)) if len(m.group(1)) == 4 else 2000 + int(m.group(1))
        month = _MONTHS[m.group(2).lower()]
    else:
        m = _NAME_LETTER.search(name)
        if m:
            year, month = 2000 + int(m.group(1)), 1 + 3 * "abcd".index(m.group(2).lower())
        else:
            year = month = None
    if start is None:
        if year is None:
            raise SourceError(src.path, "cannot tell which PFS release this is: CMS names the file with its year and "
                                        "quarter (PPRRVU2026_Apr_nonQPP.txt, or RVU26B for April 2026); rename it "
                                        "that way and import it again")
        if header_year is not None and header_year not in (year - 1, year):  # CPT YYYY is copyright YYYY-1 or YYYY
            raise SourceError(src.path, f"the file name says {year} but the copyright header says {header_year}")
        start = date(year, month, 1)
    letter = "ABCD"[(start.month - 1) // 3]
    return start, f"PFS relative values RVU{start.year % 100:02d}{letter}, {start.strftime('%B %Y')}{variant}"


def is_qpp(src: SourceFile) -> bool:
    name = original_name(src)
    return bool(re.search(r"qpp", name, re.I)) and not re.search(r"non[-_ ]?qpp", name, re.I)


def _value(field: Field, raw: str, path: Path, no: int):
    kind = field.kind
    if kind == "number":
        if not _NUMBER.match(raw):
            raise SourceError(path, f"{field.name} (positions {field.start}-{field.end}) holds {raw!r}, not a number: "
                                    "are the columns shifted?", no)
        return float(raw)
    if kind == "percent":
        if not _PERCENT.match(raw):
            raise SourceError(path, f"{field.name} (positions {field.start}-{field.end}) holds {raw!r}, not a "
                                    "percentage like .10", no)
        return float(raw)
    if kind == "digit":
        if not raw.isdigit():
            raise SourceError(path, f"{field.name} (position {field.start}) holds {raw!r}, not an indicator digit", no)
        return raw
    if kind == "optdigit":
        if not (raw.isdigit() or raw == " "):
            raise SourceError(path, f"{field.name} (position {field.start}) holds {raw!r}, not an indicator digit", no)
        return raw.strip()
    if kind == "na":
        if raw not in ("  ", "NA"):
            raise SourceError(path, f"{field.name} (positions {field.start}-{field.end}) holds {raw!r}: must be 'NA' "
                                    "or blank", no)
        return int(raw == "NA")
    if kind == "plus":
        if raw not in (" ", "+"):
            raise SourceError(path, f"position {field.start} holds {raw!r}: must be '+' (not used for Medicare "
                                    "payment) or blank", no)
        return int(raw == "+")
    if kind == "status":
        if raw not in STATUS_CODES:
            raise SourceError(path, f"status code {raw!r} (position {field.start}) is not one of "
                                    f"{', '.join(sorted(STATUS_CODES))}: are the columns shifted?", no)
        return raw
    if kind == "global":
        if raw not in GLOBAL_DAYS:
            raise SourceError(path, f"global surgery {raw!r} (positions {field.start}-{field.end}) is not one of "
                                    f"{', '.join(sorted(GLOBAL_DAYS))}", no)
        return raw
    if kind == "modifier":
        if not _MODIFIER.match(raw):
            raise SourceError(path, f"modifier {raw!r} (positions 6-7) is not a modifier", no)
        return raw.strip()
    if kind == "optcode":
        value = raw.strip()
        if value and not CODE.match(value):
            raise SourceError(path, f"endoscopic base code {raw!r} (positions 128-132) is not a code", no)
        return value or None
    if kind == "code":
        if not CODE.match(raw):
            raise SourceError(path, f"{raw!r} (positions 1-5) is not a CPT/HCPCS code", no)
        return raw
    if kind == "text2":
        if not raw.strip().isalnum() or len(raw.strip()) != 2:
            raise SourceError(path, f"{field.name} (positions {field.start}-{field.end}) holds {raw!r}, not a "
                                    "two-character indicator", no)
        return raw
    return " ".join(raw.replace("\xa0", " ").split())


def parse(src: SourceFile):
    """(header year, rows as dicts with 'line') after checking every record."""
    path = src.path
    data = path.read_bytes()
    text = data.decode("cp1252", errors="replace")
    rows = []
    header_year = None
    seen: dict[tuple, int] = {}
    in_header = True
    no = 0
    for no, line in enumerate(text.splitlines(), 1):
        if in_header and line.startswith("HDR"):
            m = _HDR_YEAR.search(line)
            if m and header_year is None:
                header_year = int(m.group(1))
            continue
        if in_header and no == 1:
            raise SourceError(path, "the file does not start with the 'HDR' copyright records of the PPRRVU layout", 1)
        in_header = False
        if not line.strip():
            continue
        if len(line) > RECORD and line[RECORD:].strip():
            raise SourceError(path, f"record is {len(line.rstrip())} characters long, the PPRRVU layout has "
                                    f"{RECORD}: are the columns shifted?", no)
        if len(line.rstrip()) < 164:
            raise SourceError(path, f"record is {len(line.rstrip())} characters long, the PPRRVU layout has "
                                    f"{RECORD}: is the line cut short?", no)
        line = line.ljust(RECORD)
        for pos in BLANKS:
            if line[pos - 1] != " ":
                raise SourceError(path, f"position {pos} holds {line[pos - 1]!r} where the layout has a blank: are "
                                        "the columns shifted?", no)
        row = {f.name: _value(f, line[f.start - 1:f.end], path, no) for f in FIELDS}
        if not LEVEL2.match(row["code"]):
            row["description"] = None  # CPT (AMA) and CDT (ADA) descriptors are never stored
        elif not row["description"]:
            row["description"] = None
        key = (row["code"], row["modifier"])
        if key in seen:
            raise SourceError(path, f"{row['code']}{' modifier ' + row['modifier'] if row['modifier'] else ''} is "
                                    f"already listed on line {seen[key]}", no)
        seen[key] = no
        row["line"] = no
        rows.append(row)
    if in_header:
        raise SourceError(path, "only 'HDR' records: the file has no relative value records", max(1, no))
    if not rows:
        raise SourceError(path, "no relative value records after the HDR records: the file is empty or truncated")
    return header_year, rows


def load(ctx: BuildContext, src: SourceFile) -> dict:
    header_year, rows = parse(src)
    start, label = _year_of(src, header_year)
    system = "pfs-qpp" if is_qpp(src) else SYSTEM
    release_id = ctx.add_release(system=system, name=label, kind=KIND, effective_from=start,
                                 effective_to=date(start.year, 12, 31), src=src)
    ctx.insert("pfs_rvu", _COLS, [(release_id, *(r[f.name] for f in FIELDS)) for r in rows])
    cfs = sorted({r["conversion_factor"] for r in rows})
    counts = {"records": len(rows), "codes": len({r["code"] for r in rows}),
              "level2_with_description": sum(1 for r in rows if r["description"]),
              "descriptions_withheld": sum(1 for r in rows if not LEVEL2.match(r["code"])),
              "payable": sum(1 for r in rows if r["status"] in PAYABLE_STATUS),
              "conversion_factor": cfs[0] if len(cfs) == 1 else cfs}
    ctx.set_counts(release_id, counts)
    return counts


# --- payment ----------------------------------------------------------------------------------

CENT = Decimal("0.01")


def _d(x) -> Decimal:
    return x if isinstance(x, Decimal) else Decimal(str(x))


def payment_amount(work_rvu, pe_rvu, mp_rvu, work_gpci, pe_gpci, mp_gpci, conversion_factor) -> Decimal:
    """The fee schedule amount, as the RVU file's documentation gives it:

        [(Work RVU x Work GPCI) + (PE RVU x PE GPCI) + (MP RVU x MP GPCI)] x Conversion Factor

    with the facility or the non-facility PE RVU. Exact decimal arithmetic, rounded half up to the
    cent at the end only. Pure: no book, no I/O.
    """
    total = (_d(work_rvu) * _d(work_gpci) + _d(pe_rvu) * _d(pe_gpci) + _d(mp_rvu) * _d(mp_gpci))
    return (total * _d(conversion_factor)).quantize(CENT, rounding=ROUND_HALF_UP)
