"""Writes for organisations, projects and tokens: the one place their rules live.

The admin, the commands and the tests all call these functions.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from . import crypto
from .models import Mode, Organisation, Project, ScopedToken
from .scopes import SCOPES


@transaction.atomic
def project_create(*, name: str, organisation_name: str) -> Project:
    """Create a project, and its organisation when no organisation has that name yet."""
    name, organisation_name = name.strip(), organisation_name.strip()
    if not name:
        raise ValidationError("project name must not be empty")
    if not organisation_name:
        raise ValidationError("organisation name must not be empty")
    organisation, _ = Organisation.objects.get_or_create(name=organisation_name)
    if organisation.projects.filter(name=name).exists():
        raise ValidationError(f"organisation {organisation_name!r} already has a project named {name!r}")
    return Project.objects.create(organisation=organisation, name=name)


def clean_scopes(scopes: Iterable[str]) -> list[str]:
    """The scopes in canonical order, without repeats; refuses unknown scopes and an empty set."""
    wanted = set(scopes)
    unknown = sorted(wanted - SCOPES.keys())
    if unknown:
        raise ValidationError(f"unknown scope {', '.join(unknown)}; valid scopes: {' '.join(SCOPES)}")
    if not wanted:
        raise ValidationError("a token needs at least one scope")
    return [scope for scope in SCOPES if scope in wanted]


def clean_expiry(expires_at: datetime | None) -> datetime | None:
    """The expiry as given; refuses one that is not in the future (``None`` means never)."""
    if expires_at is not None and expires_at <= timezone.now():
        raise ValidationError("expiry must be in the future")
    return expires_at


@transaction.atomic
def token_create(
    *,
    project: Project,
    name: str,
    scopes: Iterable[str],
    mode: Mode | str = Mode.LIVE,
    expires_at: datetime | None = None,
    created_by: str = "",
) -> tuple[ScopedToken, str]:
    """Create a token; returns it with its plaintext, which exists nowhere else afterwards."""
    name = name.strip()
    if not name:
        raise ValidationError("token name must not be empty")
    if mode not in Mode.values:
        raise ValidationError(f"mode must be one of {', '.join(Mode.values)}")
    expires_at = clean_expiry(expires_at)
    plaintext = crypto.generate("test" if mode == Mode.TEST else "live")
    token = ScopedToken.objects.create(
        project=project,
        name=name,
        mode=mode,
        scopes=clean_scopes(scopes),
        digest=crypto.digest(plaintext),
        hint=crypto.hint(plaintext),
        expires_at=expires_at,
        created_by=created_by,
    )
    return token, plaintext


@transaction.atomic
def token_revoke(*, token: ScopedToken) -> ScopedToken:
    """Revoke a token for good. Revoking a revoked token is refused rather than re-dated."""
    locked = ScopedToken.objects.select_for_update().get(pk=token.pk)
    if locked.revoked_at is not None:
        raise ValidationError(f"token {locked.pk} was already revoked")
    locked.revoked_at = timezone.now()
    locked.save(update_fields=["revoked_at"])
    return locked
