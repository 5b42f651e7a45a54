"""Webhook commands (the conventions of docs/api.md#operator-commands): the result alone on stdout,
non-zero and no change on failure."""

from __future__ import annotations

import logging
import re
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from standardwebhooks import Webhook

from tests.factories import CaseFactory, ProjectFactory
from tokens.models import Mode
from webhooks.models import DEFAULT_EVENT_TYPES, WebhookEndpoint, WebhookMessage
from webhooks.services import endpoint_create

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("private_networks_allowed")]


def run(*args: str) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command(*args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_create_webhook_prints_the_secret_alone_once_and_stores_the_endpoint(project, caplog) -> None:
    with caplog.at_level(logging.DEBUG):
        out, err = run("create_webhook", "--project", project.id, "--url", "http://127.0.0.1:9/in")
    secret = out.strip()
    assert out == secret + "\n"
    assert re.fullmatch(r"whsec_[A-Za-z0-9+/]{32}", secret)  # base64 of 24 bytes
    Webhook(secret)  # the libraries read it
    endpoint = WebhookEndpoint.objects.get()
    assert re.fullmatch(r"wh_[0-9A-HJKMNP-TV-Z]{26}", endpoint.id)
    assert endpoint.project == project
    assert endpoint.mode == Mode.LIVE
    assert endpoint.events == list(DEFAULT_EVENT_TYPES)
    assert endpoint.id in err
    assert secret not in err
    assert secret not in caplog.text


def test_create_webhook_test_mode_and_chosen_events(project) -> None:
    run("create_webhook", "--project", project.id, "--url", "https://127.0.0.1/in", "--test", "--event", "case.updated")
    endpoint = WebhookEndpoint.objects.get()
    assert endpoint.mode == Mode.TEST
    assert endpoint.events == ["case.updated"]


@pytest.mark.parametrize(
    ("args", "match"),
    [
        pytest.param(("--project", "p_nope", "--url", "http://127.0.0.1/"), "no project", id="unknown-project"),
        pytest.param(("--url", "ftp://127.0.0.1/"), "http", id="bad-scheme"),
        pytest.param(("--url", "http:///nohost"), "http", id="no-host"),
        pytest.param(("--url", "http://nowhere.invalid/"), "does not resolve", id="unresolvable"),
        pytest.param(("--url", "http://127.0.0.1/", "--event", "case.deleted"), "unknown event", id="unknown-event"),
        pytest.param(("--url", "http://127.0.0.1/" + "a" * 2000), "2000", id="too-long"),
        # issue 27, fault 7: credentials in the URL would be shown in lists and logs
        pytest.param(("--url", "http://user:pass@127.0.0.1/x"), "credentials", id="user-and-password"),
        pytest.param(("--url", "https://token@127.0.0.1/x"), "credentials", id="user-only"),
        pytest.param(("--url", "http://:@127.0.0.1/x"), "credentials", id="empty-user-and-password"),
        pytest.param(("--url", "http://@127.0.0.1/x"), "credentials", id="empty-userinfo"),
        pytest.param(("--url", "http://a%40b:c%3Ad@127.0.0.1/x"), "credentials", id="encoded-userinfo"),
        pytest.param(("--url", "http://127.0.0.1:80@127.0.0.1/x"), "credentials", id="userinfo-like-a-host"),
    ],
)
def test_create_webhook_failures_change_nothing(project, args, match) -> None:
    if "--project" not in args:
        args = ("--project", project.id, *args)
    with pytest.raises(CommandError, match=match):
        run("create_webhook", *args)
    assert not WebhookEndpoint.objects.exists()


def test_create_webhook_refuses_a_private_address_when_not_allowed(project, settings) -> None:
    settings.SERVEROPS = {**settings.SERVEROPS, "WEBHOOK_ALLOW_PRIVATE_NETWORKS": False}
    for url in (
        "http://127.0.0.1/",
        "http://10.1.2.3/",
        "http://169.254.169.254/latest",
        "http://[::1]/",
        "http://0.0.0.0/",
    ):
        with pytest.raises(CommandError, match="refused"):
            run("create_webhook", "--project", project.id, "--url", url)
    assert not WebhookEndpoint.objects.exists()


def test_list_webhooks_shows_endpoints_never_secrets(project) -> None:
    other = ProjectFactory()
    mine, secret = endpoint_create(project=project, mode=Mode.LIVE, url="http://127.0.0.1/mine")
    theirs, _ = endpoint_create(project=other, mode=Mode.TEST, url="http://127.0.0.1/theirs")
    CaseFactory(project=project)

    out, err = run("list_webhooks")
    lines = out.splitlines()
    assert lines[0].split() == ["id", "project", "mode", "events", "url", "pending", "failed", "created"]
    assert {line.split()[0] for line in lines[1:]} == {mine.id, theirs.id}
    assert secret not in out
    assert "2 webhook endpoint(s)" in err
    row = next(line for line in lines if line.startswith(mine.id)).split()
    assert row[2:6] == ["live", "case.created,case.updated,case.note_added", "http://127.0.0.1/mine", "1"]

    out, _ = run("list_webhooks", "--project", other.id)
    assert [line.split()[0] for line in out.splitlines()[1:]] == [theirs.id]
    with pytest.raises(CommandError, match="no project"):
        run("list_webhooks", "--project", "p_nope")


def test_list_webhooks_masks_credentials_stored_before_they_were_refused(project, client, admin_user) -> None:
    # Rows written before the rule (or straight into the database) keep their URL; no list shows the secret.
    endpoint, _ = endpoint_create(project=project, mode=Mode.LIVE, url="http://127.0.0.1/hook")
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(url="http://bot:hunter2@127.0.0.1:8080/hook?x=1")

    out, _ = run("list_webhooks")
    assert "hunter2" not in out and "bot:" not in out, out
    assert "http://***@127.0.0.1:8080/hook?x=1" in out

    client.force_login(admin_user)
    for page in ("/admin/webhooks/webhookendpoint/", f"/admin/webhooks/webhookendpoint/{endpoint.pk}/change/"):
        r = client.get(page)
        assert r.status_code == 200, page
        assert b"hunter2" not in r.content, page
        assert b"http://***@127.0.0.1:8080/hook?x=1" in r.content, page


def test_delete_webhook_prints_its_id_and_drops_its_messages(project) -> None:
    endpoint, _ = endpoint_create(project=project, mode=Mode.LIVE, url="http://127.0.0.1/in")
    CaseFactory(project=project)
    assert WebhookMessage.objects.count() == 1

    out, err = run("delete_webhook", endpoint.id)
    assert out == f"{endpoint.id}\n"
    assert "1 pending" in err
    assert not WebhookEndpoint.objects.exists()
    assert not WebhookMessage.objects.exists()
    with pytest.raises(CommandError, match="no webhook endpoint"):
        run("delete_webhook", endpoint.id)
