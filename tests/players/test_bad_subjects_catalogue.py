"""The hostile-input catalogue of players and subjects: each input a 400 in the envelope naming
``subjects`` (or the query parameter), with nothing written: no player, no identifier, no case
change. Runs on SQLite and on PostgreSQL."""

from __future__ import annotations

from typing import Any

import pytest

from cases.models import Case, CaseEvent, CaseSubject
from players.models import Player, PlayerEvent, PlayerIdentifier
from tests.factories import ProjectFactory, TokenFactory
from tokens.models import Mode

pytestmark = pytest.mark.django_db

CASE = "{case}"
KNOWN = "{known}"  # the player already subject of the case
FOREIGN = "{foreign}"  # a player of another project
TEST_MODE = "{test_mode}"  # a player of the same project in test mode
STEAM = "steam:76561197960287930"
NEVER = "pl_01JD3Z8W6V4M2Q9T7K5X1B0N3R"
S = "subjects"


def subjects(*items: Any) -> dict[str, Any]:
    return {"title": "t", "subjects": list(items)}


def ids(*identifiers: Any) -> dict[str, Any]:
    return {"identifiers": list(identifiers)}


BODIES: list[Any] = [
    pytest.param(subjects(ids("steam:123")), id="steam-out-of-range"),
    pytest.param(subjects(ids("steam:1100001000056bz")), id="steam-hex-not-hex"),
    pytest.param(subjects(ids("steam:STEAM_0:2:1")), id="steam2-bad-y"),
    pytest.param(subjects(ids("license:abc")), id="license-short"),
    pytest.param(subjects(ids("discord:123")), id="discord-short"),
    pytest.param(subjects(ids("minecraft:not-a-uuid")), id="minecraft-malformed"),
    pytest.param(subjects(ids("epic:" + "z" * 32)), id="epic-not-hex"),
    pytest.param(subjects(ids(STEAM, "ip:999.1.1.1")), id="ip-malformed"),
    pytest.param(subjects(ids(STEAM, "hwid:" + "x" * 129)), id="hwid-too-long"),
    pytest.param(subjects(ids("ssn:123-45-6789")), id="unknown-type"),
    pytest.param(subjects(ids("76561197960287930")), id="no-type"),
    pytest.param(subjects(ids("steam:76561197960287930\x00")), id="identifier-nul"),
    pytest.param(subjects(ids(76561197960287930)), id="identifier-number"),
    pytest.param(subjects(ids(None)), id="identifier-null"),
    pytest.param(subjects(ids("x" * 10_000)), id="identifier-10000-chars"),
    pytest.param(subjects({"identifiers": []}), id="identifiers-empty"),
    pytest.param(subjects({"identifiers": STEAM}), id="identifiers-string"),
    pytest.param(subjects(ids(*[f"roblox:{n}" for n in range(17)])), id="identifiers-17"),
    pytest.param(subjects(ids("ip:203.0.113.7")), id="only-weak-ip"),
    pytest.param(subjects(ids("ip:203.0.113.7", "hwid:abc")), id="only-weak-ip-and-hwid"),
    pytest.param(subjects({**ids(STEAM), "role": "suspect"}), id="role-unknown"),
    pytest.param(subjects({**ids(STEAM), "role": None}), id="role-null"),
    pytest.param(subjects({**ids(STEAM), "role": "REPORTED"}), id="role-uppercase"),
    pytest.param(subjects({**ids(STEAM), "name": "a\nb"}), id="name-newline"),
    pytest.param(subjects({**ids(STEAM), "name": "a\x00b"}), id="name-nul"),
    pytest.param(subjects({**ids(STEAM), "name": "\x9b"}), id="name-c1-control"),
    pytest.param(subjects({**ids(STEAM), "name": "n" * 65}), id="name-65-chars"),
    pytest.param(subjects({**ids(STEAM), "name": ""}), id="name-empty"),
    pytest.param(subjects({**ids(STEAM), "name": 5}), id="name-number"),
    pytest.param(subjects({**ids(STEAM), "ip": "203.0.113.7"}), id="unknown-key"),
    pytest.param(subjects({**ids(STEAM), "player": KNOWN}), id="player-and-identifiers"),
    pytest.param(subjects({"role": "reported"}), id="neither-player-nor-identifiers"),
    pytest.param(subjects("steam:76561197960287930"), id="subject-a-string"),
    pytest.param(subjects([STEAM]), id="subject-a-list"),
    pytest.param({"title": "t", "subjects": None}, id="subjects-null"),
    pytest.param({"title": "t", "subjects": {"identifiers": [STEAM]}}, id="subjects-object"),
    pytest.param(subjects(*[ids(f"roblox:{n}") for n in range(11)]), id="subjects-11"),
    pytest.param(subjects({"player": FOREIGN}), id="player-of-another-project"),
    pytest.param(subjects({"player": TEST_MODE}), id="player-of-test-mode"),
    pytest.param(subjects({"player": NEVER}), id="player-never-existed"),
    pytest.param(subjects({"player": "pl_nope"}), id="player-malformed"),
    pytest.param(subjects({"player": 7}), id="player-number"),
    pytest.param(subjects({"player": KNOWN}, {"player": KNOWN}), id="same-player-twice"),
    pytest.param(subjects(ids(STEAM), ids("steam:1100001000056ba")), id="one-account-two-spellings"),
    pytest.param(subjects(ids(STEAM), {"player": KNOWN}), id="identifier-and-id-of-one-player"),
    pytest.param(subjects(ids("discord:80351110224678912"), ids("roblox:1"), {"player": FOREIGN}), id="third-foreign"),
]

QUERIES: list[Any] = [
    pytest.param("/v1/players?identifier=steam:1", "identifier", id="lookup-malformed"),
    pytest.param("/v1/players?identifier=ssn:1", "identifier", id="lookup-unknown-type"),
    pytest.param("/v1/players?identifier=", "identifier", id="lookup-empty"),
    pytest.param("/v1/players?identifier=%00", "identifier", id="lookup-nul"),
    pytest.param("/v1/players?" + "&".join(f"identifier=roblox:{n}" for n in range(17)), "identifier", id="lookup-17"),
    pytest.param("/v1/players?identifier=" + "x" * 5000, "identifier", id="lookup-5000-chars"),
    pytest.param("/v1/players?cursor=%00", "cursor", id="players-bad-cursor"),
    pytest.param("/v1/players?limit=0", "limit", id="players-bad-limit"),
    # Found by schemathesis: a lookup took (and ignored) any limit, 6,572,453 included.
    pytest.param("/v1/players?identifier=roblox:1&limit=6572453", "limit", id="lookup-with-limit"),
    pytest.param("/v1/players?identifier=roblox:1&limit=5", "limit", id="lookup-with-valid-limit"),
    pytest.param("/v1/players?identifier=roblox:1&cursor=abc", "cursor", id="lookup-with-cursor"),
    pytest.param("/v1/cases?identifier=steam:1", "identifier", id="cases-identifier-malformed"),
    pytest.param("/v1/cases?identifier=ip:bad", "identifier", id="cases-identifier-bad-ip"),
    pytest.param(f"/v1/cases?identifier={STEAM}&identifier=roblox:1", "identifier", id="cases-two-identifiers"),
    pytest.param(f"/v1/cases?player={NEVER}&player={NEVER}", "player", id="cases-two-players"),
    pytest.param("/v1/cases?player=nope", "player", id="cases-player-malformed"),
    pytest.param("/v1/cases?player=%00", "player", id="cases-player-nul"),
]


@pytest.fixture
def world(call, project) -> dict[str, str]:
    r = call("POST", "/v1/cases", json_body={"title": "seed", "subjects": [{"identifiers": [STEAM], "name": "G"}]})
    assert r.status_code == 201, r.content
    other = TokenFactory(project=ProjectFactory())
    test_mode = TokenFactory(project=project, mode=Mode.TEST)
    found = {}
    for key, token in (("foreign", other), ("test_mode", test_mode)):
        made = call(
            "POST",
            "/v1/cases",
            json_body={"title": "t", "subjects": [{"identifiers": ["roblox:99"]}]},
            auth=f"Bearer {token.plaintext}",
        )
        assert made.status_code == 201, made.content
        found[key] = made.json()["subjects"][0]["player"]
    return {"case": r.json()["id"], "known": r.json()["subjects"][0]["player"], **found}


def _fill(value: Any, world: dict[str, str]) -> Any:
    if isinstance(value, str):
        for key, filled in world.items():
            value = value.replace("{" + key + "}", filled)
        return value
    if isinstance(value, list):
        return [_fill(item, world) for item in value]
    if isinstance(value, dict):
        return {key: _fill(item, world) for key, item in value.items()}
    return value


def _database() -> tuple[Any, ...]:
    return tuple(
        list(model.objects.order_by("pk").values())
        for model in (Case, CaseEvent, CaseSubject, Player, PlayerIdentifier, PlayerEvent)
    )


def _refused(r: Any, param: str) -> None:
    assert r.status_code == 400, r.content[:500]
    error = r.json()["error"]
    assert error["code"] == "bad_request" and error["param"] == param, error
    assert not error["message"].endswith("."), error


@pytest.mark.parametrize("method", ["POST", "PATCH"])
@pytest.mark.parametrize("body", BODIES)
def test_bad_subjects_get_a_400_naming_subjects_and_write_nothing(call, world, used_token, method, body) -> None:
    body = _fill(body, world)
    if method == "PATCH":
        body = {"subjects": body["subjects"]}
    before = _database()
    r = call(method, "/v1/cases" if method == "POST" else f"/v1/cases/{world['case']}", json_body=body)
    _refused(r, S)
    assert _database() == before


@pytest.mark.parametrize(("path", "param"), QUERIES)
def test_bad_query_parameters_get_a_400_naming_them(call, world, path, param) -> None:
    before = _database()
    _refused(call("GET", path), param)
    assert _database() == before


def test_the_catalogue_counts() -> None:
    assert len(BODIES) >= 40 and len(QUERIES) >= 10
