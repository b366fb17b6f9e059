"""Which recipient addresses are the consult desk: the configured ones and their +token forms.

Pure (no Django). `consult@example.org` configured means `consult@example.org` and
`consult+<token>@example.org` (a per-account secret address) are ours; everything else is not.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

TOKEN = re.compile(r"^[a-z0-9]{8,40}$")


@dataclass(frozen=True)
class Match:
    address: str  # the configured address it matched, lower case
    token: str | None  # the +token, lower case, or None


def split(address: str) -> tuple[str, str]:
    address = (address or "").strip().strip("<>").strip()
    local, at, domain = address.rpartition("@")
    if not at or not local or not domain:
        return "", ""
    return local, domain.lower().rstrip(".")


def match(recipient: str, configured: list[str]) -> Match | None:
    """The configured address `recipient` is for, with its token; None when it is not ours.

    A +suffix that is not shaped like a token is not ours either (so a typo is refused at RCPT
    rather than answered as if it came through the plain address)."""
    local, domain = split(recipient)
    if not local:
        return None
    base_local, plus, suffix = local.partition("+")
    for address in configured:
        c_local, c_domain = split(address)
        if c_local and c_local.lower() == base_local.lower() and c_domain == domain:
            if not plus:
                return Match(f"{c_local.lower()}@{c_domain}", None)
            if TOKEN.match(suffix.lower()):
                return Match(f"{c_local.lower()}@{c_domain}", suffix.lower())
            return None
    return None


def secret_address(configured_address: str, token: str) -> str:
    local, domain = split(configured_address)
    return f"{local}+{token}@{domain}"


def mask(text: str) -> str:
    """A log line with every +token hidden: the secret addresses are as good as passwords."""
    return re.sub(r"\+[A-Za-z0-9]{4,}@", "+…@", text)
