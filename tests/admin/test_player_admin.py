"""The staff side of players: the player page, finding cases by any identifier, subjects on
the case page, and unlinking an identifier."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from cases.services import Actor, case_create
from cases.subjects import clean_subjects
from players.models import Player, PlayerEvent, PlayerIdentifier
from tests.factories import ProjectFactory
from tokens.models import Mode, Project

pytestmark = pytest.mark.django_db

STEAM = "steam:76561197960287930"
STEAM_HEX = "steam:1100001000056ba"
DISCORD = "discord:80351110224678912"


def make_case(project: Project, title: str, *subjects: dict[str, Any]) -> Any:
    return case_create(
        project=project, mode=Mode.LIVE, title=title, subjects=clean_subjects(list(subjects)), actor=Actor.system("t")
    )


def player_url(player_id: str) -> str:
    return reverse("admin:players_player_change", args=[player_id])


def test_pasting_a_fivem_hex_steam_id_finds_the_steam64_player_s_cases(admin_client: Client) -> None:
    project = ProjectFactory()
    found = make_case(project, "Aimbot", {"identifiers": [STEAM]})
    make_case(project, "Other player", {"identifiers": [DISCORD]})
    make_case(project, "Mentions steam in its title only")

    r = admin_client.get(reverse("admin:cases_case_changelist"), {"q": f"  {STEAM_HEX} "})

    assert r.status_code == 200
    assert [case.pk for case in r.context["cl"].result_list] == [found.pk]


def test_a_search_that_is_not_an_identifier_searches_titles(admin_client: Client) -> None:
    project = ProjectFactory()
    case = make_case(project, "steam griefing")
    r = admin_client.get(reverse("admin:cases_case_changelist"), {"q": "steam"})
    assert [c.pk for c in r.context["cl"].result_list] == [case.pk]


def test_the_case_page_shows_its_subjects(admin_client: Client) -> None:
    case = make_case(ProjectFactory(), "Aimbot", {"identifiers": [STEAM], "name": "Gabe", "role": "reported"})
    r = admin_client.get(reverse("admin:cases_case_change", args=[case.pk]))
    body = r.content.decode()
    assert r.status_code == 200
    player = case.subject_list[0].player
    assert player_url(player) in body and STEAM in body and "Gabe" in body


def test_the_player_page_shows_identifiers_names_cases_and_alt_accounts(admin_client: Client) -> None:
    project = ProjectFactory()
    first = make_case(project, "First report", {"identifiers": [STEAM, "ip:203.0.113.7"], "name": "Gabe"})
    make_case(project, "Second report", {"identifiers": [STEAM_HEX], "name": "G"})
    alt = make_case(project, "Alt", {"identifiers": [DISCORD, "ip:203.0.113.7"]}).subject_list[0].player
    player = first.subject_list[0].player

    r = admin_client.get(player_url(player))

    body = r.content.decode()
    assert r.status_code == 200, body[:500]
    assert STEAM in body and "ip:~" in body and "203.0.113.7" not in body
    assert "First report" in body and "Second report" in body
    assert "Gabe" in body
    assert player_url(alt) in body  # shares the address


def test_a_merged_player_s_page_is_its_survivor_s(admin_client: Client) -> None:
    project = ProjectFactory()
    old = make_case(project, "a", {"identifiers": [STEAM]}).subject_list[0].player
    young = make_case(project, "b", {"identifiers": [DISCORD]}).subject_list[0].player
    make_case(project, "c", {"identifiers": [STEAM, DISCORD]})
    r = admin_client.get(player_url(young))
    assert r.status_code == 200
    assert r.context["original"].pk == old
    assert f"merged {young}" in r.content.decode()


def test_unlinking_an_identifier_moves_it_to_a_new_player_and_is_recorded(admin_client: Client) -> None:
    project = ProjectFactory()
    player_id = make_case(project, "a", {"identifiers": [STEAM, DISCORD]}).subject_list[0].player
    row = PlayerIdentifier.objects.get(identifier=DISCORD)
    url = reverse("admin:players_player_unlink", args=[player_id, row.pk])

    confirm = admin_client.get(url)
    assert confirm.status_code == 200 and DISCORD in confirm.content.decode()
    assert PlayerIdentifier.objects.get(pk=row.pk).player_id == player_id  # a GET changes nothing

    r = admin_client.post(url)

    assert r.status_code == 302 and r["Location"] == player_url(player_id)
    moved = PlayerIdentifier.objects.get(pk=row.pk)
    assert moved.player_id != player_id
    assert Player.objects.get(pk=moved.player_id).project_id == project.pk
    assert list(PlayerIdentifier.objects.filter(player_id=player_id).values_list("identifier", flat=True)) == [STEAM]
    event = PlayerEvent.objects.get(player_id=player_id)
    assert event.kind == "unlinked" and event.details == {"identifier": DISCORD, "to": moved.player_id}
    assert event.actor_type == "staff"


def test_the_only_identifier_cannot_be_unlinked(admin_client: Client) -> None:
    player_id = make_case(ProjectFactory(), "a", {"identifiers": [STEAM]}).subject_list[0].player
    row = PlayerIdentifier.objects.get(identifier=STEAM)
    r = admin_client.post(reverse("admin:players_player_unlink", args=[player_id, row.pk]), follow=True)
    assert "only identifier" in r.content.decode()
    assert PlayerIdentifier.objects.get(pk=row.pk).player_id == player_id
    assert Player.objects.count() == 1


def test_an_identifier_of_another_player_is_404(admin_client: Client) -> None:
    project = ProjectFactory()
    one = make_case(project, "a", {"identifiers": [STEAM]}).subject_list[0].player
    make_case(project, "b", {"identifiers": [DISCORD]})
    other = PlayerIdentifier.objects.get(identifier=DISCORD)
    assert admin_client.post(reverse("admin:players_player_unlink", args=[one, other.pk])).status_code == 404
    assert PlayerIdentifier.objects.get(pk=other.pk).player_id != one
