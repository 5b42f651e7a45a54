"""Benchmark the Cases API against the hand-written baseline views (issue 6).

``python -m bench.run [--tiny]`` (or ``bench/run.sh``): creates the PostgreSQL database if
missing, migrates, seeds a project and a token, then, once with the in-process cache and once
with Redis, starts gunicorn (2 workers, ``bench.settings``) on a free loopback port and runs
wrk rounds that alternate the API and the baseline for each operation. Prints requests per
second, p50 and p99 for each side and the median real/baseline ratio against the targets.
Exits non-zero when any response was not 2xx (or a socket failed); the targets are reported,
not enforced.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = Path(sys.executable).parent
DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/bench"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"
OPERATIONS = {"patch": "PATCH /v1/cases/{id}", "get": "GET /v1/cases/{id}", "list": "GET /v1/cases?limit=50"}
TARGETS = {"patch": 0.90, "get": 0.90, "list": 0.85}
PREFIXES = {"real": "/v1", "baseline": "/bench/baseline/v1"}


@dataclass(frozen=True)
class Round:
    cache: str
    op: str
    side: str
    rps: float
    p50_ms: float
    p99_ms: float
    non2xx: int
    socket_errors: int


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


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class Gunicorn:
    """gunicorn with 2 workers on a loopback port, in its own process group, stopped on exit."""

    def __init__(self, *, env: dict[str, str], log_path: Path) -> None:
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.log_file = log_path.open("ab")
        self.process = subprocess.Popen(  # noqa: S603 (a fixed command line)
            [
                str(VENV_BIN / "gunicorn"),
                "serverops.wsgi:application",
                "--workers=2",
                f"--bind=127.0.0.1:{self.port}",
                "--log-level=warning",
            ],
            cwd=ROOT,
            env=env,
            stdout=self.log_file,
            stderr=self.log_file,
            start_new_session=True,
        )

    def wait_ready(self, token: str, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        url = f"{self.base}/v1/cases?limit=1"
        request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"})  # noqa: S310 (http)
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise SystemExit(f"gunicorn exited with {self.process.returncode}; see {self.log_file.name}")
            try:
                with urllib.request.urlopen(request, timeout=2) as response:  # noqa: S310 (loopback URL)
                    if response.status == 200:
                        return
            except (urllib.error.URLError, ConnectionError):
                time.sleep(0.2)
        raise SystemExit(f"gunicorn did not answer within {timeout}s; see {self.log_file.name}")

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        self.log_file.close()


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
        PREFIXES[side],
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
    *,
    token: str,
    ids_file: Path,
    rounds: int,
    seconds: int,
    connections: int,
    warmup: bool,
) -> list[Round]:
    results: list[Round] = []
    for op in OPERATIONS:
        if warmup:
            for side in PREFIXES:
                raw = run_wrk(
                    server.base, op=op, side=side, token=token, ids_file=ids_file, seconds=1, connections=connections
                )
                results.append(Round(cache, op, f"warmup-{side}", 0, 0, 0, raw["non2xx"], raw["socket_errors"]))
        for n in range(rounds):
            # Alternate which side goes first so neither always runs on a warmer machine.
            sides = ("real", "baseline") if n % 2 == 0 else ("baseline", "real")
            for side in sides:
                raw = run_wrk(
                    server.base,
                    op=op,
                    side=side,
                    token=token,
                    ids_file=ids_file,
                    seconds=seconds,
                    connections=connections,
                )
                result = Round(
                    cache=cache,
                    op=op,
                    side=side,
                    rps=raw["requests"] / (raw["duration_us"] / 1e6),
                    p50_ms=raw["p50_us"] / 1000,
                    p99_ms=raw["p99_us"] / 1000,
                    non2xx=raw["non2xx"],
                    socket_errors=raw["socket_errors"],
                )
                results.append(result)
                print(
                    f"{cache:6} {op:5} {side:8} round {n + 1}: {result.rps:8.1f} req/s  "
                    f"p50 {result.p50_ms:6.2f} ms  p99 {result.p99_ms:6.2f} ms  non-2xx {result.non2xx}",
                    flush=True,
                )
    return results


def summarise(results: list[Round]) -> None:
    print()
    print(
        f"{'cache':6} {'operation':24} {'real req/s':>10} {'p50':>7} {'p99':>7}"
        f" {'base req/s':>10} {'p50':>7} {'p99':>7} {'ratio':>6} {'target':>7}"
    )
    for cache in dict.fromkeys(r.cache for r in results):
        for op, label in OPERATIONS.items():
            real = [r for r in results if r.cache == cache and r.op == op and r.side == "real"]
            base = [r for r in results if r.cache == cache and r.op == op and r.side == "baseline"]
            if not real or not base:
                continue
            ratio = statistics.median(a.rps / b.rps for a, b in zip(real, base, strict=True))
            verdict = "met" if ratio >= TARGETS[op] else "MISSED"
            print(
                f"{cache:6} {label:24} {statistics.median(r.rps for r in real):10.1f}"
                f" {statistics.median(r.p50_ms for r in real):6.2f}m {statistics.median(r.p99_ms for r in real):6.2f}m"
                f" {statistics.median(r.rps for r in base):10.1f}"
                f" {statistics.median(r.p50_ms for r in base):6.2f}m {statistics.median(r.p99_ms for r in base):6.2f}m"
                f" {ratio:6.3f} ≥{TARGETS[op]:.2f} {verdict}"
            )
    print("(ratio: median over rounds of real/baseline requests per second; p50/p99: medians over rounds, ms)")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tiny", action="store_true", help="a few seconds: 50 cases, 1 round of 1 s, no warm-up (CI)")
    parser.add_argument("--rounds", type=int, default=5, help="rounds per side and operation (default 5)")
    parser.add_argument("--seconds", type=int, default=3, help="length of one round (default 3)")
    parser.add_argument("--cases", type=int, default=1000, help="cases to seed (default 1000)")
    parser.add_argument("--connections", type=int, default=4, help="wrk connections (default 4)")
    parser.add_argument("--cache", choices=["locmem", "redis"], action="append", help="default: both")
    args = parser.parse_args()
    if args.tiny:
        args.rounds, args.seconds, args.cases = 1, 1, 50
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
    log(f"seeded {len(seeded.case_ids)} cases; token {seeded.token_id}")

    results: list[Round] = []
    with tempfile.TemporaryDirectory(prefix="serverops-bench-") as tmp:
        ids_file = Path(tmp) / "case_ids.txt"
        ids_file.write_text("\n".join(seeded.case_ids) + "\n")
        base_env = {k: v for k, v in os.environ.items() if k != "REDIS_URL"}
        base_env |= {"DJANGO_SETTINGS_MODULE": "bench.settings", "BENCH_TOKEN_ID": seeded.token_id}
        for cache in args.cache or ["locmem", "redis"]:
            env = base_env | ({"REDIS_URL": redis_url} if cache == "redis" else {})
            server = Gunicorn(env=env, log_path=Path(tmp) / f"gunicorn-{cache}.log")
            try:
                server.wait_ready(seeded.plaintext)
                log(f"gunicorn (2 workers, {cache} cache) at {server.base}")
                results += measure(
                    cache,
                    server,
                    token=seeded.plaintext,
                    ids_file=ids_file,
                    rounds=args.rounds,
                    seconds=args.seconds,
                    connections=args.connections,
                    warmup=not args.tiny,
                )
            finally:
                server.stop()
            errors = [
                line for line in (Path(tmp) / f"gunicorn-{cache}.log").read_text().splitlines() if "ERROR" in line
            ]
            if errors:
                log("gunicorn logged errors:\n" + "\n".join(errors[:20]))

    summarise(results)
    failed = sum(r.non2xx + r.socket_errors for r in results)
    if failed:
        print(f"FAILED: {failed} responses were not 2xx (or their sockets failed)")
        return 1
    print("every response was 2xx")
    return 0


if __name__ == "__main__":
    sys.exit(main())
