"""MEDIA_STORAGE and the S3_* variables select and configure the File storage, by settings alone."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SHOW = (
    "import json; from django.core.files.storage import storages; s = storages['default']; "
    "print(json.dumps({'class': type(s).__name__, **{k: getattr(s, k, None) for k in "
    "('bucket_name', 'endpoint_url', 'region_name', 'custom_domain', 'public_acl', 'access_key')}}))"
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


def test_s3_is_configured_from_the_environment() -> None:
    result = settings_of(
        MEDIA_STORAGE="s3",
        S3_BUCKET="evidence",
        S3_ENDPOINT_URL="https://r2.example.com",
        S3_REGION="auto",
        S3_ACCESS_KEY_ID="AKIAEXAMPLE",
        S3_SECRET_ACCESS_KEY="not-printed",
        S3_CUSTOM_DOMAIN="files.example.com",
        S3_PUBLIC_ACL="0",
    )

    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {
        "class": "S3MediaStorage",
        "bucket_name": "evidence",
        "endpoint_url": "https://r2.example.com",
        "region_name": "auto",
        "custom_domain": "files.example.com",
        "public_acl": False,
        "access_key": "AKIAEXAMPLE",
    }


@pytest.mark.parametrize(
    ("env", "reason"),
    [
        pytest.param({"MEDIA_STORAGE": "s3"}, "MEDIA_STORAGE=s3 needs S3_BUCKET", id="s3-without-bucket"),
        pytest.param({"MEDIA_STORAGE": "ftp"}, "MEDIA_STORAGE must be filesystem or s3", id="unknown-storage"),
    ],
)
def test_bad_storage_settings_refuse_to_start(env: dict[str, str], reason: str) -> None:
    result = settings_of(**env)

    assert result.returncode != 0
    assert reason in result.stderr
