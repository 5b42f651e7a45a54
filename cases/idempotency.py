"""``Idempotency-Key`` on case creation (docs/api.md#retries-with-idempotency-key): a retried POST creates nothing
and replays the first answer.

``respond_once`` runs inside one transaction: it claims the (token, key) pair by inserting
its row, so of two requests racing with one key the second waits on the unique index and
then reads the first one's committed answer. A key is kept for ``RETENTION``; after that it
may be used again, and ``purge_idempotency_keys`` deletes the expired rows.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response

from serverops.exceptions import Conflict
from tokens.models import ScopedToken

from .models import IdempotentRequest

HEADER = "Idempotency-Key"
RETENTION = timedelta(hours=24)
REPLAYED_HEADERS = ("ETag", "Location")
_PRINTABLE = re.compile(r"[\x20-\x7e]{1,255}")


def key_from(headers: Any) -> str | None:
    """The request's key, ``None`` without one; 400 when it is not 1–255 printable ASCII characters."""
    key: str | None = headers.get(HEADER)
    if key is not None and not _PRINTABLE.fullmatch(key):
        raise ValidationError({HEADER: ["must be 1 to 255 printable ASCII characters"]})
    return key


def fingerprint(data: Any) -> str:
    """Equal JSON bodies get equal fingerprints whatever their key order or spacing."""
    canonical = json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8", "surrogatepass")).hexdigest()


def _replay(record: IdempotentRequest, request_fingerprint: str) -> Response:
    if record.fingerprint != request_fingerprint:
        raise Conflict(f"{HEADER} was already used with a different request body")
    headers = {**record.headers, "Idempotent-Replayed": "true"}
    return Response(record.body, status=record.status, headers=headers)


@transaction.atomic
def respond_once(*, token: ScopedToken, key: str, data: Any, respond: Callable[[], Response]) -> Response:
    """``respond()`` the first time ``token`` sends ``key``; the stored answer on every retry."""
    request_fingerprint = fingerprint(data)
    IdempotentRequest.objects.filter(token=token, key=key, created_at__lt=timezone.now() - RETENTION).delete()
    record = IdempotentRequest(token=token, key=key, fingerprint=request_fingerprint, status=0, body={})
    try:
        with transaction.atomic():
            record.save(force_insert=True)
    except IntegrityError:
        return _replay(IdempotentRequest.objects.get(token=token, key=key), request_fingerprint)
    response = respond()
    record.status = response.status_code
    record.body = response.data
    record.headers = {name: response[name] for name in REPLAYED_HEADERS if response.has_header(name)}
    record.save(update_fields=["status", "body", "headers"])
    return response


def purge_expired() -> int:
    """Delete the keys older than ``RETENTION``; returns how many."""
    deleted, _ = IdempotentRequest.objects.filter(created_at__lt=timezone.now() - RETENTION).delete()
    return deleted
