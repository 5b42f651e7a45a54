"""Which engine a failure came from: the database, the cache (Redis) or the file storage (S3).

A request that fails because an engine did not answer is the service's momentary trouble, not the
client's mistake and not a bug: it is answered 503 ``service_unavailable`` naming the engine, with
``Retry-After``, never a 500 with a traceback (docs/operations.md#faults).
"""

from __future__ import annotations

from botocore.exceptions import BotoCoreError, ClientError
from django.db import InterfaceError, OperationalError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

DATABASE = "database"
CACHE = "cache"
STORAGE = "file storage"


def failed_engine(exc: BaseException) -> str | None:
    """The engine ``exc`` says did not answer, or ``None`` for any other failure.

    ``OperationalError`` is what Django raises when PostgreSQL refuses a connection (``too many
    clients already``), goes away mid-request or cancels a statement, and when SQLite stays locked
    past its busy timeout; an S3 error is the store's only when it answered 5xx or not at all
    (a 4xx is a request the service got wrong, and stays a 500).
    """
    if isinstance(exc, OperationalError | InterfaceError):
        return DATABASE
    if isinstance(exc, RedisConnectionError | RedisTimeoutError):
        return CACHE
    if isinstance(exc, BotoCoreError):
        return STORAGE
    if isinstance(exc, ClientError):
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
        if status >= 500 or exc.response.get("Error", {}).get("Code") in {"SlowDown", "ServiceUnavailable"}:
            return STORAGE
    return None
