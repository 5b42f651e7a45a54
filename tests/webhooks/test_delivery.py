"""Delivery to a real HTTP receiver on 127.0.0.1, verified as a receiver would (``standardwebhooks``)."""

from __future__ import annotations

import json
import logging
import socket
import threading
import time
from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.db import connection
from django.utils import timezone
from django_tasks_db.models import DBTaskResult
from standardwebhooks import Webhook

from cases.models import Case, CaseEvent, Status
from cases.services import Actor, case_update
from tests.factories import CaseFactory, ProjectFactory, TokenFactory
from tokens.models import Mode
from webhooks.models import MessageStatus, WebhookAttempt, WebhookEndpoint, WebhookMessage
from webhooks.services import BACKOFF, MAX_ATTEMPTS, endpoint_create, message_deliver, message_resend

from .conftest import Answer, deliver

# Real commits: messages are queued when the change's transaction commits.
pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("private_networks_allowed")]


def verified(secret: str, request) -> dict:
    """The body, after the signature checks out exactly as a receiver checks it."""
    return Webhook(secret).verify(request.body, request.headers)


def make_due(message: WebhookMessage) -> None:
    """As if the retry's wait were over."""
    WebhookMessage.objects.filter(pk=message.pk).update(next_attempt_at=timezone.now() - timedelta(seconds=1))


def test_created_and_updated_cases_arrive_signed_with_the_case_the_api_returns(call, project, receiver) -> None:
    endpoint, secret = endpoint_create(project=project, mode=Mode.LIVE, url=receiver.url())
    created = call("POST", "/v1/cases", json_body={"title": "Griefing at spawn"})
    assert created.status_code == 201, created.content
    updated = call("PATCH", f"/v1/cases/{created.json()['id']}", json_body={"status": "closed"})
    assert updated.status_code == 200, updated.content

    assert deliver() == 2

    first, second = (verified(secret, request) for request in receiver.requests)
    events = list(CaseEvent.objects.order_by("created_at", "id"))
    assert first["type"] == "case.created"
    assert first["id"] == events[0].id == receiver.requests[0].headers["webhook-id"]
    assert first["mode"] == "live"
    assert first["data"]["case"] == created.json()
    assert first["data"]["changes"]["title"] == {"from": None, "to": "Griefing at spawn"}
    assert second["type"] == "case.updated"
    assert second["id"] == events[1].id
    assert second["data"]["case"] == updated.json()
    assert second["data"]["changes"] == {"status": {"from": "open", "to": "closed"}}
    assert set(WebhookMessage.objects.values_list("status", flat=True)) == {MessageStatus.DELIVERED}
    assert receiver.requests[0].path == "/hooks"
    assert receiver.requests[0].headers["content-type"] == "application/json"
    assert endpoint.messages.count() == 2


def test_changes_arrive_in_the_order_the_events_api_gives_them(call, project, receiver) -> None:
    _, secret = endpoint_create(project=project, mode=Mode.LIVE, url=receiver.url())
    case_id = call("POST", "/v1/cases", json_body={"title": "Griefing at spawn"}).json()["id"]
    patched = call("PATCH", f"/v1/cases/{case_id}", json_body={"status": "closed", "description": "x", "title": "t"})
    assert patched.status_code == 200, patched.content
    assert deliver() == 2

    bodies = [verified(secret, request) for request in receiver.requests]
    events = call("GET", f"/v1/cases/{case_id}/events").json()["events"]
    for body, event in zip(bodies, events, strict=True):
        assert json.dumps(body["data"]["changes"]) == json.dumps(event["changes"])
    assert list(bodies[1]["data"]["changes"]) == ["title", "description", "status"]


def test_actor_is_the_token_that_made_the_change(call, token, project, receiver) -> None:
    _, secret = endpoint_create(project=project, mode=Mode.LIVE, url=receiver.url())
    call("POST", "/v1/cases", json_body={"title": "t"})
    deliver()
    body = verified(secret, receiver.requests[0])
    assert body["data"]["actor"] == {"type": "token", "id": token.id, "name": token.name}


def test_a_tampered_body_fails_verification(call, project, receiver) -> None:
    _, secret = endpoint_create(project=project, mode=Mode.LIVE, url=receiver.url())
    call("POST", "/v1/cases", json_body={"title": "t"})
    deliver()
    request = receiver.requests[0]
    with pytest.raises(Exception, match="signature"):
        Webhook(secret).verify(request.body.replace(b'"t"', b'"u"'), request.headers)
    with pytest.raises(Exception, match="signature"):
        Webhook(endpoint_create(project=project, mode=Mode.LIVE, url=receiver.url("/other"))[1]).verify(
            request.body, request.headers
        )


def test_test_mode_changes_never_reach_live_endpoints(client, project, receiver) -> None:
    live, _ = endpoint_create(project=project, mode=Mode.LIVE, url=receiver.url("/live"))
    _, secret = endpoint_create(project=project, mode=Mode.TEST, url=receiver.url("/test"))
    test_token = TokenFactory(project=project, mode=Mode.TEST)
    r = client.post(
        "/v1/cases",
        data={"title": "test-mode case"},
        content_type="application/json",
        headers={"Authorization": f"Bearer {test_token.plaintext}"},
    )
    assert r.status_code == 201, r.content

    assert deliver() == 1
    assert [request.path for request in receiver.requests] == ["/test"]
    assert verified(secret, receiver.requests[0])["mode"] == "test"
    assert not live.messages.exists()


def test_another_projects_changes_never_arrive(call, project, receiver) -> None:
    other = ProjectFactory()
    mine, _ = endpoint_create(project=project, mode=Mode.LIVE, url=receiver.url("/mine"))
    endpoint_create(project=other, mode=Mode.LIVE, url=receiver.url("/theirs"))
    CaseFactory(project=other)
    call("POST", "/v1/cases", json_body={"title": "mine"})

    assert deliver() == 2
    paths = sorted(request.path for request in receiver.requests)
    assert paths == ["/mine", "/theirs"]
    mine_body = json.loads(next(r.body for r in receiver.requests if r.path == "/mine"))
    assert mine_body["data"]["case"]["title"] == "mine"
    assert mine.messages.count() == 1


def test_an_endpoint_hears_only_the_event_types_it_asked_for(call, project, receiver) -> None:
    endpoint_create(project=project, mode=Mode.LIVE, url=receiver.url(), events=["case.updated"])
    created = call("POST", "/v1/cases", json_body={"title": "t"})
    call("PATCH", f"/v1/cases/{created.json()['id']}", json_body={"title": "u"})
    deliver()
    assert [json.loads(r.body)["type"] for r in receiver.requests] == ["case.updated"]


def test_a_receiver_failing_twice_gets_the_message_on_the_third_try_with_the_same_id(call, project, receiver) -> None:
    _, secret = endpoint_create(project=project, mode=Mode.LIVE, url=receiver.url())
    receiver.answers = [Answer(500, b"boom"), Answer(503)]
    before = timezone.now()
    call("POST", "/v1/cases", json_body={"title": "t"})

    assert deliver() == 0
    message = WebhookMessage.objects.get()
    assert message.status == MessageStatus.PENDING
    assert message.attempts == 1
    assert message.last_status_code == 500
    assert message.last_response == "boom"
    # The first retry waits about 5 s; the worker does not send it before then.
    assert message.next_attempt_at - message.last_attempt_at >= BACKOFF[0]
    assert deliver() == 0
    assert len(receiver.requests) == 1

    make_due(message)
    assert deliver() == 0
    message.refresh_from_db()
    assert message.attempts == 2
    assert message.last_status_code == 503
    assert message.next_attempt_at - timezone.now() > BACKOFF[1] - timedelta(seconds=5)

    make_due(message)
    assert deliver() == 1
    message.refresh_from_db()
    assert message.status == MessageStatus.DELIVERED
    assert message.delivered_at >= before
    ids = {request.headers["webhook-id"] for request in receiver.requests}
    assert len(receiver.requests) == 3 and ids == {message.event.public_id}
    assert all(verified(secret, request)["id"] == message.event.public_id for request in receiver.requests)
    assert list(message.attempt_log.values_list("number", "status_code")) == [(1, 500), (2, 503), (3, 204)]
    assert all(a.finished_at and a.duration_ms is not None for a in message.attempt_log.all())


def test_after_the_last_attempt_the_message_fails_and_a_resend_delivers_it(call, project, receiver) -> None:
    endpoint_create(project=project, mode=Mode.LIVE, url=receiver.url())
    receiver.default = Answer(500)
    call("POST", "/v1/cases", json_body={"title": "t"})
    for attempt in range(1, MAX_ATTEMPTS + 1):
        if attempt > 1:
            make_due(WebhookMessage.objects.get())
        deliver()
    message = WebhookMessage.objects.get()
    assert message.status == MessageStatus.FAILED
    assert message.attempts == MAX_ATTEMPTS == 8
    assert message.next_attempt_at is None
    assert len(receiver.requests) == MAX_ATTEMPTS
    assert deliver() == 0  # failed is final until someone resends

    receiver.default = Answer(200)
    message_resend(message=message)
    assert deliver() == 1
    message.refresh_from_db()
    assert message.status == MessageStatus.DELIVERED
    assert {r.headers["webhook-id"] for r in receiver.requests} == {message.event.public_id}
    assert message.attempt_log.count() == MAX_ATTEMPTS + 1


def test_a_redirect_is_not_followed(call, project, receiver) -> None:
    endpoint_create(project=project, mode=Mode.LIVE, url=receiver.url("/hooks"))
    receiver.answers = [Answer(302, headers={"Location": receiver.url("/elsewhere")})]
    call("POST", "/v1/cases", json_body={"title": "t"})

    assert deliver() == 0
    assert [r.path for r in receiver.requests] == ["/hooks"]
    message = WebhookMessage.objects.get()
    assert message.status == MessageStatus.PENDING
    assert message.last_status_code == 302


def test_only_the_first_kib_of_the_answer_is_kept(call, project, receiver) -> None:
    endpoint_create(project=project, mode=Mode.LIVE, url=receiver.url())
    receiver.answers = [Answer(500, b"x" * 5000)]
    call("POST", "/v1/cases", json_body={"title": "t"})
    deliver()
    message = WebhookMessage.objects.get()
    assert message.last_response == "x" * 1024
    assert message.attempt_log.get().response == "x" * 1024


def test_a_slow_receiver_times_out_and_is_retried(call, project, receiver, settings) -> None:
    settings.SERVEROPS = {**settings.SERVEROPS, "WEBHOOK_TIMEOUT_SECONDS": 1}
    endpoint_create(project=project, mode=Mode.LIVE, url=receiver.url())
    receiver.answers = [Answer(200, delay=2.5)]
    call("POST", "/v1/cases", json_body={"title": "t"})
    deliver()
    message = WebhookMessage.objects.get()
    assert message.status == MessageStatus.PENDING
    assert message.last_status_code is None
    assert "Timeout" in message.last_error
    assert message.last_duration_ms < 2500


def test_archive_cases_and_admin_style_updates_are_sent(project, receiver) -> None:
    _, secret = endpoint_create(project=project, mode=Mode.LIVE, url=receiver.url())
    stale = CaseFactory(project=project, status=Status.CLOSED)
    Case.objects.filter(pk=stale.pk).update(updated_at=timezone.now() - timedelta(days=40))
    case_update(case_id=stale.pk, changes={}, actor=Actor.system("noop"))
    call_command("archive_cases", "--closed-for", "30d", stdout=None)

    deliver()
    bodies = [verified(secret, r) for r in receiver.requests]
    archived = [b for b in bodies if b["data"]["changes"].get("status", {}).get("to") == "archived"]
    assert len(archived) == 1
    assert archived[0]["type"] == "case.updated"
    assert archived[0]["data"]["case"]["status"] == "archived"
    assert archived[0]["data"]["actor"] == {"type": "system", "id": "archive_cases", "name": "archive_cases"}


def test_a_private_address_is_refused_when_the_setting_is_off(project, receiver, settings) -> None:
    settings.SERVEROPS = {**settings.SERVEROPS, "WEBHOOK_ALLOW_PRIVATE_NETWORKS": False}
    with pytest.raises(ValidationError, match="loopback"):
        endpoint_create(project=project, mode=Mode.LIVE, url=receiver.url())
    assert not project.cases.exists()

    # Registered while allowed, refused at delivery once it is not: nothing is sent.
    settings.SERVEROPS = {**settings.SERVEROPS, "WEBHOOK_ALLOW_PRIVATE_NETWORKS": True}
    endpoint_create(project=project, mode=Mode.LIVE, url=receiver.url())
    settings.SERVEROPS = {**settings.SERVEROPS, "WEBHOOK_ALLOW_PRIVATE_NETWORKS": False}
    CaseFactory(project=project)
    assert deliver() == 0
    assert receiver.requests == []
    message = WebhookMessage.objects.get()
    assert "loopback" in message.last_error
    assert message.status == MessageStatus.PENDING


@pytest.fixture
def hooks_example_is_local(monkeypatch):
    """``hooks.example`` resolves to 127.0.0.1, as a rebinding attacker's name would."""
    real = socket.getaddrinfo

    def fake(host, port, *args, **kwargs):
        return real("127.0.0.1" if host == "hooks.example" else host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", fake)


@pytest.mark.usefixtures("hooks_example_is_local")
def test_delivery_connects_to_the_address_it_checked(project, receiver, settings) -> None:
    """A name that resolves to 127.0.0.1 is refused; allowed, the request goes to that address with the name as Host."""
    settings.SERVEROPS = {**settings.SERVEROPS, "WEBHOOK_ALLOW_PRIVATE_NETWORKS": False}
    with pytest.raises(ValidationError, match=r"hooks\.example resolves to a loopback address"):
        endpoint_create(project=project, mode=Mode.LIVE, url=f"http://hooks.example:{receiver.port}/in")

    settings.SERVEROPS = {**settings.SERVEROPS, "WEBHOOK_ALLOW_PRIVATE_NETWORKS": True}
    endpoint_create(project=project, mode=Mode.LIVE, url=f"http://hooks.example:{receiver.port}/in")
    CaseFactory(project=project)
    assert deliver() == 1
    assert receiver.requests[0].headers["host"] == f"hooks.example:{receiver.port}"


def test_a_name_rebound_to_a_private_address_after_registration_is_refused_at_delivery(
    project, receiver, settings, monkeypatch
) -> None:
    settings.SERVEROPS = {**settings.SERVEROPS, "WEBHOOK_ALLOW_PRIVATE_NETWORKS": False}
    real = socket.getaddrinfo
    answers = iter(["93.184.215.14", "127.0.0.1"])  # public when registered, loopback afterwards

    def rebinding(host, port, *args, **kwargs):
        return real(next(answers) if host == "hooks.example" else host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", rebinding)
    endpoint_create(project=project, mode=Mode.LIVE, url=f"http://hooks.example:{receiver.port}/in")
    CaseFactory(project=project)

    assert deliver() == 0
    assert receiver.requests == []
    assert "loopback address (127.0.0.1); refused" in WebhookMessage.objects.get().last_error


def test_a_leased_message_is_not_sent_by_a_second_worker(call, project, receiver) -> None:
    endpoint_create(project=project, mode=Mode.LIVE, url=receiver.url())
    call("POST", "/v1/cases", json_body={"title": "t"})
    message = WebhookMessage.objects.get()
    WebhookMessage.objects.filter(pk=message.pk).update(
        locked_until=timezone.now() + timedelta(seconds=60), locked_by="other:1"
    )
    assert message_deliver(message_id=message.pk, worker="me:2") == "skipped"
    assert deliver() == 0
    assert receiver.requests == []
    assert not WebhookAttempt.objects.exists()

    # The other worker died: its lease runs out and the sweep hands the message on.
    WebhookMessage.objects.filter(pk=message.pk).update(locked_until=timezone.now() - timedelta(seconds=1))
    assert deliver() == 1
    assert len(receiver.requests) == 1


@pytest.mark.usefixtures("hooks_example_is_local")
def test_https_goes_to_the_checked_address_and_verifies_the_endpoints_name(project, tls_receiver, monkeypatch):
    monkeypatch.setenv("SSL_CERT_FILE", tls_receiver.certificate)
    _, secret = endpoint_create(project=project, mode=Mode.LIVE, url=f"https://hooks.example:{tls_receiver.port}/in")
    CaseFactory(project=project)

    assert deliver() == 1
    [request] = tls_receiver.requests
    assert request.headers["host"] == f"hooks.example:{tls_receiver.port}"
    assert verified(secret, request)["type"] == "case.created"


@pytest.mark.parametrize("tls_receiver", ["other.example"], indirect=True)
@pytest.mark.usefixtures("hooks_example_is_local")
def test_https_refuses_a_certificate_for_another_name(project, tls_receiver, monkeypatch):
    monkeypatch.setenv("SSL_CERT_FILE", tls_receiver.certificate)
    endpoint_create(project=project, mode=Mode.LIVE, url=f"https://hooks.example:{tls_receiver.port}/in")
    CaseFactory(project=project)

    assert deliver() == 0
    assert tls_receiver.requests == []
    message = WebhookMessage.objects.get()
    assert "SSLError" in message.last_error
    assert message.status == MessageStatus.PENDING


def test_a_message_whose_task_was_lost_is_swept_and_delivered(call, project, receiver) -> None:
    """The outbox row is the truth: a crash between the commit and the queueing loses nothing."""
    endpoint_create(project=project, mode=Mode.LIVE, url=receiver.url())
    call("POST", "/v1/cases", json_body={"title": "t"})
    DBTaskResult.objects.all().delete()  # as if the process died before queueing the task

    assert deliver() == 1
    assert WebhookMessage.objects.get().status == MessageStatus.DELIVERED


@pytest.mark.postgres
def test_two_workers_at_once_send_a_message_once(call, project, receiver) -> None:
    if connection.vendor != "postgresql":
        pytest.skip("concurrent writers need PostgreSQL; .ci/run runs the suite with DATABASE_URL set")
    endpoint_create(project=project, mode=Mode.LIVE, url=receiver.url())
    receiver.default = Answer(200, delay=0.5)
    call("POST", "/v1/cases", json_body={"title": "t"})
    message = WebhookMessage.objects.get()
    start = threading.Barrier(4)
    outcomes: list[str] = []

    def worker(n: int) -> None:
        start.wait()
        try:
            outcomes.append(message_deliver(message_id=message.pk, worker=f"test:{n}"))
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["delivered", "skipped", "skipped", "skipped"]
    assert len(receiver.requests) == 1
    assert WebhookAttempt.objects.count() == 1


def test_a_message_whose_attempts_all_died_with_their_workers_fails(call, project, receiver) -> None:
    endpoint_create(project=project, mode=Mode.LIVE, url=receiver.url())
    call("POST", "/v1/cases", json_body={"title": "t"})
    WebhookMessage.objects.update(attempts=MAX_ATTEMPTS, locked_until=timezone.now() - timedelta(seconds=1))

    assert deliver() == 0
    assert receiver.requests == []
    message = WebhookMessage.objects.get()
    assert message.status == MessageStatus.FAILED
    assert message.next_attempt_at is None


class TricklingReceiver:
    """A raw socket server on 127.0.0.1: its first connection reads the request, stays silent
    ``silence`` seconds, then sends a complete 200 answer a byte every ``every`` seconds (about
    24 s in all); later connections get a 204 at once."""

    ANSWER = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok"

    def __init__(self, silence: float = 8.0, every: float = 0.4) -> None:
        self.silence, self.every = silence, every
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.connections = 0
        self.sent_before_cut = 0
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hooks"

    def _read_request(self, conn: socket.socket) -> None:
        data = b""
        while b"\r\n\r\n" not in data:
            data += conn.recv(65536)
        head, _, body = data.partition(b"\r\n\r\n")
        length = next(
            int(line.split(b":")[1]) for line in head.split(b"\r\n") if line.lower().startswith(b"content-length")
        )
        while len(body) < length:
            body += conn.recv(65536)

    def _serve(self) -> None:
        while not self.stop.is_set():
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            self.connections += 1
            with conn:
                try:
                    self._read_request(conn)
                    if self.connections > 1:
                        conn.sendall(b"HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n")
                        continue
                    if self.stop.wait(self.silence):
                        return
                    for byte in self.ANSWER:
                        conn.sendall(bytes([byte]))
                        self.sent_before_cut += 1
                        if self.stop.wait(self.every):
                            return
                except OSError:
                    continue  # the worker hung up: what the attempt's deadline is for

    def close(self) -> None:
        self.stop.set()
        self.listener.close()
        self.thread.join(timeout=5)


def test_a_trickling_receiver_is_cut_off_at_10_s_and_retried(call, project, settings, caplog, capsys) -> None:
    settings.SERVEROPS = {**settings.SERVEROPS, "WEBHOOK_TIMEOUT_SECONDS": 10}
    receiver = TricklingReceiver()
    try:
        endpoint_create(project=project, mode=Mode.LIVE, url=receiver.url())
        call("POST", "/v1/cases", json_body={"title": "t"})
        started = time.monotonic()
        with caplog.at_level(logging.INFO, logger="webhooks"):
            assert deliver() == 0
        spent = time.monotonic() - started
        message = WebhookMessage.objects.get()
        attempt = message.attempt_log.get()
        with capsys.disabled():
            print(
                f"\ntrickling receiver: worker spent {spent:.2f} s in deliver_webhooks --once, attempt "
                f"{attempt.duration_ms / 1000:.2f} s; receiver had sent {receiver.sent_before_cut} of "
                f"{len(receiver.ANSWER)} bytes; attempt error {attempt.error!r}; message {message.status}, "
                f"next try in {(message.next_attempt_at - timezone.now()).total_seconds():.1f} s"
            )
        # The answer would have been complete after about 8 + 0.4 × 59 ≈ 31.6 s.
        assert 10_000 <= attempt.duration_ms <= 10_500, attempt.duration_ms
        assert spent <= 10.5 + 1.5, spent  # the attempt and the command's own queries
        assert 0 < receiver.sent_before_cut < len(receiver.ANSWER)
        assert attempt.status_code is None and attempt.finished_at is not None
        assert "Timeout" in attempt.error
        assert message.status == MessageStatus.PENDING
        assert message.attempts == 1
        assert message.last_status_code is None
        assert message.next_attempt_at - message.last_attempt_at >= BACKOFF[0]
        failed = [r.getMessage() for r in caplog.records if r.name == "webhooks"]
        assert any(line.startswith("webhook attempt failed") for line in failed), failed
        assert not any("delivered" in line.split()[:3] for line in failed), failed

        make_due(message)
        assert deliver() == 1
        message.refresh_from_db()
        assert message.status == MessageStatus.DELIVERED
        assert list(message.attempt_log.order_by("number").values_list("number", "status_code")) == [
            (1, None),
            (2, 204),
        ]
        assert receiver.connections == 2
    finally:
        receiver.close()


def test_a_stored_url_with_credentials_is_refused_at_delivery(call, project, receiver) -> None:
    endpoint, _ = endpoint_create(project=project, mode=Mode.LIVE, url=receiver.url())
    # As a row written before the rule (or by hand): never sent, credentials and all.
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(url=receiver.url().replace("//", "//user:s3cret@"))
    call("POST", "/v1/cases", json_body={"title": "t"})

    assert deliver() == 0
    message = WebhookMessage.objects.get()
    assert receiver.requests == []
    assert "credentials" in message.last_error
    assert "s3cret" not in message.last_error
    assert message.status == MessageStatus.PENDING


def test_a_body_carries_the_case_s_subjects_and_its_changes_name_players_and_roles_only(
    call, project, receiver
) -> None:
    _, secret = endpoint_create(project=project, mode=Mode.LIVE, url=receiver.url())
    subjects = [{"identifiers": ["steam:1100001000056ba", "ip:203.0.113.7"], "name": "Vex"}]
    created = call("POST", "/v1/cases", json_body={"title": "Aimbot", "subjects": subjects})
    assert created.status_code == 201, created.content

    assert deliver() == 1

    body = verified(secret, receiver.requests[0])
    assert body["data"]["case"] == created.json()
    player = created.json()["subjects"][0]["player"]
    assert body["data"]["changes"]["subjects"] == {"from": None, "to": [{"player": player, "role": "reported"}]}
    assert "203.0.113.7" not in receiver.requests[0].body.decode()
