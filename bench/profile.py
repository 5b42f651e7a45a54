"""Profile the three benchmark operations in process, on the API and its three yardsticks.

``python -m bench.profile [--op patch|get|list|poll] [-n 300] [--rounds 5] [--cprofile [--sort KEY]] [--profile SIDE]``
seeds the benchmark database (project ``profile``), then drives Django's WSGI handler directly
(the full middleware stack, as under gunicorn, without the network) and prints, per operation:

- the CPU µs per request of the API, the baseline, stock DRF and the minimal view: this
  process's (Django's) and its PostgreSQL backend's (read from /proc, so PostgreSQL must run on
  the same machine; its granularity is a clock tick, 10 ms, so use a few hundred requests),
  and the API's ratio to each side by their sum: the quick in-process counterpart of
  ``bench/run.sh`` (which adds Redis's CPU and the network). The sides take turns in
  ``--rounds`` rounds and the figures are medians over them, since the machine's speed drifts
  by more than a change worth measuring;
- ``--op poll``: the event feed's poll that finds nothing new (``GET /v1/events?after=<newest>&limit=100``
  with ``If-None-Match`` current: a 304, bench/events.py's poll) against the API's ``GET /v1/cases/{id}``,
  the yardstick it must match; the poll's requests are the ones profiled;
- pyinstrument's call tree of one side's requests (``--profile``, the API by default), or with
  ``--cprofile`` the standard library's profile sorted by own time (or ``--sort``).

With ``REDIS_URL`` set, the rate-limit counters live in Redis, as in production.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import os
import pstats
import random
import sys
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from statistics import median
from typing import Any

from bench.run import DEFAULT_DATABASE_URL, ensure_database, quiet_request_log, setup_django

Environ = dict[str, Any]
# The sides of bench.run, by their URL prefix; the stock DRF and minimal ones have no 3-file list.
SIDES = {"api": "/v1", "baseline": "/bench/baseline/v1", "drf": "/bench/drf/v1", "minimal": "/bench/minimal/v1"}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--op", choices=["patch", "get", "list", "poll"], action="append", help="default: patch, get, list"
    )
    parser.add_argument("-n", type=int, default=300, help="requests per operation and side (default 300)")
    parser.add_argument(
        "--rounds", type=int, default=5, help="alternating rounds the requests are measured in (default 5)"
    )
    parser.add_argument("--cprofile", action="store_true", help="cProfile instead of pyinstrument")
    parser.add_argument("--sort", default="tottime", help="cProfile's sort key (default tottime; cumulative…)")
    parser.add_argument("--top", type=int, default=25, help="profile entries to print (default 25)")
    parser.add_argument(
        "--profile", choices=[*SIDES], default="api", help="the side whose requests are profiled (default api)"
    )
    parser.add_argument(
        "--chain-cost",
        action="store_true",
        help="PATCH only: the API's CPU per PATCH with the hash chain computed and with random bytes for it",
    )
    args = parser.parse_args()
    ensure_database(os.environ.get("BENCH_DATABASE_URL", DEFAULT_DATABASE_URL))
    setup_django(os.environ.get("BENCH_DATABASE_URL", DEFAULT_DATABASE_URL))

    from django.conf import settings
    from django.core.handlers.wsgi import WSGIHandler
    from django.core.management import call_command
    from django.db import connection
    from django.test import override_settings

    from bench.seed import seed

    call_command("migrate", verbosity=0, interactive=False)
    seeded = seed(cases=1000, name="profile")
    # The request log line is part of the measured work; only its destination changes.
    quiet_request_log()
    handler = WSGIHandler()
    newest = newest_event(seeded)
    rng = random.Random(6)  # noqa: S311 (request mix, not secrets)

    def environ(method: str, path: str, body: bytes = b"", **headers: str) -> Environ:
        path, _, query = path.partition("?")
        return {
            **headers,
            "REQUEST_METHOD": method,
            "PATH_INFO": path,
            "QUERY_STRING": query,
            "SERVER_NAME": "127.0.0.1",
            "SERVER_PORT": "8000",
            "HTTP_HOST": "127.0.0.1",
            "HTTP_AUTHORIZATION": f"Bearer {seeded.plaintext}",
            "CONTENT_TYPE": "application/json",
            "CONTENT_LENGTH": str(len(body)),
            "wsgi.input": io.BytesIO(body),
            "wsgi.url_scheme": "http",
        }

    def requests(op: str, prefix: str, n: int) -> Iterable[Environ]:
        for _ in range(n):
            if op == "poll":
                yield environ("GET", f"{prefix}/events?after={newest}&limit=100", HTTP_IF_NONE_MATCH=f'"{newest}"')
                continue
            if op == "list":
                yield environ("GET", f"{prefix}/cases?limit=50")
                continue
            path = f"{prefix}/cases/{rng.choice(seeded.case_ids)}"
            if op == "get":
                yield environ("GET", path)
                continue
            field = rng.choice(["title", "description", "status"])
            value = rng.choice(["open", "closed", "archived"]) if field == "status" else f"Bench {rng.randrange(10**6)}"
            yield environ("PATCH", path, json.dumps({field: value}).encode())

    def drive(environs: list[Environ]) -> None:
        statuses: list[str] = []

        def start_response(status: str, headers: Any, exc_info: Any = None) -> None:
            statuses.append(status)

        for env in environs:
            body = b"".join(handler(env, start_response))
            if not statuses[-1].startswith(("2", "304")):
                raise SystemExit(f"{env['REQUEST_METHOD']} {env['PATH_INFO']}: {statuses[-1]} {body[:300]!r}")

    def postgres_cpu() -> float:
        """CPU seconds of this process's PostgreSQL backend so far (from /proc: same machine only)."""
        connection.ensure_connection()
        pid = connection.connection.info.backend_pid
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def timed(run: Callable[[], None], count: int) -> tuple[float, float]:
        """CPU µs per request of this process (Django) and of its PostgreSQL backend."""
        cpu, postgres = time.process_time(), postgres_cpu()
        run()
        return (time.process_time() - cpu) / count * 1e6, (postgres_cpu() - postgres) / count * 1e6

    budgets = {**settings.SERVEROPS, "RATE_LIMIT_TOKEN_BUDGETS": {seeded.token_id: (10**9, 10**9)}}
    with override_settings(SERVEROPS=budgets):
        for op in args.op or ["patch", "get", "list"]:
            if op == "poll":
                poll(args, requests, drive, timed)
                continue
            for prefix in SIDES.values():
                drive(list(requests(op, prefix, 30)))  # warm up
            # Alternating rounds, as bench.run's: the machine's drift shifts every side alike.
            per_round = max(1, args.n // args.rounds)
            cpu: dict[str, list[float]] = {side: [] for side in SIDES}
            postgres: dict[str, list[float]] = {side: [] for side in SIDES}
            for _ in range(args.rounds):
                for side, prefix in SIDES.items():
                    batch = list(requests(op, prefix, per_round))
                    django_cpu, postgres_cpu_ = timed(lambda batch=batch: drive(batch), per_round)  # type: ignore[misc]
                    cpu[side].append(django_cpu)
                    postgres[side].append(postgres_cpu_)
            print(f"\n== {op}: CPU µs per request (medians of {args.rounds} alternating rounds)")
            totals = {side: [c + p for c, p in zip(cpu[side], postgres[side], strict=True)] for side in SIDES}
            for side in SIDES:
                ratios = [theirs / ours for theirs, ours in zip(totals[side], totals["api"], strict=True)]
                print(
                    f"   {side:9} Django {median(cpu[side]):7.0f}  PostgreSQL {median(postgres[side]):6.0f}"
                    f"  total {median(totals[side]):7.0f}"
                    + ("" if side == "api" else f"  API/side {median(ratios):.3f}")
                )
            if op == "patch" and args.chain_cost:

                def api_patches(n: int) -> tuple[float, float]:
                    batch = list(requests("patch", SIDES["api"], n))
                    return timed(lambda: drive(batch), n)

                chain_cost(api_patches, args)
            print_profile(args, drive, list(requests(op, SIDES[args.profile], args.n)))
    return 0


def print_profile(args: argparse.Namespace, drive: Callable[[list[Environ]], None], profiled: list[Environ]) -> None:
    """Where driving ``profiled`` spends its time: cProfile's table with ``--cprofile``, else pyinstrument's tree."""
    if args.cprofile:
        profile = cProfile.Profile()
        profile.runcall(drive, profiled)
        out = io.StringIO()
        pstats.Stats(profile, stream=out).sort_stats(args.sort).print_stats(args.top)
        print(out.getvalue())
        return
    from pyinstrument import Profiler

    profiler = Profiler(interval=0.0002)
    profiler.start()
    drive(profiled)
    profiler.stop()
    text = profiler.output_text(short_mode=True, time="percent_of_total")
    print("\n".join(text.splitlines()[: args.top + 8]))


def newest_event(seeded: Any) -> str:
    """The newest event of the seeded project (one PATCH's, written if it has none): what a poller saw last."""
    from bench.events import newest_event as newest_of
    from cases.models import Case
    from cases.services import Actor, case_update
    from webhooks.models import Event

    case = Case.objects.get(pk=seeded.case_ids[0])
    if not Event.objects.filter(project_id=case.project_id, mode=case.mode).exists():
        case_update(case_id=case.pk, changes={"title": "Polled"}, actor=Actor.system("bench"))
    return newest_of(case.project_id)


def poll(
    args: argparse.Namespace,
    requests: Callable[[str, str, int], Iterable[Environ]],
    drive: Callable[[list[Environ]], None],
    timed: Callable[[Callable[[], None], int], tuple[float, float]],
) -> None:
    """The 304 poll against the API's GET one case: CPU per request in alternating rounds, then the poll's profile."""
    per_round = max(1, args.n // args.rounds)
    sides = {"poll (304)": "poll", "GET /v1/cases/{id}": "get"}
    for op in sides.values():
        drive(list(requests(op, SIDES["api"], 30)))  # warm up
    totals: dict[str, list[float]] = {side: [] for side in sides}
    parts: dict[str, list[tuple[float, float]]] = {side: [] for side in sides}
    for _ in range(args.rounds):
        for side, op in sides.items():
            batch = list(requests(op, SIDES["api"], per_round))
            django_cpu, postgres_cpu = timed(lambda batch=batch: drive(batch), per_round)  # type: ignore[misc]
            parts[side].append((django_cpu, postgres_cpu))
            totals[side].append(django_cpu + postgres_cpu)
    print(f"\n== poll: CPU µs per request (medians of {args.rounds} alternating rounds)")
    for side in sides:
        print(
            f"   {side:20} Django {median(d for d, _ in parts[side]):7.0f}"
            f"  PostgreSQL {median(p for _, p in parts[side]):6.0f}  total {median(totals[side]):7.0f}"
        )
    ratios = [get / poll for poll, get in zip(totals["poll (304)"], totals["GET /v1/cases/{id}"], strict=True)]
    print(f"   GET one case / poll (>1: the poll is cheaper): {median(ratios):.3f}")
    print_profile(args, drive, list(requests("poll", SIDES["api"], args.n)))


def chain_cost(timed_api: Callable[[int], tuple[float, float]], args: argparse.Namespace) -> None:
    """What the hash chain (issue 24) adds to a PATCH: the API's PATCHes in alternating rounds
    with each event's hash computed (``cases.chain.event_hash``: its canonical JSON, SHA-256)
    and with the computation replaced by 32 random bytes, here only (the benchmark's cases then
    hold chains that do not verify). Everything else a chained
    PATCH does (the head in the UPDATE, its compare-and-set) runs in both."""
    from unittest import mock

    from cases import chain

    per_round = max(1, args.n // args.rounds)
    totals: dict[str, list[float]] = {"chained": [], "random": []}
    for _ in range(args.rounds):
        for label in totals:
            if label == "chained":
                django_cpu, postgres_cpu = timed_api(per_round)
            else:
                # Random bytes, not one constant: a case's events are told apart by their hashes.
                with mock.patch.object(chain, "event_hash", side_effect=lambda event: os.urandom(32).hex()):
                    django_cpu, postgres_cpu = timed_api(per_round)
            totals[label].append(django_cpu + postgres_cpu)
    shares = [(c - k) / k for c, k in zip(totals["chained"], totals["random"], strict=True)]
    print(
        f"\n== patch: the hash chain's cost (CPU µs per PATCH, Django and PostgreSQL, medians of {args.rounds} "
        f"alternating rounds)\n   chained {median(totals['chained']):7.0f}  hash replaced by random bytes "
        f"{median(totals['random']):7.0f}  the chain adds {100 * median(shares):+.1f}% "
        f"(rounds {', '.join(f'{100 * share:+.1f}%' for share in shares)}; target ≤ +10%)"
    )


if __name__ == "__main__":
    sys.exit(main())
