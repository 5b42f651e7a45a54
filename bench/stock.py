"""The stock DRF comparator: what a Django engineer gets from DRF's generic classes alone.

A ``ModelViewSet`` with a ``ModelSerializer`` on the same ``cases_case`` table, DRF's default
parsers, renderers and negotiation (not the project's), ``LimitOffsetPagination`` (so
``?limit=50`` means the same page size) and a bearer-token authentication that does what
DRF's own ``TokenAuthentication`` does: one lookup of the token. No checksum, scopes, rate
limit, history, files, ETag or row lock. Mounted only by ``bench.urls`` under
``/bench/drf/v1/``.
"""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from rest_framework import serializers, viewsets
from rest_framework.authentication import BaseAuthentication, get_authorization_header
from rest_framework.exceptions import AuthenticationFailed
from rest_framework.pagination import LimitOffsetPagination
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.settings import DEFAULTS, perform_import

from cases.models import Case
from tokens import crypto
from tokens.authentication import TokenUser
from tokens.models import ScopedToken


class BearerAuthentication(BaseAuthentication):
    """DRF's ``TokenAuthentication`` shape: one query for the token, by its stored digest."""

    def authenticate(self, request: Request) -> tuple[TokenUser, ScopedToken] | None:
        scheme, _, credential = get_authorization_header(request).decode().partition(" ")
        if scheme.lower() != "bearer":
            return None
        try:
            token = ScopedToken.objects.get(digest=crypto.digest(credential.strip()))
        except ScopedToken.DoesNotExist:
            raise AuthenticationFailed() from None
        return TokenUser(token), token

    def authenticate_header(self, request: Request) -> str:
        return "Bearer"


class CaseSerializer(serializers.ModelSerializer[Case]):
    class Meta:
        model = Case
        fields = ["id", "title", "description", "status", "created_at", "updated_at"]
        read_only_fields = ["id", "created_at", "updated_at"]


class CaseViewSet(viewsets.ModelViewSet):  # type: ignore[type-arg]
    serializer_class = CaseSerializer
    authentication_classes = [BearerAuthentication]
    permission_classes = [IsAuthenticated]
    pagination_class = LimitOffsetPagination
    # DRF's own defaults, not the project's REST_FRAMEWORK settings.
    parser_classes = perform_import(DEFAULTS["DEFAULT_PARSER_CLASSES"], "DEFAULT_PARSER_CLASSES")
    renderer_classes = perform_import(DEFAULTS["DEFAULT_RENDERER_CLASSES"], "DEFAULT_RENDERER_CLASSES")
    filter_backends: list[Any] = []

    def get_queryset(self) -> QuerySet[Case]:
        token = self.request.auth
        assert isinstance(token, ScopedToken)
        return Case.objects.filter(project_id=token.project_id, mode=token.mode).order_by("-created_at", "-id")
