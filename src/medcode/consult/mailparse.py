"""An inbound mail, read the way a person would: the new question, without quotes, signature or attachments.

Pure (no Django). `parse(raw_bytes)` never raises for a malformed message: whatever cannot be
decoded is decoded with replacement characters and noted in `defects`.

* Body: the text/plain part is preferred, else text/html converted to text (BeautifulSoup);
  quoted replies ("On ... wrote:", Outlook headers, "> " lines, HTML blockquotes) and
  signatures are cut (mail-parser-reply plus a few rules of our own).
* Charsets: the declared one, else UTF-8, else Windows-1252; unknown or wrong labels fall back
  the same way, so a mislabelled message still reads.
* Attachments are listed (type and size) but never read.
* Threading ids (Message-ID, In-Reply-To, References) are returned as lists of "<id>" strings.
"""

from __future__ import annotations

import email
import email.policy
import email.utils
import hashlib
import re
from dataclasses import dataclass, field
from email.message import EmailMessage, Message

MAX_TEXT_CHARS = 20_000  # of the extracted new text; a coding question is far shorter
_MSGID = re.compile(r"<[^<>\s]{1,250}>")
_QUOTE_HEADER = re.compile(
    r"^\s*(?:On\b.{0,200}?\bwrote:\s*$|-{2,}\s*Original Message\s*-{2,}|_{10,}\s*$|-{2,}\s*Forwarded message\s*-{2,}"
    r"|Begin forwarded message:|(?:From|De|Von):\s.+\n\s*(?:Sent|Date|Envoyé|Gesendet):\s)",
    re.IGNORECASE | re.MULTILINE)
_SIG_DELIM = re.compile(r"^-- ?$", re.MULTILINE)
_MOBILE_SIG = re.compile(r"^\s*(?:Sent from my .{1,40}|Get Outlook for .{1,40})\s*$", re.IGNORECASE | re.MULTILINE)


@dataclass
class Attachment:
    content_type: str
    size: int  # decoded bytes


@dataclass
class ParsedMail:
    message_id: str
    in_reply_to: list[str] = field(default_factory=list)
    references: list[str] = field(default_factory=list)
    from_address: str = ""  # lower-cased addr-spec of the From header ("" when there is none)
    subject: str = ""
    text: str = ""  # the new text only
    source: str = "none"  # plain | html | none
    attachments: list[Attachment] = field(default_factory=list)
    defects: list[str] = field(default_factory=list)
    automatic: str = ""  # why this looks machine-sent (auto-reply, bounce, list), else ""
    auth_results: list[str] = field(default_factory=list)  # Authentication-Results values, top first
    message_id_synthesized: bool = False

    @property
    def thread_ids(self) -> list[str]:
        """Every id this message refers to, nearest first."""
        seen: dict[str, None] = {}
        for mid in self.in_reply_to + list(reversed(self.references)):
            seen.setdefault(mid, None)
        return list(seen)


def parse(raw: bytes) -> ParsedMail:
    if isinstance(raw, str):
        raw = raw.encode("utf-8", "surrogateescape")
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    defects: list[str] = []
    msg = _recover_boundary(msg, defects)
    ids = _msgids(_header(msg, "Message-ID", defects))
    synthesized = not ids
    message_id = ids[0] if ids else f"<{hashlib.sha256(raw).hexdigest()[:40]}@no-message-id.invalid>"
    parsed = ParsedMail(
        message_id=message_id,
        message_id_synthesized=synthesized,
        in_reply_to=_msgids(_header(msg, "In-Reply-To", defects))[:20],
        references=_msgids(_header(msg, "References", defects))[-50:],
        from_address=_from_address(_header(msg, "From", defects)),
        subject=_clean(_one_line(_header(msg, "Subject", defects)))[:500],
        auth_results=[_one_line(v) for v in _headers(msg, "Authentication-Results", defects)],
        automatic=_automatic(msg, defects),
    )
    body = _body(msg, defects)
    if body is not None:
        ctype = body.get_content_type()
        content = _decode_text(body, defects)
        if ctype == "text/html":
            parsed.text, parsed.source = html_to_text(content), "html"
        else:
            parsed.text, parsed.source = content, "plain"
        parsed.text = new_text(parsed.text)[:MAX_TEXT_CHARS]
    parsed.attachments = [Attachment(p.get_content_type(), _size(p)) for p in _attachments(msg, body)]
    parsed.defects = sorted(set(defects + _defect_names(msg)))
    return parsed


_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def _clean(text: str) -> str:
    """No control characters (PostgreSQL refuses NUL in text; none of them is ever meant)."""
    return _CONTROL.sub("", text or "")


def _recover_boundary(msg: EmailMessage, defects: list[str]) -> EmailMessage:
    """A multipart whose boundary parameter is missing: guess it from the first "--x" line and re-read."""
    if msg.get_content_maintype() != "multipart" or msg.is_multipart():
        return msg
    payload = msg.get_payload()
    if not isinstance(payload, str):
        return msg
    m = re.search(r"^--([0-9A-Za-z'()+_,./:=?-]{1,70})[ \t\r]*$", payload, re.MULTILINE)
    if not m:
        return msg
    boundary = m.group(1)
    if boundary.endswith("--") and payload.count("--" + boundary[:-2]) > 1:
        boundary = boundary[:-2]
    try:
        msg.set_param("boundary", boundary)
        again = email.message_from_bytes(msg.as_bytes(), policy=email.policy.default)
    except Exception:
        return msg
    if again.is_multipart():
        defects.append("multipart boundary guessed")
        return again
    return msg


# --- headers ------------------------------------------------------------------------------------

def _headers(msg: Message, name: str, defects: list[str]) -> list[str]:
    try:
        return [str(v) for v in (msg.get_all(name) or [])]
    except Exception:  # a header the parser cannot model: take its raw text
        defects.append(f"unparsable {name} header")
        return [str(v) for k, v in msg.raw_items() if k.lower() == name.lower()]


def _header(msg: Message, name: str, defects: list[str]) -> str:
    values = _headers(msg, name, defects)
    return values[0] if values else ""


def _one_line(value: str) -> str:
    return " ".join((value or "").split())


def _msgids(value: str) -> list[str]:
    return _MSGID.findall(value or "")


def _from_address(value: str) -> str:
    addrs = email.utils.getaddresses([value or ""])
    for _name, addr in addrs:
        if "@" in addr:
            return addr.strip().lower()[:320]
    return ""


def _automatic(msg: Message, defects: list[str]) -> str:
    """RFC 3834 and common practice: never answer auto-replies, bounces or list mail (no loops)."""
    auto = _header(msg, "Auto-Submitted", defects).strip().lower()
    if auto and auto != "no":
        return f"Auto-Submitted: {auto[:40]}"
    precedence = _header(msg, "Precedence", defects).strip().lower()
    if precedence in {"bulk", "junk", "list", "auto_reply"}:
        return f"Precedence: {precedence}"
    for name in ("X-Autoreply", "X-Autorespond", "List-Id"):
        if _header(msg, name, defects):
            return name
    if msg.get_content_type() == "multipart/report":
        return "delivery report"
    if _header(msg, "Return-Path", defects).strip() == "<>":
        return "bounce (empty Return-Path)"
    sender = _from_address(_header(msg, "From", defects))
    if sender.split("@")[0] in {"mailer-daemon", "postmaster"}:
        return f"bounce ({sender.split('@')[0]})"
    return ""


def _defect_names(msg: Message) -> list[str]:
    names = []
    for part in msg.walk():
        names += [type(d).__name__ for d in getattr(part, "defects", [])]
    return names


# --- body ---------------------------------------------------------------------------------------

def _body(msg: EmailMessage, defects: list[str]):
    try:
        body = msg.get_body(preferencelist=("plain", "html"))
    except Exception:
        defects.append("unreadable MIME structure")
        body = None
    if body is not None:
        return body
    if msg.get_content_maintype() == "multipart" and not msg.is_multipart():
        # multipart declared but not parsable as such (e.g. no boundary): read it as text
        defects.append("multipart without parts")
        return msg
    if not msg.is_multipart() and msg.get_content_maintype() == "text":
        return msg
    for part in _leaves(msg):  # first text part that is not an attachment
        if part.get_content_maintype() == "text" and not _is_attachment(part):
            return part
    return None


def _decode_text(part: Message, defects: list[str]) -> str:
    try:
        payload = part.get_payload(decode=True)
    except Exception:
        defects.append("undecodable payload")
        payload = None
    if payload is None:
        raw = part.get_payload()
        payload = raw.encode("utf-8", "surrogateescape") if isinstance(raw, str) else b""
    charset = None
    try:
        charset = part.get_content_charset()
    except Exception:
        defects.append("bad charset parameter")
    for candidate in (charset, "utf-8"):
        if not candidate:
            continue
        try:
            return payload.decode(candidate)
        except (LookupError, UnicodeDecodeError):
            defects.append(f"not decodable as {candidate[:30]}")
    return payload.decode("cp1252", errors="replace")


def _leaves(part: Message):
    """Leaf parts; a forwarded message (message/rfc822) is one leaf, not opened."""
    if part.is_multipart() and part.get_content_maintype() == "multipart":
        for sub in part.get_payload():
            yield from _leaves(sub)
    else:
        yield part


def _is_attachment(part: Message) -> bool:
    try:
        disposition = (part.get_content_disposition() or "").lower()
        filename = part.get_filename()
    except Exception:
        return True
    return disposition == "attachment" or bool(filename) or part.get_content_maintype() not in {"text", "multipart"}


def _attachments(msg: Message, body) -> list[Message]:
    if body is msg:
        return []
    return [p for p in _leaves(msg) if p is not body and _is_attachment(p)]


def _size(part: Message) -> int:
    try:
        payload = part.get_payload(decode=True)
    except Exception:
        payload = None
    if isinstance(payload, bytes):
        return len(payload)
    raw = part.as_bytes() if hasattr(part, "as_bytes") else b""
    return len(raw)


# --- HTML and quotes ----------------------------------------------------------------------------

_BLOCKS = {"p", "div", "br", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6", "table", "ul", "ol", "pre", "hr",
           "section", "article", "header", "footer", "address", "dl", "dt", "dd"}
_QUOTE_SELECTORS = ["blockquote", "div.gmail_quote", "div.gmail_signature", "div.yahoo_quoted", "div.moz-cite-prefix",
                    "div#divRplyFwdMsg", "div#appendonsend", "div.OutlookMessageHeader", "div[data-signature]",
                    "div.moz-signature", "div.protonmail_quote", "div.protonmail_signature_block"]


def html_to_text(html: str) -> str:
    """Readable text from an HTML mail body, with its quoted replies and marked signatures removed."""
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(html or "", "html.parser")
    for tag in soup(["script", "style", "head", "title", "template", "noscript"]):
        tag.decompose()
    for selector in _QUOTE_SELECTORS:
        for tag in soup.select(selector):
            if selector == "div#divRplyFwdMsg":  # Outlook: the header block, then the quoted mail after it
                for sibling in list(tag.find_next_siblings()):
                    sibling.decompose()
            tag.decompose()
    for tag in soup.find_all("li"):
        tag.insert(0, "- ")
    for tag in soup.find_all(_BLOCKS):
        if tag.name == "br":
            tag.replace_with("\n")
        elif tag.name in {"li", "tr", "dt", "dd"}:
            tag.insert_before("\n")
        else:
            tag.insert_before("\n")
            tag.insert_after("\n")
    text = soup.get_text()
    text = text.replace("\xa0", " ")
    lines = [" ".join(line.split()) for line in text.splitlines()]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


def new_text(text: str) -> str:
    """The part of a plain-text body the sender just wrote: quotes and signature cut."""
    text = (text or "").replace("\r\n", "\n").replace("\r", "\n")
    try:
        from mailparser_reply.parser import EmailMessage as ReplyMessage

        replies = ReplyMessage(text=text, languages=["en"], keep_hyphen_lists=True).read().replies
        latest = replies[0].body if replies else text
        if not latest.strip() and replies:  # everything looked like a signature: keep the fragment
            latest = replies[0].content
    except Exception:  # the library is a heuristic; our own rules below still apply
        latest = text
    m = _QUOTE_HEADER.search(latest)
    if m:
        latest = latest[:m.start()]
    m = _SIG_DELIM.search(latest)
    if m:
        latest = latest[:m.start()]
    latest = _MOBILE_SIG.sub("", latest)
    lines = [line.rstrip() for line in _clean(latest).split("\n") if not line.lstrip().startswith(">")]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()
