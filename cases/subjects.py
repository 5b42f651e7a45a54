"""Subjects of a case (docs/api.md, "Players"): who it is about, checked as sent, then linked to
players and written under the case's row lock."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.dispatch import receiver

from players.identifiers import Identifier, InvalidIdentifier
from players.models import NAME_MAX_LENGTH
from players.services import ActorLike, Link, PlayerNotVisible, canonical, players_link
from players.signals import player_erased, players_merged
from serverops.exceptions import InvalidValue
from serverops.ids import id_regex

from .models import Case, CaseSubject, IdempotentRequest, Role
from .validators import validate_title_characters

SUBJECTS_MAX = 10
IDENTIFIERS_MAX = 16
PLAYER_ID = id_regex("pl")
_KEYS = {"identifiers", "player", "role", "name"}


def invalid(message: str) -> InvalidValue:
    return InvalidValue("subjects", message)


@dataclass(frozen=True)
class SubjectSpec:
    """One subject as sent and checked: identifiers (canonical) or a player id, a role, a name."""

    identifiers: tuple[Identifier, ...]
    player_id: str | None
    role: str
    name: str | None


def clean_identifiers(value: Any, *, at: str) -> tuple[Identifier, ...]:
    """``value``: a list of 1–16 identifiers, canonical and distinct, or a 400 naming ``subjects``."""
    if not isinstance(value, list) or not value:
        raise invalid(f"{at}: identifiers must be a list of 1 to {IDENTIFIERS_MAX} identifiers")
    if len(value) > IDENTIFIERS_MAX:
        raise invalid(f"{at}: at most {IDENTIFIERS_MAX} identifiers")
    try:
        return tuple(dict.fromkeys(canonical(raw) for raw in value))
    except InvalidIdentifier as exc:
        raise invalid(f"{at}: {exc}") from None


def _clean_name(value: Any, *, at: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not 1 <= len(value) <= NAME_MAX_LENGTH:
        raise invalid(f"{at}: name must be a string of 1 to {NAME_MAX_LENGTH} characters, or null")
    try:
        validate_title_characters(value)
    except DjangoValidationError as exc:
        raise invalid(f"{at}: name {exc.messages[0]}") from None
    return value


def clean_subjects(value: Any) -> list[SubjectSpec]:
    """``subjects`` as sent: at most 10 subjects, each ``{"identifiers": [...]}`` with at least one
    strong identifier or ``{"player": "pl_…"}``, with an optional ``role`` and ``name``; no
    identifier or player in two subjects. A 400 naming ``subjects`` otherwise.

    Whether a player id is visible, and whether two subjects lead to one player, is decided
    when they are linked (``set_subjects``).
    """
    if not isinstance(value, list):
        raise invalid("must be a list of subjects")
    if len(value) > SUBJECTS_MAX:
        raise invalid(f"at most {SUBJECTS_MAX} subjects")
    specs: list[SubjectSpec] = []
    seen: set[str] = set()
    for index, item in enumerate(value):
        at = f"subject {index}"
        if not isinstance(item, dict):
            raise invalid(f"{at}: must be an object")
        unknown = sorted(set(item) - _KEYS)
        if unknown:
            raise invalid(f"{at}: unknown key {unknown[0][:40]!r}; send identifiers or player, role, name")
        if ("identifiers" in item) == ("player" in item):
            raise invalid(f"{at}: send either identifiers or player")
        role = item.get("role", Role.REPORTED.value)
        if role not in Role.values:
            raise invalid(f"{at}: role must be one of {', '.join(Role.values)}")
        name = _clean_name(item.get("name"), at=at)
        identifiers: tuple[Identifier, ...] = ()
        player_id = None
        if "identifiers" in item:
            identifiers = clean_identifiers(item["identifiers"], at=at)
            strong = [str(i) for i in identifiers if i.strong]
            if not strong:
                raise invalid(f"{at}: needs at least one strong identifier (ip and hwid name no account)")
            keys = strong
        else:
            player_id = item["player"]
            if not isinstance(player_id, str) or not PLAYER_ID.fullmatch(player_id):
                raise invalid(f"{at}: player {str(player_id)[:40]!r} not found")
            keys = [player_id]
        repeated = next((key for key in keys if key in seen), None)
        if repeated is not None:
            raise invalid(f"{at}: {repeated} is in two subjects; a player is a case's subject at most once")
        seen.update(keys)
        specs.append(SubjectSpec(identifiers, player_id, role, name))
    return specs


def set_subjects(case: Case, specs: Sequence[SubjectSpec], actor: ActorLike) -> tuple[Any, Any] | None:
    """Make ``specs`` the case's subjects (replace semantics); the caller holds the case's row lock.

    Links each subject's identifiers to its player first (``players.services.players_link``).
    Returns the history's ``(from, to)`` (``[{"player", "role"}]`` each: ids and roles only,
    never identifiers or names), or None when nothing changed.
    """
    current = list(CaseSubject.objects.filter(case=case).order_by("position", "id"))
    wanted = link_subjects(case, specs, actor)
    if [(row.player_id, row.role, row.name) for row in current] == wanted:
        return None
    CaseSubject.objects.filter(case=case).delete()
    write_subjects(case, wanted)
    return history(current), wanted_history(wanted)


def link_subjects(case: Case, specs: Sequence[SubjectSpec], actor: ActorLike) -> list[tuple[str, str, str]]:
    """Each subject's ``(player id, role, name)``, its identifiers linked to that player first;
    reads nothing of the case but its project and mode, so a case not yet written may ask."""
    try:
        players = players_link(
            project_id=case.project_id,
            mode=case.mode,
            links=[Link(spec.identifiers, spec.player_id, spec.name) for spec in specs],
            actor=actor,
        )
    except PlayerNotVisible as exc:
        raise invalid(str(exc)) from None
    twice = next((pid for index, pid in enumerate(players) if pid in players[:index]), None)
    if twice is not None:
        raise invalid(f"two subjects are the same player ({twice}); a player is a case's subject at most once")
    return [(pid, spec.role, spec.name or "") for pid, spec in zip(players, specs, strict=True)]


def write_subjects(case: Case, wanted: Sequence[tuple[str, str, str]]) -> None:
    """Write the case's subject rows (it has none) from ``link_subjects``'s answer."""
    CaseSubject.objects.bulk_create(
        CaseSubject(case=case, player_id=pid, role=role, name=name, position=position)
        for position, (pid, role, name) in enumerate(wanted)
    )


def wanted_history(wanted: Sequence[tuple[str, str, str]]) -> list[dict[str, str]]:
    return [{"player": pid, "role": role} for pid, role, _ in wanted]


def history(subjects: Sequence[CaseSubject]) -> list[dict[str, str]]:
    return [{"player": row.player_id, "role": row.role} for row in subjects]


@receiver(players_merged)
def repoint_subjects(*, survivor: str, merged: Sequence[str], **_: Any) -> None:
    """Cases that named a merged player name the survivor instead, once each (its own row, or the
    first of the merged players' rows, kept with its role and name)."""
    rows = CaseSubject.objects.filter(player_id__in=[survivor, *merged]).order_by("case_id", "position", "id")
    by_case: dict[str, list[CaseSubject]] = {}
    for row in rows:
        by_case.setdefault(row.case_id, []).append(row)
    drop: list[int] = []
    move: list[int] = []
    for case_rows in by_case.values():
        kept = next((row for row in case_rows if row.player_id == survivor), case_rows[0])
        if kept.player_id != survivor:
            move.append(kept.pk)
        drop += [row.pk for row in case_rows if row is not kept]
    if drop:
        CaseSubject.objects.filter(pk__in=drop).delete()
    if move:
        CaseSubject.objects.filter(pk__in=move).update(player_id=survivor)


@receiver(player_erased)
def forget_subject_names(*, players: Sequence[str], **_: Any) -> None:
    """The names cases gave erased players are personal data too; their roles stay. So are the
    copies of those cases kept to replay a request sent again with its ``Idempotency-Key``: each
    replays the case as it is shown now."""
    case_ids = list(CaseSubject.objects.filter(player_id__in=players).values_list("case_id", flat=True))
    CaseSubject.objects.filter(player_id__in=players).update(name="")
    for kept in IdempotentRequest.objects.filter(body__id__in=case_ids):
        if erase_from_case(kept.body, set(players)):
            kept.save(update_fields=["body"])


def erase_from_case(case: Any, players: set[str]) -> bool:
    """``case``, a Case as the API shows it, with the subjects of the erased ``players`` as the API
    shows them now (no name, no identifiers); whether anything had to change."""
    changed = False
    for subject in case.get("subjects") or [] if isinstance(case, dict) else []:
        if subject.get("player") in players and (subject.get("name") is not None or subject.get("identifiers")):
            subject["name"], subject["identifiers"] = None, []
            changed = True
    return changed
