"""MEDIA_STORAGE and the S3_* variables select and configure the File storage, by settings alone."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
SHOW = (
    "import json; from django.core.files.storage import storages; s = storages['default']; "
    "print(json.dumps({'class': type(s).__name__, **{k: getattr(s, k, None) for k in "
    "('bucket_name', 'endpoint_url', 'region_name', 'custom_domain', 'public_acl', 'access_key')}, "
    "'client': {k: getattr(s.connection.meta.client.meta.config, k) for k in "
    "('connect_timeout', 'read_timeout', 'retries', 's3', 'signature_version')} "
    "if hasattr(s, 'bucket_name') else None}))"
)


def settings_of(**env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("S3_", "MEDIA_STORAGE", "DJANGO_SETTINGS"))}
    return subprocess.run(
        [sys.executable, "-c", f"import django; django.setup(); {SHOW}"],
        cwd=ROOT,
        env={**clean, "DJANGO_SETTINGS_MODULE": "serverops.settings.base", **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_file_system_is_the_default() -> None:
    result = settings_of()

    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["class"] == "FileSystemMediaStorage"


def s3_settings(**env: str) -> dict[str, Any]:
    """The default storage the settings make with ``MEDIA_STORAGE=s3`` and bucket ``evidence`` plus ``env``."""
    result = settings_of(MEDIA_STORAGE="s3", S3_BUCKET="evidence", **env)
    assert result.returncode == 0, result.stderr
    shown: dict[str, Any] = json.loads(result.stdout)
    return shown


def test_s3_is_configured_from_the_environment() -> None:
    assert s3_settings(
        S3_ENDPOINT_URL="https://r2.example.com",
        S3_REGION="auto",
        S3_ACCESS_KEY_ID="AKIAEXAMPLE",
        S3_SECRET_ACCESS_KEY="not-printed",
        S3_CUSTOM_DOMAIN="files.example.com",
        S3_PUBLIC_ACL="0",
    ) == {
        "class": "S3MediaStorage",
        "bucket_name": "evidence",
        "endpoint_url": "https://r2.example.com",
        "region_name": "auto",
        "custom_domain": "files.example.com",
        "public_acl": False,
        "access_key": "AKIAEXAMPLE",
        # The client a sync worker can afford to wait for (botocore's own: 60 s, 60 s, 5 attempts).
        "client": {
            "connect_timeout": 5,
            "read_timeout": 30,
            "retries": {"mode": "standard", "total_max_attempts": 3},
            "s3": {"addressing_style": None},
            "signature_version": "s3v4",
        },
    }


def test_s3_timeouts_and_addressing_style_from_the_environment() -> None:
    client = s3_settings(S3_ADDRESSING_STYLE="path", S3_CONNECT_TIMEOUT="2", S3_READ_TIMEOUT="120")["client"]
    assert (client["connect_timeout"], client["read_timeout"], client["s3"]) == (2, 120, {"addressing_style": "path"})


@pytest.mark.parametrize(
    ("env", "reason"),
    [
        pytest.param({"MEDIA_STORAGE": "s3"}, "MEDIA_STORAGE=s3 needs S3_BUCKET", id="s3-without-bucket"),
        pytest.param({"MEDIA_STORAGE": "ftp"}, "MEDIA_STORAGE must be filesystem or s3", id="unknown-storage"),
        pytest.param(
            {"MEDIA_STORAGE": "s3", "S3_BUCKET": "evidence", "S3_ADDRESSING_STYLE": "paths"},
            "S3_ADDRESSING_STYLE must be auto, virtual or path",
            id="unknown-addressing-style",
        ),
        pytest.param(
            {"MEDIA_STORAGE": "s3", "S3_BUCKET": "evidence", "S3_READ_TIMEOUT": "30s"},
            "S3_READ_TIMEOUT must be an integer",
            id="timeout-not-a-number",
        ),
    ],
)
def test_bad_storage_settings_refuse_to_start(env: dict[str, str], reason: str) -> None:
    result = settings_of(**env)

    assert result.returncode != 0
    assert reason in result.stderr
