"""Secure defaults: DEBUG off unless asked for, production refuses to start without real secrets,
and ``check --deploy`` is clean under production settings."""

from __future__ import annotations

import json
import os
import re
import secrets
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from cases.export import new_signing_key

ROOT = Path(__file__).resolve().parents[2]
PRODUCTION = {
    "SECRET_KEY": secrets.token_urlsafe(50),
    "IDENTIFIER_HASH_KEY": secrets.token_urlsafe(50),
    "ALLOWED_HOSTS": "cases.example.com",
    "EXPORT_SIGNING_KEY": new_signing_key(),
}
SECRETS = {"DEBUG", *PRODUCTION}


def manage(*args: str, settings: str, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if k not in SECRETS}
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env={**clean, "DJANGO_SETTINGS_MODULE": settings, **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_check_deploy_is_clean_under_production_settings() -> None:
    result = manage(
        "check", "--deploy", "--fail-level", "WARNING", settings="serverops.settings.production", **PRODUCTION
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout


def test_check_deploy_warns_when_production_has_no_export_key() -> None:
    env = {k: v for k, v in PRODUCTION.items() if k != "EXPORT_SIGNING_KEY"}
    result = manage("check", "--deploy", "--fail-level", "WARNING", settings="serverops.settings.production", **env)
    assert result.returncode != 0
    assert "(cases.W001) EXPORT_SIGNING_KEY is not set" in result.stderr + result.stdout


@pytest.mark.parametrize("missing", ["SECRET_KEY", "IDENTIFIER_HASH_KEY", "ALLOWED_HOSTS"])
def test_production_refuses_to_start_without_a_secret_or_hosts(missing) -> None:
    env = {k: v for k, v in PRODUCTION.items() if k != missing}
    result = manage("check", settings="serverops.settings.production", **env)
    assert result.returncode != 0
    assert result.stderr == f"manage.py: {missing} must be set in production\n", result.stderr


@pytest.mark.parametrize("missing", ["SECRET_KEY", "IDENTIFIER_HASH_KEY", "ALLOWED_HOSTS"])
def test_gunicorn_refuses_to_start_in_one_line_without_a_secret_or_hosts(missing) -> None:
    clean = {k: v for k, v in os.environ.items() if k not in SECRETS}
    env = {k: v for k, v in PRODUCTION.items() if k != missing}
    result = subprocess.run(
        [sys.executable, "-m", "gunicorn", "--config", "gunicorn.conf.py", "--bind", "127.0.0.1:0"],
        cwd=ROOT,
        env={**clean, "DJANGO_SETTINGS_MODULE": "serverops.settings.production", **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr, result.stderr
    problems = [line for line in result.stderr.splitlines() if "[INFO]" not in line]
    assert problems == [f"serverops: {missing} must be set in production"], result.stderr


@pytest.mark.parametrize(
    "key",
    [
        pytest.param("serverops-insecure-local-development-only", id="the-development-key"),
        pytest.param("short", id="too-short"),
    ],
)
def test_check_deploy_warns_of_a_weak_identifier_hash_key(key) -> None:
    result = manage(
        "check",
        "--deploy",
        "--fail-level",
        "WARNING",
        settings="serverops.settings.production",
        **{**PRODUCTION, "IDENTIFIER_HASH_KEY": key},
    )
    assert result.returncode != 0, result.stdout
    assert "players.W001" in result.stderr + result.stdout, result.stderr


@pytest.mark.parametrize(("value", "expected"), [(None, "False"), ("0", "False"), ("true", "True"), ("1", "True")])
def test_debug_is_off_unless_asked_for(value, expected) -> None:
    env = {} if value is None else {"DEBUG": value}
    result = manage(
        "shell",
        "--no-imports",
        "-c",
        "from django.conf import settings; print(settings.DEBUG)",
        settings="serverops.settings.base",
        **env,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == expected


def test_production_ignores_a_debug_request() -> None:
    result = manage(
        "shell",
        "--no-imports",
        "-c",
        "from django.conf import settings; print(settings.DEBUG)",
        settings="serverops.settings.production",
        DEBUG="1",
        **PRODUCTION,
    )
    assert result.stdout.strip() == "False", result.stderr


def test_redis_url_selects_the_redis_cache_and_database_url_postgresql() -> None:
    code = (
        "from django.conf import settings; print(settings.CACHES['default']['BACKEND']); "
        "print(settings.RATE_LIMIT_REDIS_URL); "
        "print(settings.DATABASES['default']['ENGINE'], settings.DATABASES['default']['CONN_MAX_AGE'])"
    )
    result = manage(
        "shell",
        "--no-imports",
        "-c",
        code,
        settings="serverops.settings.base",
        REDIS_URL="redis://127.0.0.1:6379/3",
        DATABASE_URL="postgres://postgres@127.0.0.1:5432/test",
    )
    assert result.stdout.split("\n")[:3] == [
        "django.core.cache.backends.redis.RedisCache",
        "redis://127.0.0.1:6379/3",
        "serverops.db.postgresql 600",
    ], result.stderr


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        pytest.param({}, "{'server_side_binding': True, 'prepare_threshold': 2}", id="default-on"),
        pytest.param({"DATABASE_PREPARED_STATEMENTS": "0"}, "{}", id="off-for-a-pooler"),
    ],
)
def test_postgresql_prepares_repeated_statements_unless_turned_off(env, expected) -> None:
    result = manage(
        "shell",
        "--no-imports",
        "-c",
        "from django.conf import settings; print(settings.DATABASES['default']['OPTIONS'])",
        settings="serverops.settings.base",
        DATABASE_URL="postgres://postgres@127.0.0.1:5432/test",
        **env,
    )
    assert result.stdout.strip() == expected, result.stderr


def test_gunicorn_serverops_wsgi_starts_without_django_settings_module(tmp_path: Path) -> None:
    """``gunicorn serverops.wsgi`` from the repository root, as a newcomer types it: the config
    file (read from the working directory) sets the settings default its start-up hook needs."""
    clean = {k: v for k, v in os.environ.items() if k not in {"DJANGO_SETTINGS_MODULE", "DATABASE_URL", "REDIS_URL"}}
    log = tmp_path / "gunicorn.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "serverops.wsgi", "--bind", "127.0.0.1:0", "--workers", "1"],
            cwd=ROOT,
            env={**clean, "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}"},
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        port = None
        for _ in range(400):
            match = re.search(r"Listening at: http://127\.0\.0\.1:(\d+)", log.read_text())
            if match:
                port = int(match.group(1))
                break
            assert process.poll() is None, log.read_text()
            time.sleep(0.05)
        assert port is not None, log.read_text()
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/v1/cases", timeout=30)
        assert refused.value.code == 401, log.read_text()
        assert json.loads(refused.value.read())["error"]["code"] == "unauthorized"
    finally:
        process.terminate()
        process.wait(timeout=30)
    assert "settings are not configured" not in log.read_text(), log.read_text()
    assert "Traceback" not in log.read_text(), log.read_text()
