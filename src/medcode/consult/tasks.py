"""Background tasks (django-tasks, database backend; run by `medcode worker`). Arguments are ids only:
the task queue is stored too, and must hold no mail text."""

from __future__ import annotations

from django_tasks import task

from . import actions


@task()
def process_mail(inbound_id: int) -> str:
    """Answer (or refuse) one stored mail and send its reply."""
    return actions.process(inbound_id)


@task()
def send_reply(outbound_id: int) -> str:
    """One more try at a reply whose earlier try failed (queued with run_after = its backoff)."""
    return actions.deliver(outbound_id)


@task()
def sweep() -> dict:
    """Periodic: mail a killed worker left unprocessed, replies due and not sent."""
    return actions.sweep()


@task()
def poll_imap() -> dict:
    """Periodic when MEDCODE_CONSULT_IMAP_HOST is set: fetch new mail from the hosted mailbox."""
    from . import imap

    return imap.poll()
