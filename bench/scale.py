"""The scale run of issue 6: one project with 1,000,000 cases; the first page against a deep one.

``python -m bench.scale [--rows N] [--repeat R]``: fills a project of the benchmark database
with ``N`` live cases straight in SQL (``generate_series``, seconds instead of the ORM's
minutes; kept between runs and reused while the count matches), then times
``GET /v1/cases?limit=50`` for the first page and for the page that starts ``N/2`` rows deep,
through the whole API in process (middleware, authentication, rate limit, pagination,
serializer). The deep page's cursor is computed from the data (the row at offset N/2 - 1,
encoded as ``serverops.pagination.encode_cursor`` does) instead of paging N/2/50 times; the
run checks that the page it returns starts at row N/2 + 1. Prints both medians, their ratio
against the target (≤ 1.3), and the EXPLAIN plan of the deep page's query, which must use
the ``case_keyset`` index.
"""

from __future__ import annotations

import argparse
import os
import secrets
import statistics
import sys
import time

from bench.run import DEFAULT_DATABASE_URL, ensure_database, log, quiet_request_log, setup_django

TARGET = 1.3
CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=30, help="timed requests per page (default 30)")
    args = parser.parse_args()

    database_url = os.environ.get("BENCH_DATABASE_URL", DEFAULT_DATABASE_URL)
    ensure_database(database_url)
    setup_django(database_url)

    from django.conf import settings
    from django.core.management import call_command
    from django.db import connection, transaction
    from django.test import Client, override_settings
    from django.test.utils import CaptureQueriesContext

    from bench.seed import ORGANISATION
    from cases.models import Case
    from serverops.pagination import encode_cursor
    from tokens.models import Mode, Organisation, Project, ScopedToken
    from tokens.services import token_create

    call_command("migrate", verbosity=0, interactive=False)
    quiet_request_log()
    organisation, _ = Organisation.objects.get_or_create(name=ORGANISATION)
    project, _ = Project.objects.get_or_create(organisation=organisation, name=f"scale-{args.rows}")
    cases = Case.objects.filter(project=project, mode=Mode.LIVE)
    if cases.count() != args.rows:
        cases.delete()
        # A run-specific ULID prefix keeps ids unique across rebuilds; hex digits are Crockford digits.
        prefix = "".join(secrets.choice(CROCKFORD) for _ in range(6))
        started = time.perf_counter()
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(
                """
                INSERT INTO cases_case (id, project_id, mode, title, description, status, created_at, updated_at)
                SELECT 'c_' || %s || lpad(upper(to_hex(i)), 20, '0'), %s, 'live', 'Scale case #' || i,
                       'Reported from the in-game /report command.',
                       (ARRAY['open', 'closed', 'archived'])[1 + i %% 3], ts, ts
                FROM generate_series(1, %s) AS i,
                     LATERAL (SELECT timestamptz '2026-01-01' + i * interval '1 second' AS ts) AS t
                """,
                [prefix, project.pk, args.rows],
            )
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE cases_case")
        log(f"inserted {args.rows:,} cases in {time.perf_counter() - started:.1f} s")
    else:
        log(f"reusing the {args.rows:,} cases of project {project.pk}")
    ScopedToken.objects.filter(project=project).delete()
    token, plaintext = token_create(project=project, name="scale", scopes=["cases:read"], mode=Mode.LIVE)

    depth = args.rows // 2
    ordered = cases.order_by("-created_at", "-id")
    anchor = ordered.values_list("created_at", "id")[depth - 1]
    expected_first = ordered.values_list("id", flat=True)[depth]
    cursor_value = encode_cursor(anchor[0], anchor[1], salt="cases")

    client = Client(HTTP_HOST="127.0.0.1", HTTP_AUTHORIZATION=f"Bearer {plaintext}")
    pages = {
        "first page": "/v1/cases?limit=50",
        f"page {depth:,} rows deep": f"/v1/cases?limit=50&cursor={cursor_value}",
    }
    timings: dict[str, list[float]] = {name: [] for name in pages}
    budgets = {**settings.SERVEROPS, "RATE_LIMIT_TOKEN_BUDGETS": {token.pk: (10**9, 10**9)}}
    with override_settings(SERVEROPS=budgets):
        deep = client.get(pages[f"page {depth:,} rows deep"])
        assert deep.status_code == 200, deep.content
        first_id = deep.json()["cases"][0]["id"]
        assert first_id == expected_first, f"the deep page starts at {first_id}, expected {expected_first}"
        for _ in range(3):  # warm caches and connections
            for path in pages.values():
                client.get(path)
        for _ in range(args.repeat):
            for name, path in pages.items():
                started = time.perf_counter()
                response = client.get(path)
                timings[name].append((time.perf_counter() - started) * 1000)
                assert response.status_code == 200, response.content
        with CaptureQueriesContext(connection) as captured:
            client.get(pages[f"page {depth:,} rows deep"])
    page_sql = next(q["sql"] for q in captured.captured_queries if 'FROM "cases_case"' in q["sql"])

    print(f"{args.rows:,} cases in project {project.pk}; {args.repeat} timed requests per page, in process")
    medians = {name: statistics.median(values) for name, values in timings.items()}
    for name, values in timings.items():
        print(f"{name:28} median {medians[name]:7.2f} ms  p90 {statistics.quantiles(values, n=10)[-1]:7.2f} ms")
    first, deep_ms = medians.values()
    ratio = deep_ms / first
    print(f"deep/first ratio {ratio:.3f} (target ≤ {TARGET}) {'met' if ratio <= TARGET else 'MISSED'}")
    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + page_sql)
        plan = "\n".join(row[0] for row in cursor.fetchall())
    print(f"\nEXPLAIN ANALYZE of the deep page's query:\n{page_sql}\n{plan}")
    uses_index = "case_keyset" in plan
    print(f"\nplan uses case_keyset: {'yes' if uses_index else 'NO'}")
    return 0 if uses_index else 1


if __name__ == "__main__":
    sys.exit(main())
