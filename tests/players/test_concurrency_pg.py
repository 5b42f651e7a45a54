"""Writers linking overlapping identifiers at the same moment (PostgreSQL): no strong identifier
ends on two players, every merge lands on one survivor, and nobody deadlocks."""

from __future__ import annotations

import random
import threading

import pytest
from django.db import connection, connections
from django.test import Client

from players.models import Player, PlayerIdentifier
from tests.factories import ProjectFactory, TokenFactory

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.postgres]

WRITERS = 4
ROUNDS = 12
CHAIN = [f"roblox:{n}" for n in range(1, 7)]


@pytest.fixture(autouse=True)
def _postgres_only() -> None:
    if connection.vendor != "postgresql":
        pytest.skip("row and advisory locks need PostgreSQL; .ci/run runs this file with DATABASE_URL set")


def test_overlapping_links_merge_into_one_player_without_deadlock(settings) -> None:
    settings.SERVEROPS = {**settings.SERVEROPS, "RATE_LIMIT_PER_SECOND": 10_000, "RATE_LIMIT_PER_MINUTE": 10_000}
    project = ProjectFactory()
    auth = {"Authorization": f"Bearer {TokenFactory(project=project).plaintext}"}
    start = threading.Barrier(WRITERS)
    failures: list[str] = []
    linked: list[tuple[str, str]] = []

    def writer(seed: int) -> None:
        rng = random.Random(seed)
        client = Client()
        start.wait()
        try:
            for _ in range(ROUNDS):
                # Neighbouring pairs of one chain, in either order, sometimes as two subjects of
                # one case in either order: every pair links, so all end as one player.
                n = rng.randrange(len(CHAIN) - 1)
                pair = [CHAIN[n], CHAIN[n + 1]]
                rng.shuffle(pair)
                if rng.random() < 0.3:
                    far = [CHAIN[0], CHAIN[-1]]
                    rng.shuffle(far)
                    subjects = [{"identifiers": [far[0]]}, {"identifiers": [far[1]], "role": "witness"}]
                else:
                    subjects = [{"identifiers": pair, "name": f"w{seed}"}]
                r = client.post(
                    "/v1/cases", {"title": "t", "subjects": subjects}, content_type="application/json", headers=auth
                )
                # Two subjects that are by now one player: a 400, the only refusal expected.
                if r.status_code == 400 and len(subjects) == 2 and b"same player" in r.content:
                    continue
                if r.status_code != 201:
                    failures.append(f"{r.status_code} {r.content!r}")
                elif len(subjects) == 1:
                    linked.append((pair[0], pair[1]))
        finally:
            connections.close_all()

    threads = [threading.Thread(target=writer, args=(seed,)) for seed in range(WRITERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    assert not any(thread.is_alive() for thread in threads), "a writer is stuck"
    assert not failures, failures
    holders = list(PlayerIdentifier.objects.filter(identifier__in=CHAIN).values_list("identifier", "player_id"))
    assert sorted(identifier for identifier, _ in holders) == sorted(CHAIN)  # each once
    # The players are exactly the groups the linked pairs make.
    group = {identifier: {identifier} for identifier in CHAIN}
    for a, b in linked:
        merged = group[a] | group[b]
        for identifier in merged:
            group[identifier] = merged
    by_player: dict[str, set[str]] = {}
    for identifier, player in holders:
        by_player.setdefault(player, set()).add(identifier)
    expected = {frozenset(g) for identifier, g in group.items() if identifier in dict(holders)}
    assert {frozenset(g) for g in by_player.values()} == expected
    assert len(by_player) < len(CHAIN), "no merge happened"
    survivors = set(by_player)
    assert not Player.objects.filter(pk__in=survivors, merged_into__isnull=False).exists()
    # A merged player points straight at a survivor, never at another merged player.
    assert not Player.objects.filter(merged_into__merged_into__isnull=False).exists()


def test_the_same_new_identifiers_sent_at_once_make_one_player(settings) -> None:
    settings.SERVEROPS = {**settings.SERVEROPS, "RATE_LIMIT_PER_SECOND": 10_000, "RATE_LIMIT_PER_MINUTE": 10_000}
    project = ProjectFactory()
    auth = {"Authorization": f"Bearer {TokenFactory(project=project).plaintext}"}
    start = threading.Barrier(WRITERS)
    players: list[str] = []
    failures: list[str] = []

    def writer(seed: int) -> None:
        client = Client()
        start.wait()
        try:
            identifiers = ["discord:80351110224678912", "license:" + "b" * 40, "ip:198.51.100.1"]
            random.Random(seed).shuffle(identifiers)
            r = client.post(
                "/v1/cases",
                {"title": "t", "subjects": [{"identifiers": identifiers}]},
                content_type="application/json",
                headers=auth,
            )
            if r.status_code != 201:
                failures.append(f"{r.status_code} {r.content!r}")
            else:
                players.append(r.json()["subjects"][0]["player"])
        finally:
            connections.close_all()

    threads = [threading.Thread(target=writer, args=(seed,)) for seed in range(WRITERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not failures, failures
    assert len(set(players)) == 1, players
    assert Player.objects.filter(project=project).count() == 1
    assert PlayerIdentifier.objects.filter(project=project).count() == 3
