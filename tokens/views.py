"""The Members and Tokens APIs (docs/api.md#members, docs/api.md#tokens-api): a token manages
its own organisation's members and its own project's tokens, never beyond what it holds itself.

No token can make, promote, demote or remove an owner (owners are made by ``manage.py
add_member`` or by an owner in the admin), mint a scope it lacks, outlive itself, or reach
another project's tokens or another mode's.
"""

from __future__ import annotations

from contextlib import suppress
from datetime import datetime
from typing import Any, NoReturn

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone
from rest_framework import status
from rest_framework.exceptions import PermissionDenied, ValidationError
from rest_framework.request import Request
from rest_framework.response import Response

from serverops.durations import parse_duration
from serverops.exceptions import NotFound
from serverops.ids import id_regex

from .models import Member, Project, Role, ScopedToken
from .schema import member_schema, token_schema
from .serializers import (
    MemberCreateSerializer,
    MemberUpdateSerializer,
    TokenCreateSerializer,
    member_representation,
    token_representation,
)
from .services import (
    MemberConflict,
    clean_scopes,
    is_last_owner,
    member_add,
    member_invite_email,
    member_remove,
    member_set_role,
    token_create,
    token_revoke,
)
from .viewsets import ApiViewSet

MEMBER_ID = id_regex("mem")
TOKEN_ID = id_regex("tok")


class MemberNotFound(NotFound):
    default_detail = "member not found"


class TokenNotFound(NotFound):
    default_detail = "token not found"


class OwnersOnly(PermissionDenied):
    default_detail = (
        "a token cannot make, promote, demote or remove an owner; an owner does it in the admin, "
        "or an operator with manage.py add_member"
    )
    default_code = "forbidden"


class ScopeNotHeld(PermissionDenied):
    """A token may grant only scopes it holds; the refusal names the first one it lacks."""

    default_code = "forbidden"

    def __init__(self, scope: str) -> None:
        super().__init__(f"this token cannot grant {scope}: it does not hold it")
        self.headers = {"X-Accepted-Scopes": scope}


class _TokenViewSet(ApiViewSet):
    lookup_value_regex = "[^/]+"

    @property
    def token(self) -> ScopedToken:
        token = self.request.auth
        assert isinstance(token, ScopedToken)
        return token


@member_schema
class MemberViewSet(_TokenViewSet):
    """The members of the token's organisation (the organisation of its project)."""

    http_method_names = ["get", "post", "patch", "delete", "head"]
    required_scopes = {
        "list": "members:read",
        "create": "members:write",
        "partial_update": "members:write",
        "destroy": "members:write",
    }

    def get_queryset(self) -> QuerySet[Member]:
        organisation = Project.objects.filter(pk=self.token.project_id).values("organisation_id")
        return Member.objects.filter(organisation_id__in=organisation).select_related("user")

    def get_object(self) -> Member:
        member_id: str = self.kwargs["pk"]
        member = self.get_queryset().filter(pk=member_id).first() if MEMBER_ID.fullmatch(member_id) else None
        if member is None:
            raise MemberNotFound()
        return member

    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        members = self.get_queryset().order_by("created_at", "id")
        return Response({"members": [member_representation(member) for member in members]})

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        body = MemberCreateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        if body.validated_data["role"] == Role.OWNER:
            raise OwnersOnly()
        organisation = Project.objects.select_related("organisation").get(pk=self.token.project_id).organisation
        # One transaction with the email: a mail server that refuses it leaves no member behind,
        # so the client's retry is a fresh invite, not a 409.
        with transaction.atomic():
            member, new_user = member_add(organisation=organisation, **body.validated_data)
            if new_user is not None:
                member_invite_email(user=new_user, domain=request.get_host(), use_https=request.is_secure())
        return Response(
            member_representation(member),
            status=status.HTTP_201_CREATED,
            headers={"Location": f"/v1/members/{member.pk}"},
        )

    def partial_update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        member = self.get_object()
        body = MemberUpdateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        role = body.validated_data["role"]
        if member.role == role:
            return Response(member_representation(member))
        if Role.OWNER in (member.role, role):
            refuse_owner_change(member)
        return Response(member_representation(member_set_role(member=member, role=role)))

    def destroy(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        member = self.get_object()
        if member.role == Role.OWNER:
            refuse_owner_change(member)
        member_remove(member=member)
        return Response(status=status.HTTP_204_NO_CONTENT)


def refuse_owner_change(member: Member) -> NoReturn:
    """A token's change that makes or touches an owner. Demoting or removing the organisation's last
    owner is a 409 whoever asks, so that comes first: it is what the client must fix."""
    if member.role == Role.OWNER and is_last_owner(member):
        raise MemberConflict("the organisation's last owner cannot be demoted or removed; make another owner first")
    raise OwnersOnly()


@token_schema
class TokenViewSet(_TokenViewSet):
    """The tokens of the caller's project and mode."""

    http_method_names = ["get", "post", "delete", "head"]
    required_scopes = {"list": "tokens:write", "create": "tokens:write", "destroy": "tokens:write"}

    def get_queryset(self) -> QuerySet[ScopedToken]:
        return ScopedToken.objects.filter(project_id=self.token.project_id, mode=self.token.mode)

    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        tokens = self.get_queryset().order_by("-created_at", "-id")
        return Response({"tokens": [token_representation(token) for token in tokens]})

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        body = TokenCreateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        try:
            scopes = clean_scopes(data["scopes"])
        except DjangoValidationError as exc:
            raise ValidationError({"scopes": exc.messages}) from None
        for scope in scopes:
            if scope not in self.token.scopes:
                raise ScopeNotHeld(scope)
        new, plaintext = token_create(
            project=Project(pk=self.token.project_id),
            name=data["name"],
            scopes=scopes,
            mode=self.token.mode,
            expires_at=self._expiry(data.get("expires_in")),
            created_by=self.token.pk,
        )
        shown = {**token_representation(new), "token": plaintext}
        return Response(shown, status=status.HTTP_201_CREATED)

    def _expiry(self, expires_in: str | None) -> datetime | None:
        """When the new token expires: no later than the caller does."""
        limit = self.token.expires_at
        if expires_in is None:
            if limit is not None:
                raise ValidationError({"expires_in": ["required: this token expires, and so must the ones it makes"]})
            return None
        try:
            lifetime = parse_duration(expires_in)
        except ValueError as exc:
            raise ValidationError({"expires_in": [str(exc)]}) from None
        if not lifetime:
            raise ValidationError({"expires_in": ["must be longer than zero: a token cannot expire as it is made"]})
        expires_at = timezone.now() + lifetime
        if limit is not None and expires_at > limit:
            raise ValidationError({"expires_in": [f"must end no later than this token, at {limit.isoformat()}"]})
        return expires_at

    def destroy(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        token_id: str = self.kwargs["pk"]
        found = self.get_queryset().filter(pk=token_id).first() if TOKEN_ID.fullmatch(token_id) else None
        if found is None:
            raise TokenNotFound()
        # Revoked by another request meanwhile: the state this one asked for.
        with suppress(DjangoValidationError):
            if not found.is_revoked:
                token_revoke(token=found)

        return Response(status=status.HTTP_204_NO_CONTENT)
