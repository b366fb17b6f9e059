"""Asking the assistant, for every adapter (JSON API, its streaming variant, the chat page).

    prep = prepare(owner, user, question, conversation_id, date)   # validation only; AskError if bad
    ... the adapter charges the quota here (medcode.accounts.quotas), once the input is good ...
    for kind, data in answer_events(book, prep):                    # ("delta", text) ... ("done", Result)
    result = answer(book, prep)                                      # the same, collected

The engine (medcode.assistant.ask) answers from the book with the conversation's earlier turns;
when a language model is configured (settings MEDCODE_LLM_*), medcode.assistant.llm rewords the
answer's facts, guarded, and falls back to the engine's answer with a note. The exchange is stored
in the owner's conversation (a new one when none is given) once the answer is complete.
"""

from __future__ import annotations

import unicodedata
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from medcode.accounts import metering
from medcode.assistant import MAX_QUESTION_CHARS, Answer, Turn, llm
from medcode.assistant import ask as engine_ask
from medcode.codebook.dates import BadDate, parse_date

from .contract import api_shape  # noqa: F401  (the adapters' response shape)
from .models import Conversation, Exchange

FEATURE = "assistant"          # the quota's name in MEDCODE_FEATURE_QUOTAS
HISTORY_TURNS = 6              # earlier exchanges the engine sees for a follow-up
MAX_EXCHANGES = 200            # per conversation; then a new one
MAX_DATE_CHARS = 32
TITLE_CHARS = 120
EXAMPLES = [
    "What is K21.9?",
    "Is I50.2 billable?",
    "What are the Excludes2 notes for G43?",
    "What do I code first with G63?",
    "Which 7th character means sequela for S82.891?",
    "ICD-9 equivalent of I48.91?",
    "Can 29880 and 29881 be billed together?",
    "What does modifier 25 mean?",
    "Are abnormal findings coded when the provider has not said they are clinically significant?",
]


class AskError(Exception):
    """A request the assistant cannot take: status and code for the API, message for everyone."""

    def __init__(self, status: int, code: str, message: str):
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


# --- who owns a conversation -------------------------------------------------------------------------

def owner_for_request(request) -> tuple[str, object | None]:
    """A site visitor: the account when logged in, else the guest cookie (set it on the response
    with metering.set_guest_cookie)."""
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated:
        return metering.user_subject(user), user
    return f"guest:{metering.guest_id(request)}", None


def owner_for_caller(caller) -> tuple[str, object | None]:
    """An API caller: its key's account, or (anonymous) its hashed client address."""
    if caller.user is not None:
        return metering.user_subject(caller.user), caller.user
    return caller.rate_subject, None


# --- validation ---------------------------------------------------------------------------------------

def clean_question(raw) -> str:
    if not isinstance(raw, str):
        raise AskError(422, "validation_error", "question must be a string")
    if len(raw) > MAX_QUESTION_CHARS:
        raise AskError(413, "too_long", f"the question is {len(raw):,} characters long; at most "
                                        f"{MAX_QUESTION_CHARS:,} are allowed")
    # NUL and other control characters (PostgreSQL cannot store NUL) and lone surrogates (JSON's "\ud800"
    # decodes to one; no database can store it); newlines and tabs stay
    text = "".join(ch for ch in raw if ch in "\n\t" or unicodedata.category(ch) not in ("Cc", "Cs")).strip()
    if not text:
        raise AskError(422, "empty_question", "the question is empty: ask something, e.g. \"What is K21.9?\"")
    return text


def clean_date(raw) -> date:
    if raw is not None and not isinstance(raw, str):
        raise AskError(422, "validation_error", "date must be a string, YYYY-MM-DD")
    if raw and len(raw) > MAX_DATE_CHARS:
        raise AskError(400, "bad_date", f"date is {len(raw)} characters long; use YYYY-MM-DD")
    try:
        return parse_date((raw or "").strip() or None)
    except BadDate as exc:
        raise AskError(400, "bad_date", str(exc)) from None


def find_conversation(owner: str, conversation_id) -> Conversation:
    """The owner's conversation; anyone else's, or one that does not exist, is the same 404."""
    missing = AskError(404, "unknown_conversation", "there is no such conversation: start a new one "
                                                    "(conversation: null)")
    if not isinstance(conversation_id, str) or len(conversation_id) > 64:
        raise missing
    try:
        cid = uuid.UUID(conversation_id.strip())
    except ValueError:
        raise missing from None
    conv = Conversation.objects.filter(pk=cid, owner=owner).first()
    if conv is None:
        raise missing
    return conv


def conversations_of(owner: str, limit: int = 50) -> list[Conversation]:
    return list(Conversation.objects.filter(owner=owner).order_by("-updated")[:limit])


def exchanges_of(conv: Conversation) -> list[Exchange]:
    return list(conv.exchanges.all())


def history(conv: Conversation | None) -> list[Turn]:
    if conv is None:
        return []
    recent = list(conv.exchanges.order_by("-created", "-id")[:HISTORY_TURNS])
    return [Turn(question=e.question, context=e.context or {}) for e in reversed(recent)]


@dataclass
class Prepared:
    owner: str
    user: object | None
    question: str
    when: date
    conversation: Conversation | None


def prepare(owner: str, user, question, conversation_id=None, date_of_service=None) -> Prepared:
    """Check everything before anything is charged or stored; AskError says what is wrong."""
    text = clean_question(question)
    when = clean_date(date_of_service)
    conv = None
    if conversation_id not in (None, ""):
        conv = find_conversation(owner, conversation_id)
        if conv.exchanges.count() >= MAX_EXCHANGES:
            raise AskError(422, "conversation_full", f"this conversation has reached {MAX_EXCHANGES} questions; "
                                                     "start a new one")
    return Prepared(owner, user, text, when, conv)


# --- answering ------------------------------------------------------------------------------------

def llm_config() -> llm.LlmConfig | None:
    return llm.config(settings.MEDCODE_LLM_BASE_URL, settings.MEDCODE_LLM_MODEL, settings.MEDCODE_LLM_API_KEY,
                      connect_timeout=settings.MEDCODE_LLM_CONNECT_TIMEOUT,
                      read_timeout=settings.MEDCODE_LLM_READ_TIMEOUT, deadline=settings.MEDCODE_LLM_DEADLINE)


@dataclass
class Result:
    answer: Answer
    conversation: Conversation
    exchange: Exchange
    model: str | None   # the language model whose wording was served
    note: str | None    # why the engine's own answer was served although a model is configured


def _title(question: str) -> str:
    line = " ".join(question.split())
    return line if len(line) <= TITLE_CHARS else line[:TITLE_CHARS - 1].rstrip() + "…"


def _store(prep: Prepared, answer: Answer, model: str | None) -> tuple[Conversation, Exchange]:
    now = timezone.now()
    with transaction.atomic():
        conv = prep.conversation
        if conv is None:
            conv = Conversation.objects.create(owner=prep.owner, user=prep.user, title=_title(prep.question),
                                               created=now, updated=now)
        else:
            Conversation.objects.filter(pk=conv.pk).update(updated=now)
        ex = Exchange.objects.create(
            conversation=conv, question=prep.question, answer=answer.markdown,
            citations=[c.to_dict() for c in answer.citations], codes=[c.to_dict() for c in answer.codes],
            context=answer.context or {}, intent=(answer.intent or "")[:40], model=(model or "")[:100],
            date_of_service=prep.when, created=now)
    return conv, ex


def answer_events(book, prep: Prepared, *, config: llm.LlmConfig | None | bool = True,
                  client=None) -> Iterator[tuple[str, object]]:
    """("delta", text) as the answer is written, then ("done", Result). `config=True` reads the
    settings; None means no model."""
    if config is True:
        config = llm_config()
    base = engine_ask(book, prep.question, when=prep.when, history=history(prep.conversation))
    phrased = None
    if config is not None and llm.worth_asking(base):
        for event in llm.stream(book, prep.question, base, config, when=prep.when, client=client):
            if isinstance(event, llm.Delta):
                yield "delta", event.text
            else:
                phrased = event.result
    else:
        yield "delta", base.markdown
    final = phrased.answer if phrased else base
    conv, ex = _store(prep, final, phrased.model if phrased else None)
    yield "done", Result(final, conv, ex, phrased.model if phrased else None, phrased.note if phrased else None)


def answer(book, prep: Prepared, *, config: llm.LlmConfig | None | bool = True, client=None) -> Result:
    result = None
    for kind, data in answer_events(book, prep, config=config, client=client):
        if kind == "done":
            result = data
    assert isinstance(result, Result)
    return result
