#!/usr/bin/env python3
"""Container smoke test: the Dockerfile built and run with podman, with no container registry.

1. The base image, when it is not there yet: a Debian bookworm root file system made by mmdebstrap
   from the machine's own apt sources (minbase, python3, python3-venv, ca-certificates, passwd,
   tzdata, netbase), imported as ``localhost/serverops-python:3.11-bookworm``. It stays in podman's
   store, so later runs skip this part (``--rebuild-base`` makes it again).
2. ``podman build --build-arg PYTHON_IMAGE=<that base>`` of the repository's Dockerfile, unchanged
   (layers cached as podman caches them; ``--no-cache`` builds every step again). The RUN steps see
   the machine's CA bundle, mounted read-only and never part of a layer, so pip trusts what the
   machine trusts.
3. The image run on the host's network against the host's PostgreSQL (``--database``, dropped and
   made again) and Redis (``--redis-url``), with S3 on moto's server as compose.yaml has MinIO, under
   the production settings with every secret in an env file only the containers read:
   one-off containers run ``migrate``, ``check --deploy``, ``create_project``, ``create_token`` and
   ``create_webhook``; a web container (gunicorn with ``gunicorn.conf.py`` on 127.0.0.1 only, a
   free port) must answer /healthz, /readyz and /metrics 200, the token must list and create
   cases, the image's HEALTHCHECK must pass and every process must be the unprivileged user; a
   webhook worker container (``deliver_webhooks``) must deliver the case's event, signed, to a
   receiver on 127.0.0.1.

It prints each check and how long each part took, and fails (exit 1) on the first check that does
not hold, with the containers' logs. With no container engine installed it says so and exits 0;
podman is the engine it drives (``apt-get install podman mmdebstrap runc``; docs/deploy.md says what
this machine needed and why).

    .venv/bin/python scripts/container_smoke.py
    .venv/bin/python scripts/container_smoke.py --rebuild-base --no-cache    # everything from cold
"""

from __future__ import annotations

import argparse
import http.client
import ipaddress
import json
import os
import resource
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg

if str(Path(__file__).resolve().parent.parent) not in sys.path:  # run as a script: the repository root
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from scripts.servers import free_port, fresh_database, stop, wait_listening
from scripts.webhook_fault import Receiver
from tests.media.s3server import moto_server

ROOT = Path(__file__).resolve().parent.parent
BASE_IMAGE = "localhost/serverops-python:3.11-bookworm"
IMAGE = "localhost/serverops-cases:latest"
# What the Dockerfile needs of its base (python3 -m venv, useradd), and what the official slim
# image also has (CA certificates, the time zone database, /etc/services and friends).
BASE_PACKAGES = ("python3", "python3-venv", "ca-certificates", "passwd", "tzdata", "netbase")
# Documentation, manual pages and translations: no use in an image.
DPKG_EXCLUDES = ("/usr/share/doc/*", "/usr/share/man/*", "/usr/share/locale/*")
CA_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")
HOST = "cases.localhost"  # ALLOWED_HOSTS of the run; every request names it
BUCKET = "container-smoke-evidence"
USER = "serverops"  # the Dockerfile's unprivileged user
UID = "10001"
# podman 4.3 lowers its own RLIMIT_NPROC to this (strace shows it) before it starts the runtime.
PODMAN_NPROC = 32768
# Where root lacks CAP_SYS_RESOURCE (a sandbox), a runtime cannot raise a limit; podman asks for
# 1048576 open files and processes unless told, so each run is told the limits it already has.
RLIMIT_DEFAULT = 1048576


class Failed(Exception):
    """A check that did not hold, or a step that failed; the run stops there."""


@dataclass
class Report:
    """What ran and how long it took, printed as it goes."""

    timings: list[tuple[str, float]] = field(default_factory=list)

    @contextmanager
    def part(self, name: str) -> Iterator[None]:
        print(f"--- {name}", flush=True)
        started = time.monotonic()
        try:
            yield
        finally:
            self.timings.append((name, time.monotonic() - started))
            print(f"    ({time.monotonic() - started:.1f} s)", flush=True)

    @staticmethod
    def ok(what: str) -> None:
        print(f"    ok: {what}", flush=True)


def ulimit_options() -> list[str]:
    """``--ulimit`` options no higher than this process's hard limits (and podman's own nproc)."""

    def hard(kind: int, cap: int) -> int:
        limit = resource.getrlimit(kind)[1]
        return cap if limit == resource.RLIM_INFINITY else min(limit, cap)

    nofile = hard(resource.RLIMIT_NOFILE, RLIMIT_DEFAULT)
    nproc = hard(resource.RLIMIT_NPROC, PODMAN_NPROC)
    return ["--ulimit", f"nofile={nofile}:{nofile}", "--ulimit", f"nproc={nproc}:{nproc}"]


@dataclass
class Podman:
    """podman with the options this machine needs: the OCI runtime that works here, the ulimits."""

    binary: str
    runtime: str | None = None
    ulimits: list[str] = field(default_factory=ulimit_options)

    def command(self, *args: str) -> list[str]:
        return [self.binary, *(["--runtime", self.runtime] if self.runtime else []), *args]

    def run(self, *args: str, check: bool = True, timeout: float = 600) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(self.command(*args), capture_output=True, text=True, timeout=timeout)
        if check and result.returncode != 0:
            raise Failed(f"podman {' '.join(args[:2])} … exited {result.returncode}:\n{tail(result.stderr)}")
        return result

    def container(self, name: str, env_file: Path, *options: str) -> list[str]:
        """``podman run`` of the image on the host's network, with the run's secrets."""
        return self.command(
            "run", "--rm", "--name", name, "--network", "host", "--env-file", str(env_file), *self.ulimits, *options
        )


def tail(text: str, lines: int = 30) -> str:
    return "\n".join(text.strip().splitlines()[-lines:])


def find_runtime(podman: Podman) -> str | None:
    """The first OCI runtime that starts a container here: podman's default (crun on Debian), else
    runc. crun 1.8 refuses a hybrid cgroup v1/v2 host ("cgroups in hybrid mode not supported")."""
    errors = []
    for runtime in [None, *(["runc"] if shutil.which("runc") else [])]:
        podman.runtime = runtime
        probe = podman.run("run", "--rm", "--network", "host", *podman.ulimits, BASE_IMAGE, "true", check=False)
        if probe.returncode == 0:
            return runtime
        errors.append(f"{runtime or 'default runtime'}: {tail(probe.stderr, 3)}")
    hint = "" if shutil.which("runc") else " (apt-get install runc: it may work where crun does not)"
    raise Failed("no OCI runtime starts a container here" + hint + ":\n" + "\n".join(errors))


def apt_sources() -> list[str]:
    """The machine's own Debian sources, for mmdebstrap: the deb822 file of Debian 12's images, else
    sources.list; none (mmdebstrap's default mirror) when neither is there."""
    for path in (Path("/etc/apt/sources.list.d/debian.sources"), Path("/etc/apt/sources.list")):
        if path.is_file() and any(line.strip() and not line.lstrip().startswith("#") for line in path.open()):
            return [str(path)]
    return []


def make_base(podman: Podman, report: Report) -> None:
    """mmdebstrap a bookworm root file system into a tarball and import it as ``BASE_IMAGE``."""
    if shutil.which("mmdebstrap") is None:
        raise Failed("the base image is made with mmdebstrap: apt-get install mmdebstrap")
    with tempfile.TemporaryDirectory(prefix="serverops-base-") as scratch:
        tarball = Path(scratch) / "rootfs.tar"
        command = [
            "mmdebstrap",
            "--variant=minbase",
            f"--include={','.join(BASE_PACKAGES)}",
            *(f"--dpkgopt=path-exclude={pattern}" for pattern in DPKG_EXCLUDES),
            "--dpkgopt=path-include=/usr/share/doc/*/copyright",  # the licences stay
            "bookworm",
            str(tarball),
            *apt_sources(),
        ]
        result = subprocess.run(command, capture_output=True, text=True)
        if result.returncode != 0:
            raise Failed(f"mmdebstrap exited {result.returncode}:\n{tail(result.stderr)}")
        report.ok(f"mmdebstrap: bookworm minbase + {', '.join(BASE_PACKAGES)} ({tarball.stat().st_size >> 20} MiB)")
        podman.run("import", "--change", "ENV LANG=C.UTF-8", "--change", 'CMD ["python3"]', str(tarball), BASE_IMAGE)
    report.ok(f"imported as {BASE_IMAGE}")


def build(podman: Podman, no_cache: bool) -> None:
    """The Dockerfile on the local base; --format docker keeps its HEALTHCHECK (OCI has none)."""
    options = ["--network", "host", "--format", "docker", *podman.ulimits]
    if CA_BUNDLE.is_file():
        options += ["--volume", f"{CA_BUNDLE}:{CA_BUNDLE}:ro"]
    if no_cache:
        options.append("--no-cache")
    if podman.runtime:
        options += ["--runtime", podman.runtime]
    options += ["--build-arg", f"PYTHON_IMAGE={BASE_IMAGE}", "--tag", IMAGE, str(ROOT)]
    podman.run("build", *options, timeout=1800)


def one_off(podman: Podman, env_file: Path, name: str, *command: str) -> str:
    """``command`` in a one-off container of the image; its standard output."""
    argv = [*podman.container(name, env_file, "--no-healthcheck"), IMAGE, *command]
    result = subprocess.run(argv, capture_output=True, text=True, timeout=300)
    if result.returncode != 0:
        raise Failed(f"{' '.join(command[:3])} in a container exited {result.returncode}:\n{tail(result.stderr)}")
    return result.stdout.strip()


@dataclass
class Response:
    status: int
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


def request(port: int, method: str, path: str, *, headers: dict[str, str], body: object = None) -> Response:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        payload = None if body is None else json.dumps(body).encode()
        sent = {"Host": HOST, **headers, **({"Content-Type": "application/json"} if payload else {})}
        connection.request(method, path, body=payload, headers=sent)
        response = connection.getresponse()
        return Response(response.status, response.read())
    finally:
        connection.close()


def expect(response: Response, status: int, what: str) -> Response:
    if response.status != status:
        raise Failed(f"{what}: {response.status}, not {status}: {response.body[:300]!r}")
    Report.ok(f"{what}: {status}")
    return response


def processes_as(podman: Podman, name: str) -> list[tuple[str, str]]:
    """(user, command) of every process in container ``name``."""
    output = podman.run("top", name, "user", "args").stdout.splitlines()[1:]
    return [(line.split(None, 1)[0], line.split(None, 1)[1].strip()) for line in output if line.strip()]


def check_unprivileged(podman: Podman, name: str) -> None:
    users = processes_as(podman, name)
    if not users or any(user != USER for user, _ in users):
        raise Failed(f"{name}: processes not all {USER}: {users}")
    uid = podman.run("exec", name, "id", "-u").stdout.strip()
    if uid != UID:
        raise Failed(f"{name}: id -u is {uid}, not {UID}")
    Report.ok(f"{name}: all {len(users)} processes run as {USER} (uid {uid})")


def listening_on(port: int) -> set[str]:
    """The local addresses with a socket listening on ``port`` (the host's network namespace, which
    the containers share): /proc/net/tcp and tcp6, where state 0A is LISTEN."""
    addresses = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            local, state = line.split()[1], line.split()[3]
            address, _, hex_port = local.partition(":")
            if state == "0A" and int(hex_port, 16) == port:
                packed = bytes.fromhex(address)
                # The kernel writes each 32-bit word in host (little-endian) order.
                words = b"".join(packed[i : i + 4][::-1] for i in range(0, len(packed), 4))
                addresses.add(str(ipaddress.ip_address(words)))
    return addresses


def wait_healthy(podman: Podman, name: str, process: subprocess.Popen[bytes], timeout: float = 60) -> float:
    """Seconds until ``podman healthcheck run`` passes (the container's own HEALTHCHECK)."""
    started = time.monotonic()
    while time.monotonic() < started + timeout:
        if process.poll() is not None:
            raise Failed(f"{name} exited {process.returncode}")
        if podman.run("healthcheck", "run", name, check=False).returncode == 0:
            return time.monotonic() - started
        time.sleep(0.5)
    raise Failed(f"{name}: the HEALTHCHECK did not pass within {timeout:.0f} s")


def container_logs(log: Path) -> str:
    return tail(log.read_text(errors="replace"), 40) if log.exists() else "(no log)"


def run_containers(podman: Podman, args: argparse.Namespace, report: Report, scratch: Path) -> None:
    dsn = fresh_database(args.admin_dsn, args.database)
    subprocess.run(["redis-cli", "-u", args.redis_url, "FLUSHDB"], check=True, capture_output=True)
    port = free_port()
    prefix = f"serverops-smoke-{os.getpid()}"
    metrics_token = secrets.token_urlsafe(32)
    environment = {
        "DATABASE_URL": dsn,
        "REDIS_URL": args.redis_url,
        "SECRET_KEY": secrets.token_urlsafe(50),
        "IDENTIFIER_HASH_KEY": secrets.token_urlsafe(50),
        "ALLOWED_HOSTS": HOST,
        "CSRF_TRUSTED_ORIGINS": f"https://{HOST}",
        "SITE_URL": f"https://{HOST}",
        "METRICS_TOKEN": metrics_token,
        "WEBHOOK_ALLOW_PRIVATE_NETWORKS": "1",  # the receiver is on 127.0.0.1
    }
    env_file = scratch / "smoke.env"
    env_file.touch(mode=0o600)
    web_log, worker_log = scratch / "web.log", scratch / "worker.log"
    receiver = Receiver(delay=0)
    web = worker = None
    with (scratch / "moto.log").open("wb") as moto_log, moto_server(moto_log) as s3:
        s3.client().create_bucket(Bucket=BUCKET)  # type: ignore[attr-defined]
        environment.update(s3.environment(BUCKET))

        def write_env() -> None:
            env_file.write_text("".join(f"{key}={value}\n" for key, value in environment.items()))

        try:
            with report.part("one-off containers: export key, migrate, check --deploy, project, token, webhook"):
                write_env()
                key_line = one_off(podman, env_file, f"{prefix}-key", "python", "manage.py", "create_export_key")
                environment["EXPORT_SIGNING_KEY"] = key_line.partition("=")[2]
                write_env()
                Report.ok("create_export_key printed a key (in the env file only)")
                one_off(podman, env_file, f"{prefix}-migrate", "python", "manage.py", "migrate", "--noinput", "-v0")
                Report.ok(f"migrate applied every migration to {args.database}")
                deploy = ("python", "manage.py", "check", "--deploy", "--fail-level", "WARNING")
                one_off(podman, env_file, f"{prefix}-check", *deploy)
                Report.ok("check --deploy under the production settings: no warning")
                manage = ("python", "manage.py")
                project = one_off(
                    podman, env_file, f"{prefix}-project", *manage, "create_project", "Smoke", "--org", "Containers"
                )
                scopes = ("--scope", "cases:read", "--scope", "cases:write")
                token = one_off(
                    podman,
                    env_file,
                    f"{prefix}-token",
                    *manage,
                    "create_token",
                    "--project",
                    project,
                    "--name",
                    "smoke",
                    *scopes,
                )
                url = f"http://127.0.0.1:{receiver.port}/"
                receiver.secret = one_off(
                    podman, env_file, f"{prefix}-webhook", *manage, "create_webhook", "--project", project, "--url", url
                )
                Report.ok(f"create_project {project}, create_token (cases:read, cases:write), create_webhook → {url}")

            with report.part(f"web container: gunicorn on 127.0.0.1:{port}"):
                bind = ("gunicorn", "--config", "gunicorn.conf.py", "--bind", f"127.0.0.1:{port}")
                with web_log.open("wb") as log:
                    web = subprocess.Popen(
                        [*podman.container(f"{prefix}-web", env_file, "--env", f"PORT={port}"), IMAGE, *bind],
                        stdout=log,
                        stderr=log,
                        start_new_session=True,
                    )
                wait_listening(web, port, timeout=120)
                if listening_on(port) != {"127.0.0.1"}:
                    raise Failed(f"port {port} is listened on at {listening_on(port)}, not 127.0.0.1 alone")
                Report.ok(f"listening on 127.0.0.1:{port} alone")
                expect(request(port, "GET", "/healthz", headers={}), 200, "GET /healthz")
                ready = expect(request(port, "GET", "/readyz", headers={}), 200, "GET /readyz").json()
                Report.ok(f"/readyz checks: {ready['checks']}")
                # TLS ends in front of gunicorn: the proxy says so (production redirects plain HTTP).
                tls = {"X-Forwarded-Proto": "https"}
                auth = {**tls, "Authorization": f"Bearer {token}"}
                expect(request(port, "GET", "/v1/cases", headers=tls), 401, "GET /v1/cases without a token")
                expect(request(port, "GET", "/v1/cases", headers=auth), 200, "GET /v1/cases with the token")
                body = {"title": "Container smoke case", "description": "filed by scripts/container_smoke.py"}
                case = expect(request(port, "POST", "/v1/cases", headers=auth, body=body), 201, "POST /v1/cases").json()
                listed = expect(request(port, "GET", "/v1/cases", headers=auth), 200, "GET /v1/cases again").json()
                if case["id"] not in {item["id"] for item in listed["cases"]}:
                    raise Failed(f"the case made, {case['id']}, is not in the list: {listed}")
                Report.ok(f"the list holds the case made, {case['id']}")
                metrics = request(port, "GET", "/metrics", headers={"Authorization": f"Bearer {metrics_token}"})
                expect(metrics, 200, "GET /metrics (PROMETHEUS_MULTIPROC_DIR writable by the user)")
                podman.run("healthcheck", "run", f"{prefix}-web")
                Report.ok(f"podman healthcheck run: the image's HEALTHCHECK passes (PORT={port})")
                check_unprivileged(podman, f"{prefix}-web")

            with report.part("the image's own CMD, in a container with no network: HEALTHCHECK on its PORT"):
                default = subprocess.Popen(
                    podman.command(
                        "run",
                        "--rm",
                        "--name",
                        f"{prefix}-cmd",
                        "--network",
                        "none",
                        "--env-file",
                        str(env_file),
                        *podman.ulimits,
                        IMAGE,
                    ),
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                    start_new_session=True,
                )
                try:
                    healthy_after = wait_healthy(podman, f"{prefix}-cmd", default)
                    Report.ok(f"gunicorn from CMD answers the HEALTHCHECK after {healthy_after:.1f} s")
                    check_unprivileged(podman, f"{prefix}-cmd")
                finally:
                    stop(default, timeout=30)

            with report.part("worker container: deliver_webhooks"):
                worker_host = f"{prefix}-worker"
                with worker_log.open("wb") as log:
                    worker = subprocess.Popen(
                        [
                            *podman.container(worker_host, env_file, "--no-healthcheck", "--hostname", worker_host),
                            IMAGE,
                            "python",
                            "manage.py",
                            "deliver_webhooks",
                        ],
                        stdout=log,
                        stderr=log,
                        start_new_session=True,
                    )
                deadline = time.monotonic() + 60
                while not receiver.received and time.monotonic() < deadline:
                    if worker.poll() is not None:
                        raise Failed(f"the worker container exited {worker.returncode}")
                    time.sleep(0.2)
                if not receiver.received or receiver.bad_signatures:
                    raise Failed(f"deliveries: {dict(receiver.received)}, bad signatures: {receiver.bad_signatures}")
                with psycopg.connect(dsn) as db:
                    workers = {row[0] for row in db.execute("SELECT worker FROM webhooks_webhookattempt")}
                if not workers or any(not name.startswith(f"{worker_host}:") for name in workers):
                    raise Failed(f"attempts made by {workers}, not by the worker container {worker_host}")
                Report.ok(f"the case's event arrived signed ({len(receiver.received)} delivery), sent by {worker_host}")
                check_unprivileged(podman, worker_host)
        except (Failed, RuntimeError):  # RuntimeError: wait_listening's (the server exited or never answered)
            for label, log_path in (("web", web_log), ("worker", worker_log)):
                if log_path.exists():
                    print(f"--- {label} container's log (last lines)\n{container_logs(log_path)}", file=sys.stderr)
            raise
        finally:
            for process in (worker, web):
                if process is not None:
                    stop(process, timeout=30)
            for suffix in ("worker", "web", "cmd"):
                podman.run("rm", "--force", "--ignore", f"{prefix}-{suffix}", check=False)
            receiver.server.shutdown()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--admin-dsn", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--database", default="serverops_container_smoke", help="dropped and made again")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/11", help="flushed first")
    parser.add_argument("--rebuild-base", action="store_true", help=f"make {BASE_IMAGE} again even if it is there")
    parser.add_argument("--no-cache", action="store_true", help="build every step of the Dockerfile again")
    args = parser.parse_args(argv)

    binary = shutil.which("podman")
    if binary is None:
        others = [name for name in ("docker", "nerdctl") if shutil.which(name)]
        if not others:
            print("SKIP: no container engine is installed (apt-get install podman mmdebstrap runc to run this)")
            return 0
        print(f"FAILED: {', '.join(others)} is installed, but this script drives podman: apt-get install podman")
        return 1
    podman = Podman(binary)
    report = Report()
    started = time.monotonic()
    try:
        version = podman.run("--version").stdout.strip()
        print(f"{version}; {' '.join(podman.ulimits)}")
        with report.part(f"base image {BASE_IMAGE}"):
            present = podman.run("image", "exists", BASE_IMAGE, check=False).returncode == 0
            if present and not args.rebuild_base:
                Report.ok("already in podman's store (--rebuild-base makes it again)")
            else:
                make_base(podman, report)
            runtime = find_runtime(podman)
            Report.ok(f"OCI runtime that starts containers here: {runtime or 'podman default'}")
            python = podman.run("run", "--rm", *podman.ulimits, BASE_IMAGE, "python3", "--version").stdout.strip()
            Report.ok(f"base has {python}")
        with report.part(f"podman build {IMAGE}{' --no-cache' if args.no_cache else ''}"):
            previous = podman.run("image", "inspect", "--format", "{{.Id}}", IMAGE, check=False).stdout.strip()
            build(podman, args.no_cache)
            if previous and previous != podman.run("image", "inspect", "--format", "{{.Id}}", IMAGE).stdout.strip():
                podman.run("rmi", previous, check=False)  # the build before, untagged now (unless a layer is shared)
            size = podman.run("image", "inspect", "--format", "{{.Size}}", IMAGE).stdout.strip()
            Report.ok(f"built, {int(size) >> 20} MiB")
        with tempfile.TemporaryDirectory(prefix="serverops-container-smoke-") as scratch:
            run_containers(podman, args, report, Path(scratch))
    except (Failed, RuntimeError) as exc:
        print(f"FAILED: {exc}", file=sys.stderr)
        return 1
    print("\ncontainer smoke: every check held")
    for name, seconds in report.timings:
        print(f"  {seconds:6.1f} s  {name}")
    print(f"  {time.monotonic() - started:6.1f} s  in all")
    return 0


if __name__ == "__main__":
    sys.exit(main())
