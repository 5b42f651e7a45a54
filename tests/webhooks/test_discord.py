"""Discord endpoints (docs/api.md#discord): one embed per event, always inside Discord's limits,
posted to a local fake Discord that checks those limits and rate-limits like Discord does."""

from __future__ import annotations

import io
import logging
import socket
from datetime import timedelta
from typing import Any

import pytest
from django.urls import reverse
from django.utils import timezone
from hypothesis import given, settings
from hypothesis import strategies as st

from cases.models import DESCRIPTION_MAX_LENGTH
from cases.services import Actor, case_create, case_update
from media.models import Visibility
from media.services import file_create
from tests.media.samples import image
from tokens.models import Mode
from webhooks import discord as discord_format
from webhooks.models import Format, MessageStatus, WebhookEndpoint, WebhookMessage
from webhooks.services import endpoint_create

from .conftest import deliver
from .discord_fake import TOTAL_MAX, FakeDiscord, units, violations

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("private_networks_allowed")]

SYSTEM = Actor.system("test")


def _case_body(title: str, description: str, **case: Any) -> dict[str, Any]:
    """A case.created body as the service writes it, for the renderer alone."""
    return {
        "id": "ev_01JD3Z8W6V4M2Q9T7K5X1B0N3R",
        "type": "case.created",
        "created_at": "2026-12-07T18:00:00.000Z",
        "mode": "live",
        "data": {
            "case": {
                "id": "c_01JD3Z8W6V4M2Q9T7K5X1B0N3R",
                "title": title,
                "description": description,
                "status": "open",
                "attachments": [],
                "subjects": [],
                **case,
            },
            "changes": {"title": {"from": None, "to": title}},
            "actor": {"type": "token", "id": "tok_1", "name": "bot"},
        },
    }


def test_a_10000_character_description_is_cut_to_4096_with_an_ellipsis() -> None:
    description = "".join(chr(0x61 + n % 26) for n in range(10_000))
    (embed,) = discord_format.message(_case_body("Aimbot", description))["embeds"]
    assert units(embed["description"]) == 4096
    assert embed["description"] == description[:4095] + "…"
    assert violations({"embeds": [embed]}) == []


@settings(max_examples=200, deadline=None)
@given(
    title=st.text(min_size=1, max_size=700),
    description=st.text(max_size=9_000),
    names=st.lists(st.text(min_size=0, max_size=1_500), max_size=40),
)
def test_any_unicode_title_description_and_subjects_fit_discord(title: str, description: str, names: list[str]) -> None:
    subjects = [
        {"player": f"pl_{n}", "role": "reported", "name": name, "identifiers": []} for n, name in enumerate(names)
    ]
    message = discord_format.message(_case_body(title, description, subjects=subjects))
    (embed,) = message["embeds"]
    assert violations(message) == []
    # Cut, never refused or mangled: what is kept is the start of what was sent.
    shown = embed["title"]
    full = f"New case: {title}"
    if shown != full:
        assert shown.endswith("…") and full.startswith(shown[:-1])
    assert message["allowed_mentions"] == {"parse": []}


def test_twenty_five_fields_at_most_and_6000_characters_in_all() -> None:
    embed = {
        "title": "t" * 300,
        "description": "d" * 5_000,
        "fields": [{"name": "n" * 300, "value": "v" * 2_000} for _ in range(40)],
        "footer": {"text": "f" * 3_000},
    }
    fitted = discord_format.fit(embed)
    assert len(fitted["fields"]) <= 25
    assert violations({"embeds": [fitted]}) == []
    lengths = [units(fitted["title"]), units(fitted["description"]), units(fitted["footer"]["text"])]
    lengths += [units(f["name"]) + units(f["value"]) for f in fitted["fields"]]
    assert sum(lengths) <= TOTAL_MAX


def _discord_endpoint(project: Any, fake: FakeDiscord, events: list[str] | None = None) -> WebhookEndpoint:
    endpoint, _ = endpoint_create(
        project=project, mode=Mode.LIVE, url=fake.url(), format=Format.DISCORD, events=events or ()
    )
    return endpoint


def _due(message: WebhookMessage) -> None:
    """As if the wait were over (and Discord's rate limit with it)."""
    WebhookMessage.objects.filter(pk=message.pk).update(next_attempt_at=timezone.now() - timedelta(seconds=1))
    WebhookEndpoint.objects.filter(pk=message.endpoint_id).update(paused_until=None)


def test_a_case_reaches_discord_as_one_embed_after_a_429_waits_its_retry_after(project, discord, settings) -> None:
    settings.SERVEROPS = {**settings.SERVEROPS, "SITE_URL": "https://cases.example.com"}
    endpoint = _discord_endpoint(project, discord)
    discord.rate_limited, discord.retry_after = 1, 60.0
    discord.retry_after_header = 90.0  # the longer of the two is waited
    shot = file_create(
        project=project,
        mode=Mode.LIVE,
        content=io.BytesIO(image("PNG")),
        original_name="shot.png",
        visibility=Visibility.PUBLIC,
    )
    title = "Ärger am Spawn 🎮 " + "ß" * 150
    case = case_create(
        project=project,
        mode=Mode.LIVE,
        actor=SYSTEM,
        title=title,
        description="x" * DESCRIPTION_MAX_LENGTH,
        attachments=[shot.pk],
    )

    assert deliver() == 0
    message = endpoint.messages.get()
    assert message.status == MessageStatus.PENDING
    assert message.last_status_code == 429
    assert message.next_attempt_at - message.last_attempt_at >= timedelta(seconds=90)
    endpoint.refresh_from_db()
    assert endpoint.paused_until - message.last_attempt_at >= timedelta(seconds=90)

    _due(message)
    assert deliver() == 1
    ((embed,),) = [posted["embeds"] for posted in discord.posted]
    assert embed["title"] == f"New case: {title}"
    assert embed["url"] == "https://cases.example.com" + reverse("admin:cases_case_change", args=[case.pk])
    assert units(embed["description"]) == 4096 and embed["description"].endswith("…")
    assert embed["thumbnail"]["url"].endswith("/shot.png")
    assert embed["color"] == discord_format.STATUS_COLOURS["open"]
    assert {"name": "Status", "value": "open", "inline": True} in embed["fields"]
    assert discord.refused == []


def test_an_update_shows_what_changed_in_the_status_colour(project, discord) -> None:
    endpoint = _discord_endpoint(project, discord, events=["case.updated"])
    case = case_create(project=project, mode=Mode.LIVE, actor=SYSTEM, title="Spam")
    case_update(case_id=case.pk, project_id=project.pk, mode=Mode.LIVE, changes={"status": "closed"}, actor=SYSTEM)
    assert deliver() == 1
    (embed,) = discord.posted[0]["embeds"]
    assert embed["title"] == "Case updated: Spam"
    assert embed["description"] == "**status**: open → closed"
    assert embed["color"] == discord_format.STATUS_COLOURS["closed"]
    assert endpoint.messages.get().status == MessageStatus.DELIVERED


def test_a_refused_embed_is_logged_with_discord_s_body_and_not_retried(project, discord, caplog) -> None:
    endpoint = _discord_endpoint(project, discord)
    discord.refuse_next = 1
    case_create(project=project, mode=Mode.LIVE, actor=SYSTEM, title="t")
    with caplog.at_level(logging.WARNING, logger="webhooks"):
        assert deliver() == 0
    message = endpoint.messages.get()
    assert (message.status, message.attempts, message.last_status_code) == (MessageStatus.FAILED, 1, 400)
    assert message.next_attempt_at is None
    line = next(r.getMessage() for r in caplog.records if r.name == "webhooks")
    assert "Invalid Form Body" in line and "not retried" in line


@pytest.mark.parametrize(
    ("status", "helps"),
    [(None, True), (500, True), (502, True), (429, True), (408, True), (400, False), (401, False), (404, False)],
)
def test_only_answers_a_retry_can_change_are_retried(status, helps) -> None:
    assert discord_format.retrying_can_help(status) is helps


def test_x_ratelimit_remaining_0_postpones_the_next_message_without_spending_an_attempt(project, discord) -> None:
    endpoint = _discord_endpoint(project, discord)
    discord.headers = {"X-RateLimit-Limit": "5", "X-RateLimit-Remaining": "0", "X-RateLimit-Reset-After": "30.5"}
    case_create(project=project, mode=Mode.LIVE, actor=SYSTEM, title="first")
    assert deliver() == 1
    endpoint.refresh_from_db()
    assert endpoint.paused_until > timezone.now() + timedelta(seconds=25)

    case_create(project=project, mode=Mode.LIVE, actor=SYSTEM, title="second")
    deliver()
    assert discord.requests == 1  # nothing sent while the bucket is empty
    second = endpoint.messages.filter(status=MessageStatus.PENDING).get()
    assert second.attempts == 0
    assert second.next_attempt_at == endpoint.paused_until


@pytest.fixture
def public_names(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every name resolves to a public address (no DNS here); nothing is sent to it."""

    def fake(host: str, port: Any, *args: Any, **kwargs: Any) -> list[Any]:
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("162.159.128.233", port or 443))]

    monkeypatch.setattr(socket, "getaddrinfo", fake)


@pytest.mark.usefixtures("public_names")
@pytest.mark.parametrize(
    ("url", "chosen", "expected"),
    [
        ("https://discord.com/api/webhooks/1/abc", None, Format.DISCORD),
        ("https://discordapp.com/api/webhooks/1/abc", None, Format.DISCORD),
        ("https://ptb.discord.com/api/webhooks/1/abc", None, Format.DISCORD),
        ("https://discord.com/api/webhooks/1/abc", Format.STANDARD, Format.STANDARD),
        ("https://bot.example.com/api/webhooks/1/abc", None, Format.STANDARD),
        ("https://discord.com.example.net/api/webhooks/1", None, Format.STANDARD),
        ("https://discord.com/channels/1", None, Format.STANDARD),
    ],
)
def test_discord_webhook_urls_get_the_discord_format_by_themselves(project, url, chosen, expected) -> None:
    endpoint, _ = endpoint_create(project=project, mode=Mode.LIVE, url=url, format=chosen)
    assert endpoint.format == expected


def test_rate_limit_wait_reads_json_body_and_header_and_takes_the_longer() -> None:
    wait = discord_format.rate_limit_wait
    assert wait(429, '{"retry_after": 2.5}', {"retry-after": "1"}) == 2.5
    assert wait(429, '{"retry_after": 0.2}', {"retry-after": "3"}) == 3.0
    assert wait(429, "not json", {}) == 1.0
    assert wait(204, "", {"x-ratelimit-remaining": "0", "x-ratelimit-reset-after": "4.2"}) == 4.2
    assert wait(204, "", {"x-ratelimit-remaining": "3", "x-ratelimit-reset-after": "4.2"}) is None
    assert wait(500, "", {}) is None
