"""Engines failing under the service (docs/operations.md#faults): PostgreSQL out of connections,
Redis restarted, S3 answering 500. Each is a 503 naming the engine, never a 500 with a
traceback, and a refused write changes nothing; the rate limit fails open while Redis is away."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from botocore.awsrequest import AWSResponse
from botocore.config import Config
from django.core.files.storage import storages
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import OperationalError, connection
from django.test import override_settings

from cases.demo import screenshot_png
from cases.models import Case
from media.models import File
from scripts.servers import free_port
from tests.factories import TokenFactory
from tests.media.s3server import S3Server, moto_server
from tokens import crypto
from tokens.models import Mode, Project

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parents[2]
TOO_MANY = "connection failed: FATAL:  sorry, too many clients already"
DATABASE_DOWN = {"code": "service_unavailable", "message": "the database is not answering; retry in a few seconds"}


def refuse_every_statement(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
    raise OperationalError(TOO_MANY)


def test_database_out_of_connections_is_a_503_naming_it(call, case, caplog) -> None:
    with connection.execute_wrapper(refuse_every_statement):
        r = call("PATCH", f"/v1/cases/{case.id}", json_body={"title": "changed"})
    assert r.status_code == 503, r.content
    assert r.json() == {"error": DATABASE_DOWN}
    assert r["Retry-After"] == "5"
    assert Case.objects.get(pk=case.pk).title == case.title
    assert "database unavailable: OperationalError" in caplog.text
    assert "Traceback" not in caplog.text


def test_database_failure_outside_the_api_is_a_plain_503(admin_client, caplog) -> None:
    with connection.execute_wrapper(refuse_every_statement):
        r = admin_client.get("/admin/")
    assert r.status_code == 503, r.content
    assert r.content == b"the database is not answering; retry in a few seconds\n"
    assert "Traceback" not in caplog.text


def test_a_service_with_its_database_gone_answers_503_in_the_envelope(tmp_path) -> None:
    """A real connection failure: a process whose DATABASE_URL names a port nothing listens on."""
    token = crypto.generate(Mode.LIVE)  # well-formed, so its lookup reaches the database
    code = (
        "from django.test import Client; "
        f"r = Client().get('/v1/cases', headers={{'Authorization': 'Bearer {token}'}}); "
        "print(r.status_code, r.content.decode())"
    )
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "serverops.settings.base",
        "DATABASE_URL": f"postgres://postgres@127.0.0.1:{free_port()}/gone",
        "ALLOWED_HOSTS": "testserver",
        "MEDIA_ROOT": str(tmp_path),
    }
    result = subprocess.run(
        [sys.executable, "manage.py", "shell", "--no-imports", "-c", code],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    status, _, body_text = result.stdout.strip().partition(" ")
    assert status == "503", result.stdout
    assert '"code":"service_unavailable"' in body_text
    assert "the database is not answering" in body_text
    assert "Traceback" not in result.stderr


# --- Redis restarted under the rate limit ---------------------------------------------------


@pytest.fixture
def own_redis(tmp_path) -> Iterator[Any]:
    """A redis-server of this test's own on a free port (the shared one is never restarted),
    with ``stop()`` and ``start()`` on the same port."""
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.fail("redis-server is needed (Debian: apt-get install redis-server)")
    port = free_port()

    class Server:
        url = f"redis://127.0.0.1:{port}/0"
        process: subprocess.Popen[bytes] | None = None

        def start(self) -> None:
            self.process = subprocess.Popen(
                [
                    binary,
                    "--port",
                    str(port),
                    "--bind",
                    "127.0.0.1",
                    "--save",
                    "",
                    "--appendonly",
                    "no",
                    "--dir",
                    str(tmp_path),
                ],
                stdout=subprocess.DEVNULL,
            )
            deadline = time.monotonic() + 10
            while True:
                try:
                    redis.Redis(port=port, socket_timeout=1).ping()
                    return
                except redis.ConnectionError:
                    assert time.monotonic() < deadline, "redis-server did not start"
                    time.sleep(0.05)

        def stop(self) -> None:
            assert self.process is not None
            self.process.kill()
            self.process.wait()

    server = Server()
    server.start()
    yield server
    server.stop()


def test_the_rate_limit_fails_open_while_redis_restarts(call, own_redis, settings) -> None:
    settings.METRICS_TOKEN = "scrape"
    settings.SERVEROPS = {**settings.SERVEROPS, "RATE_LIMIT_PER_SECOND": 100_000, "RATE_LIMIT_PER_MINUTE": 1000}
    with override_settings(RATE_LIMIT_REDIS_URL=own_redis.url):
        before = call("GET", "/v1/cases")
        assert before.status_code == 200, before.content
        assert before["X-RateLimit-Remaining"] == "999"

        own_redis.stop()
        during = [call("GET", "/v1/cases") for _ in range(3)]
        assert [r.status_code for r in during] == [200, 200, 200], [r.content for r in during]
        assert all("X-RateLimit-Remaining" not in r for r in during)

        own_redis.start()  # an empty Redis: its counters and scripts are gone
        after = call("GET", "/v1/cases")
        assert after.status_code == 200, after.content
        assert after["X-RateLimit-Remaining"] == "999"
        assert call("GET", "/v1/cases")["X-RateLimit-Remaining"] == "998"


def test_requests_let_through_uncounted_are_counted_in_the_metrics(client, call, settings) -> None:
    settings.METRICS_TOKEN = "scrape"
    scrape = {"Authorization": "Bearer scrape"}

    def uncounted() -> float:
        for line in client.get("/metrics", headers=scrape).content.decode().splitlines():
            if line.startswith("serverops_rate_limit_uncounted_total "):
                return float(line.split()[1])
        return 0.0

    first = uncounted()
    with override_settings(RATE_LIMIT_REDIS_URL=f"redis://127.0.0.1:{free_port()}/0"):
        assert call("GET", "/v1/cases").status_code == 200
    assert uncounted() == first + 1


# --- S3 answering 500 -------------------------------------------------------------------------

BUCKET = "serverops-faults"


@pytest.fixture(scope="module")
def s3_server() -> Iterator[S3Server]:
    with moto_server() as server:
        server.client().create_bucket(Bucket=BUCKET)  # type: ignore[attr-defined]
        yield server


@pytest.fixture
def s3(s3_server: S3Server, settings: Any) -> Iterator[Any]:
    # One retry, not botocore's default four, keeps the test short; what it proves does not change.
    retry_once = Config(retries={"max_attempts": 2, "mode": "standard"})
    options = {**s3_server.storage_options(BUCKET), "client_config": retry_once}
    backend = {"BACKEND": "media.storage.S3MediaStorage", "OPTIONS": options}
    with override_settings(STORAGES={**settings.STORAGES, "default": backend}):
        yield s3_server.client()


def objects(client: Any) -> list[str]:
    return [item["Key"] for item in client.list_objects_v2(Bucket=BUCKET).get("Contents", [])]


class Fault:
    """The store answers 500 to ``operation`` the next ``times`` times it is asked (botocore's
    ``before-send`` event: the request never leaves, the answer is the store's error page)."""

    def __init__(self, operation: str, times: int) -> None:
        self.operation, self.left, self.answered = operation, times, 0

    def install(self) -> None:
        client = storages["default"].connection.meta.client  # type: ignore[attr-defined]
        client.meta.events.register(f"before-send.s3.{self.operation}", self)

    def __call__(self, request: Any, **_: Any) -> AWSResponse | None:
        if self.left <= 0:
            return None
        self.left -= 1
        self.answered += 1
        body = b"<Error><Code>InternalError</Code><Message>We encountered an internal error.</Message></Error>"
        return AWSResponse(request.url, 500, {"Content-Type": "application/xml"}, _Raw(body))


class _Raw:
    def __init__(self, body: bytes) -> None:
        self.body = body

    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self.body

    def read(self, *_: Any) -> bytes:
        body, self.body = self.body, b""
        return body


def upload(client: Any, token: Any, **fields: str) -> Any:
    png = screenshot_png(5)
    return client.post(
        "/v1/media",
        {"file": SimpleUploadedFile("shot.png", png, content_type="image/png"), **fields},
        headers={"Authorization": f"Bearer {token.plaintext}"},
    )


@pytest.fixture
def media_token(project: Project) -> Any:
    return TokenFactory(project=project, scopes=["media:read", "media:write"])


def test_s3_answering_500_fails_the_upload_cleanly(client, s3, media_token) -> None:
    before = objects(s3)
    fault = Fault("PutObject", times=100)
    fault.install()
    r = upload(client, media_token)
    assert r.status_code == 503, r.content
    assert r.json() == {
        "error": {"code": "service_unavailable", "message": "the file storage is not answering; retry in a few seconds"}
    }
    assert fault.answered >= 2  # asked again by botocore's retry, and still a 500
    assert objects(s3) == before
    assert not File.objects.exists()


def test_a_moment_of_s3_500s_is_ridden_out_by_the_retry(client, s3, media_token) -> None:
    fault = Fault("PutObject", times=1)
    fault.install()
    r = upload(client, media_token)
    assert r.status_code == 201, r.content
    assert fault.answered == 1
    assert objects(s3) == [r.json()["key"]]


def test_a_public_upload_whose_acl_fails_leaves_no_object_behind(client, s3, media_token) -> None:
    before = objects(s3)
    fault = Fault("PutObjectAcl", times=100)
    fault.install()
    r = upload(client, media_token, visibility="public")
    assert r.status_code == 503, r.content
    assert fault.answered >= 2
    assert objects(s3) == before
    assert not File.objects.exists()
