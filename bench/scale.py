"""Data at scale (issue 26): the same requests at 10 K and at 10 M history events, side by side.

``python -m bench.scale [--cases N ...] [--tiny]`` seeds one PostgreSQL database per size
(``<database-url>_<cases>``, kept and reused while its counts match) with N live cases, each
with ``EVENTS_PER_CASE`` history events and ``FILES_PER_CASE`` attached files, all in SQL
(``generate_series``: the seeding time is printed). The defaults are the issue's sizes:
1,000 cases (10,000 events, 3,000 files) against 1,000,000 cases (10,000,000 events,
3,000,000 files).

Then, in rounds that alternate the sizes, it drives Django's WSGI handler in process (every
middleware, authentication, the rate limit, the serializers; no network) with:

- the first page of ``GET /v1/cases?limit=50``;
- page 10,000 of that list (500,000 rows deep), or the last full page of a smaller size, by a
  cursor computed from the data as the previous page would have issued it;
- ``GET /v1/cases/{id}`` and ``PATCH /v1/cases/{id}`` (a new title) of a random case;
- ``GET /v1/cases/{id}/events`` of a random case (its history, one page).

It prints, per operation and size, p50 and p99 in milliseconds and the SQL statements per
request (``BEGIN``/``COMMIT`` not counted), then the ``EXPLAIN (ANALYZE, BUFFERS)`` of every
statement of one request of each operation at each size (a write's inside a savepoint rolled
back). The events are seeded in the order they would arrive (by time, not by case), so a case's
history is spread over the table as it is in production.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from bench.run import ensure_database, log, quiet_request_log, setup_django

DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/bench_scale"
EVENTS_PER_CASE = 10
FILES_PER_CASE = 3
PAGE = 50
DEEP_PAGE = 10_000
# Cases per seeding statement: each inserts EVENTS_PER_CASE times as many events.
BATCH = 50_000
GENESIS = "0" * 64
OPERATIONS = ("list first", "list deep", "get", "patch", "events")
# A case's k-th event hash: 64 hex digits, distinct per (case, k). The chain is not a real one
# (nothing here verifies it), but each event follows the one before, as the unique index asks.
HASH_SQL = "md5({i} || '/' || {k}) || md5({k} || '|' || {i})"


@dataclass
class Size:
    """One size of the data: its database, what seeding made (ids, token, the deep page's
    cursor) and what the run measured (timings, statements and plans per operation)."""

    cases: int
    database_url: str
    project_id: str = ""
    prefix: str = ""
    token_id: str = ""
    plaintext: str = ""
    deep_cursor: str = ""
    deep_rows: int = 0
    timings: dict[str, list[float]] = field(default_factory=dict)
    statements: dict[str, list[int]] = field(default_factory=dict)
    plans: dict[str, list[tuple[str, str]]] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return f"{self.cases * EVENTS_PER_CASE:,} events"

    def case_id(self, i: int) -> str:
        return _id("c", self.prefix, i)


def _id(kind: str, prefix: str, n: int) -> str:
    """The seeded id of row ``n``: a ULID-shaped run prefix, then ``n`` in 20 hex digits
    (hex digits are Crockford base-32 digits, so the id matches the API's id pattern)."""
    return f"{kind}_{prefix}{n:020X}"


def _sql_id(kind: str, number: str) -> str:
    return f"'{kind}_' || %(prefix)s || lpad(upper(to_hex({number})), 20, '0')"


def _use(size: Size) -> None:
    """Point the default connection at ``size``'s database (closed first, reopened on use)."""
    from django.db import connection

    connection.close()
    connection.settings_dict["NAME"] = size.database_url.rsplit("/", 1)[1]


def seed(size: Size) -> None:
    """The project, its token and (unless an earlier run left them) its cases, events and files."""
    from django.db import connection, transaction

    from cases.models import Attachment, Case, CaseEvent
    from media.models import File
    from tokens.models import Mode, Organisation, Project, ScopedToken
    from tokens.services import token_create

    organisation, _ = Organisation.objects.get_or_create(name="ServerOps benchmark")
    project, _ = Project.objects.get_or_create(organisation=organisation, name=f"scale-{size.cases}")
    size.project_id = project.pk
    ScopedToken.objects.filter(project=project).delete()
    token, size.plaintext = token_create(
        project=project, name="scale", scopes=["cases:read", "cases:write"], mode=Mode.LIVE
    )
    size.token_id = token.pk
    cases = Case.objects.filter(project=project)
    counts = (cases.count(), CaseEvent.objects.filter(case__project=project).count())
    if counts[0] == size.cases and counts[1] >= size.cases * EVENTS_PER_CASE:
        log(f"{size.name}: reusing the {size.cases:,} cases seeded earlier")
    else:
        started = time.monotonic()
        tables = {model: model._meta.db_table for model in (Case, CaseEvent, File, Attachment)}
        # In SQL: the ORM would collect every row to delete in Python first.
        with transaction.atomic(), connection.cursor() as cursor:
            # Table names from the models' _meta; the project's id is a parameter.
            of_project = f"IN (SELECT id FROM {tables[Case]} WHERE project_id = %s)"  # noqa: S608
            cursor.execute(f"DELETE FROM {tables[CaseEvent]} WHERE case_id {of_project}", [project.pk])  # noqa: S608
            cursor.execute(f"DELETE FROM {tables[Attachment]} WHERE case_id {of_project}", [project.pk])  # noqa: S608
            cursor.execute(f"DELETE FROM {tables[Case]} WHERE project_id = %s", [project.pk])  # noqa: S608
            cursor.execute(f"DELETE FROM {tables[File]} WHERE project_id = %s", [project.pk])  # noqa: S608
        # A new prefix per seeding, so that ids never repeat those of rows deleted above.
        prefix = f"{random.SystemRandom().randrange(16**6):06X}"
        with without_secondary_indexes(list(tables.values())):
            for start in range(1, size.cases + 1, BATCH):
                stop = min(start + BATCH - 1, size.cases)
                params = {"prefix": prefix, "project": project.pk, "start": start, "stop": stop}
                with transaction.atomic(), connection.cursor() as cursor:
                    cursor.execute("SET LOCAL synchronous_commit = off")
                    # The rows are made consistent: skip the foreign keys' per-row checks.
                    cursor.execute("SET LOCAL session_replication_role = replica")
                    _seed_batch(cursor, tables, params)
                log(f"{size.name}: seeded {stop:,} cases")
        with connection.cursor() as cursor:
            for model in (Case, CaseEvent, File, Attachment):
                cursor.execute(f"VACUUM ANALYZE {tables[model]}")
        log(
            f"seeded {size.cases:,} cases, {size.cases * EVENTS_PER_CASE:,} events, "
            f"{size.cases * FILES_PER_CASE:,} files and their attachments in {time.monotonic() - started:.0f} s"
        )
    first = cases.order_by("created_at").values_list("id", flat=True).first()
    assert first is not None
    size.prefix = first[2:8]


@contextmanager
def without_secondary_indexes(tables: list[str]) -> Iterator[None]:
    """The block runs with the tables' indexes that back no constraint dropped; they are built
    again after it (or when it fails), as a bulk load is done: one sorted build per index costs
    a fraction of maintaining it row by row."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = current_schema() "
            "AND tablename = ANY(%s) AND indexname NOT IN (SELECT conname FROM pg_constraint)",
            [tables],
        )
        indexes = cursor.fetchall()
        for name, _ in indexes:
            cursor.execute(f'DROP INDEX "{name}"')
    try:
        yield
    finally:
        started = time.monotonic()
        with connection.cursor() as cursor:
            cursor.execute("SET maintenance_work_mem = '256MB'")
            for _, definition in indexes:
                cursor.execute(definition)
            cursor.execute("RESET maintenance_work_mem")
        log(f"built {len(indexes)} indexes again in {time.monotonic() - started:.0f} s")


def _seed_batch(cursor: Any, tables: dict[Any, str], params: dict[str, Any]) -> None:
    """Cases ``start``–``stop`` with their events, files and attachments; the events by time."""
    from cases.models import Attachment, Case, CaseEvent
    from media.models import File

    at = "timestamptz '2026-01-01' + i * interval '1 second'"
    last = HASH_SQL.format(i="i", k=EVENTS_PER_CASE - 1)
    cursor.execute(
        f"""
        INSERT INTO {tables[Case]} (id, project_id, mode, title, description, status, priority, labels,
                                    created_at, updated_at, history_head)
        SELECT {_sql_id("c", "i")}, %(project)s, 'live', 'Player report #' || i || ': speed hack near the docks',
               'Reported from the in-game /report command.', (ARRAY['open', 'closed', 'archived'])[1 + i %% 3],
               'normal', '[]'::jsonb, {at}, {at} + interval '{EVENTS_PER_CASE - 1} minutes', {last}
        FROM generate_series(%(start)s::bigint, %(stop)s::bigint) AS i
        """,  # noqa: S608 (table names from the models' _meta, values as parameters)
        params,
    )
    first_changes = (
        "jsonb_build_object('title', jsonb_build_object('from', NULL, 'to', 'Player report #' || i || "
        "': speed hack near the docks'), 'description', jsonb_build_object('from', NULL, 'to', "
        "'Reported from the in-game /report command.'), 'status', jsonb_build_object('from', NULL, 'to', 'open'))"
    )
    later_changes = """'{"status": {"from": "open", "to": "closed"}}'::jsonb"""
    cursor.execute(
        f"""
        INSERT INTO {tables[CaseEvent]} (id, case_id, created_at, actor_type, actor_id, actor_name,
                                         request_id, changes, prev_hash, hash)
        SELECT {_sql_id("ev", f"i * {EVENTS_PER_CASE} + k")}, {_sql_id("c", "i")},
               {at} + k * interval '1 minute', 'token', 'tok_bench', 'bench', '',
               CASE WHEN k = 0 THEN {first_changes} ELSE {later_changes} END,
               CASE WHEN k = 0 THEN '{GENESIS}' ELSE {HASH_SQL.format(i="i", k="k - 1")} END,
               {HASH_SQL.format(i="i", k="k")}
        FROM generate_series(0, {EVENTS_PER_CASE - 1}) AS k, generate_series(%(start)s::bigint, %(stop)s::bigint) AS i
        ORDER BY k, i
        """,  # noqa: S608 (table names from the models' _meta, values as parameters)
        params,
    )
    cursor.execute(
        f"""
        INSERT INTO {tables[File]} (id, project_id, mode, blob, key, size, content_type, sha256, original_name,
                                    tags, folder, abuse_status, visibility, storage_class, created_at, updated_at)
        SELECT {_sql_id("f", f"i * {FILES_PER_CASE} + j")}, %(project)s, 'live', k, k, 1000 + (i * 7919 + j) %% 5000000,
               'image/png', md5(i || '/' || j) || md5(j || '/' || i), 'screenshot ' || j || '.png',
               '["evidence", "screenshot"]'::jsonb, 'reports', 'clean', 'private', 'standard', {at}, {at}
        FROM generate_series(%(start)s::bigint, %(stop)s::bigint) AS i, generate_series(0, {FILES_PER_CASE - 1}) AS j,
             LATERAL (SELECT %(project)s || '/' || {_sql_id("f", f"i * {FILES_PER_CASE} + j")}
                             || '/screenshot ' || j || '.png' AS k) AS name
        """,  # noqa: S608 (table names from the models' _meta, values as parameters)
        params,
    )
    cursor.execute(
        f"""
        INSERT INTO {tables[Attachment]} (case_id, file_id, position, attached_at, attached_by_type,
                                          attached_by_id, attached_by_name)
        SELECT {_sql_id("c", "i")}, {_sql_id("f", f"i * {FILES_PER_CASE} + j")}, j, {at}, 'system', 'bench', 'bench'
        FROM generate_series(%(start)s::bigint, %(stop)s::bigint) AS i, generate_series(0, {FILES_PER_CASE - 1}) AS j
        """,  # noqa: S608 (table names from the models' _meta, values as parameters)
        params,
    )


def deep_cursor(size: Size) -> None:
    """The cursor of page ``DEEP_PAGE`` (or of the last full page of a smaller size), as the
    page before it issues it: the position of that page's last row."""
    from cases.models import Case
    from serverops.pagination import encode_cursor

    size.deep_rows = min((DEEP_PAGE - 1) * PAGE, size.cases - PAGE)
    ordered = Case.objects.filter(project_id=size.project_id).order_by("-created_at", "-id")
    created_at, pk = ordered.values_list("created_at", "id")[size.deep_rows - 1]
    size.deep_cursor = encode_cursor(created_at, pk, salt="cases")


@contextmanager
def counting(statements: list[tuple[str, Any]]) -> Iterator[None]:
    """Every statement the default connection runs in the block, with its parameters."""
    from django.db import connection

    def record(execute: Callable[..., Any], sql: str, params: Any, many: bool, context: dict[str, Any]) -> Any:
        statements.append((sql, params))
        return execute(sql, params, many, context)

    with connection.execute_wrapper(record):
        yield


@contextmanager
def explaining(plans: list[tuple[str, str]]) -> Iterator[None]:
    """Before each statement of the block runs, its ``EXPLAIN (ANALYZE, BUFFERS)`` (rolled back to a
    savepoint inside a transaction, so that a write's plan is measured without writing)."""
    from django.db import connection

    def explain(execute: Callable[..., Any], sql: str, params: Any, many: bool, context: dict[str, Any]) -> Any:
        raw = context["cursor"].cursor
        in_transaction = not connection.get_autocommit()
        if in_transaction:
            raw.execute("SAVEPOINT bench_explain")
        raw.execute("EXPLAIN (ANALYZE, BUFFERS) " + sql, params)
        plans.append((sql, "\n".join(row[0] for row in raw.fetchall())))
        if in_transaction:
            raw.execute("ROLLBACK TO SAVEPOINT bench_explain")
            raw.execute("RELEASE SAVEPOINT bench_explain")
        return execute(sql, params, many, context)

    with connection.execute_wrapper(explain):
        yield


class Driver:
    """Requests of one size through Django's WSGI handler, each checked to be a 200."""

    def __init__(self, size: Size, rng: random.Random) -> None:
        from django.test import Client

        self.size = size
        self.rng = rng
        self.client = Client(HTTP_HOST="127.0.0.1", HTTP_AUTHORIZATION=f"Bearer {size.plaintext}")
        self.patches = 0
        # A title no earlier run on the same data sent, so every PATCH changes the case (one
        # that changes nothing writes nothing).
        self.run = f"{time.time():.0f}"

    def random_case(self) -> str:
        return self.size.case_id(self.rng.randrange(1, self.size.cases + 1))

    def request(self, op: str) -> None:
        if op == "list first":
            response = self.client.get(f"/v1/cases?limit={PAGE}")
        elif op == "list deep":
            response = self.client.get(f"/v1/cases?limit={PAGE}&cursor={self.size.deep_cursor}")
        elif op == "get":
            response = self.client.get(f"/v1/cases/{self.random_case()}")
        elif op == "patch":
            self.patches += 1
            body = json.dumps({"title": f"Player report, edited ({self.run}/{self.patches})"})
            response = self.client.patch(f"/v1/cases/{self.random_case()}", body, content_type="application/json")
        else:
            response = self.client.get(f"/v1/cases/{self.random_case()}/events?limit={PAGE}")
        assert response.status_code == 200, (op, response.status_code, response.content[:300])
        if op == "list deep":
            assert len(response.json()["cases"]) == PAGE


def measure(sizes: list[Size], *, rounds: int, requests: int) -> None:
    """Alternating sizes round by round: warm-up, timed requests, then one counted and one
    explained request of each operation."""
    from django.conf import settings
    from django.test import override_settings

    budgets = dict.fromkeys((size.token_id for size in sizes), (10**9, 10**9))
    rng = random.Random(26)  # noqa: S311 (repeatable test data)
    with override_settings(SERVEROPS={**settings.SERVEROPS, "RATE_LIMIT_TOKEN_BUDGETS": budgets}):
        drivers = {size.cases: Driver(size, rng) for size in sizes}
        for round_number in range(rounds):
            for size in sizes if round_number % 2 == 0 else reversed(sizes):
                _use(size)
                driver = drivers[size.cases]
                for op in OPERATIONS:
                    for _ in range(5 if round_number == 0 else 0):
                        driver.request(op)  # prepared statements and caches, not timed
                    for _ in range(requests):
                        started = time.perf_counter()
                        driver.request(op)
                        size.timings.setdefault(op, []).append((time.perf_counter() - started) * 1000)
            log(f"round {round_number + 1} of {rounds} done")
        for size in sizes:
            _use(size)
            driver = drivers[size.cases]
            for op in OPERATIONS:
                for _ in range(5):
                    seen: list[tuple[str, Any]] = []
                    with counting(seen):
                        driver.request(op)
                    size.statements.setdefault(op, []).append(len(seen))
                plans: list[tuple[str, str]] = []
                with explaining(plans):
                    driver.request(op)
                size.plans[op] = plans


def report(sizes: list[Size], *, rounds: int, requests: int) -> None:
    small, large = sizes[0], sizes[-1]
    print(
        f"\n{rounds} rounds x {requests} requests per operation and size, in process (Django's WSGI handler, "
        "PostgreSQL, prepared statements); statements per request without BEGIN/COMMIT"
    )
    header = f"{'operation':<38}"
    for size in (small, large):
        header += f" | {size.name + ': p50':>22} {'p99':>7} {'stmts':>5}"
    print(header + " | p50 ratio")
    for op in OPERATIONS:
        label = {
            "list first": "GET /v1/cases?limit=50, page 1",
            "list deep": "GET /v1/cases?limit=50, deep page",
            "get": "GET /v1/cases/{id}",
            "patch": "PATCH /v1/cases/{id} (title)",
            "events": "GET /v1/cases/{id}/events",
        }[op]
        line = f"{label:<38}"
        p50s = []
        for size in (small, large):
            values = size.timings[op]
            p50 = statistics.median(values)
            p99 = statistics.quantiles(values, n=100)[98]
            counts = sorted(set(size.statements[op]))
            shown = "/".join(str(count) for count in counts)
            p50s.append(p50)
            line += f" | {p50:>22.2f} {p99:>7.2f} {shown:>5}"
        print(line + f" | {p50s[1] / p50s[0]:.2f}")
    for size in (small, large):
        print(
            f"deep page at {size.name}: page {size.deep_rows // PAGE + 1:,} of the list "
            f"({size.deep_rows:,} rows deep, {size.cases:,} cases)"
        )
    for size in (small, large):
        print(f"\n=== EXPLAIN (ANALYZE, BUFFERS), {size.name} ({size.cases:,} cases) ===")
        for op in OPERATIONS:
            for number, (sql, plan) in enumerate(size.plans[op], 1):
                print(f"\n--- {op}, statement {number}\n{sql}\n{plan}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--cases", type=int, nargs=2, default=[1_000, 1_000_000], metavar=("SMALL", "LARGE"), help="cases per size"
    )
    parser.add_argument("--tiny", action="store_true", help="1,000 against 10,000 cases, 1 short round (CI)")
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--requests", type=int, default=50, help="timed requests per operation, size and round")
    parser.add_argument(
        "--database-url",
        default=os.environ.get("BENCH_SCALE_DATABASE_URL", DEFAULT_DATABASE_URL),
        help="each size's database is this name with _<cases> appended",
    )
    args = parser.parse_args()
    # Stopped with SIGTERM, the run still builds the indexes it dropped (without_secondary_indexes).
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    if args.tiny:
        args.cases, args.rounds, args.requests = [1_000, 10_000], 1, 10
    sizes = [Size(cases, f"{args.database_url}_{cases}") for cases in sorted(args.cases)]
    for size in sizes:
        ensure_database(size.database_url)
    setup_django(sizes[0].database_url)
    from django.core.management import call_command

    quiet_request_log()
    for size in sizes:
        _use(size)
        call_command("migrate", verbosity=0, interactive=False)
        seed(size)
        deep_cursor(size)
    measure(sizes, rounds=args.rounds, requests=args.requests)
    report(sizes, rounds=args.rounds, requests=args.requests)
    return 0


if __name__ == "__main__":
    sys.exit(main())
