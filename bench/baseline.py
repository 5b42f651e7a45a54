"""The baseline: plain Django function views doing the API's work with no framework.

Mounted only by ``bench.urls``. Each view hand-parses what it needs and runs the SQL a
Django engineer would write for the API's work (the API reads a case and its files in one
query where this reads them in two): the token lookup by digest (after the offline checksum), the same
rate-limit charge, for PATCH the same row lock, an update of only the changed fields
plus ``updated_at`` and the history event, the attachments, and a ``JsonResponse`` of the same Case shape with
the same ETag and rate-limit headers. Error handling is the bare minimum: the benchmark
only sends good requests, and any other answer fails the run.
"""

from __future__ import annotations

import json
from typing import Any

from django.db import transaction
from django.db.models import Prefetch
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt

from cases import chain
from cases.models import DESCRIPTION_MAX_LENGTH, TITLE_MAX_LENGTH, ActorType, Attachment, Case, CaseEvent, Status
from cases.validators import validate_description_characters, validate_title_characters
from media.models import File
from media.storage import file_url
from serverops.fields import rfc3339
from serverops.pagination import encode_cursor
from tokens import crypto
from tokens.authentication import LAST_USED_RESOLUTION
from tokens.models import ScopedToken
from tokens.ratelimit import Charge, RateLimited, RateLimitState

COMPACT = {"separators": (",", ":")}
# A page's attachments and their files in one query, kept as a list per case (as the API does).
EVIDENCE = Prefetch("attachments", queryset=Attachment.objects.select_related("file"), to_attr="evidence")


def _fail(status: int) -> JsonResponse:
    return JsonResponse({"error": {"code": str(status), "message": "baseline refused"}}, status=status)


def _caller(request: HttpRequest, scope: str) -> tuple[ScopedToken, RateLimitState] | JsonResponse:
    """The token and its charged rate-limit state, or the refusal to send."""
    scheme, _, credential = request.META.get("HTTP_AUTHORIZATION", "").strip().partition(" ")
    credential = credential.strip()
    if scheme.lower() != "bearer" or crypto.parse(credential) is None:
        return _fail(401)
    digest = crypto.digest(credential)
    charge = Charge(digest)  # sent before the token's statement, read after it, as the API does
    token = ScopedToken.objects.filter(digest=digest).first()
    now = timezone.now()
    if token is None or not token.is_usable(now):
        charge.abandon(forget=True)
        return _fail(401)
    if token.last_used_at is None or now - token.last_used_at >= LAST_USED_RESOLUTION:
        ScopedToken.objects.filter(pk=token.pk).update(last_used_at=now)
    try:
        state = charge.settle(token.pk)
    except RateLimited:
        return _fail(429)
    if scope not in token.scopes:
        return _fail(403)
    return token, state


def _file(attachment: File, request: HttpRequest) -> dict[str, Any]:
    return {
        "id": attachment.id,
        # The same link as the API's: signed for a private file, absolute on the request's host.
        "url": file_url(attachment, request=request),
        "key": attachment.key,
        "size": attachment.size,
        "content_type": attachment.content_type,
        "sha256": attachment.sha256,
        "original_name": attachment.original_name,
        "tags": attachment.tags,
        "folder": attachment.folder,
        "abuse_status": attachment.abuse_status,
        "visibility": attachment.visibility,
        "storage_class": attachment.storage_class,
        "created_at": rfc3339(attachment.created_at),
        "updated_at": rfc3339(attachment.updated_at),
    }


def _case(case: Case, request: HttpRequest) -> dict[str, Any]:
    return {
        "id": case.id,
        "title": case.title,
        "description": case.description,
        "status": case.status,
        "attachments": [_file(a.file, request) for a in case.evidence],
        "created_at": rfc3339(case.created_at),
        "updated_at": rfc3339(case.updated_at),
    }


def _respond(body: dict[str, Any], state: RateLimitState, etag: str | None = None) -> JsonResponse:
    response = JsonResponse(body, json_dumps_params=COMPACT)
    for name, value in state.headers().items():
        response[name] = value
    if etag is not None:
        response["ETag"] = etag
    return response


def _validated(body: bytes) -> dict[str, str] | None:
    try:
        data = json.loads(body)
    except ValueError:
        return None
    if not isinstance(data, dict) or not data or not set(data) <= {"title", "description", "status"}:
        return None
    if any(not isinstance(value, str) for value in data.values()):
        return None
    if "title" in data:
        data["title"] = data["title"].strip(" ")
        if not 1 <= len(data["title"]) <= TITLE_MAX_LENGTH:
            return None
        validate_title_characters(data["title"])
    if "description" in data:
        if len(data["description"]) > DESCRIPTION_MAX_LENGTH:
            return None
        validate_description_characters(data["description"])
    if "status" in data and data["status"] not in Status.values:
        return None
    return data


@csrf_exempt
def case_detail(request: HttpRequest, case_id: str) -> HttpResponse:
    caller = _caller(request, "cases:write" if request.method == "PATCH" else "cases:read")
    if isinstance(caller, JsonResponse):
        return caller
    token, state = caller
    cases = Case.objects.filter(project_id=token.project_id, mode=token.mode).prefetch_related(EVIDENCE)
    if request.method == "GET":
        case = cases.filter(pk=case_id).first()
        if case is None:
            return _fail(404)
        return _respond(_case(case, request), state, case.etag)
    if request.method != "PATCH":
        return _fail(405)
    changes = _validated(request.body)
    if changes is None:
        return _fail(400)
    with transaction.atomic():
        case = cases.select_for_update(of=("self",)).filter(pk=case_id).first()
        if case is None:
            return _fail(404)
        changed = [field for field, value in changes.items() if getattr(case, field) != value]
        if changed:
            history = {field: {"from": getattr(case, field), "to": changes[field]} for field in changed}
            for field in changed:
                setattr(case, field, changes[field])
            # The API records every change in its chained history (docs/api.md#case-history); so must the baseline.
            event = CaseEvent(
                case=case,
                actor_type=ActorType.TOKEN,
                actor_id=token.pk,
                actor_name=token.name,
                request_id=getattr(request, "request_id", ""),
                changes=history,
            )
            chain.link(case, event)
            case.save(update_fields=[*changed, "updated_at", "history_head"])
            event.save(force_insert=True)
    return _respond(_case(case, request), state, case.etag)


@csrf_exempt
def case_list(request: HttpRequest) -> HttpResponse:
    caller = _caller(request, "cases:read")
    if isinstance(caller, JsonResponse):
        return caller
    token, state = caller
    limit = int(request.GET.get("limit", "50"))
    rows = list(
        Case.objects.filter(project_id=token.project_id, mode=token.mode)
        .order_by("-created_at", "-id")
        .prefetch_related(EVIDENCE)[: limit + 1]
    )
    page, has_more = rows[:limit], len(rows) > limit
    return _respond(
        {
            "cases": [_case(case, request) for case in page],
            "next_cursor": encode_cursor(page[-1].created_at, page[-1].pk, salt="cases") if has_more else None,
            "has_more": has_more,
        },
        state,
    )
