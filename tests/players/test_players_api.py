"""Players through the API: subjects link identifiers to players, merges, weak identifiers,
tenancy and mode, the lookup, and history holding player ids and roles only."""

from __future__ import annotations

import json
from typing import Any

import pytest

from cases.models import CaseEvent, CaseSubject
from players.models import Player, PlayerEvent, PlayerIdentifier
from tests.factories import ProjectFactory, TokenFactory
from tokens.models import Mode

pytestmark = pytest.mark.django_db

STEAM = "steam:76561197960287930"
STEAM_HEX = "steam:1100001000056ba"
LICENSE = "license:" + "a" * 40
DISCORD = "discord:80351110224678912"
ROBLOX = "roblox:261"


def create(call: Any, *subjects: dict[str, Any], title: str = "Report") -> dict[str, Any]:
    r = call("POST", "/v1/cases", json_body={"title": title, "subjects": list(subjects)})
    assert r.status_code == 201, r.content
    return r.json()  # type: ignore[no-any-return]


def lookup(call: Any, *identifiers: str) -> list[dict[str, Any]]:
    query = "&".join(f"identifier={i}" for i in identifiers)
    r = call("GET", f"/v1/players?{query}")
    assert r.status_code == 200, r.content
    return r.json()["players"]  # type: ignore[no-any-return]


def test_a_subject_makes_a_player_shown_in_the_case(call) -> None:
    body = create(call, {"identifiers": [STEAM_HEX, "ip:203.0.113.7"], "name": "Gabe"})
    [subject] = body["subjects"]
    assert subject["player"].startswith("pl_")
    assert subject["role"] == "reported" and subject["name"] == "Gabe"
    assert subject["identifiers"] == sorted([STEAM, subject["identifiers"][0]])
    assert subject["identifiers"][0].startswith("ip:~")
    assert "203.0.113.7" not in json.dumps(body)
    [player] = lookup(call, STEAM)
    assert player["id"] == subject["player"]
    assert player["names"] == ["Gabe"]
    assert player["cases"] == {"open": 1, "closed": 0, "archived": 0}
    assert player["erased"] is False


def test_two_spellings_of_one_steam_account_are_one_player(call) -> None:
    first = create(call, {"identifiers": [STEAM]})["subjects"][0]["player"]
    second = create(call, {"identifiers": ["steam:STEAM_0:0:11101"]})["subjects"][0]["player"]
    assert first == second
    assert PlayerIdentifier.objects.filter(identifier=STEAM).count() == 1


def test_new_identifiers_join_the_player_holding_one_of_them(call) -> None:
    player = create(call, {"identifiers": [STEAM]})["subjects"][0]["player"]
    again = create(call, {"identifiers": [STEAM, LICENSE, DISCORD]})["subjects"][0]
    assert again["player"] == player
    assert again["identifiers"] == sorted([STEAM, LICENSE, DISCORD])
    assert [p["id"] for p in lookup(call, DISCORD)] == [player]


def test_a_subject_naming_two_players_merges_them_into_the_oldest(call, project) -> None:
    old_case = create(call, {"identifiers": [STEAM], "name": "old"})
    old = old_case["subjects"][0]["player"]
    young_case = create(call, {"identifiers": [DISCORD], "name": "young", "role": "reporter"})
    young = young_case["subjects"][0]["player"]
    merged = create(call, {"identifiers": [DISCORD, STEAM]})["subjects"][0]
    assert merged["player"] == old
    assert merged["identifiers"] == sorted([STEAM, DISCORD])
    assert Player.objects.get(pk=young).merged_into_id == old
    # The merged id answers with the survivor; its cases name the survivor.
    r = call("GET", f"/v1/players/{young}")
    assert r.status_code == 200, r.content
    assert r.json()["id"] == old and r.json()["names"] == ["old", "young"]
    assert call("GET", f"/v1/cases/{young_case['id']}").json()["subjects"][0]["player"] == old
    listed = call("GET", f"/v1/cases?player={young}").json()["cases"]
    assert {case["id"] for case in listed} == {old_case["id"], young_case["id"], *[c["id"] for c in listed]}
    assert len(listed) == 3
    event = PlayerEvent.objects.get(player_id=old)
    assert event.kind == "merged" and event.details == {"merged": [young]}
    # Only survivors are listed.
    assert [p["id"] for p in call("GET", "/v1/players").json()["players"]] == [old]


def test_merging_a_case_that_named_both_players_keeps_one_subject(call) -> None:
    both = create(call, {"identifiers": [STEAM]}, {"identifiers": [DISCORD], "role": "witness"})
    create(call, {"identifiers": [STEAM, DISCORD]})
    subjects = call("GET", f"/v1/cases/{both['id']}").json()["subjects"]
    assert [(s["player"], s["role"]) for s in subjects] == [(both["subjects"][0]["player"], "reported")]


def test_weak_identifiers_never_link_players(call) -> None:
    one = create(call, {"identifiers": [STEAM, "ip:203.0.113.7", "hwid:2:abc"]})["subjects"][0]["player"]
    two = create(call, {"identifiers": [DISCORD, "ip:203.0.113.7", "hwid:2:abc"]})["subjects"][0]["player"]
    assert one != two
    assert {p["id"] for p in lookup(call, "ip:203.0.113.7")} == {one, two}
    assert {p["id"] for p in lookup(call, "ip:::ffff:203.0.113.7")} == {one, two}
    shown = next(i for i in lookup(call, STEAM)[0]["identifiers"] if i.startswith("ip:"))
    assert {p["id"] for p in lookup(call, shown)} == {one, two}
    assert {c["id"] for c in call("GET", "/v1/cases?identifier=hwid:2:abc").json()["cases"]} == {
        c.case_id for c in CaseSubject.objects.all()
    }


def test_names_are_distinct_last_ten_most_recent_first(call) -> None:
    for n in range(12):
        create(call, {"identifiers": [STEAM], "name": f"name{n}"})
    create(call, {"identifiers": [STEAM], "name": "name5"})
    [player] = lookup(call, STEAM)
    assert player["names"] == ["name5", *[f"name{n}" for n in (11, 10, 9, 8, 7, 6, 4, 3, 2)]]


def test_a_player_id_subject_and_patch_replace_semantics(call) -> None:
    case = create(call, {"identifiers": [STEAM]})
    player = case["subjects"][0]["player"]
    other = create(call, {"identifiers": [ROBLOX]})["subjects"][0]["player"]
    r = call(
        "PATCH",
        f"/v1/cases/{case['id']}",
        json_body={"subjects": [{"player": other, "role": "reporter"}, {"player": player, "name": "G"}]},
    )
    assert r.status_code == 200, r.content
    assert [(s["player"], s["role"], s["name"]) for s in r.json()["subjects"]] == [
        (other, "reporter", None),
        (player, "reported", "G"),
    ]
    r = call("PATCH", f"/v1/cases/{case['id']}", json_body={"subjects": []})
    assert r.status_code == 200, r.content
    assert r.json()["subjects"] == []
    changes = [e["changes"]["subjects"] for e in call("GET", f"/v1/cases/{case['id']}/events").json()["events"]]
    assert changes == [
        {"from": None, "to": [{"player": player, "role": "reported"}]},
        {
            "from": [{"player": player, "role": "reported"}],
            "to": [{"player": other, "role": "reporter"}, {"player": player, "role": "reported"}],
        },
        {"from": [{"player": other, "role": "reporter"}, {"player": player, "role": "reported"}], "to": []},
    ]


def test_history_holds_player_ids_and_roles_only(call) -> None:
    create(call, {"identifiers": [STEAM, "ip:198.51.100.4", "hwid:xyz"], "name": "Secret Name"})
    stored = json.dumps(list(CaseEvent.objects.values_list("changes", flat=True)))
    for private in ("765611979", "198.51.100.4", "hwid", "Secret Name", "ip:"):
        assert private not in stored


def test_a_patch_sending_the_same_subjects_changes_nothing(call) -> None:
    case = create(call, {"identifiers": [STEAM], "name": "G"})
    r = call("PATCH", f"/v1/cases/{case['id']}", json_body={"subjects": [{"identifiers": [STEAM_HEX], "name": "G"}]})
    assert r.status_code == 200, r.content
    assert r.json()["updated_at"] == case["updated_at"]
    assert CaseEvent.objects.filter(case_id=case["id"]).count() == 1


def test_an_etag_moves_when_a_subject_s_player_gains_an_identifier(call) -> None:
    case = create(call, {"identifiers": [STEAM]})
    before = call("GET", f"/v1/cases/{case['id']}")
    create(call, {"identifiers": [STEAM, DISCORD]})
    after = call("GET", f"/v1/cases/{case['id']}")
    assert before["ETag"] != after["ETag"]
    assert after.json()["subjects"][0]["identifiers"] == sorted([STEAM, DISCORD])


def test_players_are_isolated_by_project_and_mode(call, project) -> None:
    create(call, {"identifiers": [STEAM]})
    other_project = TokenFactory(project=ProjectFactory())
    test_mode = TokenFactory(project=project, mode=Mode.TEST)
    for token in (other_project, test_mode):
        auth = f"Bearer {token.plaintext}"
        r = call("GET", f"/v1/players?identifier={STEAM}", auth=auth)
        assert r.status_code == 200 and r.json() == {"players": []}, r.content
        player = Player.objects.get(project=project, mode=Mode.LIVE)
        assert call("GET", f"/v1/players/{player.pk}", auth=auth).status_code == 404
        assert call("GET", f"/v1/cases?player={player.pk}", auth=auth).json()["cases"] == []
        r = call("POST", "/v1/cases", json_body={"title": "t", "subjects": [{"identifiers": [STEAM]}]}, auth=auth)
        assert r.status_code == 201, r.content
        assert r.json()["subjects"][0]["player"] != player.pk
    assert PlayerIdentifier.objects.filter(identifier=STEAM).count() == 3


def test_cases_by_identifier_combine_with_status_and_paging(call) -> None:
    ids = [create(call, {"identifiers": [STEAM]}, title=f"r{n}")["id"] for n in range(5)]
    create(call, {"identifiers": [DISCORD]})
    call("PATCH", f"/v1/cases/{ids[0]}", json_body={"status": "closed"})
    seen: list[str] = []
    base = f"/v1/cases?identifier={STEAM_HEX}&status=open&limit=2"
    url = base
    while url:
        body = call("GET", url).json()
        seen += [case["id"] for case in body["cases"]]
        url = body["next_cursor"] and f"{base}&cursor={body['next_cursor']}"
    assert seen == list(reversed(ids[1:]))
    [player] = lookup(call, STEAM)
    assert player["cases"] == {"open": 4, "closed": 1, "archived": 0}


def test_the_players_list_pages_most_recently_updated_first(call) -> None:
    made = [create(call, {"identifiers": [f"roblox:{n}"]})["subjects"][0]["player"] for n in range(5)]
    seen: list[str] = []
    url = "/v1/players?limit=2"
    while url:
        body = call("GET", url).json()
        seen += [player["id"] for player in body["players"]]
        url = body["next_cursor"] and f"/v1/players?limit=2&cursor={body['next_cursor']}"
    assert seen == list(reversed(made))


def test_the_lookup_is_one_statement_after_authentication(call, used_token, django_assert_num_queries) -> None:
    create(call, {"identifiers": [STEAM, LICENSE, "ip:203.0.113.9"]}, {"identifiers": [DISCORD]})
    with django_assert_num_queries(2):  # the token; the players with identifiers and case counts
        r = call("GET", f"/v1/players?identifier={STEAM_HEX}&identifier={DISCORD}&identifier=ip:203.0.113.9")
    assert r.status_code == 200, r.content
    assert len(r.json()["players"]) == 2
