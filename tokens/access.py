"""Who may see and do what on the staff side: the one place that answers it (docs/api.md#members).

Every admin page, action, inline and staff view asks these functions; none reads ``Member``
rows itself. A Django superuser is above membership and sees everything; every other user sees
exactly the organisations they are a member of, each with their role there.

The memberships of a user are read once per request: they are kept on the user object, which
Django builds afresh for every request.
"""

from __future__ import annotations

from typing import Any

from .models import Member, Role

_CACHE = "_serverops_roles"


def roles_of(user: Any) -> dict[str, Role]:
    """The user's role in each organisation they belong to, by organisation id (one query per
    request; none for an anonymous or inactive user)."""
    cached: dict[str, Role] | None = getattr(user, _CACHE, None)
    if cached is not None:
        return cached
    roles: dict[str, Role] = {}
    if getattr(user, "is_authenticated", False) and user.is_active and user.pk is not None:
        roles = {
            org: Role(role) for org, role in Member.objects.filter(user=user).values_list("organisation_id", "role")
        }
    setattr(user, _CACHE, roles)
    return roles


def forget(user: Any) -> None:
    """Drop the memberships kept on ``user`` (after they change within one request)."""
    if hasattr(user, _CACHE):
        delattr(user, _CACHE)


def is_superuser(user: Any) -> bool:
    return bool(getattr(user, "is_active", False) and getattr(user, "is_superuser", False))


def role_in(user: Any, organisation_id: str) -> Role | None:
    """The user's role in the organisation, ``None`` if not a member (``OWNER`` for a superuser)."""
    if is_superuser(user):
        return Role.OWNER
    return roles_of(user).get(organisation_id)


def has_role(user: Any, organisation_id: str, at_least: Role) -> bool:
    role = role_in(user, organisation_id)
    return role is not None and role.includes(at_least)


def organisations_where(user: Any, at_least: Role = Role.VIEWER) -> list[str] | None:
    """The ids of the organisations where the user holds ``at_least`` that role; ``None`` means
    every organisation (a superuser). Use it to filter a queryset by its organisation path."""
    if is_superuser(user):
        return None
    return sorted(org for org, role in roles_of(user).items() if role.includes(at_least))


def has_any_role(user: Any, at_least: Role = Role.VIEWER) -> bool:
    """Whether the user holds ``at_least`` that role somewhere (a superuser always does)."""
    orgs = organisations_where(user, at_least)
    return orgs is None or bool(orgs)
