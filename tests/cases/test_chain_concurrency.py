"""Concurrent writers of one case never fork its history's chain: threads on PostgreSQL, processes
on a SQLite file (the deployment default: WAL, IMMEDIATE transactions)."""

from __future__ import annotations

import itertools
import os
import sqlite3
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from django.db import connection, connections
from django.test import Client

from cases import chain
from cases.models import Case, CaseEvent
from cases.services import Actor, case_event_record
from tests.factories import CaseFactory, TokenFactory

ROOT = Path(__file__).resolve().parents[2]
WRITERS = 4
ROUNDS = 15


def _linear(case_id: str) -> list[CaseEvent]:
    events = list(CaseEvent.objects.filter(case_id=case_id).order_by("created_at", "id"))
    count, broken = chain.verify(case_id, Case.objects.get(pk=case_id).history_head, events)
    assert broken is None, broken
    assert count == len(events)
    return events


@pytest.mark.django_db(transaction=True)
@pytest.mark.postgres
def test_concurrent_writers_on_postgresql_append_one_chain(settings) -> None:
    if connection.vendor != "postgresql":
        pytest.skip("row locks need PostgreSQL; .ci/run runs this file with DATABASE_URL set")
    settings.SERVEROPS = {**settings.SERVEROPS, "RATE_LIMIT_PER_SECOND": 10_000, "RATE_LIMIT_PER_MINUTE": 10_000}
    case = CaseFactory()
    auth = {"Authorization": f"Bearer {TokenFactory(project=case.project).plaintext}"}
    start = threading.Barrier(WRITERS + 1)
    failures: list[str] = []

    def patcher(n: int) -> None:
        client = Client()
        start.wait()
        try:
            for r in range(ROUNDS):
                body = {"title": f"writer {n} round {r}"} if n % 2 else {"description": f"{n}.{r}"}
                response = client.patch(f"/v1/cases/{case.pk}", body, content_type="application/json", headers=auth)
                if response.status_code != 200:
                    failures.append(f"{n}.{r}: {response.status_code} {response.content!r}")
        finally:
            connections.close_all()

    def noter() -> None:
        # Another kind of event, written under the row lock rather than the compare-and-set.
        start.wait()
        try:
            for r in range(ROUNDS):
                case_event_record(
                    case_id=case.pk, actor=Actor.system("tests"), changes={"note": {"from": None, "to": r}}
                )
        finally:
            connections.close_all()

    threads = [threading.Thread(target=patcher, args=(n,)) for n in range(WRITERS)]
    threads.append(threading.Thread(target=noter))
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=180)
    assert not failures, failures
    events = _linear(case.pk)
    assert len(events) == 1 + (WRITERS + 1) * ROUNDS


SCRIPT_CREATE = """
from cases.services import Actor, case_create
from tokens.services import project_create
project = project_create(name="race", organisation_name="race")
print(case_create(project=project, mode="live", title="raced", actor=Actor.system("t")).pk)
"""

SCRIPT_WRITE = """
import pathlib, sys, time
from cases.services import Actor, case_event_record, case_update
case_id, n, ready = sys.argv[-3], int(sys.argv[-2]), pathlib.Path(sys.argv[-1])
(ready / str(n)).touch()
while len(list(ready.iterdir())) < {writers}:  # a barrier: every writer set up before any writes
    time.sleep(0.01)
for r in range({rounds}):
    # A pause between transactions: SQLite's busy handler would otherwise let the writer that
    # holds the lock take it again and again before the waiting ones wake up.
    time.sleep(0.01)
    if r % 3 == 2:
        case_event_record(case_id=case_id, actor=Actor.system(f"w{{n}}"), changes={{"note": {{"from": None, "to": r}}}})
    else:
        case_update(case_id=case_id, changes={{"title": f"writer {{n}} round {{r}}"}}, actor=Actor.system(f"w{{n}}"))
"""


@pytest.mark.django_db
def test_concurrent_writer_processes_on_a_sqlite_file_append_one_chain(tmp_path) -> None:
    if connection.vendor != "sqlite":
        pytest.skip("the same race on PostgreSQL is the threads test above")
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "serverops.settings.base",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'race.sqlite3'}",
        "MEDIA_ROOT": str(tmp_path / "media"),
    }

    def manage(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300
        )

    assert manage("migrate", "--noinput", "-v0").returncode == 0
    created = subprocess.run(
        [sys.executable, "-c", _django_script(SCRIPT_CREATE)], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert created.returncode == 0, created.stderr
    case_id = created.stdout.strip().splitlines()[-1]
    script = SCRIPT_WRITE.format(rounds=ROUNDS, writers=WRITERS)
    ready = tmp_path / "ready"
    ready.mkdir()
    writers = [
        subprocess.Popen(
            [sys.executable, "-c", _django_script(script), case_id, str(n), str(ready)],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for n in range(WRITERS)
    ]
    for writer in writers:
        _, err = writer.communicate(timeout=300)
        assert writer.returncode == 0, err
    verified = manage("verify_history")
    assert verified.returncode == 0, verified.stderr
    events = 1 + WRITERS * ROUNDS
    assert verified.stdout.strip() == f"verified 1 cases, {events} events"
    # The writers' events interleave: they did race.
    with sqlite3.connect(tmp_path / "race.sqlite3") as db:
        rows = db.execute("SELECT actor_id FROM cases_caseevent ORDER BY created_at, id").fetchall()
    writers_in_order = [actor_id for (actor_id,) in rows[1:]]
    switches = sum(1 for a, b in itertools.pairwise(writers_in_order) if a != b)
    assert switches > WRITERS, writers_in_order


def _django_script(body: str) -> str:
    return "import django\ndjango.setup()\n" + body
