"""Erasure (docs/api.md, chain of custody): a player's personal data goes for good, the player,
its cases and their hash-chained history stay."""

from __future__ import annotations

import json
from io import StringIO
from typing import Any

import pytest
from django.core.management import CommandError, call_command

from cases.models import CaseEvent, CaseSubject
from players.models import Player, PlayerEvent, PlayerEventKind, PlayerIdentifier
from players.services import player_unlink_identifier

pytestmark = pytest.mark.django_db

STEAM = "steam:76561197960287930"
DISCORD = "discord:80351110224678912"
LICENSE = "license:" + "b" * 40


class _Staff:
    type, id, name = "staff", "1", "mod"


def erase(player_id: str) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command("erase_player", player_id, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def create(call: Any, *subjects: dict[str, Any]) -> dict[str, Any]:
    r = call("POST", "/v1/cases", json_body={"title": "Report", "subjects": list(subjects)})
    assert r.status_code == 201, r.content
    return r.json()  # type: ignore[no-any-return]


def test_erasing_removes_identifiers_and_names_and_keeps_the_case_and_its_history(call) -> None:
    case = create(call, {"identifiers": [STEAM, "ip:203.0.113.7", "hwid:abc-123"], "name": "Vex_TTV"})
    player_id = case["subjects"][0]["player"]
    events_before = list(CaseEvent.objects.filter(case_id=case["id"]).values_list("id", "hash"))

    out, err = erase(player_id)

    assert out.strip() == player_id
    assert "erased" in err
    r = call("GET", f"/v1/players/{player_id}")
    assert r.status_code == 200, r.content
    shown = r.json()
    assert (shown["identifiers"], shown["names"], shown["erased"]) == ([], [], True)
    assert not PlayerIdentifier.objects.filter(player_id=player_id).exists()
    # The case still names the player, without the name it was given or any identifier.
    r = call("GET", f"/v1/cases/{case['id']}")
    [subject] = r.json()["subjects"]
    assert subject == {"player": player_id, "role": "reported", "name": None, "identifiers": []}
    assert "Vex_TTV" not in json.dumps(r.json())
    assert CaseSubject.objects.get(player_id=player_id).name == ""
    # History untouched: same events, same hashes, and the chain still verifies.
    assert list(CaseEvent.objects.filter(case_id=case["id"]).values_list("id", "hash")) == events_before
    verified = StringIO()
    call_command("verify_history", stdout=verified, stderr=StringIO())
    assert verified.getvalue().startswith("verified 1 cases"), verified.getvalue()
    # Its identifiers find nobody now; a later report makes a new player.
    r = call("GET", f"/v1/players?identifier={STEAM}")
    assert r.json()["players"] == []
    again = create(call, {"identifiers": [STEAM]})
    assert again["subjects"][0]["player"] != player_id
    assert PlayerEvent.objects.filter(player_id=player_id, kind=PlayerEventKind.ERASED).count() == 1


def test_a_merged_id_erases_the_person_every_merged_player_included(call) -> None:
    first = create(call, {"identifiers": [STEAM], "name": "One"})["subjects"][0]["player"]
    second = create(call, {"identifiers": [DISCORD], "name": "Two"})["subjects"][0]["player"]
    create(call, {"identifiers": [STEAM, DISCORD]})  # merges second into first

    out, _ = erase(second)

    assert out.strip() == first
    for player in Player.objects.filter(pk__in=[first, second]):
        assert (player.erased, player.names) == (True, [])
    assert not PlayerIdentifier.objects.filter(player_id__in=[first, second]).exists()


def test_unlink_records_lose_the_identifier_they_name(call) -> None:
    player_id = create(call, {"identifiers": [STEAM, LICENSE]})["subjects"][0]["player"]
    new = player_unlink_identifier(player_id=player_id, identifier=LICENSE, actor=_Staff())

    erase(new.pk)

    unlinked = PlayerEvent.objects.get(player_id=player_id, kind=PlayerEventKind.UNLINKED)
    assert unlinked.details == {"to": new.pk}
    assert LICENSE not in json.dumps(list(PlayerEvent.objects.values_list("details", flat=True)))
    # The player the erased one was unlinked from keeps what is its own.
    assert list(PlayerIdentifier.objects.filter(player_id=player_id).values_list("identifier", flat=True)) == [STEAM]


def test_erasing_an_unknown_player_fails_and_changes_nothing(call) -> None:
    player_id = create(call, {"identifiers": [STEAM], "name": "Kept"})["subjects"][0]["player"]
    with pytest.raises(CommandError, match="no player with id 'pl_nope'"):
        erase("pl_nope")
    assert Player.objects.get(pk=player_id).names == ["Kept"]
    assert PlayerIdentifier.objects.filter(player_id=player_id).count() == 1
