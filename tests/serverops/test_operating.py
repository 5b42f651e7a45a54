"""Operating the service (docs/operations.md#health-checks, #metrics, #logs): /healthz, /readyz,
/metrics and the request log line as JSON."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest
from django.test import override_settings

from serverops import health, metrics
from tests.factories import TokenFactory
from tokens.models import Project

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parents[2]
METRICS_TOKEN = "scrape-secret-0123456789"
DEAD_REDIS = "redis://127.0.0.1:1/0"  # port 1: nothing listens, the connection is refused at once


def sample(text: str, name: str, **labels: str) -> float:
    """The value of one sample in Prometheus text (0 when absent)."""
    wanted = ",".join(f'{key}="{value}"' for key, value in sorted(labels.items()))
    for line in text.splitlines():
        series, _, value = line.rpartition(" ")
        if series == (f"{name}{{{wanted}}}" if labels else name):
            return float(value)
    return 0.0


def scrape(client: Any) -> str:
    r = client.get("/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"})
    assert r.status_code == 200, r.content
    assert r["Content-Type"].startswith("text/plain; version=0.0.4")
    return str(r.content.decode())


def test_healthz_answers_without_a_token_or_the_database(client, django_assert_num_queries) -> None:
    with django_assert_num_queries(0):
        r = client.get("/healthz")
    assert r.status_code == 200, r.content
    assert r.json() == {"status": "ok"}


def test_readyz_is_200_when_every_engine_answers(client) -> None:
    r = client.get("/readyz")
    assert r.status_code == 200, r.content
    assert r.json() == {"status": "ready", "checks": {"database": "ok", "cache": "ok", "file storage": "ok"}}


def _raise(message: str) -> Any:
    def check() -> None:
        raise RuntimeError(message)

    return check


@pytest.mark.parametrize("engine", ["database", "cache", "file storage"])
def test_readyz_names_the_engine_that_failed(client, monkeypatch, engine, caplog) -> None:
    monkeypatch.setitem(health.CHECKS, engine, _raise("refused"))
    r = client.get("/readyz")
    assert r.status_code == 503, r.content
    assert r.json() == {"error": {"code": "service_unavailable", "message": f"not ready: {engine} did not answer"}}
    assert r["Retry-After"] == "5"
    assert f"not ready: {engine}: RuntimeError: refused" in caplog.text


def test_readyz_names_every_engine_that_failed(client, monkeypatch) -> None:
    monkeypatch.setitem(health.CHECKS, "database", _raise("down"))
    monkeypatch.setitem(health.CHECKS, "file storage", _raise("down"))
    r = client.get("/readyz")
    assert r.status_code == 503, r.content
    assert r.json()["error"]["message"] == "not ready: database, file storage did not answer"


def test_readyz_does_not_wait_for_an_engine_that_hangs(client, monkeypatch, settings) -> None:
    settings.READYZ_TIMEOUT_SECONDS = 1
    release = threading.Event()
    monkeypatch.setitem(health.CHECKS, "cache", lambda: release.wait(30))
    try:
        r = client.get("/readyz")
    finally:
        release.set()
    assert r.status_code == 503, r.content
    assert r.json()["error"]["message"] == "not ready: cache did not answer"


def test_readyz_fails_on_a_redis_that_refuses_connections(client) -> None:
    dead = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": DEAD_REDIS}}
    with override_settings(CACHES=dead):
        r = client.get("/readyz")
    assert r.status_code == 503, r.content
    assert r.json()["error"]["message"] == "not ready: cache did not answer"


def test_readyz_fails_when_media_root_is_gone(client, tmp_path) -> None:
    with override_settings(MEDIA_ROOT=str(tmp_path / "missing")):
        r = client.get("/readyz")
    assert r.status_code == 503, r.content
    assert r.json()["error"]["message"] == "not ready: file storage did not answer"


@pytest.mark.parametrize("path", ["/healthz", "/readyz"])
def test_probes_are_not_logged_at_info_nor_rate_limited(client, path, caplog, settings) -> None:
    settings.SERVEROPS = {**settings.SERVEROPS, "RATE_LIMIT_PER_SECOND": 1, "RATE_LIMIT_PER_MINUTE": 1}
    with caplog.at_level(logging.INFO, logger="serverops.request"):
        statuses = {client.get(path).status_code for _ in range(5)}
    assert statuses == {200}
    assert not [r for r in caplog.records if r.name == "serverops.request"]


def test_metrics_is_404_while_no_token_is_set(client, settings) -> None:
    settings.METRICS_TOKEN = ""
    r = client.get("/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"})
    assert r.status_code == 404, r.content
    assert r.json()["error"]["code"] == "not_found"


@pytest.mark.parametrize(
    "header",
    [
        pytest.param(None, id="missing"),
        pytest.param(f"Bearer {METRICS_TOKEN}x", id="wrong"),
        pytest.param(f"Basic {METRICS_TOKEN}", id="other-scheme"),
        pytest.param("Bearer ", id="empty"),
    ],
)
def test_metrics_without_the_token_is_401_in_the_envelope(client, settings, header) -> None:
    settings.METRICS_TOKEN = METRICS_TOKEN
    headers = {"Authorization": header} if header is not None else {}
    r = client.get("/metrics", headers=headers)
    assert r.status_code == 401, r.content
    assert r.json() == {"error": {"code": "unauthorized", "message": "missing or invalid metrics token"}}
    assert r["WWW-Authenticate"].startswith("Bearer")
    assert METRICS_TOKEN not in r.content.decode()


def test_metrics_count_requests_by_route_and_status(client, call, case, settings) -> None:
    settings.METRICS_TOKEN = METRICS_TOKEN
    before = scrape(client)
    call("GET", f"/v1/cases/{case.id}")
    call("GET", "/v1/cases/c_01JDZ0000000000000000000XX")
    after = scrape(client)
    ok = {"route": "case-detail", "method": "GET", "status": "200"}
    missing = {**ok, "status": "404"}
    assert sample(after, "serverops_requests_total", **ok) == sample(before, "serverops_requests_total", **ok) + 1
    assert (
        sample(after, "serverops_requests_total", **missing)
        == sample(before, "serverops_requests_total", **missing) + 1
    )
    count = {"route": "case-detail", "method": "GET"}
    assert (
        sample(after, "serverops_request_duration_seconds_count", **count)
        == sample(before, "serverops_request_duration_seconds_count", **count) + 2
    )
    assert "serverops_webhook_backlog 0.0" in after


def test_metrics_count_rate_limit_refusals(client, call, settings) -> None:
    settings.METRICS_TOKEN = METRICS_TOKEN
    settings.SERVEROPS = {**settings.SERVEROPS, "RATE_LIMIT_PER_SECOND": 100_000, "RATE_LIMIT_PER_MINUTE": 2}
    before = sample(scrape(client), "serverops_rate_limit_refusals_total")
    statuses = [call("GET", "/v1/cases").status_code for _ in range(4)]
    assert statuses == [200, 200, 429, 429]
    assert sample(scrape(client), "serverops_rate_limit_refusals_total") == before + 2


def test_nothing_is_counted_while_metrics_are_off(client, call, settings) -> None:
    settings.METRICS_TOKEN = METRICS_TOKEN
    before = scrape(client)
    settings.METRICS_TOKEN = ""
    call("GET", "/v1/cases")
    settings.METRICS_TOKEN = METRICS_TOKEN
    labels = {"route": "case-list", "method": "GET", "status": "200"}
    assert sample(scrape(client), "serverops_requests_total", **labels) == sample(
        before, "serverops_requests_total", **labels
    )


def test_metrics_count_uploads_and_their_bytes(client, settings, project: Project) -> None:
    from cases.demo import screenshot_png

    settings.METRICS_TOKEN = METRICS_TOKEN
    token = TokenFactory(project=project, scopes=["media:write"])
    png = screenshot_png(3)
    before = scrape(client)
    r = client.post(
        "/v1/media", {"file": _upload("shot.png", png)}, headers={"Authorization": f"Bearer {token.plaintext}"}
    )
    assert r.status_code == 201, r.content
    after = scrape(client)
    assert sample(after, "serverops_uploads_total") == sample(before, "serverops_uploads_total") + 1
    assert sample(after, "serverops_upload_bytes_total") == sample(before, "serverops_upload_bytes_total") + len(png)


def _upload(name: str, data: bytes) -> Any:
    from django.core.files.uploadedfile import SimpleUploadedFile

    return SimpleUploadedFile(name, data, content_type="image/png")


def test_the_json_log_format_writes_the_request_line_as_one_object(call, token, caplog, settings) -> None:
    import logging.config

    config = settings.LOGGING["formatters"]["json"]
    formatter_class = logging.config.DictConfigurator({}).resolve(config["()"])
    formatter = formatter_class(fmt=config["fmt"], rename_fields=config["rename_fields"])
    with caplog.at_level(logging.INFO, logger="serverops.request"):
        call("GET", "/v1/cases?limit=5", headers={"X-Request-Id": "trace-json"})
    [record] = [r for r in caplog.records if r.name == "serverops.request"]
    record.request_id = "trace-json"
    line = formatter.format(record)
    assert "\n" not in line
    fields = json.loads(line)
    assert fields["request_id"] == "trace-json"
    assert fields["level"] == "INFO"
    assert fields["logger"] == "serverops.request"
    assert (fields["method"], fields["path"], fields["route"], fields["status"]) == (
        "GET",
        "/v1/cases",
        "case-list",
        200,
    )
    assert fields["token"] == token.id
    assert isinstance(fields["queries"], int)
    assert isinstance(fields["duration_ms"], float)
    assert token.plaintext not in line


def _manage(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "serverops.settings.base", **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_log_format_json_makes_every_line_a_json_object() -> None:
    code = "import logging; logging.getLogger('serverops.request').info('request x', extra={'status': 201})"
    result = _manage("shell", "--no-imports", "-c", code, LOG_FORMAT="json", LOG_LEVEL="INFO")
    assert result.returncode == 0, result.stderr
    [line] = [line for line in result.stderr.splitlines() if "serverops.request" in line]
    fields = json.loads(line)
    assert (fields["message"], fields["status"], fields["request_id"], fields["level"]) == (
        "request x",
        201,
        "-",
        "INFO",
    )


def test_an_unknown_log_format_stops_the_service_in_one_line() -> None:
    result = _manage("check", LOG_FORMAT="xml")
    assert result.returncode != 0
    assert "LOG_FORMAT must be line or json, got 'xml'" in result.stderr


def test_the_metrics_module_names_what_it_counts() -> None:
    exposed = {metric.name for metric in metrics.REGISTRY.collect()}
    for name in (
        "serverops_requests",
        "serverops_request_duration_seconds",
        "serverops_rate_limit_refusals",
        "serverops_uploads",
        "serverops_upload_bytes",
        "serverops_webhook_attempts",
        "serverops_engine_unavailable",
    ):
        assert name in exposed


def test_production_answers_probes_over_plain_http_and_redirects_the_rest() -> None:
    code = (
        "from django.test import Client; c = Client(); "
        "print(c.get('/healthz', headers={'Host': 'cases.example.com'}).status_code, "
        "c.get('/v1/cases', headers={'Host': 'cases.example.com'}).status_code)"
    )
    env = {
        "DJANGO_SETTINGS_MODULE": "serverops.settings.production",
        "SECRET_KEY": "x" * 50,
        "IDENTIFIER_HASH_KEY": "y" * 50,
        "ALLOWED_HOSTS": "cases.example.com",
    }
    result = _manage("shell", "--no-imports", "-c", code, **env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["200", "301"]


def test_a_scrape_answers_when_a_gauge_cannot_be_read(client, settings, monkeypatch, caplog) -> None:
    settings.METRICS_TOKEN = METRICS_TOKEN

    def broken() -> Any:
        raise RuntimeError("the database is away")

    monkeypatch.setattr(metrics, "_scrape_collectors", [broken])
    text = scrape(client)
    assert "serverops_requests_total" in text or "serverops_request_duration_seconds" in text
    assert "serverops_webhook_backlog" not in text
    assert "a scrape-time gauge was left out: RuntimeError: the database is away" in caplog.text


def test_a_failed_readyz_is_one_warning_per_engine_not_an_error(client, monkeypatch, caplog) -> None:
    monkeypatch.setitem(health.CHECKS, "cache", _raise("refused"))
    client.get("/readyz")
    assert [r.levelname for r in caplog.records if r.name in ("django.request", "serverops.health")] == ["WARNING"]
