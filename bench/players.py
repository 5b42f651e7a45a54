"""The players benchmark: the join check and a player's cases, at scale, against plain views.

``python -m bench.players [--players N | --tiny]``: creates the PostgreSQL database if missing,
migrates, seeds N players (default 1,000,000) with 3 strong identifiers each (steam, license,
discord) and one reported case each (COPY; the seeding time is printed; a second run on the same
database reuses the seed), then starts gunicorn (2 workers, ``bench.settings``) and, in rounds
that alternate the sides, runs wrk on:

- ``GET /v1/players?identifier=`` with the 3 identifiers of a random seeded player, against
  ``/bench/plain/v1/players``, a plain Django view doing the same indexed lookup (target ≥ 1.0×);
- ``GET /v1/cases?identifier=`` with one identifier of a random player, against
  ``/bench/plain/v1/cases`` (target ≥ 0.9×).

Prints requests per second, p50 and p99 per side (medians over rounds) and the ratios; before
that, for both API requests, how often PostgreSQL planned each prepared statement anew and the
``EXPLAIN (ANALYZE, BUFFERS)`` of every statement. Exits non-zero when any response was not 2xx.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import quote

from bench.run import DEFAULT_REDIS_URL, ROOT, ensure_database, gunicorn, log, quiet_request_log, setup_django

DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/bench_players"
STEAM64_MIN = 76561197960265728
OPERATIONS = {
    "players": ("/v1/players", "/bench/plain/v1/players", 1.0),
    "cases": ("/v1/cases", "/bench/plain/v1/cases", 0.9),
}
BATCH = 100_000


def _identifiers(n: int) -> tuple[str, str, str]:
    return (
        f"steam:{STEAM64_MIN + n}",
        "license:" + hashlib.sha1(str(n).encode()).hexdigest(),  # noqa: S324 (test data, not security)
        f"discord:{10**17 + n}",
    )


def seed(players: int) -> tuple[str, str]:
    """The benchmark project's token (id, plaintext), seeding ``players`` players when the
    project does not have them yet."""
    from django.db import connection, transaction
    from django.utils import timezone

    from cases.chain import GENESIS
    from cases.models import Case, CaseEvent, CaseSubject
    from players.models import Player, PlayerIdentifier
    from serverops.ids import new_case_id, new_player_id
    from tokens.models import Mode, Organisation, Project, ScopedToken
    from tokens.services import token_create

    organisation, _ = Organisation.objects.get_or_create(name="Benchmark")
    project, _ = Project.objects.get_or_create(organisation=organisation, name=f"players-{players}")
    ScopedToken.objects.filter(project=project).delete()
    token, plaintext = token_create(project=project, name="players benchmark", scopes=["cases:read"], mode=Mode.LIVE)
    if Player.objects.filter(project=project).count() == players:
        log(f"reusing the {players:,} players seeded earlier")
        return token.pk, plaintext
    started = time.monotonic()
    with transaction.atomic():
        CaseEvent.objects.filter(case__project=project).delete()
        CaseSubject.objects.filter(case__project=project).delete()
        Case.objects.filter(project=project).delete()
        PlayerIdentifier.objects.filter(project=project).delete()
        Player.objects.filter(project=project).delete()
    now = timezone.now()
    tables = {model: model._meta.db_table for model in (Player, PlayerIdentifier, Case, CaseSubject)}
    for start in range(0, players, BATCH):
        with transaction.atomic(), connection.cursor() as cursor:
            ids = [(new_player_id(), new_case_id()) for _ in range(start, min(start + BATCH, players))]
            with cursor.copy(
                f"COPY {tables[Player]} (id, project_id, mode, names, erased, created_at, updated_at) FROM STDIN"
            ) as copy:
                for n, (player_id, _) in enumerate(ids, start):
                    copy.write_row((player_id, project.pk, "live", f'["player{n}"]', False, now, now))
            with cursor.copy(
                f"COPY {tables[PlayerIdentifier]} (project_id, mode, player_id, identifier, strong, created_at) "
                "FROM STDIN"
            ) as copy:
                for n, (player_id, _) in enumerate(ids, start):
                    for identifier in _identifiers(n):
                        copy.write_row((project.pk, "live", player_id, identifier, True, now))
            with cursor.copy(
                f"COPY {tables[Case]} (id, project_id, mode, title, description, status, priority, labels, "
                "created_at, updated_at, history_head) FROM STDIN"
            ) as copy:
                for n, (_, case_id) in enumerate(ids, start):
                    status = ("open", "closed", "archived")[n % 3]
                    row = (case_id, project.pk, "live", f"Report #{n}", "", status, "normal", "[]", now, now, GENESIS)
                    copy.write_row(row)
            with cursor.copy(
                f"COPY {tables[CaseSubject]} (case_id, player_id, role, name, position) FROM STDIN"
            ) as copy:
                for player_id, case_id in ids:
                    copy.write_row((case_id, player_id, "reported", "", 0))
        log(f"seeded {min(start + BATCH, players):,} players")
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")
    log(
        f"seeding {players:,} players, {3 * players:,} identifiers, {players:,} cases: "
        f"{time.monotonic() - started:.0f} s"
    )
    return token.pk, plaintext


def explain(plaintext: str, token_id: str, player: int) -> None:
    """The plans PostgreSQL runs each API request's statements with: how often each prepared
    statement was planned anew (custom plans) or ran on its one generic plan, after a
    connection's first 20 requests, and the ``EXPLAIN (ANALYZE, BUFFERS)`` of every statement
    of one request."""
    from django.conf import settings
    from django.db import connection
    from django.test import Client, override_settings

    from bench.scale import explaining

    client = Client(HTTP_HOST="127.0.0.1", HTTP_AUTHORIZATION=f"Bearer {plaintext}")
    paths = {
        "GET /v1/players?identifier=… (3 identifiers)": "/v1/players?"
        + "&".join(f"identifier={quote(i)}" for i in _identifiers(player)),
        "GET /v1/cases?identifier=…": f"/v1/cases?identifier={quote(_identifiers(player)[0])}",
    }
    budgets = {**settings.SERVEROPS, "RATE_LIMIT_TOKEN_BUDGETS": {token_id: (10**9, 10**9)}}
    with override_settings(SERVEROPS=budgets):
        for label, path in paths.items():
            connection.close()  # a new connection: nothing prepared yet
            for _ in range(20):
                response = client.get(path)
                assert response.status_code == 200
                assert len(response.json()["players" if "players" in path else "cases"]) == 1
            with connection.cursor() as cursor:
                cursor.execute("SELECT statement, generic_plans, custom_plans FROM pg_prepared_statements")
                prepared = cursor.fetchall()
            plans: list[tuple[str, str]] = []
            with explaining(plans):
                assert client.get(path).status_code == 200
            print(f"\n{label}: plans of each prepared statement after 20 requests on one connection")
            for statement, generic, custom in prepared:
                print(f"  generic {generic:>2}, custom {custom:>2}: {' '.join(statement.split())[:90]}…")
            for number, (sql, plan) in enumerate(plans, 1):
                print(f"EXPLAIN (ANALYZE, BUFFERS) of statement {number}: {' '.join(sql.split())[:90]}…\n{plan}")


def run_wrk(base: str, path: str, token: str, queries: Path, seconds: int, connections: int) -> dict[str, float]:
    import json

    command = [
        "wrk",
        "-t1",
        f"-c{connections}",
        f"-d{seconds}s",
        "--timeout=10s",
        "-s",
        str(ROOT / "bench" / "players.lua"),
        base,
        "--",
        path,
        token,
        str(queries),
    ]
    output = subprocess.run(command, check=True, capture_output=True, text=True).stdout  # noqa: S603
    line = next(line for line in output.splitlines() if line.startswith("BENCH "))
    result = json.loads(line[len("BENCH ") :])
    return {
        "rps": result["requests"] / (result["duration_us"] / 1e6),
        "p50_ms": result["p50_us"] / 1000,
        "p99_ms": result["p99_us"] / 1000,
        "bad": result["non2xx"] + result["socket_errors"],
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--players", type=int, default=1_000_000)
    parser.add_argument("--tiny", action="store_true", help="1,000 players, short rounds (CI)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--database-url", default=os.environ.get("BENCH_PLAYERS_DATABASE_URL", DEFAULT_DATABASE_URL))
    parser.add_argument("--redis-url", default=os.environ.get("BENCH_REDIS_URL", DEFAULT_REDIS_URL))
    parser.add_argument("--port", type=int, help="gunicorn's loopback port (default: a free one)")
    args = parser.parse_args()
    if args.tiny:
        args.players, args.rounds, args.seconds = 1_000, 2, 2
    ensure_database(args.database_url)
    setup_django(args.database_url)
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    token_id, plaintext = seed(args.players)
    quiet_request_log()
    explain(plaintext, token_id, args.players // 3)
    rng = random.Random(22)  # noqa: S311 (repeatable test data)
    folder = Path(tempfile.mkdtemp(prefix="bench-players-"))
    lookups, single = folder / "players.txt", folder / "cases.txt"
    sample = [rng.randrange(args.players) for _ in range(10_000)]
    lookups.write_text("\n".join("&".join(f"identifier={quote(i)}" for i in _identifiers(n)) for n in sample))
    single.write_text("\n".join(f"identifier={quote(_identifiers(n)[rng.randrange(3)])}" for n in sample))
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "bench.settings",
        "BENCH_DATABASE_URL": args.database_url,
        "BENCH_TOKEN_ID": token_id,
        "REDIS_URL": args.redis_url,
    }
    results: dict[tuple[str, str], list[dict[str, float]]] = {}
    with gunicorn(env, folder / "gunicorn.log", plaintext, args.port) as server:
        for op, (api, plain, _) in OPERATIONS.items():
            queries = lookups if op == "players" else single
            for path in (api, plain):  # warm both workers' prepared statements
                run_wrk(server.base, path, plaintext, queries, 1, args.connections)
            for _ in range(args.rounds):
                for side, path in (("api", api), ("plain", plain)):
                    results.setdefault((op, side), []).append(
                        run_wrk(server.base, path, plaintext, queries, args.seconds, args.connections)
                    )
    bad = 0
    print(
        f"\n{args.players:,} players, {3 * args.players:,} identifiers, {args.players:,} cases; "
        f"{args.rounds} rounds of {args.seconds} s, {args.connections} connections, 2 gunicorn workers"
    )
    print(f"{'operation':<48} {'side':<6} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8}")
    for op, (api, plain, target) in OPERATIONS.items():
        medians = {}
        for side, path in (("api", api), ("plain", plain)):
            rounds = results[(op, side)]
            bad += int(sum(r["bad"] for r in rounds))
            medians[side] = statistics.median(r["rps"] for r in rounds)
            label = f"GET {path}?identifier=…"
            print(
                f"{label:<48} {side:<6} {medians[side]:>8.0f} "
                f"{statistics.median(r['p50_ms'] for r in rounds):>8.2f} "
                f"{statistics.median(r['p99_ms'] for r in rounds):>8.2f}"
            )
        ratio = statistics.median(
            a["rps"] / p["rps"] for a, p in zip(results[(op, "api")], results[(op, "plain")], strict=True)
        )
        print(f"  API / plain: {ratio:.2f}x (target >= {target:.1f}x)")
    if bad:
        print(f"{bad} responses were not 2xx")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
