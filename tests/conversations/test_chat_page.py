"""The chat page without JavaScript (form POST -> the conversation's page), its streaming endpoint,
quota messages, conversations per visitor, safe rendering, and the policy-text pages."""

from __future__ import annotations

import json
import re
import uuid

import pytest
from django.test import Client
from django.urls import reverse

from scripted_llm import llm_server  # noqa: F401  (fixture)

from medcode.accounts.models import User
from medcode.assistant import MAX_QUESTION_CHARS
from medcode.conversations import actions
from medcode.conversations.models import Conversation, Exchange
from medcode.conversations.render import markdown_html

DATE = "2026-04-01"


@pytest.fixture(autouse=True)
def isolation(settings, db):
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache",
                                   "LOCATION": f"chat-{uuid.uuid4().hex}"}}
    settings.MEDCODE_FEATURE_QUOTA_BACKEND = "db"
    settings.MEDCODE_METER_BACKEND = "db"
    settings.MEDCODE_FEATURE_QUOTAS = {"assistant": {"guest": 3, "free": 20, "paid": None}}
    settings.MEDCODE_LLM_BASE_URL = ""


def visitor(addr: str) -> Client:
    return Client(REMOTE_ADDR=addr)


def make_user(plan="free", verified=True) -> User:
    return User.objects.create_user(f"{plan}-{uuid.uuid4().hex[:8]}@example.com", None, plan=plan,
                                    email_verified=verified)


def ask(client, question, conversation="", date=DATE, follow=True):
    return client.post(reverse("assistant"), {"question": question, "conversation": conversation, "date": date},
                       follow=follow)


def test_the_page_offers_the_example_questions(client):
    r = client.get(reverse("assistant"))
    assert r.status_code == 200 and r["Cache-Control"] == "private, no-store"
    html = r.content.decode()
    for q in ("What is K21.9?", "Is I50.2 billable?", "What are the Excludes2 notes for G43?",
              "What do I code first with G63?", "Which 7th character means sequela for S82.891?",
              "ICD-9 equivalent of I48.91?", "Can 29880 and 29881 be billed together?", "What does modifier 25 mean?",
              "Are abnormal findings coded when the provider has not said they are clinically significant?"):
        assert f'href="/assistant?q={q.replace(" ", "%20").replace("?", "%3F")}' in html, q
    assert 'name="csrfmiddlewaretoken"' in html and 'action="/assistant"' in html
    assert 'data-stream-url="/assistant/stream"' in html
    assert '<a href="/assistant">Assistant</a>' in html  # the site's nav
    assert "3 of 3 questions left today" in html
    # an example link fills the box without JavaScript
    r = client.get(reverse("assistant"), {"q": "Is I50.2 billable?"})
    assert ">Is I50.2 billable?</textarea>" in r.content.decode()


def test_ask_without_javascript_and_follow_the_citations(client):
    r = ask(client, "What is K21.9?", follow=False)
    assert r.status_code == 302
    m = re.match(r"^/assistant/c/([0-9a-f-]{36})#a(\d+)$", r["Location"])
    assert m, r["Location"]
    page = client.get(r["Location"].split("#")[0])
    html = page.content.decode()
    assert page.status_code == 200
    assert f'id="a{m.group(2)}"' in html and ">What is K21.9?</h2>" in html
    assert 'href="/codes/icd10cm/K21.9' in html  # citation and code links
    assert "Sources" in html and "Codes in this answer" in html and "2 of 3 questions left today" in html
    assert 'class="citations"' not in html  # the engine's answer links its sources itself: not twice
    assert f'value="{m.group(1)}"' in html  # the next question continues this conversation
    code_page = client.get("/codes/icd10cm/K21.9")
    assert code_page.status_code == 200


def test_every_example_question_is_answered_and_its_links_lead_somewhere(client):
    client.force_login(make_user("paid"))
    seen: set[str] = set()
    for q in actions.EXAMPLES:
        html = ask(client, q).content.decode()
        article = re.findall(r'<article class="exchange".*?</article>', html, re.S)[-1]
        assert re.escape(q[:20]) and q.replace('"', "&quot;").replace("'", "&#x27;")[:20] in article, q
        links = set(re.findall(r'href="(/(?:codes|guidelines|references)/[^"#]*)"', article))
        assert links, f"no source links in the answer to {q!r}"
        for href in links - seen:
            r = client.get(href.replace("&amp;", "&"), follow=True)
            assert r.status_code == 200, (q, href, r.status_code)
        seen |= links


def test_a_model_worded_answer_lists_the_retrieved_sources(client, settings, llm_server):
    settings.MEDCODE_LLM_BASE_URL, settings.MEDCODE_LLM_MODEL = llm_server.base_url, "script:invented"
    html = ask(client, "What is K21.9?").content.decode()
    assert "From the sources:" in html and "worded by a language model (script:invented)" in html
    assert re.search(r'<ol class="citations"><li><a href="/codes/icd10cm/K21.9">[^<]*K21.9</a>', html)
    assert "K21.99" not in html and "I50.99" not in html and "[invalid code removed]" in html


def test_a_follow_up_in_the_same_conversation(client):
    first = ask(client, "What is K21.9?", follow=False)["Location"]
    cid = re.search(r"/assistant/c/([0-9a-f-]{36})", first).group(1)
    ask(client, "and its excludes?", conversation=cid)
    conv = Conversation.objects.get(pk=cid)
    questions = [e.question for e in conv.exchanges.all()]
    assert questions == ["What is K21.9?", "and its excludes?"]
    follow_up = conv.exchanges.last()
    assert "K21" in follow_up.answer and "excludes" in follow_up.answer.lower()


def test_html_in_the_question_is_escaped(client):
    q = '<script>alert("x")</script><img src=x onerror=alert(1)> What is K21.9?'
    html = ask(client, q).content.decode()
    assert "<script>alert" not in html and "<img src=x" not in html
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&lt;img src=x onerror=alert(1)&gt; What is K21.9?" in html
    ex = Exchange.objects.get()
    assert ex.question == q  # kept as typed; escaped when shown


@pytest.mark.parametrize("question,date,status,says", [
    ("", DATE, 422, "The question is empty"),
    ("   ", DATE, 422, "The question is empty"),
    ("x" * 20_000, DATE, 413, f"at most {MAX_QUESTION_CHARS:,} are allowed"),
    ("What is K21.9?", "2026-02-31", 400, "is not a date; use YYYY-MM-DD"),
])
def test_bad_input_is_said_on_the_page(client, question, date, status, says):
    r = ask(client, question, date=date, follow=False)
    assert r.status_code == status
    html = r.content.decode()
    assert says in html and 'role="alert"' in html and 'aria-invalid="true"' in html
    assert Conversation.objects.count() == 0
    assert "3 of 3 questions left today" in html  # nothing charged
    r = client.post(reverse("assistant_stream"), {"question": question, "date": date})
    assert r.status_code == status and says in r.json()["error"]["message"]


def test_guest_quota_then_a_register_link(settings):
    guest = visitor("192.0.2.10")
    for _ in range(3):
        assert ask(guest, "Is I50.2 billable?", follow=False).status_code == 302
    r = ask(guest, "Is I50.2 billable?", follow=False)
    assert r.status_code == 429
    html = r.content.decode()
    assert "You have asked the 3 questions a day the assistant answers for guests" in html
    assert f'<a href="{reverse("register")}">Register a free account</a> to ask 20 a day' in html
    assert f'<a href="{reverse("login")}?next=' in html
    # clearing cookies does not help: the address still counts
    fresh = visitor("192.0.2.10")
    assert ask(fresh, "Is I50.2 billable?", follow=False).status_code == 429
    # the streaming endpoint says the same, as JSON with the same links
    r = guest.post(reverse("assistant_stream"), {"question": "Is I50.2 billable?"})
    assert r.status_code == 429 and r.json()["error"]["code"] == "quota_exceeded" and int(r["Retry-After"]) > 0
    assert "Register a free account" in r.json()["html"]


def test_free_accounts_are_told_to_upgrade(client, settings):
    settings.MEDCODE_FEATURE_QUOTAS = {"assistant": {"guest": 3, "free": 1, "paid": None}}
    client.force_login(make_user("free"))
    assert ask(client, "What is K21.9?", follow=False).status_code == 302
    r = ask(client, "What is K21.9?", follow=False)
    assert r.status_code == 429
    html = r.content.decode()
    assert "the free plan" in html and f'<a href="{reverse("account")}">upgrade on your account page</a>' in html


def test_conversations_are_listed_per_visitor_and_private(client):
    alice, bob = visitor("192.0.2.21"), visitor("192.0.2.22")
    where = ask(alice, "What is K21.9?", follow=False)["Location"].split("#")[0]
    assert "What is K21.9?" in listed(alice)  # listed for her
    assert listed(bob) == ""
    assert bob.get(where).status_code == 404
    cid = where.rsplit("/", 1)[1]
    assert ask(bob, "and its excludes?", conversation=cid, follow=False).status_code == 404
    assert bob.post(reverse("assistant_stream"), {"question": "x?", "conversation": cid}).status_code == 404
    assert bob.get("/assistant/c/not-a-uuid").status_code == 404
    # an account sees its own, from any browser
    user = make_user("paid")
    c1, c2 = Client(), Client()
    c1.force_login(user)
    where = ask(c1, "Is I50.2 billable?", follow=False)["Location"].split("#")[0]
    c2.force_login(user)
    assert c2.get(where).status_code == 200 and "Is I50.2 billable?" in listed(c2)
    assert Conversation.objects.get(pk=where.rsplit("/", 1)[1]).user == user


def listed(client) -> str:
    """The titles in the visitor's conversation list."""
    html = client.get(reverse("assistant")).content.decode()
    block = re.search(r'<ul id="conversation-list"[^>]*>(.*?)</ul>', html, re.S).group(1)
    return " | ".join(re.findall(r'<a href="/assistant/c/[^"]+"[^>]*>([^<]*)</a>', block))


def test_the_streaming_endpoint(client):
    r = client.post(reverse("assistant_stream"), {"question": "What is K21.9?", "date": DATE})
    assert r.status_code == 200 and r["Content-Type"].startswith("text/event-stream")
    body = b"".join(r.streaming_content).decode()
    blocks = [b for b in body.split("\n\n") if b.strip()]
    names = [re.search(r"^event: (\w+)", b, re.M).group(1) for b in blocks]
    assert names[-1] == "done" and set(names[:-1]) == {"delta"}
    done = json.loads(re.search(r"^data: (.+)$", blocks[-1], re.M).group(1))
    assert done["url"] == f"/assistant/c/{done['conversation']}" and done["title"] == "What is K21.9?"
    assert (done["remaining"], done["limit"]) == (2, 3)
    assert 'href="/codes/icd10cm/K21.9' in done["html"] and '<article class="exchange"' in done["html"]
    # CSRF is checked as for any form
    strict = Client(enforce_csrf_checks=True)
    assert strict.post(reverse("assistant_stream"), {"question": "What is K21.9?"}).status_code == 403
    assert client.get(reverse("assistant_stream")).status_code == 405


def test_markdown_is_rendered_safely():
    html = str(markdown_html(
        "# Title\n\n**K21.9** <script>alert(1)</script> <b onclick=x>b</b> [ok](/codes/icd10cm/K21.9) "
        "[bad](javascript:alert(1)) [off](//evil.example/x) [abs](https://evil.example/)\n\n"
        "| a | b |\n|---|---|\n| 1 | 2 |\n"))
    assert "<h3>Title</h3>" in html and "<strong>K21.9</strong>" in html
    assert "<script" not in html and not re.search(r"<[^>]*onclick", html) and "&lt;script&gt;" in html
    assert '<a href="/codes/icd10cm/K21.9">ok</a>' in html
    assert "javascript:" not in html.replace("[bad](javascript:alert(1))", "")
    assert 'href="//evil' not in html and 'href="https://evil' not in html
    assert "<table>" in html and "<td>1</td>" in html


def test_model_notes_and_the_examples_constant():
    assert len(actions.EXAMPLES) == 9 and all(q.endswith("?") for q in actions.EXAMPLES)


# --- policy texts -----------------------------------------------------------------------------------

def test_a_policy_section_page(client, book):
    if not book.reference_sources():
        pytest.skip("this codebook holds no policy texts")
    r = client.get("/references/ncci-policy-manual/I.E")
    assert r.status_code == 200
    html = r.content.decode()
    section = book.reference_section("ncci-policy-manual", "I.E")
    assert f"<h1>Chapter I, E {section.title}</h1>" in html and section.release in html
    assert 'href="/references/ncci-policy-manual/I"' in html  # its parent
    # any common spelling leads to the stored ref; unknown texts and sections are 404s that say so
    r = client.get("/references/ncci-policy-manual/Chapter I, E")
    assert r.status_code == 302 and r["Location"] == "/references/ncci-policy-manual/I.E"
    r = client.get("/references/ncci-policy-manual/ZZ.Q")
    assert r.status_code == 404 and "has no section" in r.content.decode()
    r = client.get("/references/no-such-manual/1")
    assert r.status_code == 404 and "holds no text called" in r.content.decode()
    assert "NCCI Policy Manual" in r.content.decode()
    assert client.get("/references/x/" + "9" * 500).status_code == 400
    # the ICD-10-CM guidelines have their own pages
    r = client.get("/references/icd10cm-guidelines/I.C.4.a.3")
    assert r.status_code == 302 and r["Location"] == "/guidelines/I.C.4.a.3"
    # a CMS manual section with children
    children = book.reference_children("cms-claims-processing-ch12", "100")
    if children:
        html = client.get("/references/cms-claims-processing-ch12/100").content.decode()
        assert f'href="/references/cms-claims-processing-ch12/{children[0].ref}"' in html


def test_a_policy_section_page_is_shared_cacheable_only_for_guests(client, book):
    """A signed-in visitor's copy holds their account links and a CSRF token: `private` (it was `public`)."""
    if not book.reference_sources():
        pytest.skip("this codebook holds no policy texts")
    r = client.get("/references/ncci-policy-manual/I.E")
    assert r.status_code == 200 and r["Cache-Control"] == "public, max-age=3600"
    assert 'name="csrfmiddlewaretoken"' not in r.content.decode()
    client.force_login(make_user())
    r = client.get("/references/ncci-policy-manual/I.E")
    assert r.status_code == 200 and 'name="csrfmiddlewaretoken"' in r.content.decode()
    assert "public" not in r["Cache-Control"] and "private" in r["Cache-Control"]
