"""Settings for every environment, read once from the process environment.

Secure by default: DEBUG is off unless ``DEBUG`` asks for it, hosts are limited to
localhost unless ``ALLOWED_HOSTS`` says otherwise. With nothing set the service runs
on an embedded SQLite database and an in-process cache; ``DATABASE_URL`` and
``REDIS_URL`` switch to PostgreSQL and Redis. ``serverops.settings.production``
adds what only makes sense behind TLS and refuses to start without real secrets.
"""

from pathlib import Path
from typing import Any, cast

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from .env import env_bool, env_int, env_list, env_str

BASE_DIR = Path(__file__).resolve().parent.parent.parent

DEBUG = env_bool("DEBUG", default=False)
# The fallback key only ever signs sessions of a local development server;
# production.py refuses to start without SECRET_KEY.
SECRET_KEY = env_str("SECRET_KEY") or "django-insecure-local-development-only"
# Players' IP addresses are kept only as a keyed HMAC under this secret (players.identifiers);
# changing it makes every stored address a stranger. production.py requires it.
IDENTIFIER_HASH_KEY = env_str("IDENTIFIER_HASH_KEY") or "serverops-insecure-local-development-only"
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])
CSRF_FAILURE_VIEW = "serverops.views.csrf_failure"

INSTALLED_APPS = [
    "serverops.apps.ServerOpsAdminConfig",  # django.contrib.admin, with the ServerOps site
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_tasks",
    "django_tasks_db",
    "tokens",
    "media",
    "players",
    "cases",
    "webhooks",
]

MIDDLEWARE = [
    "serverops.middleware.RequestIdMiddleware",
    "serverops.middleware.RequestLogMiddleware",
    "serverops.middleware.EngineFailureMiddleware",
    "serverops.bodies.BodyFramingErrors",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "serverops.urls"
WSGI_APPLICATION = "serverops.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

DATABASES = {
    "default": dj_database_url.config(
        env="DATABASE_URL",
        default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}",
        conn_max_age=env_int("DATABASE_CONN_MAX_AGE", 600),
        conn_health_checks=True,
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # The embedded default must survive a few gunicorn workers writing at once.
    # IMMEDIATE takes the write lock when a transaction begins, so a writer waits its
    # turn (up to the busy timeout) instead of failing with "database is locked" when a
    # read lock cannot be upgraded; WAL lets readers run beside the one writer; with
    # WAL, synchronous=NORMAL is still safe against corruption (a power cut may lose
    # the last commits, never the file).
    DATABASES["default"]["OPTIONS"] = {
        "transaction_mode": "IMMEDIATE",
        "timeout": env_int("SQLITE_BUSY_TIMEOUT", 20),
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        **DATABASES["default"].get("OPTIONS", {}),
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"


def postgresql_options() -> dict[str, Any]:
    """Server-side prepared statements, unless ``DATABASE_PREPARED_STATEMENTS=0``.

    With parameters bound by the server, psycopg prepares each statement a connection has
    run twice and from then on sends only its name and values: PostgreSQL stops planning
    the same statement on every request, which cost more of its CPU than running it (a
    GET one: 1.9 ms of PostgreSQL CPU planned, 0.7 ms prepared; bench/PROFILE.md, section 8).
    A pooler in front must keep prepared statements per client (PgBouncer 1.21+ with
    ``max_prepared_statements``, or session pooling); otherwise set it to 0.
    """
    if not env_bool("DATABASE_PREPARED_STATEMENTS", True):
        return {}
    return {"server_side_binding": True, "prepare_threshold": 2}


if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # Django's backend with a health check that polls the socket instead of sending SELECT 1:
    # one round trip less per request (serverops/db/postgresql/base.py says why that is as safe).
    DATABASES["default"]["ENGINE"] = "serverops.db.postgresql"
    DATABASES["default"]["OPTIONS"] = {**postgresql_options(), **DATABASES["default"].get("OPTIONS", {})}

_REDIS_URL = env_str("REDIS_URL")
CACHES = {
    "default": (
        {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": _REDIS_URL}
        if _REDIS_URL
        else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
    )
}
# The rate limit's counters (tokens.ratelimit), on a redis-py client of their own; without
# Redis they live in the default cache above, one budget per process.
RATE_LIMIT_REDIS_URL = _REDIS_URL

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
# The admin's own assets (icon, site-wide styles), beside the apps' static folders.
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT: Path | None = Path(env_str("STATIC_ROOT") or BASE_DIR / "staticfiles")
# Files (media). MEDIA_STORAGE picks where File bytes live: "filesystem" (MEDIA_ROOT, served by
# the service's own /media/ route) or "s3" (any S3-compatible store through django-storages; its
# own URLs, pre-signed for private files). Both speak media.storage.MediaStorage, so nothing else
# changes with the choice. MEDIA_ROOT is not ./media, which is the media app's own package.
MEDIA_URL = "/media/"
MEDIA_ROOT = Path(env_str("MEDIA_ROOT") or BASE_DIR / "var" / "media")
_MEDIA_STORAGE = env_str("MEDIA_STORAGE", "filesystem")
if _MEDIA_STORAGE == "filesystem":
    _MEDIA_BACKEND: dict[str, Any] = {"BACKEND": "media.storage.FileSystemMediaStorage"}
elif _MEDIA_STORAGE == "s3":
    from botocore.config import Config as S3ClientConfig

    if not env_str("S3_BUCKET"):
        raise ImproperlyConfigured("MEDIA_STORAGE=s3 needs S3_BUCKET")
    _S3_ADDRESSING_STYLE = env_str("S3_ADDRESSING_STYLE") or None
    if _S3_ADDRESSING_STYLE not in (None, "auto", "virtual", "path"):
        raise ImproperlyConfigured(f"S3_ADDRESSING_STYLE must be auto, virtual or path, got {_S3_ADDRESSING_STYLE!r}")
    _MEDIA_BACKEND = {
        "BACKEND": "media.storage.S3MediaStorage",
        "OPTIONS": {
            "bucket_name": env_str("S3_BUCKET"),
            # None (unset) lets boto3 find AWS S3 and its credentials the usual way (instance role…).
            "endpoint_url": env_str("S3_ENDPOINT_URL") or None,
            "region_name": env_str("S3_REGION") or None,
            "access_key": env_str("S3_ACCESS_KEY_ID") or None,
            "secret_key": env_str("S3_SECRET_ACCESS_KEY") or None,
            "custom_domain": env_str("S3_CUSTOM_DOMAIN") or None,
            # The client django-storages would build (addressing style, s3v4 signing), with
            # timeouts a sync worker can afford: botocore's defaults (60 s to connect, 60 s per
            # read, 5 attempts) would hold a worker for minutes on a store that hangs; 3 attempts
            # in all, with botocore's standard back-off. Given a client config, django-storages
            # reads no addressing_style or signature_version option of its own.
            "client_config": S3ClientConfig(
                s3=cast(Any, {"addressing_style": _S3_ADDRESSING_STYLE}),
                signature_version="s3v4",
                connect_timeout=env_int("S3_CONNECT_TIMEOUT", 5),
                read_timeout=env_int("S3_READ_TIMEOUT", 30),
                retries={"mode": "standard", "total_max_attempts": 3},
            ),
            "public_acl": env_bool("S3_PUBLIC_ACL", default=True),
            # Keys are unique (they hold the file id): no existence check before each write.
            "file_overwrite": True,
        },
    }
else:
    raise ImproperlyConfigured(f"MEDIA_STORAGE must be filesystem or s3, got {_MEDIA_STORAGE!r}")
STORAGES = {
    "default": _MEDIA_BACKEND,
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}
# Lets the development server and the test live server serve admin assets without collectstatic.
WHITENOISE_USE_FINDERS = DEBUG

# The contract's 1 MiB body limit: Django enforces it whenever a body is read whole,
# which is how DRF reads JSON; the API answers 413 (serverops.exception_handler).
DATA_UPLOAD_MAX_MEMORY_SIZE = 1024 * 1024

SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_HTTPONLY = True

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["tokens.authentication.BearerTokenAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["tokens.permissions.HasScope"],
    # Rate limits are charged by tokens.viewsets.ApiViewSet (tokens.ratelimit), not DRF throttles.
    "DEFAULT_THROTTLE_CLASSES": [],
    "DEFAULT_PARSER_CLASSES": ["serverops.parsers.StrictJSONParser"],
    "DEFAULT_RENDERER_CLASSES": ["serverops.renderers.JSONRenderer"],
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "EXCEPTION_HANDLER": "serverops.exception_handler.exception_handler",
    "UNAUTHENTICATED_USER": None,
    "UNICODE_JSON": True,
    "COMPACT_JSON": True,
    "DEFAULT_SCHEMA_CLASS": "serverops.schema.AutoSchema",
    "DEFAULT_CONTENT_NEGOTIATION_CLASS": "serverops.negotiation.StrictContentNegotiation",
    # ?format= is an ordinary query parameter here, not a renderer switch (which answered
    # ?format=xml with a 404 on a path that exists).
    "URL_FORMAT_OVERRIDE": None,
}

# The OpenAPI document (issue 4). Its content lives in serverops/schema.py and cases/schema.py;
# these settings only frame it. Paths are the real ones (/v1/cases), so no server entry is needed
# and the committed copy reads the same wherever it is opened.
SPECTACULAR_SETTINGS = {
    "TITLE": "ServerOps Cases API",
    "VERSION": "1.0.0",
    "DESCRIPTION": (
        "Moderation cases for game-server communities. Every operation needs a bearer token "
        "(`Authorization: Bearer so_live_…` or `so_test_…`) holding the scope the operation names; "
        'every error is `{"error": {"code", "message"}}`.'
    ),
    "SERVE_INCLUDE_SCHEMA": False,
    # The document and the docs page are public: no token is read, none is needed.
    "SERVE_AUTHENTICATION": [],
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
    "COMPONENT_SPLIT_REQUEST": True,
    # The docs page loads its scripts from this service, never from a CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # A member's role and a case subject's role are both "role": the member's is named apart.
    "ENUM_NAME_OVERRIDES": {"MemberRoleEnum": "tokens.models.Role.values", "RoleEnum": "cases.models.Role.values"},
    "PREPROCESSING_HOOKS": ["serverops.schema.canonical_paths"],
    "POSTPROCESSING_HOOKS": [
        "serverops.schema.add_shared_components",
        "drf_spectacular.hooks.postprocess_schema_enums",
    ],
}

# The set-password email a new member gets (docs/operations.md#email). The console backend prints
# it to the server's output when nothing is configured; production sets SMTP.
EMAIL_BACKEND = env_str("EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
EMAIL_HOST = env_str("EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("EMAIL_PORT", 587)
EMAIL_HOST_USER = env_str("EMAIL_HOST_USER")
EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", default=True)
EMAIL_USE_SSL = env_bool("EMAIL_USE_SSL", default=False)
EMAIL_TIMEOUT = env_int("EMAIL_TIMEOUT", 10)
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "ServerOps <serverops@localhost>")

SERVEROPS: dict[str, Any] = {
    # Per-token budgets of docs/api.md#rate-limits, each counted in a fixed window.
    "RATE_LIMIT_PER_SECOND": env_int("RATE_LIMIT_PER_SECOND", 60),
    "RATE_LIMIT_PER_MINUTE": env_int("RATE_LIMIT_PER_MINUTE", 1000),
    # Files on the service's own disk open under this base (e.g. https://files.example.com/media/,
    # a host of their own); empty: on the scheme and host each request came to (media.storage).
    "MEDIA_BASE_URL": env_str("MEDIA_BASE_URL"),
    # Where the service is reached, for links built without a request (webhooks, commands).
    "SITE_URL": env_str("SITE_URL", "http://127.0.0.1:8000"),
    # Seconds a private file's signed URL stays valid.
    "MEDIA_SIGNED_URL_TTL": env_int("MEDIA_SIGNED_URL_TTL", 3600),
    # Upload size limits by kind of file (docs/api.md#files-and-evidence), in bytes;
    # checked while the upload streams in.
    "MEDIA_MAX_IMAGE_SIZE": env_int("MEDIA_MAX_IMAGE_SIZE", 50 * 1000 * 1000),
    "MEDIA_MAX_VIDEO_SIZE": env_int("MEDIA_MAX_VIDEO_SIZE", 500 * 1000 * 1000),
    "MEDIA_MAX_AUDIO_SIZE": env_int("MEDIA_MAX_AUDIO_SIZE", 100 * 1000 * 1000),
    "MEDIA_MAX_DOCUMENT_SIZE": env_int("MEDIA_MAX_DOCUMENT_SIZE", 50 * 1000 * 1000),
    # Webhook endpoints on private, loopback or link-local addresses: refused unless this is on
    # (development and tests only).
    "WEBHOOK_ALLOW_PRIVATE_NETWORKS": env_bool("WEBHOOK_ALLOW_PRIVATE_NETWORKS", False),
    "WEBHOOK_TIMEOUT_SECONDS": env_int("WEBHOOK_TIMEOUT_SECONDS", 10),
    # How long a worker holds a message it is sending; longer than any attempt can take.
    "WEBHOOK_LEASE_SECONDS": env_int("WEBHOOK_LEASE_SECONDS", 60),
    # Days GET /v1/events and the outbox keep an event; `manage.py prune_events` deletes older ones.
    "EVENT_RETENTION_DAYS": env_int("EVENT_RETENTION_DAYS", 30),
}

# Signed case exports (docs/api.md, "Evidence with a chain of custody"): the installation's
# Ed25519 key as `manage.py create_export_key` prints it. Unset, a key generated once is kept in
# EXPORT_SIGNING_KEY_FILE (development: `make run` exports out of the box); production.py keeps
# no file, so there exports answer 503 until the key is set, and `check --deploy` warns.
EXPORT_SIGNING_KEY = env_str("EXPORT_SIGNING_KEY")
EXPORT_SIGNING_KEY_FILE: Path | None = BASE_DIR / "var" / "export-signing-key"

# Background work (webhook delivery) on django-tasks' database backend: the same database,
# SQLite or PostgreSQL, so nothing else needs running; workers are `manage.py deliver_webhooks`.
TASKS = {
    "default": {
        "BACKEND": "django_tasks_db.DatabaseBackend",
        "QUEUES": ["default", "webhooks"],
    }
}

# /metrics (docs/operations.md#metrics): Prometheus text for this bearer token; empty, the route
# answers 404 and nothing is counted.
METRICS_TOKEN = env_str("METRICS_TOKEN")
# Seconds /readyz gives each engine to answer before it reports the host not ready.
READYZ_TIMEOUT_SECONDS = env_int("READYZ_TIMEOUT_SECONDS", 2)

# "line" (key=value text) or "json" (one JSON object a line, for a log shipper).
LOG_FORMAT = env_str("LOG_FORMAT", "line")
if LOG_FORMAT not in ("line", "json"):
    raise ImproperlyConfigured(f"LOG_FORMAT must be line or json, got {LOG_FORMAT!r}")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "line": {"format": "%(asctime)s %(levelname)s %(name)s request_id=%(request_id)s %(message)s"},
        # The request line's fields (serverops.middleware) become keys of their own beside these.
        "json": {
            "()": "pythonjsonlogger.json.JsonFormatter",
            "fmt": "%(asctime)s %(levelname)s %(name)s %(request_id)s %(message)s",
            "rename_fields": {"asctime": "time", "levelname": "level", "name": "logger"},
        },
    },
    "filters": {
        "request_id": {"()": "serverops.logging.RequestIdFilter"},
        "demote": {"()": "serverops.logging.DemoteToWarning"},
        "undelivered": {"()": "webhooks.logging.UndeliveredAttemptFilter"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "filters": ["request_id"],
            "formatter": LOG_FORMAT,
        },
        "security": {
            "class": "logging.StreamHandler",
            "filters": ["request_id", "demote"],
            "formatter": LOG_FORMAT,
        },
    },
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    "loggers": {
        # Requests are logged once by serverops.request; Django's own 4xx warnings would repeat them.
        "django.request": {"level": "ERROR"},
        # A spoofed Host, too many fields, an oversized body: the client's fault, answered
        # with a 4xx. Django logs them at ERROR with a traceback; a scanner would fill the
        # error log, so they are one WARNING line each.
        "django.security": {"handlers": ["security"], "level": "WARNING", "propagate": False},
        # A webhook attempt that did not deliver ends its task as FAILED: one WARNING line, no traceback.
        "django_tasks": {"filters": ["undelivered"]},
    },
}
