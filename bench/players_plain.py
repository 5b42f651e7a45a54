"""The plain comparators of the players benchmark: a Django view doing the same indexed lookups
with the ORM and a ``JsonResponse``, nothing else (no checksum, scopes, rate limit or envelope).
Mounted by ``bench.urls`` under ``/bench/plain/v1/``; the benchmark only sends good requests."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse

from cases.models import Case, CaseSubject
from players.models import Player, PlayerIdentifier
from players.services import canonical
from tokens import crypto
from tokens.models import ScopedToken


def _token(request: HttpRequest) -> ScopedToken | None:
    scheme, _, credential = request.headers.get("Authorization", "").partition(" ")
    token = ScopedToken.objects.filter(digest=crypto.digest(credential.strip())).first()
    return token if scheme.lower() == "bearer" else None


def players(request: HttpRequest) -> HttpResponse:
    """The players holding any of ``?identifier=``, with their identifiers."""
    token = _token(request)
    if token is None:
        return JsonResponse({}, status=401)
    wanted = [str(canonical(value)) for value in request.GET.getlist("identifier")]
    holders = PlayerIdentifier.objects.filter(project_id=token.project_id, mode=token.mode, identifier__in=wanted)
    found: dict[str, dict[str, Any]] = {}
    for player in Player.objects.filter(pk__in=holders.values("player_id")).values():
        found[player["id"]] = {**player, "identifiers": []}
    for player_id, identifier in PlayerIdentifier.objects.filter(player_id__in=list(found)).values_list(
        "player_id", "identifier"
    ):
        found[player_id]["identifiers"].append(identifier)
    return JsonResponse({"players": list(found.values())})


def cases(request: HttpRequest) -> HttpResponse:
    """The newest 50 cases with a subject holding ``?identifier=``."""
    token = _token(request)
    if token is None:
        return JsonResponse({}, status=401)
    identifier = str(canonical(request.GET["identifier"]))
    holders = PlayerIdentifier.objects.filter(project_id=token.project_id, mode=token.mode, identifier=identifier)
    subjects = CaseSubject.objects.filter(player_id__in=holders.values("player_id"))
    page = (
        Case.objects.filter(project_id=token.project_id, mode=token.mode, pk__in=subjects.values("case_id"))
        .order_by("-created_at", "-id")
        .values("id", "title", "description", "status", "created_at", "updated_at")[:50]
    )
    return JsonResponse({"cases": list(page)})
