"""Benchmark the Cases API against three yardsticks (issues 6 and 11).

``python -m bench.run [--tiny]`` (or ``bench/run.sh``): creates the PostgreSQL database if
missing, migrates, seeds a project and a token, then, once with the in-process cache and once
with Redis, starts gunicorn (2 workers, ``bench.settings``) on a free loopback port and, for each
operation, runs wrk rounds that alternate four sides served by that same gunicorn on the same
database:

- ``API``: the service (``/v1``);
- ``baseline``: the same work hand-written (``bench.baseline``);
- ``stock DRF``: a ``ModelViewSet`` + ``ModelSerializer``, DRF defaults, no history, files or
  rate limit (``bench.stock``);
- ``minimal``: token lookup, lock, update of the sent fields, ``JsonResponse`` (``bench.minimal``).

Per side it prints requests per second, p50 and p99 (medians over rounds), CPU per request (the
gunicorn workers, their PostgreSQL backends and the Redis server, from /proc), and round trips per
request, counted exactly in a separate pass through a counting proxy (PostgreSQL: every statement,
``BEGIN``/``COMMIT`` and health checks included) and Redis ``MONITOR`` (commands sent), then the
median over rounds of the API's requests per second divided by each side's, against the targets.
Exits non-zero when any response was not 2xx (or a socket failed); the targets are reported,
not enforced.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from scripts.servers import free_port, start_gunicorn, stop

ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = Path(sys.executable).parent
DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/bench"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/6"
OPERATIONS = {
    "patch": "PATCH /v1/cases/{id}",
    "get": "GET /v1/cases/{id}",
    "list": "GET /v1/cases?limit=50",
    # Issue 9: the list where every case has 3 files, against the baseline doing the same work.
    "list3": "… 3 files on every case",
}
SIDES = {"api": "/v1", "baseline": "/bench/baseline/v1", "drf": "/bench/drf/v1", "minimal": "/bench/minimal/v1"}
# The stock DRF and minimal comparators have no files: the 3-file list is the baseline's alone.
SIDES_OF = {op: list(SIDES) if op != "list3" else ["api", "baseline"] for op in OPERATIONS}
LABELS = {"api": "API", "baseline": "baseline", "drf": "stock DRF", "minimal": "minimal"}
# API requests per second divided by the side's (issue 6 for the baseline, issue 11 for the others).
TARGETS = {
    "baseline": {"patch": 0.90, "get": 0.90, "list": 0.85, "list3": 0.85},
    "drf": {"patch": 1.0, "get": 1.0, "list": 1.0},
    "minimal": {"patch": 0.75, "get": 0.75, "list": 0.5},
}
CLOCK_TICK = os.sysconf("SC_CLK_TCK")
# Uncounted requests per operation and side before the counted ones, so that both gunicorn
# workers have run (and prepared) every statement of it more than twice.
WARM_UP_PER_SIDE = 40


@dataclass(frozen=True)
class Round:
    cache: str
    op: str
    side: str
    rps: float
    p50_ms: float
    p99_ms: float
    cpu_ms: float
    non2xx: int
    socket_errors: int


@dataclass
class Counts:
    """Round trips per request of one side and operation, from the counting pass."""

    postgres: float
    redis: float


@dataclass
class Results:
    rounds: list[Round] = field(default_factory=list)
    counts: dict[tuple[str, str, str], Counts] = field(default_factory=dict)


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def ensure_database(url: str) -> None:
    """CREATE DATABASE when the benchmark's database does not exist yet."""
    import psycopg
    from psycopg import sql

    name = url.rsplit("/", 1)[1].split("?")[0]
    admin_url = url.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone() is None:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
            log(f"created database {name}")


def setup_django(database_url: str) -> None:
    os.environ["DJANGO_SETTINGS_MODULE"] = "bench.settings"
    os.environ["BENCH_DATABASE_URL"] = database_url
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()


def quiet_request_log() -> None:
    """Send the log lines of in-process requests to /dev/null: still written, no longer shown."""
    devnull = open(os.devnull, "w")  # noqa: SIM115 (lives as long as the process)
    for handler in logging.getLogger().handlers:
        if isinstance(handler, logging.StreamHandler):
            handler.setStream(devnull)


class Gunicorn:
    """gunicorn with 2 workers on a loopback port, in its own process group, stopped on exit."""

    def __init__(self, *, env: dict[str, str], log_path: Path, port: int | None = None) -> None:
        self.port = port or free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.log_file = log_path.open("ab")
        self.process = start_gunicorn(
            "serverops.wsgi:application", env=env, port=self.port, workers=2, log=self.log_file
        )

    def wait_ready(self, token: str, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise SystemExit(f"gunicorn exited with {self.process.returncode}; see {self.log_file.name}")
            try:
                if send(self.base, "GET", "/v1/cases?limit=1", token) == 200:
                    return
            except OSError:  # not listening yet, or a worker still booting on a loaded machine (a timeout)
                time.sleep(0.2)
        raise SystemExit(f"gunicorn did not answer within {timeout}s; see {self.log_file.name}")

    def stop(self) -> None:
        stop(self.process)
        self.log_file.close()


@contextmanager
def gunicorn(env: dict[str, str], log_path: Path, token: str, port: int | None = None) -> Iterator[Gunicorn]:
    """A started ``Gunicorn`` on ``port`` (a free one when None), stopped on leaving."""
    server = Gunicorn(env=env, log_path=log_path, port=port)
    try:
        server.wait_ready(token)
        yield server
    finally:
        server.stop()
        errors = [line for line in log_path.read_text().splitlines() if "ERROR" in line]
        if errors:
            log("gunicorn logged errors:\n" + "\n".join(errors[:20]))


def send(base: str, method: str, path: str, token: str, body: bytes | None = None) -> int:
    request = urllib.request.Request(  # noqa: S310 (a loopback URL)
        base + path,
        data=body,
        method=method,
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 (a loopback URL)
            response.read()
            status: int = response.status
            return status
    except urllib.error.HTTPError as error:
        return error.code


class CpuMeter:
    """CPU seconds used by the gunicorn processes, their PostgreSQL backends and the Redis server."""

    def __init__(self, *, gunicorn_pid: int, application_name: str, redis_url: str | None) -> None:
        import psycopg

        self.gunicorn_pid = gunicorn_pid
        self.application_name = application_name
        self.database = psycopg.connect(os.environ["BENCH_DATABASE_URL"], autocommit=True)
        self.redis_pid: int | None = None
        if redis_url is not None:
            import redis

            self.redis_pid = int(redis.Redis.from_url(redis_url).info("server")["process_id"])

    @staticmethod
    def _stat(pid: int) -> tuple[int, float] | None:
        """(parent pid, CPU seconds) of a process, or None when it is gone."""
        try:
            raw = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            return None
        fields = raw[raw.rindex(")") + 2 :].split()
        return int(fields[1]), (int(fields[11]) + int(fields[12])) / CLOCK_TICK

    def snapshot(self) -> dict[int, float]:
        pids = {self.gunicorn_pid}
        for entry in os.scandir("/proc"):
            if entry.name.isdigit():
                stat = self._stat(int(entry.name))
                if stat is not None and stat[0] == self.gunicorn_pid:
                    pids.add(int(entry.name))
        rows = self.database.execute(
            "SELECT pid FROM pg_stat_activity WHERE application_name = %s", [self.application_name]
        ).fetchall()
        pids.update(pid for (pid,) in rows)
        if self.redis_pid is not None:
            pids.add(self.redis_pid)
        return {pid: stat[1] for pid in pids if (stat := self._stat(pid)) is not None}

    @staticmethod
    def used(before: dict[int, float], after: dict[int, float]) -> float:
        return sum(cpu - before.get(pid, 0.0) for pid, cpu in after.items())


def run_wrk(
    base: str, *, op: str, side: str, token: str, ids_file: Path, seconds: int, connections: int
) -> dict[str, int]:
    command = [
        "wrk",
        "-t1",
        f"-c{connections}",
        f"-d{seconds}s",
        "--timeout=10s",
        "-s",
        str(ROOT / "bench" / "wrk.lua"),
        base,
        "--",
        op,
        token,
        SIDES[side],
        str(ids_file),
    ]
    output = subprocess.run(command, check=True, capture_output=True, text=True).stdout  # noqa: S603
    for line in output.splitlines():
        if line.startswith("BENCH "):
            result: dict[str, int] = json.loads(line[len("BENCH ") :])
            return result
    raise SystemExit(f"wrk printed no BENCH line:\n{output}")


def measure(
    cache: str,
    server: Gunicorn,
    meter: CpuMeter,
    *,
    tokens: dict[str, str],
    ids_file: Path,
    rounds: int,
    seconds: int,
    connections: int,
    warmup: bool,
) -> list[Round]:
    results: list[Round] = []
    for op in OPERATIONS:
        sides, token = SIDES_OF[op], tokens[op]
        if warmup:
            for side in sides:
                raw = run_wrk(
                    server.base, op=op, side=side, token=token, ids_file=ids_file, seconds=1, connections=connections
                )
                results.append(Round(cache, op, f"warmup-{side}", 0, 0, 0, 0, raw["non2xx"], raw["socket_errors"]))
        for n in range(rounds):
            # Rotate which side goes first so none always runs on a warmer (or busier) machine.
            for side in sides[n % len(sides) :] + sides[: n % len(sides)]:
                before = meter.snapshot()
                raw = run_wrk(
                    server.base,
                    op=op,
                    side=side,
                    token=token,
                    ids_file=ids_file,
                    seconds=seconds,
                    connections=connections,
                )
                cpu = CpuMeter.used(before, meter.snapshot())
                result = Round(
                    cache=cache,
                    op=op,
                    side=side,
                    rps=raw["requests"] / (raw["duration_us"] / 1e6),
                    p50_ms=raw["p50_us"] / 1000,
                    p99_ms=raw["p99_us"] / 1000,
                    cpu_ms=cpu * 1000 / max(raw["requests"], 1),
                    non2xx=raw["non2xx"],
                    socket_errors=raw["socket_errors"],
                )
                results.append(result)
                print(
                    f"{cache:6} {op:5} {LABELS[side]:9} round {n + 1}: {result.rps:8.1f} req/s  "
                    f"p50 {result.p50_ms:6.2f} ms  p99 {result.p99_ms:6.2f} ms  "
                    f"CPU {result.cpu_ms:5.2f} ms/req  non-2xx {result.non2xx}",
                    flush=True,
                )
    return results


def count_round_trips(
    cache: str,
    env: dict[str, str],
    *,
    tmp: Path,
    tokens: dict[str, str],
    case_ids: list[str],
    redis_url: str,
    requests: int,
) -> dict[tuple[str, str, str], Counts]:
    """Send ``requests`` sequential requests per operation and side to a gunicorn whose
    database connections go through ``PostgresCounter``, and count round trips per request.

    Every PATCH sets a new title, so each one takes the full write path. The counts are the
    steady state's: ``WARM_UP_PER_SIDE`` requests go first, uncounted.
    """
    from bench.roundtrips import PostgresCounter, RedisCounter

    database_url = env["BENCH_DATABASE_URL"]
    host_port = database_url.split("@", 1)[1].split("/", 1)[0]
    host, _, port = host_port.partition(":")
    rng = random.Random()  # noqa: S311 (request mix, not secrets; fresh titles every run)
    counts: dict[tuple[str, str, str], Counts] = {}

    def one(base: str, op: str, side: str) -> None:
        case_id, token = rng.choice(case_ids), tokens[op]
        if op in ("list", "list3"):
            status = send(base, "GET", f"{SIDES[side]}/cases?limit=50", token)
        elif op == "get":
            status = send(base, "GET", f"{SIDES[side]}/cases/{case_id}", token)
        else:
            body = json.dumps({"title": f"Counted title {rng.randrange(10**9)}"}).encode()
            status = send(base, "PATCH", f"{SIDES[side]}/cases/{case_id}", token, body)
        if not 200 <= status < 300:
            raise SystemExit(f"counting pass: {op} on {side} answered {status}")

    with PostgresCounter(host, int(port or 5432)) as pg:
        proxied = database_url.replace(host_port, f"127.0.0.1:{pg.port}", 1)
        proxied += ("&" if "?" in proxied else "?") + "sslmode=disable"
        counted_env = env | {"BENCH_DATABASE_URL": proxied}
        with (
            gunicorn(counted_env, tmp / f"gunicorn-count-{cache}.log", tokens["get"]) as server,
            RedisCounter(redis_url) as redis_counter,
        ):
            for _ in range(8):  # both workers connected and warm before anything is counted
                one(server.base, "get", "api")
            for op in OPERATIONS:
                for side in SIDES_OF[op]:
                    # The steady state: each worker's connection has prepared these statements
                    # (one round trip each, once per connection; serverops.settings.base). Sent
                    # four at a time so that both workers take some: one after another, they
                    # could all go to one worker, and the other then prepared its statements in
                    # the counted requests (a PATCH counted 6.12 round trips instead of 6).
                    with ThreadPoolExecutor(4) as pool:
                        list(pool.map(lambda _, op=op, side=side: one(server.base, op, side), range(WARM_UP_PER_SIDE)))
                    redis_counter.settle()
                    pg_before, redis_before = pg.round_trips, redis_counter.commands
                    for _ in range(requests):
                        one(server.base, op, side)
                    redis_counter.settle()
                    counts[(cache, op, side)] = Counts(
                        postgres=(pg.round_trips - pg_before) / requests,
                        redis=(redis_counter.commands - redis_before) / requests,
                    )
    return counts


def summarise(results: Results) -> None:
    print()
    header = (
        f"{'operation':24} {'side':9} {'req/s':>7} {'p50 ms':>7} {'p99 ms':>7} {'CPU ms/req':>10}"
        f" {'PG rt/req':>9} {'Redis/req':>9} {'API/side':>8} {'target':>7}"
    )
    for cache in dict.fromkeys(r.cache for r in results.rounds):
        print(f"cache: {cache}")
        print(header)
        for op, label in OPERATIONS.items():
            api = [r for r in results.rounds if r.cache == cache and r.op == op and r.side == "api"]
            for side in SIDES:
                rounds = [r for r in results.rounds if r.cache == cache and r.op == op and r.side == side]
                if not rounds:
                    continue
                counts = results.counts.get((cache, op, side))
                counted = next((c for (_, o, s), c in results.counts.items() if (o, s) == (op, side)), None)
                if counts is None and cache == "locmem" and counted is not None:
                    counts = Counts(postgres=counted.postgres, redis=0.0)  # nothing goes to Redis
                trips = f"{counts.postgres:9.2f} {counts.redis:9.2f}" if counts else f"{'-':>9} {'-':>9}"
                verdict = ""
                # A round in which a side finished no request at all (a 1-second --tiny round of a slow
                # page on a busy machine) has no ratio.
                ratios = [a.rps / b.rps for a, b in zip(api, rounds, strict=True) if b.rps > 0]
                if side != "api" and ratios:
                    ratio, target = statistics.median(ratios), TARGETS[side][op]
                    verdict = f"{ratio:8.3f} ≥{target:<4.2f} {'met' if ratio >= target else 'MISSED'}"
                elif side != "api":
                    verdict = f"{'n/a':>8} (no request finished in a round)"
                print(
                    f"{label if side == 'api' else '':24} {LABELS[side]:9}"
                    f" {statistics.median(r.rps for r in rounds):7.1f}"
                    f" {statistics.median(r.p50_ms for r in rounds):7.2f}"
                    f" {statistics.median(r.p99_ms for r in rounds):7.2f}"
                    f" {statistics.median(r.cpu_ms for r in rounds):10.2f}"
                    f" {trips} {verdict}"
                )
        print()
    print(
        "req/s, p50, p99, CPU: medians over rounds; CPU: gunicorn workers + their PostgreSQL backends + the Redis\n"
        "server, per request; PG rt/Redis: round trips per request counted exactly in a separate sequential pass\n"
        "(PostgreSQL statements with BEGIN/COMMIT and health checks; Redis commands sent); API/side: median over\n"
        "rounds of API req/s divided by that side's req/s in the same round."
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tiny", action="store_true", help="a few seconds: 50 cases, 1 round of 1 s, no warm-up (CI)")
    parser.add_argument("--rounds", type=int, default=5, help="rounds per side and operation (default 5)")
    parser.add_argument("--seconds", type=int, default=3, help="length of one round (default 3)")
    parser.add_argument("--cases", type=int, default=1000, help="cases to seed (default 1000)")
    parser.add_argument("--connections", type=int, default=4, help="wrk connections (default 4)")
    parser.add_argument("--count", type=int, default=40, help="requests per side and operation counted (default 40)")
    parser.add_argument("--cache", choices=["locmem", "redis"], action="append", help="default: both")
    args = parser.parse_args()
    if args.tiny:
        args.rounds, args.seconds, args.cases, args.count = 1, 1, 50, 5
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed (apt-get install wrk; bench/run.sh does it)")

    database_url = os.environ.get("BENCH_DATABASE_URL", DEFAULT_DATABASE_URL)
    redis_url = os.environ.get("BENCH_REDIS_URL", DEFAULT_REDIS_URL)
    ensure_database(database_url)
    setup_django(database_url)
    from django.core.management import call_command

    from bench.seed import seed

    call_command("migrate", verbosity=0, interactive=False)
    seeded = seed(cases=args.cases)
    three = seed(cases=60, name="bench-3-files", files_per_case=3)  # more than one page of 50
    log(f"seeded {len(seeded.case_ids)} cases; token {seeded.token_id}; 60 cases with 3 files each")
    tokens = {op: three.plaintext if op == "list3" else seeded.plaintext for op in OPERATIONS}

    results = Results()
    application_name = f"serverops-bench-{os.getpid()}"
    with tempfile.TemporaryDirectory(prefix="serverops-bench-") as tmp_name:
        tmp = Path(tmp_name)
        ids_file = tmp / "case_ids.txt"
        ids_file.write_text("\n".join(seeded.case_ids) + "\n")
        base_env = {k: v for k, v in os.environ.items() if k != "REDIS_URL"}
        base_env |= {
            "DJANGO_SETTINGS_MODULE": "bench.settings",
            "BENCH_TOKEN_ID": f"{seeded.token_id},{three.token_id}",
            "BENCH_APPLICATION_NAME": application_name,
        }
        caches = args.cache or ["locmem", "redis"]
        for cache in caches:
            env = base_env | ({"REDIS_URL": redis_url} if cache == "redis" else {})
            with gunicorn(env, tmp / f"gunicorn-{cache}.log", seeded.plaintext) as server:
                log(f"gunicorn (2 workers, {cache} cache) at {server.base}")
                meter = CpuMeter(
                    gunicorn_pid=server.process.pid,
                    application_name=application_name,
                    redis_url=redis_url if cache == "redis" else None,
                )
                results.rounds += measure(
                    cache,
                    server,
                    meter,
                    tokens=tokens,
                    ids_file=ids_file,
                    rounds=args.rounds,
                    seconds=args.seconds,
                    connections=args.connections,
                    warmup=not args.tiny,
                )
            if cache != caches[-1]:
                continue
            # Counted once, under the last cache (Redis by default): PostgreSQL's count does not
            # depend on the cache, and the in-process cache sends Redis nothing.
            results.counts |= count_round_trips(
                cache,
                env,
                tmp=tmp,
                tokens=tokens,
                case_ids=seeded.case_ids,
                redis_url=redis_url,
                requests=args.count,
            )

    summarise(results)
    failed = sum(r.non2xx + r.socket_errors for r in results.rounds)
    if failed:
        print(f"FAILED: {failed} responses were not 2xx (or their sockets failed)")
        return 1
    print("every response was 2xx")
    return 0


if __name__ == "__main__":
    sys.exit(main())
