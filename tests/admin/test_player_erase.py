"""Erasure from the admin (docs/operations.md#members-and-roles): owners only, recorded who and
when, and afterwards nothing in the database names the erased player: every table read back as
text (both databases) and, on PostgreSQL, the whole ``pg_dump`` of it."""

from __future__ import annotations

import os
import shutil
import subprocess
from typing import Any

import pytest
from django.contrib.admin.models import LogEntry
from django.db import connection
from django.test import Client
from django.urls import reverse

from players.models import Player, PlayerEvent, PlayerEventKind
from tests.factories import TokenFactory, staff_member
from tokens.models import Project, Role
from webhooks.services import endpoint_create

pytestmark = pytest.mark.usefixtures("private_networks_allowed")

CHANGELIST = reverse("admin:players_player_changelist")
NAME = "Vex_TTV_Erasable"
STEAM_ID = "76561197960287931"
DISCORD_ID = "80351110224678913"
IDENTIFIERS = [f"steam:{STEAM_ID}", f"discord:{DISCORD_ID}", "ip:203.0.113.77"]
# What must not be left anywhere: the name, and each identifier's distinctive part.
TRACES = [NAME, NAME.lower(), STEAM_ID, hex(int(STEAM_ID))[2:], DISCORD_ID, "203.0.113.77"]


def report(client: Client, project: Project) -> str:
    """A case about the player, through the API, with a webhook endpoint listening: the player's
    name and identifiers then sit in the case, the player, the outbox and the history."""
    endpoint_create(project=project, mode="live", url="http://127.0.0.1:9/hook", events=["case.created"])
    token = TokenFactory(project=project, scopes=["cases:write"])
    r = client.post(
        "/v1/cases",
        {"title": "Aimbot at spawn", "subjects": [{"identifiers": IDENTIFIERS, "name": NAME}]},
        content_type="application/json",
        headers={"Authorization": f"Bearer {token.plaintext}", "Idempotency-Key": "report-1"},
    )
    assert r.status_code == 201, r.content
    player_id: str = r.json()["subjects"][0]["player"]
    return player_id


def erase_in_admin(client: Client, player_id: str) -> Any:
    confirm = client.post(CHANGELIST, {"action": "erase_players", "_selected_action": [player_id]})
    assert confirm.status_code == 200 and player_id in confirm.content.decode()
    assert Player.objects.get(pk=player_id).erased is False  # nothing before the confirmation
    return client.post(CHANGELIST, {"action": "erase_players", "_selected_action": [player_id], "post": "yes"})


def every_table_as_text() -> str:
    """Every row of every table of the database, as text."""
    texts = []
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names(cursor):
            # The table names are the database's own, quoted.
            cursor.execute(f"SELECT * FROM {connection.ops.quote_name(table)}")  # noqa: S608
            texts.extend(repr(row) for row in cursor.fetchall())
    return "\n".join(texts)


def found(text: str) -> list[str]:
    return [trace for trace in TRACES if trace in text]


@pytest.mark.django_db
def test_an_owner_erases_a_player_and_no_table_names_it_afterwards(client: Client, project: Project) -> None:
    player_id = report(client, project)
    assert found(every_table_as_text()), "the test's data does not name the player"
    owner = staff_member(project.organisation, Role.OWNER, username="the-owner")
    client.force_login(owner)

    r = erase_in_admin(client, player_id)

    assert r.status_code == 302, r.content
    player = Player.objects.get(pk=player_id)
    assert player.erased and player.names == []
    event = PlayerEvent.objects.get(player_id=player_id, kind=PlayerEventKind.ERASED)
    assert (event.actor_type, event.actor_id, event.actor_name) == ("staff", str(owner.pk), "the-owner")
    assert event.created_at is not None
    assert LogEntry.objects.filter(object_id=player_id, user=owner).exists()
    assert found(every_table_as_text()) == []


@pytest.mark.django_db
@pytest.mark.parametrize("role", [Role.VIEWER, Role.MODERATOR, Role.ADMIN])
def test_only_owners_may_erase(client: Client, project: Project, role: Role) -> None:
    player_id = report(client, project)
    client.force_login(staff_member(project.organisation, role))

    listed = client.get(CHANGELIST)
    client.post(CHANGELIST, {"action": "erase_players", "_selected_action": [player_id], "post": "yes"})

    assert "erase_players" not in listed.content.decode()
    assert Player.objects.get(pk=player_id).erased is False


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_pg_dump_after_erasure_holds_none_of_the_player(client: Client, project: Project) -> None:
    if connection.vendor != "postgresql":
        pytest.skip("pg_dump reads PostgreSQL; .ci/run runs this file with DATABASE_URL set")
    player_id = report(client, project)
    client.force_login(staff_member(project.organisation, Role.OWNER))

    assert erase_in_admin(client, player_id).status_code == 302

    settings = connection.settings_dict
    command = [
        shutil.which("pg_dump") or "pg_dump",
        "--data-only",
        f"--host={settings['HOST'] or '127.0.0.1'}",
        f"--port={settings['PORT'] or 5432}",
        f"--username={settings['USER']}",
        settings["NAME"],
    ]
    env = {**os.environ, "PGPASSWORD": settings["PASSWORD"] or ""}
    dump = subprocess.run(command, env=env, capture_output=True, text=True, check=True, timeout=120)
    assert player_id in dump.stdout  # the dump holds the erased player's row, without its data
    assert found(dump.stdout) == []
