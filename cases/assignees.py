"""Who works a case (docs/api.md#working-a-case): the assignee, a member of the case's organisation
with role moderator or above, shown as ``{"id": "mem_…", "name"}``."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.contrib.auth import get_user_model
from django.db.models.signals import pre_delete
from django.dispatch import receiver

from serverops.exceptions import InvalidValue
from serverops.ids import id_regex
from serverops.sql import column, table
from tokens.models import Member, Role

MEMBER_ID = id_regex("mem")
# The roles that may work a case (docs/api.md#working-a-case): moderator and every role above it.
WORKING_ROLES = tuple(role.value for role in Role if role.includes(Role.MODERATOR))


def display_name(first_name: str, last_name: str, username: str, email: str) -> str:
    """A member's name: the user's full name, else their username, else their email.

    ``name_sql`` is the same rule in SQL, for the statements that read a case with it.
    """
    return f"{first_name} {last_name}".strip(" ") or username or email


def name_sql(user_alias: str) -> str:
    """``display_name`` of the user row aliased ``user_alias``, as an SQL expression (NULL without a row)."""
    user = get_user_model()
    first, last, username, email = (
        f"{user_alias}.{column(user, name)}" for name in ("first_name", "last_name", "username", "email")
    )
    return f"COALESCE(NULLIF(TRIM({first} || ' ' || {last}), ''), NULLIF({username}, ''), {email})"


def name_join(assignee: str, member_alias: str, user_alias: str) -> str:
    """The outer joins from a case's ``assignee`` column (qualified SQL) to its user row, for ``name_sql``."""
    user = get_user_model()
    return (
        f"LEFT OUTER JOIN {table(Member)} {member_alias} ON {member_alias}.{column(Member, 'id')} = {assignee} "
        f"LEFT OUTER JOIN {table(user)} {user_alias} "
        f"ON {user_alias}.{column(user, 'id')} = {member_alias}.{column(Member, 'user')}"
    )


def names_of(member_ids: Iterable[str]) -> dict[str, str]:
    """Each member's ``display_name`` by member id, in one query (none for no ids)."""
    ids = set(member_ids)
    if not ids:
        return {}
    rows = Member.objects.filter(pk__in=ids).values_list(
        "pk", "user__first_name", "user__last_name", "user__username", "user__email"
    )
    return {pk: display_name(*names) for pk, *names in rows}


def invalid(message: str) -> InvalidValue:
    return InvalidValue("assignee", message)


def clean_assignee_id(value: Any) -> str | None:
    """``assignee`` as sent: a member id or null (400 naming ``assignee`` otherwise). Whether the
    member may work the case is decided with the case (``working_member``)."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise invalid("must be a member id (mem_…) or null")
    if not MEMBER_ID.fullmatch(value):
        raise invalid(f"member {value[:40]!r} not found")
    return value


def working_member(member_id: str, *, project_id: str) -> tuple[str, str]:
    """``(id, name)`` of the member ``member_id`` if they may work a case of the project
    ``project_id``: a member of its organisation with role moderator or above. One query; a
    400 naming ``assignee`` otherwise, which says no more than "not found" about another
    organisation's members."""
    found = (
        Member.objects.filter(pk=member_id, organisation__projects=project_id)
        .values_list("role", "user__first_name", "user__last_name", "user__username", "user__email")
        .first()
    )
    if found is None:
        raise invalid(f"member {member_id} not found in the case's organisation")
    role, *names = found
    if role not in WORKING_ROLES:
        raise invalid(f"member {member_id} is a {role}; a case is assigned to a moderator, admin or owner")
    return member_id, display_name(*names)


@receiver(pre_delete, sender=Member)
def release_cases(*, instance: Member, **_: Any) -> None:
    """A member who leaves an organisation lets go of their cases, each unassigned through
    ``case_update``, so the history records it (the foreign key's SET NULL alone would not)."""
    from .models import Case
    from .services import Actor, case_update

    actor = Actor.system("member removed")
    for case_id in Case.objects.filter(assignee_id=instance.pk).values_list("pk", flat=True):
        case_update(case_id=case_id, changes={"assignee": None}, actor=actor)
