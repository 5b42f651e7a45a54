"""The Cases API (docs/api.md#cases): one viewset, already narrowed to the caller's project and mode."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import QuerySet
from django.http import StreamingHttpResponse
from django_filters.utils import translate_validation
from rest_framework import status, views, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.serializers import BaseSerializer

from media.storage import FileLinks
from players.identifiers import InvalidIdentifier
from players.services import canonical
from serverops.exceptions import NotFound, PreconditionFailed, ServiceUnavailable
from serverops.ids import id_regex
from serverops.pagination import KeysetPagination
from tokens.models import Project, ScopedToken
from tokens.viewsets import ApiViewSet

from . import export, idempotency, queries, services
from .assignees import MEMBER_ID
from .filters import CaseFilter
from .labels import LABEL_MAX_LENGTH
from .models import Case, CaseEvent, Note, Priority
from .schema import add_note_operation, case_schema, export_key_operation
from .serializers import (
    CaseEventSerializer,
    CaseRow,
    CaseSerializer,
    NoteSerializer,
    case_representation,
    note_representation,
)
from .validators import validate_title_characters

CASE_ID = id_regex("c")
PLAYER_ID = id_regex("pl")


class CaseNotFound(NotFound):
    default_detail = "case not found"


class CasePagination(KeysetPagination):
    results_key = "cases"
    id_prefix = "c"


class EventPagination(KeysetPagination):
    results_key = "events"
    id_prefix = "ev"
    ascending = True


class NotePagination(KeysetPagination):
    results_key = "notes"
    id_prefix = "nt"
    ascending = True


@case_schema
class CaseViewSet(ApiViewSet, viewsets.ModelViewSet):  # type: ignore[type-arg]
    serializer_class = CaseSerializer
    pagination_class = CasePagination
    # The API serves these and nothing else; PUT and DELETE answer 405 with Allow.
    http_method_names = ["get", "post", "patch", "head"]
    required_scopes = {
        "list": "cases:read",
        "retrieve": "cases:read",
        "create": "cases:write",
        "partial_update": "cases:write",
        "events": "cases:read",
        "notes": "cases:read",
        "add_note": "cases:write",
        # The bundle holds the case's files: a token that may not read them may not export them.
        "export": ("cases:read", "media:read"),
    }
    query_parameters = {
        "list": ("status", "priority", "assignee", "label", "identifier", "player", "limit", "cursor"),
        "events": ("limit", "cursor"),
        "notes": ("limit", "cursor"),
    }
    # Any id is accepted by the route so a malformed one gets "case not found", not "no such endpoint".
    lookup_value_regex = "[^/]+"

    @property
    def token(self) -> ScopedToken:
        token = self.request.auth
        assert isinstance(token, ScopedToken)
        return token

    @property
    def actor(self) -> services.Actor:
        return services.Actor.for_token(self.token)

    def _visible_cases(self) -> QuerySet[Case]:
        """All the token may see: its own project's cases of its own mode (docs/api.md#projects-and-modes)."""
        return Case.objects.filter(project_id=self.token.project_id, mode=self.token.mode)

    def get_queryset(self) -> QuerySet[Case]:
        # A page's evidence is read after paging (``list``), in one statement.
        return self._visible_cases()

    def _case_id(self) -> str:
        """The path's case id; refused before any query when it cannot be one (a NUL byte, 10,000 characters…)."""
        case_id: str = self.kwargs["pk"]
        if not CASE_ID.fullmatch(case_id):
            raise CaseNotFound()
        return case_id

    def get_object(self) -> Case:
        try:
            return queries.case_with_evidence(self._case_id(), project_id=self.token.project_id, mode=self.token.mode)
        except Case.DoesNotExist:
            raise CaseNotFound() from None

    def _case_response(self, case: Case, status_code: int = status.HTTP_200_OK, **headers: str) -> Response:
        # The representation directly: a serializer instance here would only build fields it never uses.
        body = case_representation(case, links=FileLinks(self.request))
        return Response(body, status=status_code, headers={"ETag": case.etag, **headers})

    def _status_filter(self) -> str | None:
        """The ``status`` the list is narrowed to, or None; refused (400) as django-filter refuses it.

        Only its FilterSet's validation is used: the page itself is ``queries.case_page``. The
        FilterSet and its form are built only when the parameter is sent, which most lists don't.
        """
        if "status" not in self.request.query_params:
            return None
        filterset = CaseFilter(self.request.query_params, queryset=self._visible_cases(), request=self.request)
        if not filterset.is_valid():
            # What DjangoFilterBackend raises; types-django-filter types it as the dict it is made from.
            raise translate_validation(filterset.errors)  # type: ignore[misc]
        status: str = filterset.form.cleaned_data["status"]
        return status

    def _subject_filter(self) -> tuple[str | None, str | None]:
        """``(identifier, player)``: the canonical ``identifier`` and the ``player`` id the list is
        narrowed to (either, both or neither); a malformed or repeated one is a 400 naming it."""
        params = self.request.query_params
        identifiers, players = params.getlist("identifier"), params.getlist("player")
        if len(identifiers) > 1:
            raise ValidationError({"identifier": ["send one identifier"]})
        if len(players) > 1:
            raise ValidationError({"player": ["send one player"]})
        identifier = player = None
        if identifiers:
            try:
                identifier = str(canonical(identifiers[0]))
            except InvalidIdentifier as exc:
                raise ValidationError({"identifier": [str(exc)]}) from None
        if players:
            if not PLAYER_ID.fullmatch(players[0]):
                raise ValidationError({"player": ["not a player id (pl_…)"]})
            player = players[0]
        return identifier, player

    def _work_filter(self) -> tuple[str | None, str | None, str | None]:
        """``(priority, assignee, label)`` the list is narrowed to (docs/api.md#working-a-case):
        ``assignee`` a member id or ``none``; ``label`` exactly as stored. Each sent at most once,
        well formed, or a 400 naming it."""
        params = self.request.query_params
        found: dict[str, str | None] = {}
        for name in ("priority", "assignee", "label"):
            values = params.getlist(name)
            if len(values) > 1:
                raise ValidationError({name: [f"send one {name}"]})
            found[name] = values[0] if values else None
        priority, assignee, label = found["priority"], found["assignee"], found["label"]
        if priority is not None and priority not in Priority.values:
            raise ValidationError({"priority": [f"must be one of {', '.join(Priority.values)}"]})
        if assignee is not None and assignee != "none" and not MEMBER_ID.fullmatch(assignee):
            raise ValidationError({"assignee": ["must be a member id (mem_…) or none"]})
        if label is not None:
            if not 1 <= len(label) <= LABEL_MAX_LENGTH:
                raise ValidationError({"label": [f"must be 1 to {LABEL_MAX_LENGTH} characters"]})
            try:
                validate_title_characters(label)
            except DjangoValidationError as exc:
                raise ValidationError({"label": exc.messages}) from None
        return priority, assignee, label

    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        paginator = self.paginator
        assert isinstance(paginator, CasePagination)
        status, token = self._status_filter(), self.token
        priority, assignee, label = self._work_filter()
        identifier, player = self._subject_filter()
        page: list[CaseRow] = paginator.paginate(
            request,
            lambda limit, after: queries.case_page(
                project_id=token.project_id,
                mode=token.mode,
                status=status,
                priority=priority,
                assignee=assignee,
                label=label,
                identifier=identifier,
                player=player,
                limit=limit,
                after=after,
            ),
        )
        links = FileLinks(request)
        return paginator.get_paginated_response([case_representation(case, links=links) for case in page])

    def retrieve(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        case = self.get_object()
        if_none_match = request.headers.get("If-None-Match")
        if if_none_match is not None and services.etag_matches_weakly(if_none_match, case.etag):
            # The client's copy is current: no body, only the validator (RFC 9110 §15.4.5).
            return Response(status=status.HTTP_304_NOT_MODIFIED, headers={"ETag": case.etag})
        return self._case_response(case)

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        key = idempotency.key_from(request.headers)
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)

        def respond() -> Response:
            case = services.case_create(
                # A reference by key: the insert needs the project's id, which the token row holds.
                project=Project(pk=self.token.project_id),
                mode=self.token.mode,
                actor=self.actor,
                **serializer.validated_data,
            )
            return self._case_response(case, status.HTTP_201_CREATED, Location=f"/v1/cases/{case.pk}")

        if key is None:
            return respond()
        return idempotency.respond_once(token=self.token, key=key, data=request.data, respond=respond)

    def partial_update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        case_id = self._case_id()
        serializer: BaseSerializer[Case] = self.get_serializer(data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        try:
            case = services.case_update(
                case_id=case_id,
                project_id=self.token.project_id,
                mode=self.token.mode,
                changes=serializer.validated_data,
                actor=self.actor,
                if_match=request.headers.get("If-Match"),
            )
        except Case.DoesNotExist:
            raise CaseNotFound() from None
        except services.PreconditionFailed:
            raise PreconditionFailed() from None
        return self._case_response(case)

    @action(detail=True, methods=["get"])
    def events(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """The case's history, oldest first, paged like the list."""
        case_id = self._case_id()
        if not self._visible_cases().filter(pk=case_id).exists():
            raise CaseNotFound()
        paginator = EventPagination()
        page = paginator.paginate_queryset(CaseEvent.objects.filter(case_id=case_id), request, view=self)
        return paginator.get_paginated_response(CaseEventSerializer(page, many=True).data)

    @action(detail=True, methods=["get"])
    def notes(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """The case's notes, oldest first, paged like the list."""
        case_id = self._case_id()
        if not self._visible_cases().filter(pk=case_id).exists():
            raise CaseNotFound()
        paginator = NotePagination()
        page = paginator.paginate_queryset(Note.objects.filter(case_id=case_id), request, view=self)
        return paginator.get_paginated_response([note_representation(note) for note in page])

    @notes.mapping.post
    @add_note_operation(required_scopes["add_note"])
    def add_note(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """A new note on the case, with its case event (``services.note_create``)."""
        case_id = self._case_id()
        serializer = NoteSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        try:
            note = services.note_create(
                case_id=case_id,
                body=serializer.validated_data["body"],
                actor=self.actor,
                project_id=self.token.project_id,
                mode=self.token.mode,
            )
        except Case.DoesNotExist:
            raise CaseNotFound() from None
        return Response(note_representation(note), status=status.HTTP_201_CREATED)

    def perform_content_negotiation(self, request: Request, force: bool = False) -> Any:
        # An export answers a ZIP whatever Accept says (its errors are JSON like every other).
        if self.action == "export":
            renderer = self.get_renderers()[0]
            return renderer, renderer.media_type
        return super().perform_content_negotiation(request, force)

    @action(detail=True, methods=["get"])
    def export(self, request: Request, *args: Any, **kwargs: Any) -> StreamingHttpResponse:
        """The case as a signed ZIP bundle, streamed (``cases.export``)."""
        key = _signing_key()
        return export.bundle_response(self.get_object(), key=key, links=FileLinks(request))


def _signing_key() -> Any:
    try:
        return export.signing_key()
    except export.ExportKeyMissing as exc:
        raise ServiceUnavailable(str(exc)) from None


class ExportKeyView(views.APIView):
    """``GET /v1/export-key``: the public key that verifies this installation's case exports. No token."""

    authentication_classes: list[Any] = []
    permission_classes = [AllowAny]
    http_method_names = ["get", "head"]

    @export_key_operation
    def get(self, request: Request) -> Response:
        return Response(export.public_key_document(_signing_key()))
