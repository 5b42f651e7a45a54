"""Writes for organisations, their members, projects and tokens: the one place their rules live.

The admin, the commands and the tests all call these functions.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.base_user import BaseUserManager
from django.contrib.auth.forms import PasswordResetForm
from django.contrib.auth.tokens import default_token_generator
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.utils import timezone
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

from serverops.exceptions import DomainError, InvalidValue

from . import crypto
from .models import Member, Mode, Organisation, Project, Role, ScopedToken
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


# A new member's email is also their username (``member_add``), whose column holds 150
# characters: the shorter of that and RFC 5321's longest path (254).
EMAIL_MAX_LENGTH = 150


class MemberConflict(DomainError):
    """A membership change that would break a rule of the organisation (docs/api.md#members)."""

    status = 409
    code = "conflict"


def is_last_owner(member: Member) -> bool:
    """Whether ``member`` is the only owner of its organisation."""
    others = Member.objects.filter(organisation_id=member.organisation_id, role=Role.OWNER).exclude(pk=member.pk)
    return member.role == Role.OWNER and not others.exists()


def clean_email(email: str) -> str:
    """An email address as accounts are found by it: trimmed, the domain in lower case."""
    address = BaseUserManager.normalize_email(email.strip())
    if len(address) > EMAIL_MAX_LENGTH:
        raise InvalidValue("email", f"email must be at most {EMAIL_MAX_LENGTH} characters")
    try:
        validate_email(address)
    except ValidationError:
        raise InvalidValue("email", "email must be an email address, like mod@example.com") from None
    return address


@transaction.atomic
def member_add(*, organisation: Organisation, email: str, role: Role | str) -> tuple[Member, Any]:
    """Make the person with ``email`` a member of ``organisation`` with ``role``.

    Someone without an account gets a staff account without a usable password, found by its
    email from then on; returns the member and that new user (``None`` when the account
    existed), whom ``member_invite_email`` then tells how to set a password. An email already
    a member of the organisation is a ``MemberConflict``.
    """
    address = clean_email(email)
    if role not in Role.values:
        raise InvalidValue("role", f"role must be one of {', '.join(Role.values)}")
    User = get_user_model()
    user = User._default_manager.filter(email__iexact=address).order_by("pk").first()
    created = None
    if user is None:
        # The email is the username: unique, and what the person will type at the login page.
        user = created = User._default_manager.create_user(username=address.lower(), email=address, is_staff=True)
        user.set_unusable_password()
        user.save(update_fields=["password"])
    elif not user.is_staff:
        user.is_staff = True
        user.save(update_fields=["is_staff"])
    if Member.objects.filter(organisation=organisation, user=user).exists():
        raise MemberConflict(f"{address} is already a member of this organisation")
    member = Member.objects.create(organisation=organisation, user=user, role=role)
    return member, created


def member_invite_email(*, user: Any, domain: str, use_https: bool) -> None:
    """Send a new account the link that sets its first password: Django's own password-reset
    email and token (``default_token_generator``), which the link's page
    (``/admin/reset/<uid>/<token>/``) checks and spends. Sent with the ``EMAIL_BACKEND``
    of the settings."""
    context = {
        "email": user.email,
        "domain": domain,
        "site_name": "ServerOps",
        "uid": urlsafe_base64_encode(force_bytes(user.pk)),
        "user": user,
        "token": default_token_generator.make_token(user),
        "protocol": "https" if use_https else "http",
    }
    PasswordResetForm().send_mail(
        "registration/password_reset_subject.txt",
        "registration/password_reset_email.html",
        context,
        None,
        user.email,
    )


@transaction.atomic
def member_set_role(*, member: Member, role: Role | str) -> Member:
    """Change a member's role; demoting the organisation's last owner is a ``MemberConflict``."""
    if role not in Role.values:
        raise InvalidValue("role", f"role must be one of {', '.join(Role.values)}")
    # Membership changes of one organisation one at a time: two owners demoting each other at
    # once would otherwise both see the other still an owner.
    Organisation.objects.select_for_update().filter(pk=member.organisation_id).first()
    locked = Member.objects.select_for_update().get(pk=member.pk)
    if locked.role == role:
        return locked
    if role != Role.OWNER and is_last_owner(locked):
        raise MemberConflict("the organisation's last owner cannot be demoted; make another owner first")
    locked.role = role
    locked.save(update_fields=["role"])
    return locked


@transaction.atomic
def member_remove(*, member: Member) -> None:
    """Remove a member (the account stays); removing the organisation's last owner is a ``MemberConflict``."""
    Organisation.objects.select_for_update().filter(pk=member.organisation_id).first()
    locked = Member.objects.select_for_update().filter(pk=member.pk).first()
    if locked is None:
        return
    if is_last_owner(locked):
        raise MemberConflict("the organisation's last owner cannot be removed; make another owner first")
    locked.delete()
