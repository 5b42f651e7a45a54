"""Hot statements are planned once per connection, not on every request (PostgreSQL).

Statements are prepared (``DATABASE_PREPARED_STATEMENTS``), and PostgreSQL re-plans a prepared
statement on every run unless its generic plan looks no costlier than the plans made for the
actual values. An array parameter (``= ANY(%s)``) is guessed at 10 elements in the generic plan,
so a statement sent one to three values kept being planned anew, at several times the cost of
running it (bench/PROFILE.md, section 15).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import pytest
from django.db import connection

from cases.models import Case, CaseSubject
from cases.queries import load_subjects
from players.models import Player, PlayerIdentifier
from tokens.models import Mode, Project

pytestmark = [pytest.mark.django_db, pytest.mark.postgres]

PLAYERS = 2000


@pytest.fixture(autouse=True)
def _postgres_only() -> None:
    if connection.vendor != "postgresql":
        pytest.skip("PostgreSQL's plan cache; .ci/run runs this file with DATABASE_URL set")


def _identifiers(n: int) -> list[str]:
    return [f"steam:{76561197960265728 + n}", "license:" + f"{n:040x}", f"discord:{10**17 + n}"]


def _plans(table: str, *, union: bool | None = None) -> tuple[int, int]:
    """(generic, custom) plans of the one prepared statement reading ``table`` (with ``union``,
    the one with, or the one without, a ``UNION ALL``)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT generic_plans, custom_plans FROM pg_prepared_statements "
            "WHERE statement LIKE %s AND (%s::boolean IS NULL OR (statement LIKE %s) = %s::boolean)",
            [f'%FROM "{table}"%', union, "%UNION ALL%", union],
        )
        [plans] = cursor.fetchall()
    return plans[0], plans[1]


@pytest.fixture
def seeded(project: Project) -> Project:
    players = Player.objects.bulk_create(Player(project=project, mode=Mode.LIVE) for _ in range(PLAYERS))
    PlayerIdentifier.objects.bulk_create(
        PlayerIdentifier(project=project, mode=Mode.LIVE, player=player, identifier=identifier, strong=True)
        for n, player in enumerate(players)
        for identifier in _identifiers(n)
    )
    with connection.cursor() as cursor:
        cursor.execute(f"ANALYZE {Player._meta.db_table}, {PlayerIdentifier._meta.db_table}")
    return project


@pytest.mark.parametrize("sent", [1, 3])
def test_the_player_lookup_runs_on_a_generic_plan_after_its_first_runs(call: Any, seeded: Project, sent: int) -> None:
    for n in range(12):  # prepared after 2 runs; a generic plan is weighed after 5 custom ones
        query = "&".join(f"identifier={quote(identifier)}" for identifier in _identifiers(n * 97)[:sent])
        r = call("GET", f"/v1/players?{query}")
        assert r.status_code == 200, r.content
        [player] = r.json()["players"]
        assert player["identifiers"] == sorted(_identifiers(n * 97))
    generic, custom = _plans(PlayerIdentifier._meta.db_table)
    assert generic > 0
    assert custom <= 5


def test_a_cases_subjects_run_on_a_generic_plan_after_their_first_reads(call: Any) -> None:
    """Both ways subjects are read: with the case itself (a GET, one ``UNION ALL`` statement) and
    for cases already read (``queries.load_subjects``, one parameter per case)."""
    made = []
    for n in range(12):
        subjects = [{"identifiers": _identifiers(n)}]
        r = call("POST", "/v1/cases", json_body={"title": f"Report {n}", "subjects": subjects})
        assert r.status_code == 201, r.content
        made.append(r.json())
    for case in made:
        r = call("GET", f"/v1/cases/{case['id']}")
        assert r.status_code == 200, r.content
        assert r.json()["subjects"] == case["subjects"]
        [read] = Case.objects.filter(pk=case["id"])
        load_subjects([read])
        assert [subject.player for subject in read.subject_list] == [s["player"] for s in case["subjects"]]
    for union in (True, False):
        generic, custom = _plans(CaseSubject._meta.db_table, union=union)
        assert generic > 0, union
        assert custom <= 5, union
