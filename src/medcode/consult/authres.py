"""Authentication-Results (RFC 8601) from the receiving mail server: did SPF/DKIM/DMARC fail?

Pure (no Django). Only the server in front of the gateway can vouch for a message; a sender can
write any Authentication-Results header it likes into its own mail. So only the topmost header
counts (the receiving server prepends its own), and, when `authserv_id` is configured, only a
header written by that server.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_COMMENT = re.compile(r"\([^()]*\)")
_RESULT = re.compile(r"\b(spf|dkim|dmarc)\s*=\s*([a-z]+)", re.IGNORECASE)
FAILING = {"fail", "permerror"}
# SPF softfail is "probably not authorised": rejected too when a site asks for checks.
FAILING_SPF = FAILING | {"softfail"}


@dataclass(frozen=True)
class Verdict:
    ok: bool
    reason: str  # why it was refused, or what passed


def results(header: str) -> tuple[str, dict[str, list[str]]]:
    """(authserv-id, {"spf": ["pass"], "dkim": ["fail", "pass"], ...}) from one header value."""
    text = _COMMENT.sub(" ", header or "")
    head, _, rest = text.partition(";")
    authserv = head.strip().split()[0].lower() if head.strip() else ""
    found: dict[str, list[str]] = {}
    for method, result in _RESULT.findall(rest):
        found.setdefault(method.lower(), []).append(result.lower())
    return authserv, found


def verdict(headers: list[str], authserv_id: str = "") -> Verdict:
    """Refuse a message whose trusted Authentication-Results shows a failure, or none that passed."""
    trusted = None
    for value in headers:  # top first
        authserv, found = results(value)
        if not authserv_id or authserv == authserv_id.lower():
            trusted = found
            break
    if trusted is None:
        return Verdict(False, "no Authentication-Results from the receiving server")
    for method, values in trusted.items():
        bad = FAILING_SPF if method == "spf" else FAILING
        failed = [v for v in values if v in bad]
        # several DKIM signatures: one good signature is enough, as DMARC has it
        if failed and not (method == "dkim" and "pass" in values):
            return Verdict(False, f"{method}={failed[0]}")
    passed = [m for m, values in trusted.items() if "pass" in values]
    if not passed:
        return Verdict(False, "neither SPF nor DKIM passed")
    return Verdict(True, ", ".join(f"{m}=pass" for m in sorted(passed)))
