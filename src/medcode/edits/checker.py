"""The claim edit checker: "can I bill these together?", line by line, from the NCCI tables in the book.

One claim is one patient, one provider, one date of service. What is checked:

* validity: every code and modifier exists on the date (HCPCS Level II and Level II modifiers from the
  book; CPT codes by number from the CMS files that list them unless licensed CPT data is held; CPT
  modifiers by number);
* PTP pairs in effect on the date in the setting's table: modifier indicator 0 never bypassed, 1
  bypassed by an NCCI PTP-associated modifier on the column 2 line (or differing anatomic modifiers
  on the two lines), 9 not applicable;
* MUEs: units per line (MAI 1) or summed over the lines of a code (MAI 2, 3);
* add-on codes without one of their primary codes (type 1 error, type 3 warning, type 2 advisory).

Messages number lines from 1 as people do; `Finding.lines` holds 0-based indexes into the request.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date

from medcode.codebook.dates import parse_date

from .claim import ClaimError, ClaimLine, read_lines
from .modifiers import ANATOMIC, NCCI_PTP_ASSOCIATED, cpt_modifier_status, is_cpt_number

SETTINGS = {"practitioner": "practitioner", "physician": "practitioner", "professional": "practitioner",
            "prac": "practitioner", "hospital": "hospital", "outpatient hospital": "hospital",
            "outpatient_hospital": "hospital", "outpatient": "hospital", "oph": "hospital", "opps": "hospital"}
SETTING_LABELS = {"practitioner": "practitioner", "hospital": "outpatient hospital"}
KINDS = ("invalid", "deleted", "ptp", "mue", "addon")
SEVERITIES = ("error", "warning", "advisory")

CPT_SHAPE = re.compile(r"^[0-9]{4}[0-9FTUM]$")
HCPCS_SHAPE = re.compile(r"^[A-V][0-9]{4}$")
INDICATOR_MEANING = {0: "no modifier bypasses the edit", 1: "an NCCI PTP-associated modifier may bypass the edit",
                     9: "not applicable"}
MAI_TEXT = {
    1: "MAI 1, a claim line edit: each line is checked on its own, and a line over the MUE is denied in full",
    2: "MAI 2, an absolute date-of-service edit based on policy: the units of all lines of the code that day "
       "are added up; more than the MUE is contrary to CMS policy, all units of the code for the day are denied, "
       "and an appeal cannot change that",
    3: "MAI 3, a date-of-service edit based on clinical benchmarks: the units of all lines of the code that day "
       "are added up; more is possible but medically highly unlikely, and all units of the code for the day are "
       "denied",
}


@dataclass
class Finding:
    kind: str                 # invalid | deleted | ptp | mue | addon
    lines: list[int]          # 0-based indexes into the claim's lines
    message: str
    fix: str
    severity: str             # error | warning | advisory
    codes: list[str] = field(default_factory=list)
    detail: dict = field(default_factory=dict)

    def as_dict(self) -> dict:
        return {"kind": self.kind, "lines": list(self.lines), "message": self.message, "fix": self.fix,
                "severity": self.severity, "codes": list(self.codes), "detail": _jsonable(self.detail)}


@dataclass
class LineInfo:
    line: ClaimLine
    system: str | None        # cpt | hcpcs | None (not a code)
    status: str               # active | deleted | future | invalid | unverified
    title: str | None = None  # HCPCS Level II titles only: never CPT text
    known_by: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {**self.line.as_dict(), "system": self.system, "status": self.status, "title": self.title}


@dataclass
class CheckResult:
    setting: str
    when: date
    lines: list[LineInfo]
    findings: list[Finding]
    notices: list[str]
    sources: dict[str, list[str]]

    def counts(self) -> dict[str, int]:
        return {s: sum(1 for f in self.findings if f.severity == s) for s in SEVERITIES}

    def as_dict(self) -> dict:
        """The API document (POST /api/v1/edits/check): the contract's "findings" plus context."""
        return {"findings": [f.as_dict() for f in self.findings], "setting": self.setting,
                "date": self.when.isoformat(), "lines": [li.as_dict() for li in self.lines],
                "summary": self.counts(), "notices": list(self.notices), "sources": self.sources}


def _jsonable(value):
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [_jsonable(v) for v in value]
    return value


def setting_name(value: str | None) -> str:
    key = (value or "practitioner").strip().lower()
    if key in SETTINGS:
        return SETTINGS[key]
    if key == "dme":
        raise ClaimError([{"line": None, "field": "setting",
                           "message": "CMS publishes no PTP edits for DME suppliers: use practitioner or hospital"}])
    raise ClaimError([{"line": None, "field": "setting",
                       "message": f"unknown setting {str(value)[:30]!r}: use practitioner or hospital "
                                  "(outpatient hospital)"}])


def _when(value) -> date:
    return parse_date(value)  # BadDate (a CodebookError) for what is not YYYY-MM-DD


def check_claim(book, lines, setting: str = "practitioner", when: date | str | None = None) -> list[Finding]:
    """The findings for a claim: errors first, then warnings and advisories, each in line order."""
    return run_check(book, lines, setting, when).findings


def run_check(book, lines, setting: str = "practitioner", when: date | str | None = None) -> CheckResult:
    """Everything a report needs: the findings, what each line was read as, and what was checked against.
    `lines`: ClaimLines, typed tokens ("29880-59") or API dicts; ClaimError for what cannot be read."""
    setting = setting_name(setting)
    d = _when(when)
    claim = read_lines(lines)
    return _Check(book, claim, setting, d).run()


_ADDON_CODES: dict[tuple, frozenset[str]] = {}


def _addon_codes(book, aoc_set) -> frozenset[str]:
    """Every add-on code of a set of add-on code edit files (constant per book file): most claim lines
    are not add-on codes, and this spares them a query each."""
    key = (str(book.path), book.identity, aoc_set.release_ids)
    codes = _ADDON_CODES.get(key)
    if codes is None:
        marks = ",".join("?" * len(aoc_set.release_ids))
        codes = frozenset(r[0] for r in book.db.execute(
            f"SELECT DISTINCT addon FROM aoc_edits WHERE release_id IN ({marks})", aoc_set.release_ids))
        if len(_ADDON_CODES) > 32:
            _ADDON_CODES.clear()
        _ADDON_CODES[key] = codes
    return codes


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def _lines_text(indexes: list[int]) -> str:
    nums = [str(i + 1) for i in indexes]
    if len(nums) == 1:
        return f"line {nums[0]}"
    return "lines " + ", ".join(nums[:-1]) + " and " + nums[-1]


def _mods_text(mods) -> str:
    mods = sorted(mods)
    return " and ".join(mods) if len(mods) <= 2 else ", ".join(mods[:-1]) + " and " + mods[-1]


def _codes_list(codes: list[str], limit: int = 8) -> str:
    shown = ", ".join(codes[:limit])
    return shown + (f" and {len(codes) - limit} more" if len(codes) > limit else "")


class _Check:
    def __init__(self, book, claim: list[ClaimLine], setting: str, when: date):
        self.book, self.claim, self.setting, self.when = book, claim, setting, when
        self.findings: list[Finding] = []
        self.notices: list[str] = []
        self.by_code: dict[str, list[int]] = defaultdict(list)
        for i, line in enumerate(claim):
            self.by_code[line.code].append(i)
        self.sets = {}
        for s in book.edit_sets():
            self.sets.setdefault((s.kind, s.system), []).append(s)
        self.mues: dict[str, object] = {}

    # which file sets answer on the date -------------------------------------------------------
    def _set(self, kind: str, system: str, history: bool):
        """The set of files of a kind and setting in effect on the date, chosen as the book chooses it
        (the first set for an earlier date when `history`: PTP and add-on rows carry their own dates)."""
        sets = self.sets.get((kind, system), [])
        for s in reversed(sets):
            if s.start <= self.when:
                return s if s.end is None or self.when <= s.end else None
        return sets[0] if (sets and history) else None

    def run(self) -> CheckResult:
        label = SETTING_LABELS[self.setting]
        ptp_set = self._set("ncci_ptp", f"ncci-{self.setting}", history=True)
        mue_set = self._set("ncci_mue", f"ncci-{self.setting}", history=False)
        aoc_set = self._set("ncci_aoc", "ncci", history=True)
        if ptp_set is None:
            self.notices.append(f"No NCCI PTP edits for {label}s are held, so code pairs were not checked.")
        elif self.when < ptp_set.start:
            self.notices.append(f"The NCCI PTP edits held start on {ptp_set.start.isoformat()}; for an earlier date "
                                "only their own effective and deletion dates apply, and edits deleted before then "
                                "are not held.")
        if mue_set is None:
            self.notices.append(f"No MUE table for {label}s is in effect on {self.when.isoformat()}, so units were "
                                "not checked against MUEs.")
        if aoc_set is None:
            self.notices.append("No add-on code edits are held, so add-on codes were not checked.")
        elif self.when < aoc_set.start:
            self.notices.append(f"The add-on code edits held start on {aoc_set.start.isoformat()}.")
        if mue_set is not None:
            self._load_mues(mue_set)
        ptp = self.book.ptp_edits_among(list(self.by_code), self.setting, self.when) if ptp_set else []
        info = self._validity(ptp)
        self._modifiers()
        self._ptp(ptp)
        self._mue()
        if aoc_set is not None:
            self._addons(aoc_set)
        rank = {s: n for n, s in enumerate(SEVERITIES)}
        kinds = {k: n for n, k in enumerate(KINDS)}
        self.findings.sort(key=lambda f: (rank[f.severity], min(f.lines) if f.lines else -1, kinds[f.kind]))
        sources = {"ptp": list(ptp_set.releases) if ptp_set else [], "mue": list(mue_set.releases) if mue_set else [],
                   "addon": list(aoc_set.releases) if aoc_set else []}
        return CheckResult(self.setting, self.when, info, self.findings, self.notices, sources)

    def _load_mues(self, mue_set) -> None:
        """Book.mue() for every code of the claim in one query (the newest file of the set wins, as there)."""
        from medcode.codebook.book import Mue
        from medcode.codebook.sources.ncci_mue import MAI_LABELS

        ids, codes = mue_set.release_ids, list(self.by_code)
        names = dict(zip(ids, mue_set.releases))
        best: dict[str, tuple] = {}
        for row in self.book.db.execute(
                f"SELECT code, mue, mai, rationale, release_id FROM mue_edits WHERE release_id IN "
                f"({','.join('?' * len(ids))}) AND code IN ({','.join('?' * len(codes))})", (*ids, *codes)):
            if row[0] not in best or row[4] > best[row[0]][4]:
                best[row[0]] = row
        for code, (_, value, mai, rationale, rid) in best.items():
            self.mues[code] = Mue(self.setting, code, value, mai, MAI_LABELS[mai], rationale, mue_set.start,
                                  mue_set.end, names[rid])

    def add(self, kind: str, lines: list[int], message: str, fix: str, severity: str, codes: list[str],
            **detail) -> None:
        self.findings.append(Finding(kind, sorted(lines), message, fix, severity, codes, detail))

    # codes ------------------------------------------------------------------------------------
    def _cms_files_in_effect(self) -> bool:
        return any(self._set("ncci_mue", f"ncci-{s}", history=False) for s in ("practitioner", "hospital", "dme")) \
            or self._set("pfs_rvu", "pfs", history=False) is not None

    def _validity(self, ptp) -> list[LineInfo]:
        in_ptp = {e.column1 for e in ptp} | {e.column2 for e in ptp}
        cpt_held = "cpt" in self.book.systems()
        per_code: dict[str, LineInfo] = {}
        unverified = []
        for code, idx in self.by_code.items():
            info = self._code_info(code, idx, in_ptp, cpt_held)
            if info.status == "unverified":
                unverified.append(code)
            per_code[code] = info
        if unverified:
            self.notices.append(f"No CMS file listing CPT codes (MUE or PFS relative values) is in effect on "
                                f"{self.when.isoformat()} and no licensed CPT data is held, so "
                                f"{_codes_list(unverified)} could not be confirmed as valid CPT codes.")
        return [LineInfo(line, per_code[line.code].system, per_code[line.code].status, per_code[line.code].title,
                         per_code[line.code].known_by) for line in self.claim]

    def _code_info(self, code: str, idx: list[int], in_ptp: set[str], cpt_held: bool) -> LineInfo:
        book, when, day = self.book, self.when, self.when.isoformat()
        where = _lines_text(idx)
        if HCPCS_SHAPE.match(code):
            found = book.find("hcpcs", code, when)
            if found is not None and found.status == "active":
                return LineInfo(self.claim[idx[0]], "hcpcs", "active", found.title)
            listed = book.cms_listed(code, when)
            if found is not None:
                if listed:  # a newer CMS table still lists it: trust the table over the held HCPCS release
                    return LineInfo(self.claim[idx[0]], "hcpcs", "active", found.title, listed)
                self._dated(code, idx, "hcpcs", found)
                return LineInfo(self.claim[idx[0]], "hcpcs", found.status, found.title)
            if listed:
                return LineInfo(self.claim[idx[0]], "hcpcs", "active", None, listed)
            near = [c.code for c in book.nearest("hcpcs", code, when, limit=5)]
            dental = (" Dental D codes are the ADA's CDT, which medcode does not hold." if code.startswith("D")
                      else "")
            self.add("invalid", idx, f"{code} ({where}) is not a HCPCS Level II code on {day}.{dental}",
                     self._suggest(near, code), "error", [code], code=code, system="hcpcs", suggestions=near)
            return LineInfo(self.claim[idx[0]], "hcpcs", "invalid")
        if CPT_SHAPE.match(code):
            if cpt_held:
                found = book.find("cpt", code, when)
                if found is not None and found.status == "active":
                    return LineInfo(self.claim[idx[0]], "cpt", "active")
                if found is not None:
                    self._dated(code, idx, "cpt", found)
                    return LineInfo(self.claim[idx[0]], "cpt", found.status)
            else:
                if code in self.mues:
                    return LineInfo(self.claim[idx[0]], "cpt", "active", None, [f"mue:{self.setting}"])
                if code in in_ptp:
                    return LineInfo(self.claim[idx[0]], "cpt", "active", None, [f"ptp:{self.setting}"])
                listed = book.cms_listed(code, when)
                if listed:
                    return LineInfo(self.claim[idx[0]], "cpt", "active", None, listed)
                if not self._cms_files_in_effect():
                    return LineInfo(self.claim[idx[0]], "cpt", "unverified")
                ended = self._last_ptp_deletion(code)
                if ended is not None:
                    self.add("deleted", idx, f"{code} ({where}) is in none of the CMS files in effect on {day} (MUE, "
                             f"PFS relative values, NCCI edits); its last NCCI PTP edit ended on {ended.isoformat()}, "
                             "so the code was most likely deleted.",
                             f"Check the code's status for {day} and report the code that replaced it.", "error",
                             [code], code=code, system="cpt", valid_to=ended, status="deleted")
                    return LineInfo(self.claim[idx[0]], "cpt", "deleted")
            near = self._nearest_cpt(code)
            basis = ("the licensed CPT data held" if cpt_held else
                     "the CMS files in effect that list CPT codes by number (MUE, PFS relative values, NCCI edits)")
            self.add("invalid", idx, f"{code} ({where}) is not a CPT code on {day}: it is not in {basis}.",
                     self._suggest(near, code), "error", [code], code=code, system="cpt", suggestions=near)
            return LineInfo(self.claim[idx[0]], "cpt", "invalid")
        # not shaped like a procedure code at all: say what it is when we know
        self.add("invalid", idx, self._not_a_procedure_code(code, where),
                 "Replace it with the CPT or HCPCS code of the service (5 characters: 5 digits such as 99213, "
                 "4 digits and F, T, U or M such as 0042T, or a letter A-V and 4 digits such as J1100).",
                 "error", [code], code=code, system=None, suggestions=[])
        return LineInfo(self.claim[idx[0]], None, "invalid")

    def _not_a_procedure_code(self, code: str, where: str) -> str:
        for system, what in (("icd10cm", "an ICD-10-CM diagnosis code: it belongs in the claim's diagnosis "
                                         "fields, not on a service line"),
                             ("icd10pcs", "an ICD-10-PCS code: PCS is for inpatient hospital procedures; "
                                          "practitioner and outpatient claims report CPT or HCPCS codes")):
            try:
                found = self.book.find(system, code, self.when)
            except Exception:  # noqa: BLE001  a system the book does not hold
                found = None
            if found is not None:
                return f"{found.code} ({where}) is {what}."
        return f"{code} ({where}) is not a CPT or HCPCS Level II code."

    @staticmethod
    def _suggest(near: list[str], code: str) -> str:
        if near:
            return f"Check the code for a typing error; valid codes close to {code}: {', '.join(near)}."
        return "Check the code for a typing error and look it up by its description."

    def _dated(self, code: str, idx: list[int], system: str, found) -> None:
        where, day = _lines_text(idx), self.when.isoformat()
        if found.status == "future":
            msg = (f"{code} ({where}) takes effect on {found.valid_from.isoformat()}: it is not valid for a date of "
                   f"service of {day}.")
            fix = "Check the date of service; for services before then, report the code in effect at the time."
        else:
            msg = (f"{code} ({where}) was deleted: its last valid day was {found.valid_to.isoformat()}, before the "
                   f"date of service {day}.")
            fix = "Report the code that replaced it (the code page shows its history)."
        self.add("deleted", idx, msg, fix, "error", [code], code=code, system=system, status=found.status,
                 valid_from=found.valid_from, valid_to=found.valid_to)

    def _last_ptp_deletion(self, code: str) -> date | None:
        """The day the last PTP edit naming `code` ended, when every edit naming it ended before the date."""
        s = self._set("ncci_ptp", f"ncci-{self.setting}", history=True)
        if s is None:
            return None
        day = self.when.year * 10000 + self.when.month * 100 + self.when.day
        marks = ",".join("?" * len(s.release_ids))
        last, alive = None, 0
        for col in ("column1", "column2"):
            row = self.book.db.execute(
                f"SELECT max(deletion), sum(deletion IS NULL OR deletion >= ?) FROM ptp_edits WHERE release_id IN "
                f"({marks}) AND {col}=?", (day, *s.release_ids, code)).fetchone()
            alive += row[1] or 0
            if row[0] is not None and (last is None or row[0] > last):
                last = row[0]
        if alive or last is None:
            return None
        return date(last // 10000, last // 100 % 100, last % 100)

    def _nearest_cpt(self, code: str, limit: int = 5) -> list[str]:
        """CPT numbers listed in the MUE tables in effect, sharing the longest prefix with `code`."""
        ids = [rid for s in ("practitioner", "hospital")
               for st in [self._set("ncci_mue", f"ncci-{s}", history=False)] if st for rid in st.release_ids]
        if not ids:
            return []
        marks = ",".join("?" * len(ids))
        for cut in range(len(code) - 1, 1, -1):
            prefix = code[:cut]
            rows = self.book.db.execute(
                f"SELECT DISTINCT code FROM mue_edits WHERE release_id IN ({marks}) AND code>=? AND code<? "
                "ORDER BY code LIMIT ?", (*ids, prefix, prefix + "\uffff", 50)).fetchall()
            near = [r[0] for r in rows if CPT_SHAPE.match(r[0]) and r[0] != code]
            if near:
                near.sort(key=lambda c: (abs(int(c[:4]) - int(code[:4])) if c[:4].isdigit() and code[:4].isdigit()
                                         else 0, c))
                return sorted(near[:limit])
        return []

    # modifiers --------------------------------------------------------------------------------
    def _modifiers(self) -> None:
        seen: dict[str, tuple] = {}
        bad: dict[tuple[str, str], list[int]] = defaultdict(list)
        for i, line in enumerate(self.claim):
            for mod in line.modifiers:
                if mod not in seen:
                    seen[mod] = self._modifier_status(mod)
                if seen[mod][0] != "active":
                    bad[(mod, seen[mod][0])].append(i)
        day = self.when.isoformat()
        for (mod, status), idx in bad.items():
            where = _lines_text(idx)
            found = seen[mod][1]
            if status == "invalid":
                kind = "CPT modifier number" if is_cpt_number(mod) else "CPT or HCPCS Level II modifier"
                self.add("invalid", idx, f"Modifier {mod} ({where}) is not a {kind} on {day}.",
                         f"Remove modifier {mod} or replace it with the modifier meant (e.g. 59, XS, LT, RT, 25).",
                         "error", [mod], modifier=mod)
            elif status == "future":
                since = found.valid_from if found is not None else None
                self.add("deleted", idx, f"Modifier {mod} ({where}) takes effect on "
                         f"{since.isoformat() if since else 'a later date'}: it is not valid on {day}.",
                         f"Remove modifier {mod} for a service on {day}.", "error", [mod], modifier=mod,
                         status="future", valid_from=since)
            else:
                self.add("deleted", idx, f"Modifier {mod} ({where}) was discontinued: its last valid day was "
                         f"{found.valid_to.isoformat()}.", f"Remove modifier {mod} or use the modifier that replaced "
                         "it.", "error", [mod], modifier=mod, status="deleted", valid_from=found.valid_from,
                         valid_to=found.valid_to)

    def _modifier_status(self, mod: str) -> tuple[str, object]:
        if is_cpt_number(mod):
            return (cpt_modifier_status(mod, self.when) or "invalid"), None
        found = self.book.find("modifier", mod, self.when)
        if found is None:
            return "invalid", None
        return found.status, found

    # PTP --------------------------------------------------------------------------------------
    def _ptp(self, edits) -> None:
        for e in edits:
            if e.modifier == 9:
                continue  # not applicable: the pair may be reported together
            for i in self.by_code.get(e.column1, []):
                for j in self.by_code.get(e.column2, []):
                    if i != j:
                        self._ptp_pair(e, i, j)

    def _ptp_pair(self, e, i: int, j: int) -> None:
        c1, c2 = e.column1, e.column2
        m1, m2 = set(self.claim[i].modifiers), set(self.claim[j].modifiers)
        label = SETTING_LABELS[self.setting]
        head = (f"{c1} (line {i + 1}) and {c2} (line {j + 1}) are an NCCI procedure-to-procedure pair in the "
                f"{label} edits in effect on {self.when.isoformat()}: {c1} is column 1 and {c2} is column 2, so "
                f"billed together for the same patient on the same day, {c1} is paid and {c2} is denied.")
        why = f" CMS rationale: {e.rationale}." if e.rationale else ""
        detail = dict(column1=c1, column2=c2, indicator=e.modifier, indicator_meaning=INDICATOR_MEANING[e.modifier],
                      rationale=e.rationale, effective=e.effective, deletion=e.deletion, setting=self.setting,
                      release=e.release, column1_line=i, column2_line=j)
        assoc1, assoc2 = m1 & NCCI_PTP_ASSOCIATED, m2 & NCCI_PTP_ASSOCIATED
        if e.modifier == 0:
            useless = assoc1 | assoc2
            note = (f" The {_mods_text(useless)} on {'these lines' if assoc1 and assoc2 else 'the line'} does not "
                    "change that." if useless else "")
            self.add("ptp", [i, j], head + " Modifier indicator 0: the two codes are never paid together; no "
                     f"modifier bypasses this edit.{note}{why}",
                     f"Remove line {j + 1} ({c2}) and report {c1} alone; if {c1} does not describe everything that "
                     "was done, find the single code that does. A modifier cannot make both payable.",
                     "error", [c1, c2], bypassed=False, bypassed_by=[], **detail)
            return
        anat1, anat2 = m1 & ANATOMIC, m2 & ANATOMIC
        other2 = assoc2 - ANATOMIC
        bypass: set[str] = set()
        if other2:
            bypass = other2
        elif anat2 and not anat2 <= anat1:
            bypass = anat2
        if bypass:
            sites = (f" {c1} carries no site modifier; add it (e.g. the other side) so both sites are on the claim."
                     if anat2 and not anat1 and not other2 else "")
            self.add("ptp", [i, j], head + f" Modifier indicator 1, and the {_mods_text(bypass)} on line {j + 1} "
                     f"bypasses the edit, so both lines can be paid.{why}",
                     f"Keep {_mods_text(bypass)} on line {j + 1} only if the medical record shows the services were "
                     "separate (a different session or encounter, site or organ, incision, or lesion); a modifier "
                     f"must never be added just to get past the edit.{sites}",
                     "advisory", [c1, c2], bypassed=True, bypassed_by=sorted(bypass), **detail)
            return
        fix_mods = ("59 or, more precisely, XE (separate encounter), XS (separate structure), XP (separate "
                    "practitioner) or XU (unusual non-overlapping service), or anatomic modifiers that show "
                    "different sites (e.g. RT on one line and LT on the other)")
        if anat2 and anat2 <= anat1:
            reason = (f" Both lines name the same site ({_mods_text(anat2)}), so the services are not at separate "
                      "sites.")
            fix = (f"If {c2} was really at a different site or session, correct the site modifier on line {j + 1} or "
                   f"append {fix_mods} to line {j + 1} ({c2}); the medical record must support it. Otherwise remove "
                   f"line {j + 1} ({c2}): it is not paid with {c1}.")
        elif assoc1:
            reason = (f" The {_mods_text(assoc1)} is on line {i + 1} ({c1}, column 1), but NCCI reads the modifier "
                      f"on the column 2 code, and line {j + 1} ({c2}) has none.")
            fix = (f"If the services were separate (a different session, site or organ, incision or lesion), put "
                   f"the modifier on line {j + 1} ({c2}) instead (e.g. {c2}-{sorted(assoc1)[0]}); the medical record "
                   f"must support it. Otherwise remove line {j + 1} ({c2}): it is not paid with {c1}.")
        else:
            reason = " Neither line carries an NCCI PTP-associated modifier."
            fix = (f"If {c2} was performed at a separate session or encounter, on a different site or organ, or "
                   f"through a separate incision, append {fix_mods} to line {j + 1} ({c2}); the medical record must "
                   f"document it. Otherwise remove line {j + 1} ({c2}): it is not paid with {c1}.")
        self.add("ptp", [i, j], head + f" Modifier indicator 1: an NCCI PTP-associated modifier may bypass the edit "
                 f"when the circumstances justify it.{reason}{why}", fix, "error", [c1, c2], bypassed=False,
                 bypassed_by=[], **detail)

    # MUE --------------------------------------------------------------------------------------
    def _mue(self) -> None:
        label = SETTING_LABELS[self.setting]
        for code, idx in self.by_code.items():
            m = self.mues.get(code)
            if m is None:
                continue
            detail = dict(code=code, mue=m.value, mai=m.mai, mai_label=m.mai_label, rationale=m.rationale,
                          setting=self.setting, release=m.release, effective_from=m.effective_from,
                          effective_to=m.effective_to)
            why = f" MUE rationale: {m.rationale}." if m.rationale else ""
            if m.mai == 1:
                for i in idx:
                    units = self.claim[i].units
                    if units > m.value:
                        self.add("mue", [i], f"Line {i + 1} reports {_plural(units, 'unit')} of {code}; its "
                                 f"{label} MUE is {_plural(m.value, 'unit')} per line ({MAI_TEXT[1]}).{why}",
                                 f"Correct the units to {m.value} or fewer if that is what was done. If more were "
                                 "truly provided (e.g. at separate sites or sessions), report them on separate lines "
                                 "with the modifiers that show why (59, XE, XS, XP, XU, 76, 77, 91 or anatomic "
                                 f"modifiers), each line within {m.value}.", "error", [code], units=units, **detail)
                continue
            total = sum(self.claim[i].units for i in idx)
            if total <= m.value:
                continue
            counted = (f"{_lines_text(idx).capitalize()} report {_plural(total, 'unit')} of {code} in all"
                       if len(idx) > 1 else f"Line {idx[0] + 1} reports {_plural(total, 'unit')} of {code}")
            if m.mai == 2:
                fix = (f"Report at most {m.value} {'unit' if m.value == 1 else 'units'} of {code} for the day: "
                       "correct the units or remove the extra lines.")
            else:
                fix = (f"Report at most {m.value} {'unit' if m.value == 1 else 'units'} of {code} for the day "
                       "unless more were medically necessary and documented; the MAC can then pay the extra units "
                       "on reopening or appeal with the medical records.")
            self.add("mue", idx, f"{counted}; its {label} MUE is {_plural(m.value, 'unit')} per day "
                     f"({MAI_TEXT[m.mai]}).{why}", fix, "error", [code], units=total, **detail)

    # add-on codes -----------------------------------------------------------------------------
    def _addons(self, aoc_set) -> None:
        on_claim = set(self.by_code)
        addons = _addon_codes(self.book, aoc_set)
        for code, idx in self.by_code.items():
            if code not in addons:
                continue
            edits = self.book.addon_primaries(code, self.when)
            if not edits:
                continue
            types = {e.aoc_type for e in edits}
            listed = sorted({e.primary for e in edits if e.primary})
            present = sorted(set(listed) & (on_claim - {code}))
            notes = sorted({e.note for e in edits if e.note})
            note = (" CMS note: " + " ".join(notes)) if notes else ""
            where = _lines_text(idx)
            detail = dict(addon=code, aoc_type=min(types), primaries=listed, primaries_on_claim=present,
                          contractor_defined=any(e.contractor_defined for e in edits), notes=notes,
                          release=edits[0].release)
            if present:
                continue
            if 1 in types and listed:
                self.add("addon", idx, f"{code} ({where}) is an add-on code (type 1): it is paid only with one of "
                         f"its primary codes, and none is on the claim. Its primary codes: "
                         f"{_codes_list(listed)}.{note}",
                         f"Add the primary procedure that was performed (one of {_codes_list(listed, 5)}), or remove "
                         f"{where} if no primary procedure was done.", "error", [code], **detail)
            elif 3 in types and listed:
                self.add("addon", idx, f"{code} ({where}) is an add-on code (type 3): the CPT or HCPCS instructions "
                         f"name some of its primary codes ({_codes_list(listed)}) and none of them is on the claim; "
                         f"your MAC may accept other primary codes.{note}",
                         "Add the primary procedure that was performed; if it is not one of the listed codes, check "
                         "that your MAC accepts it as a primary code for this add-on code.", "warning", [code],
                         **detail)
            else:
                self.add("addon", idx, f"{code} ({where}) is an add-on code (type 2): CMS names no primary codes for "
                         f"it; each MAC defines the primary codes it accepts.{note}",
                         "Make sure the primary procedure is on the claim and that your MAC lists it as a primary "
                         "code for this add-on code.", "advisory", [code], **detail)
