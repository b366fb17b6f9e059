"""My consults (threads, messages, status, the secret address) and the staff delivery log, as pages."""

from __future__ import annotations

import pytest
from consultkit import drain, question

from medcode.accounts import actions as account_actions
from medcode.consult import actions
from medcode.consult.models import ConsultAddress, Consult, Inbound

pytestmark = pytest.mark.django_db(transaction=True)


def test_my_consults_lists_threads_messages_and_status(gateway, relay, coder, client):
    gateway.send(question("Is E11.9 billable? Patient John Smith.", sender=coder.email, subject="Diabetes"))
    drain()
    reply = relay.one(coder.email)
    gateway.send(question("And I10?", sender=coder.email, subject="Re: Diabetes", in_reply_to=reply["Message-ID"]))
    drain()
    client.force_login(coder)
    page = client.get("/consults/")
    body = page.content.decode()
    assert page.status_code == 200
    assert "Diabetes" in body and "consult@medcode.test" in body
    assert actions.secret_address_for(coder) in body
    assert "This month: 2 of 5 consults used" in body
    consult = Consult.objects.get()
    thread = client.get(f"/consults/{consult.pk}/").content.decode()
    assert "Is E11.9 billable? Patient [name]." in thread and "John" not in thread
    assert "And I10?" in thread and "E11.9 is billable" in thread  # the reply's text
    assert thread.count("answered") >= 2 and "reply sent" in thread


def test_a_worker_killed_while_drafting_leaves_no_empty_thread(relay, coder, client):
    """The thread was created before the draft but linked only when the mail was finished: a worker killed
    in between (the assistant is the slow part) left an empty thread in My consults and the mail, processed
    again, started a second one. Replayed here: the killed worker's state, then the restart."""
    from datetime import timedelta

    from django.utils import timezone

    result = actions.intake(question("Is E11.9 billable?", sender=coder.email, subject="Diabetes").as_bytes(),
                            mail_from=coder.email, rcpts=[actions.configured()[0]])
    inbound = Inbound.objects.get(pk=result.inbound_id)
    actions._thread(inbound, coder)  # where the killed worker got to
    Inbound.objects.filter(pk=inbound.pk).update(status="processing", lease_until=timezone.now() - timedelta(1))
    drain()  # the queued task runs on a fresh worker; its claim has lapsed
    assert "E11.9 is billable" in relay.one(coder.email).get_body(preferencelist=("plain",)).get_content()
    (thread,) = Consult.objects.filter(user=coder)
    assert list(thread.inbound.values_list("status", flat=True)) == ["answered"]
    client.force_login(coder)
    assert f'href="/consults/{thread.pk}/"' in client.get("/consults/").content.decode()


def test_a_thread_is_only_its_owners(gateway, relay, coder, client, django_user_model):
    gateway.send(question("Is E11.9 billable?", sender=coder.email))
    drain()
    other = django_user_model.objects.create_user("other@client.test", "a long password 4", email_verified=True)
    client.force_login(other)
    assert client.get(f"/consults/{Consult.objects.get().pk}/").status_code == 404
    assert "No consults yet" in client.get("/consults/").content.decode()
    client.logout()
    assert client.get("/consults/").status_code == 302


def test_replacing_the_secret_address_is_a_post(coder, client, consult_settings):
    client.force_login(coder)
    first = actions.secret_address_for(coder)
    assert client.get("/consults/address/").status_code == 405
    assert client.post("/consults/address/").status_code == 302
    second = actions.secret_address_for(coder)
    assert first != second and ConsultAddress.objects.count() == 1
    assert actions.recipient(first) is None and actions.recipient(second).token


def test_unverified_account_sees_how_to_start(client, django_user_model, consult_settings):
    user = django_user_model.objects.create_user("new@client.test", "a long password 5")
    client.force_login(user)
    body = client.get("/consults/").content.decode()
    assert "Verify your email address" in body and "consult+" not in body
    client.post("/consults/address/")
    assert not ConsultAddress.objects.exists()


def test_the_delivery_log_shows_every_reply_and_filters(gateway, relay, coder, staff, client):
    gateway.send(question("Is E11.9 billable?", sender=coder.email))
    gateway.send(question("Is I10 billable?", sender="stranger@client.test"))
    drain()
    client.force_login(staff)
    page = client.get("/consults/deliveries/").content.decode()
    assert page.count("<td>sent</td>") == 0 and page.count(">sent<") >= 2
    assert "stranger@client.test" in page and coder.email in page
    failed_only = client.get("/consults/deliveries/?status=failed").content.decode()
    assert "No replies with this status" in failed_only
    assert client.get("/consults/deliveries/?status=<script>&page=abc").status_code == 200
    assert client.get("/consults/?page=-1").status_code == 200


def test_nav_links_show_for_the_right_people(coder, staff, client, consult_settings):
    client.force_login(coder)
    home = client.get("/account/").content.decode()
    assert 'href="/consults/"' in home and 'href="/consults/review/"' not in home
    client.force_login(staff)
    assert 'href="/consults/review/"' in client.get("/account/").content.decode()


def test_deleting_the_account_deletes_its_consults_and_its_earlier_mail(gateway, relay, coder, client):
    gateway.send(question("Is E11.9 billable?", sender="later@client.test"))  # before it had an account
    drain()
    from medcode.accounts.models import User

    later = User.objects.create_user("later@client.test", "a long password 6", email_verified=True)
    gateway.send(question("Is I10 billable?", sender=later.email))
    drain()
    assert Inbound.objects.filter(sender="later@client.test").count() == 2
    pk = later.pk
    account_actions.delete_account(later)
    assert not Inbound.objects.filter(sender="later@client.test").exists()
    assert not Consult.objects.filter(user_id=pk).exists()
    assert Inbound.objects.filter(sender=coder.email).count() == 0 and Inbound.objects.count() == 0
