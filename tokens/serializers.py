"""Shapes of the Member and Token objects (docs/api.md#members, docs/api.md#tokens-api) and the
validation of what clients send for them."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers
from rest_framework.settings import api_settings

from serverops.fields import JSONObjectSerializer, StrictCharField, StrictChoiceField, rfc3339

from .models import Member, Role, ScopedToken
from .services import EMAIL_MAX_LENGTH

TOKEN_NAME_MAX_LENGTH = 200


def member_representation(member: Member) -> dict[str, Any]:
    user = member.user
    return {
        "id": member.pk,
        "email": user.email,
        "name": user.get_full_name() or user.get_username(),
        "role": member.role,
        "created_at": rfc3339(member.created_at),
    }


def _when(value: Any) -> str | None:
    return None if value is None else rfc3339(value)


def token_representation(token: ScopedToken) -> dict[str, Any]:
    return {
        "id": token.pk,
        "name": token.name,
        "scopes": list(token.scopes),
        "mode": token.mode,
        "hint": token.hint,
        "created_at": rfc3339(token.created_at),
        "expires_at": _when(token.expires_at),
        "last_used_at": _when(token.last_used_at),
        "revoked_at": _when(token.revoked_at),
    }


class StrictBody(JSONObjectSerializer[Any]):
    """Every key sent is one this body takes: any other is a 400 naming it; ``{}`` names what to send."""

    def to_internal_value(self, data: Any) -> dict[str, Any]:
        for key in data:
            if key not in self.fields:
                raise serializers.ValidationError({key: [f"unknown field; send only {', '.join(self.fields)}"]})
        if not data:
            required = [name for name, field in self.fields.items() if field.required] or list(self.fields)
            raise serializers.ValidationError(
                {api_settings.NON_FIELD_ERRORS_KEY: [f"missing required field: send {', '.join(required)}"]}
            )
        validated: dict[str, Any] = super().to_internal_value(data)
        return validated


class MemberCreateSerializer(StrictBody):
    email = StrictCharField(max_length=EMAIL_MAX_LENGTH)
    role = StrictChoiceField(choices=Role.values)


class MemberUpdateSerializer(StrictBody):
    role = StrictChoiceField(choices=Role.values)


class ScopeListField(serializers.Field):  # type: ignore[type-arg]
    """A non-empty list of distinct strings; which scopes exist is the service's rule (``clean_scopes``)."""

    default_error_messages = {
        "invalid": 'must be a list of scopes, like ["cases:read"]',
        "empty": "must name at least one scope",
        "repeated": "must not repeat a scope ({scope})",
    }

    def to_internal_value(self, data: Any) -> list[str]:
        if not isinstance(data, list) or not all(isinstance(scope, str) for scope in data):
            self.fail("invalid")
        if not data:
            self.fail("empty")
        seen: set[str] = set()
        for scope in data:
            if scope in seen:
                self.fail("repeated", scope=scope)
            seen.add(scope)
        return list(data)

    def to_representation(self, value: Any) -> Any:
        return value


class TokenCreateSerializer(StrictBody):
    name = StrictCharField(max_length=TOKEN_NAME_MAX_LENGTH, normalise=str.strip)
    scopes = ScopeListField()
    expires_in = StrictCharField(required=False, max_length=20)
