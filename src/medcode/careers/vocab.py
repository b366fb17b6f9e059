"""The job board's fixed vocabularies and pay arithmetic (plain Python: models, forms, the API
and the query parser all read these lists, so a value means the same thing everywhere)."""

from __future__ import annotations

from decimal import Decimal

# Coding credentials (AAPC and AHIMA), as employers write them.
CREDENTIALS: list[tuple[str, str]] = [
    ("CPC", "CPC (Certified Professional Coder)"),
    ("COC", "COC (Certified Outpatient Coder)"),
    ("CIC", "CIC (Certified Inpatient Coder)"),
    ("CRC", "CRC (Certified Risk Adjustment Coder)"),
    ("CPB", "CPB (Certified Professional Biller)"),
    ("CCS", "CCS (Certified Coding Specialist)"),
    ("CCS-P", "CCS-P (Certified Coding Specialist - Physician-based)"),
    ("CCA", "CCA (Certified Coding Associate)"),
    ("RHIT", "RHIT (Registered Health Information Technician)"),
    ("RHIA", "RHIA (Registered Health Information Administrator)"),
    ("CDIP", "CDIP (Certified Documentation Integrity Practitioner)"),
    ("CPMA", "CPMA (Certified Professional Medical Auditor)"),
]

SETTINGS: list[tuple[str, str]] = [
    ("inpatient", "Inpatient"),
    ("outpatient", "Outpatient"),
    ("profee", "Professional fee"),
    ("risk", "Risk adjustment"),
    ("auditing", "Auditing"),
    ("education", "Education"),
]

SPECIALTIES: list[tuple[str, str]] = [
    ("anesthesia", "Anesthesia"),
    ("cardiology", "Cardiology"),
    ("dermatology", "Dermatology"),
    ("em", "Evaluation and management"),
    ("emergency", "Emergency medicine"),
    ("family", "Family medicine"),
    ("gastro", "Gastroenterology"),
    ("home-health", "Home health and hospice"),
    ("behavioral", "Behavioral health"),
    ("nephrology", "Nephrology"),
    ("neurology", "Neurology"),
    ("obgyn", "Obstetrics and gynecology"),
    ("oncology", "Oncology"),
    ("ophthalmology", "Ophthalmology"),
    ("orthopedics", "Orthopedics"),
    ("pathology", "Pathology and laboratory"),
    ("pediatrics", "Pediatrics"),
    ("radiology", "Radiology"),
    ("surgery", "General surgery"),
    ("urology", "Urology"),
    ("multi", "Multi-specialty"),
]

WORKPLACES: list[tuple[str, str]] = [("remote", "Remote"), ("hybrid", "Hybrid"), ("onsite", "On-site")]

EMPLOYMENT_TYPES: list[tuple[str, str]] = [
    ("full_time", "Full-time"),
    ("part_time", "Part-time"),
    ("contract", "Contract"),
    ("temporary", "Temporary"),
    ("per_diem", "Per diem"),
    ("internship", "Internship"),
]
# schema.org / Google JobPosting employmentType values
SCHEMA_EMPLOYMENT = {"full_time": "FULL_TIME", "part_time": "PART_TIME", "contract": "CONTRACTOR",
                     "temporary": "TEMPORARY", "per_diem": "PER_DIEM", "internship": "INTERN"}

CURRENCIES: list[tuple[str, str]] = [
    ("USD", "US dollar (USD)"), ("CAD", "Canadian dollar (CAD)"), ("EUR", "Euro (EUR)"),
    ("GBP", "Pound sterling (GBP)"), ("AUD", "Australian dollar (AUD)"), ("INR", "Indian rupee (INR)"),
    ("PHP", "Philippine peso (PHP)"),
]

PERIODS: list[tuple[str, str]] = [("hour", "per hour"), ("month", "per month"), ("year", "per year")]
SCHEMA_PERIOD = {"hour": "HOUR", "month": "MONTH", "year": "YEAR"}
# A full-time year: 52 weeks of 40 hours; 12 months.
PER_YEAR = {"hour": 2080, "month": 12, "year": 1}

APPLICATION_STATUSES: list[tuple[str, str]] = [
    ("new", "New"), ("reviewed", "Reviewed"), ("interview", "Interview"), ("offer", "Offer"),
    ("rejected", "Not selected"),
]

SORTS: list[tuple[str, str]] = [("newest", "Newest first"), ("salary", "Highest pay first")]


def keys(pairs: list[tuple[str, str]]) -> list[str]:
    return [k for k, _ in pairs]


def label(pairs: list[tuple[str, str]], key: str) -> str:
    return dict(pairs).get(key, key)


def annual(amount: Decimal | int | float | None, period: str) -> int | None:
    """Pay per year, so an hourly, a monthly and a yearly figure compare: hour x 2080, month x 12."""
    if amount is None:
        return None
    return int(Decimal(str(amount)) * PER_YEAR[period])


def pack(values) -> str:
    """A multi-choice value as stored: '|CPC|CCS-P|'. The delimiters make an exact-item test a plain
    substring test ('|CCS|' is not in '|CCS-P|'), the same on SQLite and PostgreSQL."""
    items = [v for v in dict.fromkeys(values or []) if v]
    return "|" + "|".join(items) + "|" if items else ""


def unpack(stored: str) -> list[str]:
    return [v for v in (stored or "").split("|") if v]
