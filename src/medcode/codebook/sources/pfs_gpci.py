"""Geographic practice cost indices (GPCIs) by Medicare locality: CMS's GPCI CSV (Addendum E).

`GPCI2026.csv` from the PFS relative value release: a title row ("ADDENDUM E. FINAL CY 2026
GEOGRAPHIC PRACTICE COST INDICES (GPCIs) BY STATE AND MEDICARE LOCALITY"), then the column titles::

    Medicare Administrative Contractor (MAC),State,Locality Number,Locality Name,
    2026 PW GPCI (without 1.0 Floor),2026 PW GPCI (with 1.0 Floor),2026 PE GPCI,2026 MP GPCI

then one row per locality (the MAC and locality number together identify it), then notes. When the
file gives the work (PW) GPCI with and without the 1.0 floor, both are kept, and the note saying how
long the floor applies ("... extended through January 31, 2026 ...") is read so that a payment for a
date of service uses the right one. '*' and '**' after a locality name mark the Alaska work floor and
the frontier-state PE floor; they are kept as footnotes.

The year comes from the column titles (or the file name); the GPCIs apply from January 1 of it.
"""

from __future__ import annotations

import csv
import io
import re
from datetime import date, datetime
from pathlib import Path

from ..errors import SourceError
from ..writer import BuildContext, SourceFile
from .ncci_ptp import as_ymd, option_date, original_name
from .textfile import read_cms_text

KIND = "pfs_gpci"
SYSTEM = "pfs"
ORDER = 94

_SNIFF = re.compile(rb"locality\s+number.{0,300}pe\s+gpci", re.I | re.S)
_WORK = re.compile(r"^(?:(\d{4})\s+)?pw\s+gpci(?:\s*\((with|without)\s+1\.0\s+floor\))?$")
_PE = re.compile(r"^(?:(\d{4})\s+)?pe\s+gpci$")
_MP = re.compile(r"^(?:(\d{4})\s+)?mp\s+gpci$")
_FLOOR = re.compile(r"floor of 1\.0 .{0,200}?extended through ([A-Z][a-z]+ \d{1,2}, \d{4})", re.S)
_NAME_YEAR = re.compile(r"gpci[_ -]?(20\d{2})", re.I)
_NUMBER = re.compile(r"^\d+(\.\d+)?$")
_HEADER_ROWS = 10
_COLS = ("release_id", "mac", "locality", "state", "name", "work", "work_floor", "floor_through", "pe", "mp",
         "footnote")


def _norm(cell: str) -> str:
    return " ".join((cell or "").replace("\ufeff", "").split()).lower()


def sniff(path: Path, head: bytes) -> bool:
    return bool(_SNIFF.search(head)) and b"," in head


def parse(src: SourceFile):
    path = src.path
    text = read_cms_text(path)
    reader = csv.reader(io.StringIO(text, newline=""))
    cols = None
    years: set[int] = set()
    for i, row in enumerate(reader):
        cells = [_norm(c) for c in row]
        if len(cells) >= 6 and "locality number" in cells:
            cols = {}
            for j, c in enumerate(cells):
                if c.startswith("medicare administrative contractor") or c == "mac" or c == "carrier":
                    cols["mac"] = j
                elif c == "state":
                    cols["state"] = j
                elif c == "locality number":
                    cols["locality"] = j
                elif c == "locality name":
                    cols["name"] = j
                elif m := _WORK.match(c):
                    cols["work_" + (m.group(2) or "only")] = j
                    if m.group(1):
                        years.add(int(m.group(1)))
                elif m := _PE.match(c):
                    cols["pe"] = j
                    if m.group(1):
                        years.add(int(m.group(1)))
                elif m := _MP.match(c):
                    cols["mp"] = j
                    if m.group(1):
                        years.add(int(m.group(1)))
            missing = [k for k in ("mac", "state", "locality", "name", "pe", "mp") if k not in cols]
            if not any(k.startswith("work_") for k in cols):
                missing.append("PW GPCI")
            if missing:
                raise SourceError(path, f"the column titles lack {', '.join(missing)}: not the GPCI layout (MAC, "
                                        "State, Locality Number, Locality Name, PW GPCI, PE GPCI, MP GPCI)",
                                  reader.line_num)
            if len(years) > 1:
                raise SourceError(path, f"the column titles name several years: {sorted(years)}", reader.line_num)
            header = reader.line_num
            break
        if i >= _HEADER_ROWS:
            break
    if cols is None:
        raise SourceError(path, "no column titles with 'Locality Number' and the GPCIs at the top: not a GPCI file "
                                "in CMS's CSV layout", 1)
    rows = []
    seen: dict[tuple, int] = {}
    notes = []  # the rows after the localities
    width = max(cols.values()) + 1
    for row in reader:
        no = reader.line_num
        cells = [c.strip() for c in row]
        if not any(cells):
            continue
        mac = cells[cols["mac"]] if len(cells) > cols["mac"] else ""
        filled = sum(1 for c in cells if c)
        if notes or not (mac.isdigit() or filled >= width - 1):
            if mac.isdigit() and filled >= width - 1:
                raise SourceError(path, f"locality {mac} after the notes that follow the locality rows", no)
            notes.append(" ".join(c for c in cells if c))
            continue
        if not mac.isdigit():
            raise SourceError(path, f"MAC {mac!r} is not a contractor number: are the columns shifted?", no)
        if len(cells) < width:
            raise SourceError(path, f"{len(cells)} columns, the titles have {width}", no)
        get = {k: cells[j] for k, j in cols.items()}
        nums = {}
        for k in [k for k in cols if k.startswith("work_")] + ["pe", "mp"]:
            if not _NUMBER.match(get[k]):
                raise SourceError(path, f"{k.replace('_', ' ')} GPCI {get[k]!r} for locality {mac}-{get['locality']} "
                                        "is not a number: are the columns shifted?", no)
            nums[k] = float(get[k])
        if not get["locality"].isdigit():
            raise SourceError(path, f"locality number {get['locality']!r} is not a number: are the columns shifted?",
                              no)
        if len(get["state"]) != 2 or not get["state"].isalpha():
            raise SourceError(path, f"state {get['state']!r} is not a two-letter state: are the columns shifted?", no)
        name = get["name"]
        footnote = re.search(r"\*+$", name)
        key = (mac, get["locality"])
        if key in seen:
            raise SourceError(path, f"locality {mac}-{get['locality']} is already listed on line {seen[key]}", no)
        seen[key] = no
        work = nums.get("work_without", nums.get("work_only", nums.get("work_with")))
        rows.append({"mac": mac, "locality": get["locality"], "state": get["state"],
                     "name": name.rstrip("*").strip(), "work": work, "work_floor": nums.get("work_with"),
                     "pe": nums["pe"], "mp": nums["mp"], "footnote": footnote.group(0) if footnote else None,
                     "line": no})
    if not rows:
        raise SourceError(path, "no locality rows after the column titles: the file is empty or truncated", header)
    floor_through = None
    m = _FLOOR.search(" ".join(notes))
    if m and any(r["work_floor"] is not None for r in rows):
        try:
            floor_through = datetime.strptime(m.group(1), "%B %d, %Y").date()
        except ValueError:
            floor_through = None
    return (years.pop() if years else None), rows, floor_through


def effective_of(src: SourceFile, year: int | None) -> date:
    start = option_date(src)
    if start:
        return start
    m = _NAME_YEAR.search(original_name(src))
    if m:
        if year is not None and int(m.group(1)) != year:
            raise SourceError(src.path, f"the file name says {m.group(1)} but the column titles say {year}")
        year = int(m.group(1))
    if year is None:
        raise SourceError(src.path, "cannot tell which year these GPCIs are for: neither the column titles (2026 PE "
                                    "GPCI) nor the file name (GPCI2026.csv) give it")
    return date(year, 1, 1)


def load(ctx: BuildContext, src: SourceFile) -> dict:
    year, rows, floor_through = parse(src)
    start = effective_of(src, year)
    release_id = ctx.add_release(system=SYSTEM, name=f"PFS geographic practice cost indices {start.year}", kind=KIND,
                                 effective_from=start, effective_to=date(start.year, 12, 31), src=src)
    through = as_ymd(floor_through) if floor_through else None
    ctx.insert("pfs_gpci", _COLS, [(release_id, r["mac"], r["locality"], r["state"], r["name"], r["work"],
                                    r["work_floor"], through, r["pe"], r["mp"], r["footnote"]) for r in rows])
    counts = {"localities": len(rows), "states": len({r["state"] for r in rows})}
    if floor_through:
        counts["work_floor_through"] = floor_through.isoformat()
    ctx.set_counts(release_id, counts)
    return counts
