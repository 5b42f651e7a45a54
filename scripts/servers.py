"""The service under gunicorn on a loopback port, for the benchmarks (bench/), the soak, fault and
memory scripts (scripts/) and the raw-HTTP tests: one way to pick a port, start, wait and stop."""

from __future__ import annotations

import http.client
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import IO

ROOT = Path(__file__).resolve().parent.parent


def fresh_database(admin_dsn: str, name: str) -> str:
    """Drop the PostgreSQL database ``name`` (whoever is connected) and make it again, empty;
    returns its DSN, ``admin_dsn`` with the database name replaced."""
    import psycopg
    from psycopg import sql

    with psycopg.connect(admin_dsn, autocommit=True) as admin:
        database = sql.Identifier(name)
        admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(database))
        admin.execute(sql.SQL("CREATE DATABASE {}").format(database))
    return admin_dsn.rsplit("/", 1)[0] + "/" + name


def service_env(dsn: str, redis_url: str, scratch: Path, **overrides: str) -> dict[str, str]:
    """The environment of a service a script starts: this one's, the base settings on ``dsn`` and
    ``redis_url``, rate limits no test client reaches, warnings only, media and static files in
    ``scratch``, and webhook receivers on 127.0.0.1 allowed; then ``overrides``."""
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "serverops.settings.base",
        "DATABASE_URL": dsn,
        "REDIS_URL": redis_url,
        "RATE_LIMIT_PER_SECOND": "100000",
        "RATE_LIMIT_PER_MINUTE": "10000000",
        "LOG_LEVEL": "WARNING",
        "MEDIA_ROOT": str(scratch / "media"),
        "STATIC_ROOT": str(scratch / "static"),
        "WEBHOOK_ALLOW_PRIVATE_NETWORKS": "1",
        **overrides,
    }


def manage(env: Mapping[str, str], *args: str) -> str:
    """``manage.py args`` under ``env``: what it printed, stripped; ``RuntimeError`` naming the
    command and what it wrote to stderr if it failed."""
    command = [sys.executable, "manage.py", *args]
    result = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"manage.py {' '.join(args)} failed: {result.stderr.strip()}")
    return result.stdout.strip()


def free_port() -> int:
    """A loopback port nothing listens on now: the first free one of ``SERVEROPS_PORTS``
    (``LOW-HIGH``, for runs that share a machine and divide its ports), else any the kernel picks."""
    ports = os.environ.get("SERVEROPS_PORTS", "")
    low, _, high = ports.partition("-")
    candidates = range(int(low), int(high) + 1) if low.isdigit() and high.isdigit() else [0]
    for port in candidates:
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return int(sock.getsockname()[1])
    raise RuntimeError(f"no free port in SERVEROPS_PORTS={ports}")


def start_gunicorn(
    app: str = "serverops.wsgi",
    *,
    env: Mapping[str, str],
    port: int,
    workers: int,
    config: bool = True,
    options: Sequence[str] = (),
    log: IO[bytes] | None = None,
    cwd: Path = ROOT,
) -> subprocess.Popen[bytes]:
    """gunicorn serving ``app`` on 127.0.0.1:``port`` from ``cwd`` (the repository root unless a
    host of its own is wanted; the repository is on the path either way), in a process group of
    its own (``stop`` ends the master and its workers), with ``gunicorn.conf.py`` unless
    ``config`` is False; its output goes to ``log`` (inherited when None)."""
    command = [sys.executable, "-m", "gunicorn", app, *(["--config", str(ROOT / "gunicorn.conf.py")] if config else [])]
    command += ["--workers", str(workers), "--bind", f"127.0.0.1:{port}", "--log-level", "warning", *options]
    if cwd != ROOT:
        path = os.pathsep.join(p for p in (str(cwd), str(ROOT), env.get("PYTHONPATH", "")) if p)
        env = {**env, "PYTHONPATH": path}
    return subprocess.Popen(command, cwd=cwd, env=dict(env), stdout=log, stderr=log, start_new_session=True)


def wait_listening(process: subprocess.Popen[bytes], port: int, timeout: float = 60) -> None:
    """Until the server answers an HTTP request (any status); ``RuntimeError`` when it exits or
    does not answer within ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"gunicorn exited with {process.returncode}")
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        try:
            connection.request("GET", "/v1/")
            connection.getresponse().read()
            return
        except OSError:
            time.sleep(0.1)
        finally:
            connection.close()
    raise RuntimeError(f"gunicorn did not answer on port {port} within {timeout}s")


def stop(process: subprocess.Popen[bytes], timeout: float = 15) -> None:
    """End the server's process group: SIGTERM, then SIGKILL after ``timeout`` seconds."""
    if process.poll() is not None:
        return
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
