"""Account actions as plain functions: the views, the CLI and tests all change accounts here.

Forms check input; these functions change state and send mail. None of them tells its caller
whether some other person's address has an account: where that would show (register, resend,
change of email) the function does the same visible thing either way and mails the owner.
"""

from __future__ import annotations

from django.contrib.admin.models import LogEntry
from django.contrib.auth.hashers import make_password
from django.contrib.contenttypes.models import ContentType
from django.db import IntegrityError, transaction
from django.dispatch import Signal
from django.urls import reverse

from . import emails, throttle, tokens
from .models import ApiKey, MeterView, User

# Sent inside delete_account's transaction, before the user row goes: apps that keep personal
# data of their own (consults, job applications) connect here and delete it. kwargs: user.
account_deleting = Signal()


def normalize_email(email: str) -> str:
    """Addresses are stored lower case (see UserManager), so every lookup lower-cases too."""
    return (email or "").strip().lower()


def find_user(email: str) -> User | None:
    return User.objects.filter(email__iexact=normalize_email(email)).first()


def meter_subjects(user: User) -> list[str]:
    """Every MeterView subject that is this user's: the account and each of its API keys."""
    return [f"user:{user.pk}"] + [f"key:{pk}" for pk in ApiKey.objects.filter(user=user).values_list("pk", flat=True)]


# --- registration and verification ------------------------------------------------------------

def register(email: str, password: str) -> User | None:
    """Creates the account and mails a verification link; for an address that already has an
    account, mails its owner a notice instead. Returns the new user, or None."""
    email = normalize_email(email)
    existing = find_user(email)
    if existing is None:
        try:
            with transaction.atomic():
                user = User.objects.create_user(email, password)
        except IntegrityError:  # registered by a concurrent request a moment ago
            existing = find_user(email)
        else:
            send_verification(user)
            return user
    make_password(password)  # the same hashing work as creating an account, so the same time
    if existing is not None:
        emails.send("register_existing", existing.email, user=existing,
                    verify_url=None if existing.email_verified else _verify_url(existing),
                    login_url=emails.site_url(reverse("login")),
                    reset_url=emails.site_url(reverse("password_reset")))
    return None


def _verify_url(user: User) -> str:
    return emails.site_url(reverse("verify_email", args=[tokens.verify_token(user)]))


def send_verification(user: User) -> bool:
    """Mails a fresh verification link unless the address is already verified."""
    if user.email_verified:
        return False
    return emails.send("verify", user.email, user=user, verify_url=_verify_url(user))


def resend_verification(email: str) -> None:
    """For a logged-out visitor: the same answer whether or not `email` has an account."""
    user = find_user(email)
    if user is not None and user.is_active:
        send_verification(user)


def verify_email(token: str) -> User:
    """Marks the address the link was sent to as verified. Raises tokens.LinkError."""
    user_id, email = tokens.read_verify_token(token)
    user = User.objects.filter(pk=user_id).first()
    if user is None:
        raise tokens.LinkInvalid("This link belongs to an account that no longer exists.")
    if normalize_email(user.email) != normalize_email(email):
        raise tokens.LinkInvalid("This link was sent to an address the account no longer uses.")
    if not user.email_verified:
        user.email_verified = True
        user.save(update_fields=["email_verified"])
    return user


# --- email and password -----------------------------------------------------------------------

def request_email_change(user: User, new_email: str) -> None:
    """Mails a confirmation link to the new address; the old one stays until it is followed.
    If the new address already has an account, that owner gets a notice and no link."""
    new_email = normalize_email(new_email)
    owner = find_user(new_email)
    if owner is not None and owner.pk != user.pk:
        emails.send("change_email_taken", new_email)
        return
    token = tokens.change_email_token(user, new_email)
    emails.send("change_email", new_email, user=user, new_email=new_email,
                confirm_url=emails.site_url(reverse("confirm_email_change", args=[token])))


def confirm_email_change(token: str) -> User:
    """Moves the account to the address the link was sent to (now verified); tells the old one."""
    user_id, new_email, state = tokens.read_change_email_token(token)
    user = User.objects.filter(pk=user_id).first()
    if user is None:
        raise tokens.LinkInvalid("This link belongs to an account that no longer exists.")
    if normalize_email(user.email) == normalize_email(new_email):
        return user  # followed twice
    if not tokens.state_matches(user, state):
        raise tokens.LinkInvalid("This link is out of date: the account's email or password changed since it "
                                 "was sent. Ask for a new one from your account page.")
    taken = User.objects.filter(email__iexact=new_email).exclude(pk=user.pk).exists()
    old_email = user.email
    if not taken:
        user.email, user.email_verified = new_email, True
        try:
            with transaction.atomic():
                user.save(update_fields=["email", "email_verified"])
        except IntegrityError:
            taken = True
    if taken:
        raise tokens.LinkInvalid("That address now belongs to another account, so this account keeps its "
                                 "current address.")
    throttle.reset_account(old_email)
    emails.send("email_changed", old_email, new_email=new_email)
    return user


def change_password(user: User, new_password: str) -> None:
    """Sets the password (other sessions end: their auth hash no longer matches) and tells the owner.
    A view calling this keeps its own session with update_session_auth_hash."""
    user.set_password(new_password)
    user.save(update_fields=["password"])
    emails.send("password_changed", user.email)


def password_was_reset(user: User) -> None:
    """A reset link reached the owner's inbox: that proves the address, and lifts the login throttle."""
    if not user.email_verified:
        user.email_verified = True
        user.save(update_fields=["email_verified"])
    throttle.reset_account(user.email)


# --- deletion ---------------------------------------------------------------------------------

def delete_account(user: User) -> None:
    """Removes the user and their personal data: API keys, meter rows (the account's and its
    keys'), admin log entries naming them, and whatever other apps delete on account_deleting."""
    email = user.email
    subjects = meter_subjects(user)
    with transaction.atomic():
        MeterView.objects.filter(subject__in=subjects).delete()
        ApiKey.objects.filter(user=user).delete()
        LogEntry.objects.filter(content_type=ContentType.objects.get_for_model(User),
                                object_id=str(user.pk)).delete()
        account_deleting.send(sender=User, user=user)
        user.delete()
    from . import metering

    metering.forget(subjects)  # the Redis meter too, when that is the backend
    from . import quotas

    quotas.forget(subjects)  # feature-quota uses (assistant questions, ...) on either backend
    throttle.reset_account(email)
    emails.send("account_deleted", email)
