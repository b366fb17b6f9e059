"""The real commands: `medcode smtpd` and `medcode worker` as processes on one database, mail over loopback;
and a worker killed in the middle of a consult (the consult is finished after a restart, with one reply)."""

from __future__ import annotations

import signal
import smtplib
import socket
import threading
import time

import pytest
from consultkit import question, sink_on, wait_for
from mailsink import free_port
from procs import Site

pytestmark = pytest.mark.slow

CODER = "coder@client.test"


@pytest.fixture
def site(tmp_path, codebook_file):
    made = []

    def make(relay_port: int, **env) -> Site:
        s = Site(tmp_path, codebook_file, relay_port, **env)
        made.append(s)
        return s

    yield make
    for s in made:
        s.close()


def _send(port: int, msg) -> None:
    with smtplib.SMTP("127.0.0.1", port, timeout=30) as smtp:
        smtp.send_message(msg)


def _text(msg) -> str:
    return msg.get_body(preferencelist=("plain",)).get_content()


def test_smtpd_and_worker_processes_answer_a_thread(site):
    with sink_on(free_port()) as relay:
        s = site(relay.port)
        s.add_user(CODER)
        gw = free_port()
        s.smtpd(gw)
        s.worker()
        _send(gw, question("Is E11.9 billable?", sender=CODER, subject="Diabetes", msgid="<p1@client.test>"))
        try:
            first = relay.wait_for(CODER, timeout=60)
        except AssertionError:
            raise AssertionError(s.logs())
        assert first["In-Reply-To"] == "<p1@client.test>" and "E11.9 is billable" in _text(first)
        _send(gw, question("What are its parent code and its neighbours?", sender=CODER, subject=first["Subject"],
                           msgid="<p2@client.test>", in_reply_to=first["Message-ID"],
                           references=["<p1@client.test>", first["Message-ID"]]))
        wait_for(lambda: len(relay.to(CODER)) == 2, timeout=60)
        second = [m for m in relay.to(CODER) if m["In-Reply-To"] == "<p2@client.test>"][0]
        assert "E11" in _text(second) and second["Subject"] == "Re: Diabetes"
        # an unknown recipient is refused by the real process too
        with smtplib.SMTP("127.0.0.1", gw, timeout=30) as smtp:
            smtp.ehlo()
            smtp.mail(CODER)
            assert smtp.rcpt("nobody@medcode.test")[0] == 550
    assert s.query("SELECT COUNT(DISTINCT consult_id), COUNT(*) FROM consult_inbound WHERE status = 'answered'") \
        == [(1, 2)]


class HungRelay:
    """A relay that accepts the connection and never says hello: a send blocks until its timeout."""

    def __init__(self, port: int):
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", port))
        self.sock.listen(5)
        self.connected = threading.Event()
        self.held: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.held.append(conn)
            self.connected.set()

    def close(self):
        try:
            self.sock.shutdown(socket.SHUT_RDWR)  # wakes the blocked accept(); close() alone would not
        except OSError:
            pass
        self.sock.close()
        for c in self.held:
            c.close()


def test_worker_killed_mid_task_the_consult_is_finished_after_restart_with_one_reply(site):
    relay_port = free_port()
    hung = HungRelay(relay_port)
    s = site(relay_port, EMAIL_TIMEOUT="120", MEDCODE_CONSULT_SEND_LEASE="3", MEDCODE_CONSULT_PROCESS_LEASE="3")
    s.add_user(CODER)
    gw = free_port()
    s.smtpd(gw)
    first = s.worker()
    _send(gw, question("Is E11.9 billable?", sender=CODER, msgid="<kill@client.test>"))
    assert hung.connected.wait(60), s.logs()  # the worker is inside the task, sending the reply
    time.sleep(0.3)
    s.stop(first, signal.SIGKILL)  # killed mid-task
    assert s.query("SELECT status, attempts FROM consult_outbound") == [("sending", 1)]
    assert s.query("SELECT status FROM django_tasks_database_dbtaskresult "
                   "WHERE task_path = 'medcode.consult.tasks.process_mail'") == [("RUNNING",)]
    hung.close()

    with sink_on(relay_port) as relay:  # the relay works again; a new worker starts
        s.worker()
        try:
            reply = relay.wait_for(CODER, timeout=60)
        except AssertionError:
            raise AssertionError(s.logs())
        time.sleep(4)  # a few more sweeps: nothing is sent twice
        assert len(relay.to(CODER)) == 1
    assert reply["In-Reply-To"] == "<kill@client.test>" and "E11.9 is billable" in _text(reply)
    assert s.query("SELECT status, attempts FROM consult_outbound") == [("sent", 2)]
    assert s.query("SELECT status FROM consult_inbound") == [("answered",)]
    assert s.query("SELECT COUNT(*) FROM consult_deliveryattempt WHERE ok") == [(1,)]
