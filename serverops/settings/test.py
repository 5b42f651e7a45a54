"""Test settings: base, with what makes tests fast and self-contained."""

import tempfile
from pathlib import Path

from .base import *  # noqa: F403
from .base import DATABASES, STORAGES

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
MEDIA_ROOT = Path(tempfile.mkdtemp(prefix="serverops-test-media-"))
EXPORT_SIGNING_KEY_FILE = Path(tempfile.mkdtemp(prefix="serverops-test-keys-")) / "export-signing-key"
STORAGES = {**STORAGES, "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}}
WHITENOISE_USE_FINDERS = True
STATIC_ROOT = None  # nothing is collected in tests; whitenoise serves from the finders
# Live-server and thread tests open connections in threads that outlive their requests;
# a persistent connection there would still be open when the test database is dropped.
DATABASES["default"]["CONN_MAX_AGE"] = 0
# The tests count every charge: a machine loaded by the suite itself must not stall one past the
# production timeout and have it served uncounted. A Redis that is away still fails open at once
# (its connections are refused), as tests/serverops/test_engine_faults.py checks.
RATE_LIMIT_REDIS_TIMEOUT = 5.0
if DATABASES["default"]["ENGINE"] == "serverops.db.postgresql":
    # A test database lives for one run: its commits (every transactional test's, and each of its
    # truncations) need not wait for the WAL to reach the disk.
    DATABASES["default"]["OPTIONS"] = {**DATABASES["default"]["OPTIONS"], "options": "-c synchronous_commit=off"}
