"""The minimal comparator: the least a plain Django view can do for the same three operations.

Token lookup by digest, then for PATCH a row lock and an update of the sent fields, and a
``JsonResponse`` of the case's own columns. No checksum, scopes, rate limit, validation
beyond the JSON shape, history, files or ETag. Mounted only by ``bench.urls`` under
``/bench/minimal/v1/``; the benchmark only sends good requests.
"""

from __future__ import annotations

import json
from typing import Any

from django.db import transaction
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt

from cases.models import Case
from tokens import crypto
from tokens.models import ScopedToken

FIELDS = ("title", "description", "status")


def _cases(request: HttpRequest) -> Any:
    scheme, _, credential = request.headers.get("Authorization", "").partition(" ")
    token = ScopedToken.objects.filter(digest=crypto.digest(credential.strip())).first()
    if scheme.lower() != "bearer" or token is None:
        return None
    return Case.objects.filter(project_id=token.project_id, mode=token.mode)


def _case(case: Case) -> dict[str, Any]:
    return {
        "id": case.id,
        "title": case.title,
        "description": case.description,
        "status": case.status,
        "created_at": case.created_at.isoformat(),
        "updated_at": case.updated_at.isoformat(),
    }


@csrf_exempt
def case_detail(request: HttpRequest, case_id: str) -> HttpResponse:
    cases = _cases(request)
    if cases is None:
        return JsonResponse({}, status=401)
    if request.method == "PATCH":
        changes = {field: value for field, value in json.loads(request.body).items() if field in FIELDS}
        with transaction.atomic():
            case = cases.select_for_update().filter(pk=case_id).first()
            if case is None:
                return JsonResponse({}, status=404)
            for field, value in changes.items():
                setattr(case, field, value)
            case.save(update_fields=[*changes, "updated_at"])
    else:
        case = cases.filter(pk=case_id).first()
        if case is None:
            return JsonResponse({}, status=404)
    return JsonResponse(_case(case))


@csrf_exempt
def case_list(request: HttpRequest) -> HttpResponse:
    cases = _cases(request)
    if cases is None:
        return JsonResponse({}, status=401)
    limit = int(request.GET.get("limit", "50"))
    return JsonResponse({"cases": [_case(case) for case in cases.order_by("-created_at", "-id")[:limit]]})
