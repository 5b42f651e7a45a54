"""``send_test_webhook`` and the admin's button: a ``webhook.test`` event now, ahead of any backlog;
and attempts that did not deliver log as what they were, in the worker's log too."""

from __future__ import annotations

import logging
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse
from standardwebhooks import Webhook

from cases.services import Actor, case_create
from tokens.models import Mode
from webhooks.models import Event, MessageStatus, WebhookMessage
from webhooks.services import endpoint_create

from .conftest import Answer, deliver

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("private_networks_allowed")]


def send_test(*args: str) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command("send_test_webhook", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_a_test_event_goes_out_now_ahead_of_the_backlog_signed_and_shows_the_answer(project, receiver) -> None:
    endpoint, secret = endpoint_create(project=project, mode=Mode.LIVE, url=receiver.url())
    for n in range(3):
        case_create(project=project, mode=Mode.LIVE, actor=Actor.system("test"), title=f"backlog {n}")
    receiver.answers = [Answer(200, b"ok from the bot " + b"x" * 300)]

    out, _ = send_test(endpoint.pk)

    (request,) = receiver.requests  # the backlog is still waiting for a worker
    body = Webhook(secret).verify(request.body, request.headers)
    assert body["type"] == "webhook.test"
    assert body["mode"] == "live"
    assert body["data"]["webhook"]["id"] == endpoint.pk
    assert out.splitlines()[0] == "status: 200"
    assert out.splitlines()[1] == "answer: " + ("ok from the bot " + "x" * 300)[:200]
    # Never recorded: not in the feed, not in the outbox.
    assert not Event.objects.filter(type="webhook.test").exists()
    assert WebhookMessage.objects.filter(status=MessageStatus.PENDING).count() == 3


def test_a_failed_test_send_exits_non_zero_with_the_status(project, receiver) -> None:
    endpoint, _ = endpoint_create(project=project, mode=Mode.LIVE, url=receiver.url())
    receiver.answers = [Answer(401, b"bad signature")]
    out = StringIO()
    with pytest.raises(CommandError, match="not delivered"):
        call_command("send_test_webhook", endpoint.pk, stdout=out, stderr=StringIO())
    assert out.getvalue() == "status: 401\nanswer: bad signature\n"


def test_an_unknown_endpoint_is_a_command_error() -> None:
    with pytest.raises(CommandError, match="no webhook endpoint with id 'wh_missing'"):
        send_test("wh_missing")


def test_the_admin_button_sends_a_test_and_shows_status_and_answer(admin_client, project, receiver) -> None:
    endpoint, secret = endpoint_create(project=project, mode=Mode.LIVE, url=receiver.url())
    receiver.answers = [Answer(202, b"accepted by the bot")]
    page = admin_client.get(reverse("admin:webhooks_webhookendpoint_change", args=[endpoint.pk]))
    send_url = reverse("admin:webhooks_webhookendpoint_send_test", args=[endpoint.pk])
    assert f'formaction="{send_url}"' in page.content.decode()

    r = admin_client.post(send_url, follow=True)

    assert r.status_code == 200
    shown = [str(message) for message in r.context["messages"]]
    assert any("status 202" in text and "accepted by the bot" in text for text in shown), shown
    (request,) = receiver.requests
    assert Webhook(secret).verify(request.body, request.headers)["type"] == "webhook.test"
    # A GET sends nothing.
    admin_client.get(send_url)
    assert len(receiver.requests) == 1


def test_a_refused_attempt_logs_as_refused_and_its_task_as_failed(project, receiver, settings, caplog) -> None:
    """Issue 25: the variable set for create_webhook only, the worker refuses; no line says SUCCESSFUL."""
    endpoint, _ = endpoint_create(project=project, mode=Mode.LIVE, url=receiver.url())
    settings.SERVEROPS = {**settings.SERVEROPS, "WEBHOOK_ALLOW_PRIVATE_NETWORKS": False}
    case_create(project=project, mode=Mode.LIVE, actor=Actor.system("test"), title="t")
    with caplog.at_level(logging.INFO):
        assert deliver() == 0
    assert receiver.requests == []
    lines = [(record.name, record.levelname, record.getMessage()) for record in caplog.records]
    attempt = next(line for line in lines if line[0] == "webhooks")
    assert attempt[1] == "WARNING"
    assert attempt[2].startswith("webhook attempt refused ")
    assert "WEBHOOK_ALLOW_PRIVATE_NETWORKS=1" in attempt[2]
    finished = [text for name, _, text in lines if name == "django_tasks" and "deliver_message state=" in text]
    failed = [text for name, level, text in lines if name == "django_tasks" and level == "WARNING"]
    assert len(failed) == 1 and "state=FAILED" in failed[0] and "refused" in failed[0], failed
    # Every task that ended SUCCESSFUL made no attempt (the sweep's second task for the message), and says so.
    skipped = [text for name, _, text in lines if name == "webhooks" and " skipped: " in text]
    assert len([text for text in finished if text.endswith("state=SUCCESSFUL")]) == len(skipped)
    assert not any(record.exc_info for record in caplog.records if record.name == "django_tasks")
    message = endpoint.messages.get()
    assert message.status == MessageStatus.PENDING and message.last_error.startswith("refused: ")


def test_a_failed_attempt_logs_as_failed(project, receiver, caplog) -> None:
    endpoint_create(project=project, mode=Mode.LIVE, url=receiver.url())
    receiver.answers = [Answer(500, b"boom")]
    case_create(project=project, mode=Mode.LIVE, actor=Actor.system("test"), title="t")
    with caplog.at_level(logging.INFO):
        deliver()
    texts = [record.getMessage() for record in caplog.records]
    assert any(text.startswith("webhook attempt failed ") for text in texts)
    assert any("state=FAILED" in text for text in texts)
    successful = [text for text in texts if "deliver_message state=SUCCESSFUL" in text]
    assert len(successful) == len([text for text in texts if " skipped: " in text])
