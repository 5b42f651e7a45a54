"""The event-feed benchmark (docs/api.md#event-feed): the poll that finds nothing new, and a page
of 100 events whatever the size of the events table.

``python -m bench.events [--rows N | --tiny]``: creates the PostgreSQL database if missing,
migrates, seeds a project with 50 cases, ``--pollers`` tokens (default 1,000) and 10,000 events,
starts gunicorn (2 workers, ``bench.settings``) and, in rounds that alternate the sides, runs wrk on:

- **poll**: ``GET /v1/events?after=<newest>&limit=100`` with ``If-None-Match`` set to the current
  ETag (a 304), each request from one of the tokens at random, against ``GET /v1/cases/{id}``
  (a random seeded case, a random token; a 200) — target ≥ 1.0×;
- **page**: ``GET /v1/events?after=<an event half-way>&limit=100`` (a 200 with 100 events), with
  the events table at 10,000 rows; then the table is grown to N rows (default 10,000,000, another
  project's events, seeded with ``INSERT … SELECT … FROM generate_series``; the seeding time is
  printed) and the same page is measured again, beside a page half-way through the big project.

Prints requests per second, p50 and p99 (medians over rounds), the ratios, and the ``EXPLAIN
ANALYZE`` of the page's statement at both sizes. Exits non-zero when any answer was not the
expected 2xx or 304. A second run on the same database reuses the big table.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import bench.run as run
from bench.run import ROOT, ensure_database, gunicorn, log, setup_django

DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/bench_events"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/6"
SMALL = 10_000
BATCH = 1_000_000
CASES = 50


def _project(name: str) -> Any:
    from tokens.models import Organisation, Project

    organisation, _ = Organisation.objects.get_or_create(name="Benchmark")
    project, _ = Project.objects.get_or_create(organisation=organisation, name=name)
    return project


def _insert_events(project_id: str, first: int, count: int) -> None:
    """``count`` events of ``project_id`` numbered from ``first``, in one INSERT … SELECT: ids are
    ``ev_`` and the number in 26 hex digits (valid ULID characters), bodies about 300 bytes."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO webhooks_event (public_id, project_id, mode, type, payload, created_at)
            SELECT 'ev_' || upper(lpad(to_hex(g), 26, '0')), %s, 'live', 'case.updated',
                   '{"id":"ev_' || upper(lpad(to_hex(g), 26, '0')) || '","type":"case.updated",'
                   || '"created_at":"2026-12-07T18:00:00.000Z","mode":"live","data":{"case":{"id":"c_'
                   || upper(lpad(to_hex(g), 26, '0')) || '","title":"Report #' || g || '","status":"open"},'
                   || '"changes":{"status":{"from":"closed","to":"open"}},'
                   || '"actor":{"type":"token","id":"tok_bench","name":"bench"}}}',
                   now() - interval '1 day' + g * interval '1 microsecond'
            FROM generate_series(%s::bigint, %s::bigint) AS g
            """,
            [project_id, first, first + count - 1],
        )


def seed_small(pollers: int) -> tuple[Any, list[tuple[str, str]], list[str]]:
    """The polled project: its tokens ``(id, plaintext)``, its case ids; 10,000 events of its own."""
    from django.db import connection, transaction

    from cases.models import Case
    from cases.services import Actor, case_create
    from tokens.models import Mode, ScopedToken
    from tokens.services import token_create
    from webhooks.models import Event

    project = _project("events-poll")
    ScopedToken.objects.filter(project=project).delete()
    started = time.monotonic()
    with transaction.atomic():
        tokens = []
        for n in range(pollers):
            token, plaintext = token_create(project=project, name=f"poller {n}", scopes=["cases:read"], mode=Mode.LIVE)
            tokens.append((token.pk, plaintext))
    if Case.objects.filter(project=project).count() < CASES:
        for n in range(CASES):
            case_create(project=project, mode=Mode.LIVE, actor=Actor.system("bench"), title=f"Poll case {n}")
    if Event.objects.filter(project=project, type="case.updated").count() < SMALL:
        with transaction.atomic():
            _insert_events(project.pk, 1, SMALL)
        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE webhooks_event")
    took = time.monotonic() - started
    log(f"{pollers:,} tokens, {CASES} cases and {SMALL:,} events of the polled project: {took:.1f} s")
    cases = list(Case.objects.filter(project=project).values_list("id", flat=True))
    return project, tokens, cases


def grow(rows: int) -> float | None:
    """Fill the events table to ``rows`` rows with another project's events; the seconds it took
    (None when a previous run already did)."""
    from django.db import connection, transaction

    from webhooks.models import Event

    big = _project("events-big")
    have = Event.objects.count()
    if have >= rows:
        log(f"reusing the {have:,} events seeded earlier")
        return None
    started = time.monotonic()
    first = SMALL + 1 + Event.objects.filter(project=big).count()
    missing = rows - have
    for start in range(0, missing, BATCH):
        count = min(BATCH, missing - start)
        with transaction.atomic():
            _insert_events(big.pk, first + start, count)
        log(f"seeded {have + start + count:,} of {rows:,} events ({time.monotonic() - started:.0f} s)")
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE webhooks_event")
    return time.monotonic() - started


def newest_event(project_id: str) -> str:
    """The newest event the feed serves (its ETag): by the view's own statement, as the feed's
    order on PostgreSQL is the writers' transactions first (webhooks.views.Statements)."""
    from django.db import connection

    from webhooks.views import Statements

    with connection.cursor() as cursor:
        cursor.execute(Statements.of(connection.vendor, 0).newest, [project_id, project_id, "live"])
        return str(cursor.fetchone()[0])


def middle_event(project_id: str) -> str:
    from webhooks.models import Event

    events = Event.objects.filter(project_id=project_id).order_by("seq")
    count = events.count()
    return str(events.values_list("public_id", flat=True)[count // 2])


def explain(project_id: str, after: str) -> list[str]:
    """EXPLAIN ANALYZE of the page's statements, as the view sends them: ``after``'s place, the
    page, the newest event (the ETag)."""
    from django.db import connection

    from webhooks.views import Statements

    statements = Statements.of(connection.vendor, 0)
    scope = [project_id, project_id, "live"]
    lines = []
    with connection.cursor() as cursor:
        cursor.execute(statements.position_of, [after, project_id, "live"])
        xid, seq = cursor.fetchone()
        for sql, params in (
            (statements.position_of, [after, project_id, "live"]),
            (statements.page_after, [*scope, *statements.past((int(xid), seq)), 101]),
            (statements.newest, scope),
        ):
            cursor.execute(f"EXPLAIN (ANALYZE, BUFFERS) {sql}", params)
            lines += [row[0] for row in cursor.fetchall()]
    return lines


def run_wrk(base: str, requests: Path, seconds: int, connections: int) -> dict[str, float]:
    command = ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--timeout=10s"]
    command += ["-s", str(ROOT / "bench" / "events.lua"), base, "--", str(requests)]
    output = subprocess.run(command, check=True, capture_output=True, text=True).stdout  # noqa: S603
    line = next(line for line in output.splitlines() if line.startswith("BENCH "))
    result = json.loads(line[len("BENCH ") :])
    return {
        "rps": result["requests"] / (result["duration_us"] / 1e6),
        "p50_ms": result["p50_us"] / 1000,
        "p99_ms": result["p99_us"] / 1000,
        "bad": result["bad"] + result["socket_errors"],
        "not_modified": result["not_modified"],
    }


def _requests(lines: list[tuple[str, str, str]], folder: Path, name: str) -> Path:
    """wrk's request file: path, token and If-None-Match (or nothing) a line."""
    file = folder / f"{name}.txt"
    file.write_text("\n".join(f"{p}\t{token}\t{etag}" for p, token, etag in lines) + "\n")
    return file


def measure(base: str, sides: dict[str, Path], rounds: int, seconds: int, connections: int) -> dict[str, Any]:
    """Each side's rounds, the sides alternating (first one, then the other, in turn)."""
    for file in sides.values():  # warm both workers' connections and prepared statements
        run_wrk(base, file, 1, connections)
    results: dict[str, list[dict[str, float]]] = {side: [] for side in sides}
    order = list(sides)
    for n in range(rounds):
        for side in order if n % 2 == 0 else reversed(order):
            results[side].append(run_wrk(base, sides[side], seconds, connections))
    return results


def report(label: str, rounds: list[dict[str, float]]) -> int:
    """Prints the medians; returns how many answers were bad."""
    rps = statistics.median(r["rps"] for r in rounds)
    p50 = statistics.median(r["p50_ms"] for r in rounds)
    p99 = statistics.median(r["p99_ms"] for r in rounds)
    print(f"{label:<58} {rps:>8.0f} {p50:>8.2f} {p99:>8.2f}")
    return int(sum(r["bad"] for r in rounds))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--rows", type=int, default=10_000_000, help="events in the table at the large size")
    parser.add_argument("--pollers", type=int, default=1_000, help="distinct tokens polling")
    parser.add_argument("--tiny", action="store_true", help="200 pollers, 30,000 rows, 1 round of 2 s (CI)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=int, default=5)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--port", type=int, default=0, help="gunicorn's port on 127.0.0.1 (default: a free one)")
    parser.add_argument("--database-url", default=os.environ.get("BENCH_EVENTS_DATABASE_URL", DEFAULT_DATABASE_URL))
    parser.add_argument("--redis-url", default=os.environ.get("BENCH_REDIS_URL", DEFAULT_REDIS_URL))
    args = parser.parse_args()
    if args.tiny:
        args.rows, args.pollers, args.rounds, args.seconds = 30_000, 200, 1, 2
    if args.port:
        run.free_port = lambda: args.port  # type: ignore[attr-defined]
    ensure_database(args.database_url)
    setup_django(args.database_url)
    run.quiet_request_log()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    project, tokens, cases = seed_small(args.pollers)
    from webhooks.models import Event

    token_ids = ",".join(token_id for token_id, _ in tokens)
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "bench.settings",
        "BENCH_DATABASE_URL": args.database_url,
        "BENCH_TOKEN_ID": token_ids,
        "REDIS_URL": args.redis_url,
    }
    rng = random.Random(25)  # noqa: S311 (repeatable test data)
    folder = Path(tempfile.mkdtemp(prefix="bench-events-"))
    # The ETag the feed answers with: the newest event of the project and mode.
    newest = newest_event(project.pk)
    etag = f'"{newest}"'
    polls = [(f"/v1/events?after={newest}&limit=100", plaintext, etag) for _, plaintext in tokens]
    gets = [(f"/v1/cases/{rng.choice(cases)}", plaintext, "") for _, plaintext in tokens]
    poll_files = {
        "poll": _requests(polls, folder, "poll"),
        "get": _requests(gets, folder, "get"),
    }
    small_after = middle_event(project.pk)
    small_page = [(f"/v1/events?after={small_after}&limit=100", plaintext, "") for _, plaintext in tokens]
    page_file = _requests(small_page, folder, "page-small")
    explains: dict[str, list[str]] = {"small": explain(project.pk, small_after)}

    table_rows = Event.objects.count()  # SMALL and the cases' events, unless a previous run grew it
    bad = 0
    print(
        f"\n{args.pollers:,} pollers (tokens); {args.rounds} rounds of {args.seconds} s, {args.connections} connections"
    )
    print(f"{'operation':<58} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8}")
    with gunicorn(env, folder / "gunicorn.log", tokens[0][1]) as server:
        results = measure(server.base, poll_files, args.rounds, args.seconds, args.connections)
        bad += report("GET /v1/events (If-None-Match current: 304)", results["poll"])
        bad += report("GET /v1/cases/{id} (200)", results["get"])
        ratio = statistics.median(p["rps"] / g["rps"] for p, g in zip(results["poll"], results["get"], strict=True))
        print(f"  304 poll / GET one case: {ratio:.2f}x (target >= 1.0x)")
        small = measure(server.base, {"page": page_file}, args.rounds, args.seconds, args.connections)["page"]
        bad += report(f"GET /v1/events?after=…&limit=100, table of {table_rows:,} rows", small)
    seeded = grow(args.rows)
    if seeded is not None:
        print(f"  seeding the table to {args.rows:,} rows took {seeded:.0f} s")
    big = _project("events-big")
    big_after = middle_event(big.pk)
    big_token_id, big_token = _reader(big)
    big_page = _requests([(f"/v1/events?after={big_after}&limit=100", big_token, "")], folder, "page-big")
    explains["large"] = explain(project.pk, small_after)
    explains["large, the big project"] = explain(big.pk, big_after)
    env["BENCH_TOKEN_ID"] = f"{token_ids},{big_token_id}"
    with gunicorn(env, folder / "gunicorn.log", tokens[0][1]) as server:
        files = {"small": page_file, "big": big_page}
        large = measure(server.base, files, args.rounds, args.seconds, args.connections)
        bad += report(f"GET /v1/events?after=…&limit=100, table of {args.rows:,} rows", large["small"])
        bad += report(f"  … half-way through the project of {args.rows - SMALL:,} events", large["big"])
    small_rps = statistics.median(r["rps"] for r in small)
    large_rps = statistics.median(r["rps"] for r in large["small"])
    shown = f"{large_rps / small_rps:.2f}x" if small_rps else "n/a (no request finished at the small size)"
    print(f"  page at {args.rows:,} rows / page at {table_rows:,} rows: {shown} (target ~1.0x)")
    for size, lines in explains.items():
        print(f"\nEXPLAIN ANALYZE of the page's statements, table {size}:")
        print("\n".join(lines))
    if bad:
        print(f"{bad} answers were neither the expected 2xx nor 304")
        return 1
    return 0


def _reader(project: Any) -> tuple[str, str]:
    """A fresh ``cases:read`` token of ``project``: its id and plaintext."""
    from tokens.models import Mode, ScopedToken
    from tokens.services import token_create

    ScopedToken.objects.filter(project=project).delete()
    token, plaintext = token_create(project=project, name="big reader", scopes=["cases:read"], mode=Mode.LIVE)
    return token.pk, plaintext


if __name__ == "__main__":
    sys.exit(main())
