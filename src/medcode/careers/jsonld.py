"""schema.org JobPosting as JSON-LD (what job search engines read), and its safe embedding.

Inside <script type="application/ld+json"> the HTML parser ends the element at the first
"</script", whatever the JSON means; so every <, > and & in the JSON text is written as a
\\uXXXX escape (still the same JSON string), as are U+2028/U+2029. Nothing a poster types can
close the element or open a comment.
"""

from __future__ import annotations

import json
from datetime import datetime
from decimal import Decimal
from typing import Any, Mapping

from . import vocab

_ESCAPES = {ord("<"): "\\u003c", ord(">"): "\\u003e", ord("&"): "\\u0026",
            0x2028: "\\u2028", 0x2029: "\\u2029"}


def _number(value: Decimal | int | None) -> float | int | None:
    if value is None:
        return None
    d = Decimal(value)
    return int(d) if d == d.to_integral_value() else float(d)


def posting(job: Mapping[str, Any]) -> dict:
    """JobPosting for one job. Keys of `job`: title, description_html, posted (date/datetime),
    expires (datetime), employment_type, company, company_url, logo_url, workplace, city, state,
    country, salary_min, salary_max, currency, period, url, id, experience_years, credentials, direct_apply."""
    posted = job["posted"]
    data: dict[str, Any] = {
        "@context": "https://schema.org/",
        "@type": "JobPosting",
        "title": job["title"],
        "description": job["description_html"],
        "datePosted": (posted.date() if isinstance(posted, datetime) else posted).isoformat(),
        "validThrough": job["expires"].isoformat(),
        "employmentType": vocab.SCHEMA_EMPLOYMENT.get(job["employment_type"], "OTHER"),
        "hiringOrganization": {k: v for k, v in {
            "@type": "Organization", "name": job["company"], "sameAs": job.get("company_url") or None,
            "logo": job.get("logo_url") or None}.items() if v},
        "identifier": {"@type": "PropertyValue", "name": job["company"], "value": str(job["id"])},
        "url": job["url"],
        "directApply": bool(job.get("direct_apply")),
    }
    address = {k: v for k, v in {"@type": "PostalAddress", "addressLocality": job.get("city") or None,
                                 "addressRegion": job.get("state") or None,
                                 "addressCountry": job.get("country") or None}.items() if v}
    if job["workplace"] == "remote":
        data["jobLocationType"] = "TELECOMMUTE"
        if job.get("country"):
            data["applicantLocationRequirements"] = {"@type": "Country", "name": job["country"]}
    if job["workplace"] != "remote" or job.get("city") or job.get("state"):
        data["jobLocation"] = {"@type": "Place", "address": address}
    if job.get("salary_min") is not None or job.get("salary_max") is not None:
        value = {k: v for k, v in {"@type": "QuantitativeValue", "minValue": _number(job.get("salary_min")),
                                   "maxValue": _number(job.get("salary_max")),
                                   "unitText": vocab.SCHEMA_PERIOD.get(job.get("period") or "year")}.items()
                 if v is not None}
        data["baseSalary"] = {"@type": "MonetaryAmount", "currency": job.get("currency") or "USD", "value": value}
    if job.get("experience_years"):
        data["experienceRequirements"] = {"@type": "OccupationalExperienceRequirements",
                                          "monthsOfExperience": int(job["experience_years"]) * 12}
    if job.get("credentials"):
        data["qualifications"] = ", ".join(job["credentials"])
    return data


def dumps(data: Any) -> str:
    """JSON safe to place between <script type="application/ld+json"> and </script>."""
    return json.dumps(data, ensure_ascii=False, sort_keys=False, default=str).translate(_ESCAPES)


def script(data: Any) -> str:
    return f'<script type="application/ld+json">{dumps(data)}</script>'

