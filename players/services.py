"""Writes to players: linking identifiers, merging, unlinking (docs/api.md, "Players").

Linking is safe under concurrency. Every strong identifier a transaction links is locked first,
all of them at once and in one order (PostgreSQL advisory transaction locks on a hash of project,
mode and identifier), then the players involved, by id in one statement: two transactions that
share an identifier run one after the other, and no two wait on each other in a cycle. The
unique index on strong identifiers backs this up: a strong identifier is on one player or none.
SQLite runs one write transaction at a time.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from django.conf import settings
from django.db import connections, transaction
from django.db.models import Q
from django.utils import timezone

from tokens.models import Mode

from .identifiers import Identifier, parse
from .models import NAMES_KEPT, Player, PlayerEvent, PlayerEventKind, PlayerIdentifier
from .signals import player_erased, players_merged


class ActorLike(Protocol):
    """Who makes a change, as histories record it (``cases.services.Actor`` is one)."""

    @property
    def type(self) -> str: ...
    @property
    def id(self) -> str: ...
    @property
    def name(self) -> str: ...


class PlayerNotVisible(Exception):
    """A player id names no player of the project and mode (another's, or none at all)."""

    def __init__(self, player_id: str) -> None:
        super().__init__(f"player {player_id} not found")
        self.player_id = player_id


class CannotUnlink(Exception):
    """The identifier cannot be moved off the player; the message says why."""


def ip_key() -> bytes:
    return str(settings.IDENTIFIER_HASH_KEY).encode()


def canonical(raw: object) -> Identifier:
    """``raw`` parsed with this installation's key (``players.identifiers.parse``)."""
    return parse(raw, ip_key=ip_key())


@dataclass(frozen=True)
class Link:
    """One subject's claim: these identifiers (and this player, when named) are one person."""

    identifiers: tuple[Identifier, ...] = ()
    player_id: str | None = None
    name: str | None = None
    strong: tuple[str, ...] = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "strong", tuple(str(i) for i in self.identifiers if i.strong))


def _lock_key(project_id: str, mode: str, identifier: str) -> int:
    digest = hashlib.sha256(f"{project_id}\x00{mode}\x00{identifier}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


def lock_identifiers(project_id: str, mode: str, identifiers: Iterable[str], using: str = "default") -> None:
    """Take the transaction's locks on ``identifiers``, in one order whatever the caller's.

    One statement: ``unnest`` yields the sorted keys in order and each lock is taken as its
    row is read. Nothing on SQLite, whose write transaction already holds the database.
    """
    connection = connections[using]
    keys = sorted({_lock_key(project_id, mode, identifier) for identifier in identifiers})
    if not keys or connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(k) FROM unnest(%s::bigint[]) WITH ORDINALITY AS t(k, n)", [keys])


def _holders(project_id: str, mode: str, strong: Sequence[str]) -> dict[str, str]:
    if not strong:
        return {}
    rows = PlayerIdentifier.objects.filter(project_id=project_id, mode=mode, strong=True, identifier__in=strong)
    return dict(rows.values_list("identifier", "player_id"))


def _seen_name(names: list[str], name: str | None) -> list[str]:
    if name is None:
        return names
    return [name, *[seen for seen in names if seen != name]][:NAMES_KEPT]


@transaction.atomic
def players_link(*, project_id: str, mode: Mode | str, links: Sequence[Link], actor: ActorLike) -> list[str]:
    """The player of each link, in order, after linking: new identifiers joined to the player
    holding one of the link's strong identifiers (or to the named player, or to a new one),
    players holding several merged into the oldest, the name put first among the names seen.

    Weak identifiers are remembered on the player and never decide who it is. Raises
    ``PlayerNotVisible`` for a player id of another project or mode, or none.
    """
    mode = str(mode)
    strong = sorted({identifier for link in links for identifier in link.strong})
    lock_identifiers(project_id, mode, strong)
    named_ids = sorted({link.player_id for link in links if link.player_id is not None})
    players = _lock_players(project_id, mode, strong, named_ids)
    holders = _holders(project_id, mode, strong)
    named = _survivors(project_id, mode, named_ids)
    now = timezone.now()
    result: list[str] = []
    changed: set[str] = set()
    for link in links:
        owners = {holders[identifier] for identifier in link.strong if identifier in holders}
        if link.player_id is not None:
            owners.add(named[link.player_id])
        if not owners:
            player = Player.objects.create(project_id=project_id, mode=mode, created_at=now, updated_at=now)
            players[player.pk] = player
        else:
            player = min((players[pid] for pid in owners), key=lambda p: (p.created_at, p.pk))
            losers = sorted(owners - {player.pk})
            if losers:
                _merge(player, [players[pid] for pid in losers], actor=actor, now=now)
                for identifier, pid in holders.items():
                    if pid in losers:
                        holders[identifier] = player.pk
                for pid in named:
                    if named[pid] in losers:
                        named[pid] = player.pk
                result = [player.pk if pid in losers else pid for pid in result]
                changed.add(player.pk)
        if _attach(player, link, holders):
            changed.add(player.pk)
        names = _seen_name(list(player.names), link.name)
        if names != player.names:
            player.names = names
            changed.add(player.pk)
        result.append(player.pk)
    for pid in sorted(changed):
        player = players[pid]
        player.updated_at = now
        Player.objects.filter(pk=pid).update(names=player.names, updated_at=now)
    return result


def _survivors(project_id: str, mode: str, player_ids: Sequence[str]) -> dict[str, str]:
    """Each visible id of ``player_ids`` to the player answering for it (itself, or its survivor)."""
    if not player_ids:
        return {}
    found = dict(
        Player.objects.filter(project_id=project_id, mode=mode, pk__in=player_ids).values_list("pk", "merged_into_id")
    )
    missing = next((pid for pid in player_ids if pid not in found), None)
    if missing is not None:
        raise PlayerNotVisible(missing)
    return {pid: survivor or pid for pid, survivor in found.items()}


def _lock_players(project_id: str, mode: str, strong: Sequence[str], named_ids: Sequence[str]) -> dict[str, Player]:
    """The players holding ``strong`` or answering for ``named_ids``, row-locked by id in one
    statement. A merge committed while this waited moves identifiers and players: read again
    until what was locked is still what the identifiers lead to."""
    for _ in range(10):
        wanted = set(_holders(project_id, mode, strong).values()) | set(
            _survivors(project_id, mode, named_ids).values()
        )
        locked = {
            player.pk: player for player in Player.objects.select_for_update().filter(pk__in=wanted).order_by("pk")
        }
        if all(player.merged_into_id is None for player in locked.values()) and wanted == set(locked):
            again = set(_holders(project_id, mode, strong).values()) | set(
                _survivors(project_id, mode, named_ids).values()
            )
            if again == wanted:
                return locked
    raise RuntimeError("players kept changing while being locked")


def _attach(player: Player, link: Link, holders: dict[str, str]) -> bool:
    """Add ``link``'s identifiers the player lacks; returns whether any was added."""
    strong = [
        PlayerIdentifier(project_id=player.project_id, mode=player.mode, player=player, identifier=i, strong=True)
        for i in dict.fromkeys(link.strong)
        if i not in holders
    ]
    for row in strong:
        holders[row.identifier] = player.pk
    weak_wanted = sorted({str(i) for i in link.identifiers if not i.strong})
    weak: list[PlayerIdentifier] = []
    if weak_wanted:
        have = set(player.identifiers.filter(identifier__in=weak_wanted).values_list("identifier", flat=True))
        weak = [
            PlayerIdentifier(project_id=player.project_id, mode=player.mode, player=player, identifier=i, strong=False)
            for i in weak_wanted
            if i not in have
        ]
    if strong or weak:
        PlayerIdentifier.objects.bulk_create([*strong, *weak])
    return bool(strong or weak)


def _merge(survivor: Player, losers: list[Player], *, actor: ActorLike, now: Any) -> None:
    """Move the losers' identifiers and names to ``survivor`` and mark them merged into it;
    the caller holds all their row locks."""
    loser_ids = [loser.pk for loser in losers]
    have = PlayerIdentifier.objects.filter(player=survivor, strong=False).values("identifier")
    PlayerIdentifier.objects.filter(player_id__in=loser_ids, strong=False, identifier__in=have).delete()
    # Two losers may share a weak identifier: one of each kept.
    seen: set[str] = set()
    for row in PlayerIdentifier.objects.filter(player_id__in=loser_ids, strong=False).order_by("pk"):
        if row.identifier in seen:
            row.delete()
        seen.add(row.identifier)
    PlayerIdentifier.objects.filter(player_id__in=loser_ids).update(player=survivor)
    names = list(survivor.names)
    for loser in losers:
        names += [name for name in loser.names if name not in names]
    survivor.names = names[:NAMES_KEPT]
    Player.objects.filter(merged_into_id__in=loser_ids).update(merged_into=survivor, updated_at=now)
    Player.objects.filter(pk__in=loser_ids).update(merged_into=survivor, updated_at=now)
    for loser in losers:
        loser.merged_into = survivor
    # Written now, not only when the link ends: the signal's receivers read the survivor as merged.
    Player.objects.filter(pk=survivor.pk).update(names=survivor.names, updated_at=now)
    PlayerEvent.objects.create(
        player=survivor,
        kind=PlayerEventKind.MERGED,
        details={"merged": loser_ids},
        actor_type=actor.type,
        actor_id=actor.id,
        actor_name=actor.name,
        created_at=now,
    )
    players_merged.send(sender=Player, survivor=survivor.pk, merged=loser_ids)


@transaction.atomic
def player_unlink_identifier(*, player_id: str, identifier: str, actor: ActorLike) -> Player:
    """Move ``identifier`` off the player ``player_id`` to a new player of its project and mode,
    recorded on the old player; returns the new player. Raises ``CannotUnlink`` when the
    identifier is not the player's, or is its only one."""
    # In linking's order: the identifier's lock, then the player's row.
    scope = Player.objects.values("project_id", "mode").get(pk=player_id)
    lock_identifiers(scope["project_id"], scope["mode"], [identifier])
    player = Player.objects.select_for_update().get(pk=player_id)
    if player.merged_into_id is not None:
        raise CannotUnlink(f"player {player.pk} was merged into {player.merged_into_id}")
    rows = list(player.identifiers.select_for_update().order_by("identifier"))
    row = next((row for row in rows if row.identifier == identifier), None)
    if row is None:
        raise CannotUnlink(f"{identifier} is not an identifier of {player.pk}")
    if len(rows) == 1:
        raise CannotUnlink(f"{identifier} is the only identifier of {player.pk}")
    now = timezone.now()
    new = Player.objects.create(project_id=player.project_id, mode=player.mode, created_at=now, updated_at=now)
    PlayerIdentifier.objects.filter(pk=row.pk).update(player=new)
    Player.objects.filter(pk=player.pk).update(updated_at=now)
    PlayerEvent.objects.create(
        player=player,
        kind=PlayerEventKind.UNLINKED,
        details={"identifier": identifier, "to": new.pk},
        actor_type=actor.type,
        actor_id=actor.id,
        actor_name=actor.name,
        created_at=now,
    )
    return new


class PlayerNotFound(Exception):
    """No player has this id."""


@transaction.atomic
def player_erase(*, player_id: str, actor: ActorLike) -> Player:
    """Erase the personal data of the player ``player_id`` for good: its identifiers, the names
    seen, the identifiers its unlink records name, and (through ``player_erased``) the names
    cases gave it. A merged id erases the person: its survivor and every player merged into it.
    The players stay, ``erased``, so cases and their hash-chained history keep their shape.
    Returns the surviving player. Raises ``PlayerNotFound`` for an unknown id.
    """
    merged_into = list(Player.objects.filter(pk=player_id).values_list("merged_into_id", flat=True))
    if not merged_into:
        raise PlayerNotFound(f"no player with id {player_id!r}")
    survivor_id = merged_into[0] or player_id
    # Locked in linking's order (players by id), so a link running meanwhile waits or is waited for.
    group = list(
        Player.objects.select_for_update().filter(Q(pk=survivor_id) | Q(merged_into_id=survivor_id)).order_by("pk")
    )
    ids = [player.pk for player in group]
    now = timezone.now()
    PlayerIdentifier.objects.filter(player_id__in=ids).delete()
    Player.objects.filter(pk__in=ids).update(names=[], erased=True, updated_at=now)
    for event in PlayerEvent.objects.filter(
        Q(player_id__in=ids) | Q(details__to__in=ids), kind=PlayerEventKind.UNLINKED
    ):
        event.details = {key: value for key, value in event.details.items() if key != "identifier"}
        event.save(update_fields=["details"])
    PlayerEvent.objects.create(
        player_id=survivor_id,
        kind=PlayerEventKind.ERASED,
        details={"players": ids},
        actor_type=actor.type,
        actor_id=actor.id,
        actor_name=actor.name,
        created_at=now,
    )
    player_erased.send(sender=Player, players=ids)
    return Player.objects.get(pk=survivor_id)


def players_holding(project_id: str, mode: str, identifiers: Iterable[str]) -> Q:
    """A filter on Player: the players (not merged away) holding any of ``identifiers``."""
    return Q(
        pk__in=PlayerIdentifier.objects.filter(
            project_id=project_id, mode=mode, identifier__in=list(identifiers)
        ).values("player_id")
    )
