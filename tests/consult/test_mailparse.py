"""Reading inbound mail (pure): bodies, quotes, signatures, charsets, broken MIME, attachments, headers,
Authentication-Results verdicts and which recipients are ours."""

from __future__ import annotations

from email.message import EmailMessage

import pytest

from medcode.consult import addresses, authres
from medcode.consult.mailparse import html_to_text, new_text, parse


def _mail(text: str | None = None, **headers) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = headers.pop("From", "Jane <Jane@Example.org>")
    msg["To"] = "consult@medcode.test"
    for k, v in headers.items():
        msg[k.replace("_", "-")] = v
    if text is not None:
        msg.set_content(text)
    return msg


def test_plain_text_is_preferred_and_ids_are_read():
    msg = _mail("Is E11.9 billable?", Subject="Q", Message_ID="<a1@x>", In_Reply_To="<r2@x>",
                References="<r1@x> <r2@x>")
    msg.add_alternative("<p>something <b>else</b></p>", subtype="html")
    got = parse(msg.as_bytes())
    assert (got.text, got.source, got.subject) == ("Is E11.9 billable?", "plain", "Q")
    assert (got.message_id, got.in_reply_to, got.references) == ("<a1@x>", ["<r2@x>"], ["<r1@x>", "<r2@x>"])
    assert got.from_address == "jane@example.org" and got.thread_ids == ["<r2@x>", "<r1@x>"]
    assert not got.message_id_synthesized and got.attachments == [] and got.automatic == ""


def test_html_only_mail_is_read_as_text_without_its_quote():
    msg = _mail()
    msg.set_content("<html><head><style>p{color:red}</style></head><body><p>Is&nbsp;<b>I10</b> billable?</p>"
                    "<ul><li>for 2025</li><li>outpatient</li></ul><script>alert(1)</script>"
                    "<div class=gmail_quote>On Mon, X wrote:<blockquote>old question</blockquote></div></body></html>",
                    subtype="html")
    got = parse(msg.as_bytes())
    assert got.source == "html"
    assert got.text == "Is I10 billable?\n\n- for 2025\n- outpatient"


def test_outlook_html_reply_drops_the_quoted_mail():
    html = ("<div>Follow-up: and for 2026?</div><div id=divRplyFwdMsg><b>From:</b> medcode<br><b>Sent:</b> Monday</div>"
            "<div>Earlier answer text</div>")
    assert html_to_text(html) == "Follow-up: and for 2026?"


@pytest.mark.parametrize("body, expected", [
    ("Is E11.9 billable?\n\nThanks,\nJane\n-- \nJane Coder, CPC\nAcme\n\nOn Mon, Jan 6, 2025 at 10:00 AM medcode "
     "<consult@x> wrote:\n> old answer\n> more", "Is E11.9 billable?"),
    ("And for 2026?\n\n-----Original Message-----\nFrom: medcode\nSent: Monday\nSubject: Re: Q\n\nold", "And for 2026?"),
    ("Question one\n> quoted line\nQuestion two", "Question one\nQuestion two"),
    ("Which codes?\n- E11.9\n- I10\n\nSent from my iPhone", "Which codes?\n- E11.9\n- I10"),
    ("Is this right?\n\nBest regards,\nSam", "Is this right?"),
])
def test_quotes_and_signatures_are_cut(body, expected):
    assert new_text(body) == expected


@pytest.mark.parametrize("charset, text", [
    ("iso-8859-1", "Für E11.9: ist das abrechenbar? Müller"),
    ("windows-1252", "Is “E11.9” billable – yes?"),
    ("koi8-r", "Код E11.9 оплачивается?"),
    ("shift_jis", "E11.9 は請求可能ですか"),
    ("iso-2022-jp", "E11.9 は請求可能ですか"),
])
def test_non_utf8_charsets_are_decoded(charset, text):
    raw = (f"From: a@b.test\r\nSubject: =?{charset}?b?".encode()
           + __import__("base64").b64encode(text.encode(charset)) + b"?=\r\n"
           + f"Content-Type: text/plain; charset={charset}\r\nContent-Transfer-Encoding: 8bit\r\n\r\n".encode()
           + text.encode(charset) + b"\r\n")
    got = parse(raw)
    assert got.text == text and got.subject == text


def test_a_wrong_or_unknown_charset_label_falls_back_to_utf8_then_cp1252():
    got = parse(b"From: a@b.test\r\nContent-Type: text/plain; charset=x-no-such\r\n\r\nCaf\xc3\xa9 E11.9\r\n")
    assert got.text == "Café E11.9" and any("x-no-such" in d for d in got.defects)
    got = parse(b"From: a@b.test\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\nCaf\xe9 E11.9\r\n")
    assert got.text == "Café E11.9"


@pytest.mark.parametrize("raw, text", [
    # multipart without a boundary parameter: the boundary is guessed from the body
    (b"From: a@b.test\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed\r\n\r\n--zzz\r\nContent-Type: text/plain"
     b"\r\n\r\nIs I10 billable?\r\n--zzz\r\nContent-Type: image/png\r\nContent-Transfer-Encoding: base64\r\n\r\n"
     b"iVBORw0KGgo=\r\n--zzz--\r\n", "Is I10 billable?"),
    # broken base64
    (b"From: a@b.test\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\n"
     b"SXMgRTExLjkgYmlsbGFibGU/=====!!!\r\n", "Is E11.9 billable?"),
    # no header/body separator, binary garbage, a NUL (PostgreSQL refuses NUL in text)
    (b"garbage without headers \xff\xfe\x00 E11.9", "garbage without headers \xff\xfe E11.9"),
    # unterminated multipart
    (b"From: a@b.test\r\nContent-Type: multipart/alternative; boundary=b1\r\n\r\n--b1\r\nContent-Type: text/plain\r\n"
     b"\r\nIs Z00.00 billable?\r\n", "Is Z00.00 billable?"),
    # a header the parser cannot model
    (b"From: a@b.test\r\nSubject: =?utf-8?q?bad=ZZ?=\r\nMessage-ID: <<<>>>\r\n\r\nIs A00 valid?\r\n", "Is A00 valid?"),
])
def test_malformed_mime_never_raises(raw, text):
    got = parse(raw)
    assert got.text.replace("\ufffd", "") == text.replace("\ufffd", "")
    assert "\x00" not in got.text and got.message_id.startswith("<")


def test_attachments_are_listed_not_read():
    msg = _mail("See attached; is E11.9 right?")
    msg.add_attachment(b"%PDF-1.4" + b"x" * 5000, maintype="application", subtype="pdf", filename="chart.pdf")
    msg.add_attachment("name: John Smith\n", subtype="plain", filename="notes.txt")
    msg.add_attachment(_mail("forwarded"), filename="fwd.eml")
    got = parse(msg.as_bytes())
    assert got.text == "See attached; is E11.9 right?"
    assert [a.content_type for a in got.attachments] == ["application/pdf", "text/plain", "message/rfc822"]
    assert got.attachments[0].size == 5008
    assert "John" not in got.text


def test_a_missing_message_id_gets_a_stable_synthetic_one():
    raw = _mail("Is I10 billable?").as_bytes()
    one, two = parse(raw), parse(raw)
    assert one.message_id_synthesized and one.message_id == two.message_id
    assert one.message_id.endswith("@no-message-id.invalid>")


@pytest.mark.parametrize("headers, why", [
    ({"Auto-Submitted": "auto-replied"}, "Auto-Submitted"),
    ({"Precedence": "bulk"}, "Precedence"),
    ({"X-Autoreply": "yes"}, "X-Autoreply"),
    ({"List-Id": "<coders.lists.test>"}, "List-Id"),
])
def test_automatic_mail_is_recognised(headers, why):
    assert why in parse(_mail("Out of office", **headers).as_bytes()).automatic


def test_auto_submitted_no_is_a_person():
    assert parse(_mail("Q", Auto_Submitted="no").as_bytes()).automatic == ""


# --- Authentication-Results -----------------------------------------------------------------------

@pytest.mark.parametrize("headers, authserv, ok, reason", [
    (["mx.medcode.test; spf=pass smtp.mailfrom=a.test; dkim=pass header.d=a.test"], "", True, "dkim=pass, spf=pass"),
    (["mx.medcode.test; spf=fail smtp.mailfrom=a.test; dkim=none"], "", False, "spf=fail"),
    (["mx.medcode.test; spf=softfail (not allowed) smtp.mailfrom=a.test"], "", False, "spf=softfail"),
    (["mx.medcode.test; spf=pass; dkim=fail (bad signature) header.d=a.test"], "", False, "dkim=fail"),
    (["mx.medcode.test; dkim=fail header.d=old.test; dkim=pass header.d=a.test"], "", True, "dkim=pass"),
    (["mx.medcode.test; dmarc=fail header.from=a.test; spf=pass"], "", False, "dmarc=fail"),
    (["mx.medcode.test; spf=none; dkim=none"], "", False, "neither SPF nor DKIM passed"),
    ([], "", False, "no Authentication-Results"),
    # the sender's own (forged) header below ours: only the top one counts
    (["mx.medcode.test; spf=fail", "mx.medcode.test; spf=pass; dkim=pass"], "", False, "spf=fail"),
    # with an authserv-id, a header from anyone else is ignored
    (["evil.test; spf=pass; dkim=pass"], "mx.medcode.test", False, "no Authentication-Results"),
    (["evil.test; spf=pass", "MX.medcode.test; spf=pass"], "mx.medcode.test", True, "spf=pass"),
])
def test_authentication_results_verdict(headers, authserv, ok, reason):
    got = authres.verdict(headers, authserv)
    assert got.ok is ok and reason in got.reason


# --- recipients -----------------------------------------------------------------------------------

CONFIGURED = ["consult@medcode.test", "Ask@Other.test"]


@pytest.mark.parametrize("rcpt, expected", [
    ("consult@medcode.test", ("consult@medcode.test", None)),
    ("<CONSULT@MEDCODE.TEST>", ("consult@medcode.test", None)),
    ("consult+abcdefgh23@medcode.test", ("consult@medcode.test", "abcdefgh23")),
    ("ask@other.test.", ("ask@other.test", None)),
    ("consult+x@medcode.test", None),  # not a token shape
    ("consult@other.test", None),
    ("root@medcode.test", None),
    ("consultx@medcode.test", None),
    ("", None),
    ("not an address", None),
])
def test_which_recipients_are_ours(rcpt, expected):
    got = addresses.match(rcpt, CONFIGURED)
    assert (None if got is None else (got.address, got.token)) == expected


def test_tokens_are_masked_in_log_lines():
    assert addresses.mask("recip: consult+abcdefgh23@medcode.test") == "recip: consult+…@medcode.test"
