"""Players: who cases are about, known by any of their identifiers (docs/api.md, "Players")."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.db import models
from django.db.models import Q
from django.utils import timezone

from serverops.ids import new_player_id
from tokens.models import Mode, Project

if TYPE_CHECKING:
    from django.db.models.fields.related_descriptors import RelatedManager

NAMES_KEPT = 10
NAME_MAX_LENGTH = 64
IDENTIFIER_MAX_LENGTH = 200


class Player(models.Model):
    """One person in one project and mode. ``merged_into`` is set for good when the player
    was merged into another (the survivor, never itself merged); its identifiers moved there."""

    id = models.CharField(primary_key=True, max_length=29, default=new_player_id, editable=False)
    project = models.ForeignKey(Project, on_delete=models.PROTECT, related_name="players")
    mode = models.CharField(max_length=4, choices=Mode.choices)
    # Distinct, most recently seen first, at most NAMES_KEPT.
    names = models.JSONField(default=list, blank=True)
    merged_into = models.ForeignKey(
        "self", on_delete=models.PROTECT, null=True, blank=True, related_name="merged", editable=False
    )
    erased = models.BooleanField(default=False, editable=False)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(default=timezone.now, editable=False)

    identifiers: RelatedManager[PlayerIdentifier]

    class Meta:
        ordering = ["-updated_at", "-id"]
        constraints = [models.CheckConstraint(condition=Q(mode__in=Mode.values), name="player_mode_valid")]
        indexes = [
            # The players list, most recently updated first, of the players not merged away.
            models.Index(
                fields=["project", "mode", "-updated_at", "-id"],
                name="player_keyset",
                condition=Q(merged_into__isnull=True),
            )
        ]

    def __str__(self) -> str:
        return f"{self.id} {self.names[0]}" if self.names else self.id


class PlayerIdentifier(models.Model):
    """An identifier (``players.identifiers``' canonical form) seen with a player.

    A strong identifier belongs to one player of its project and mode; a weak one (ip, hwid)
    may be remembered on several (a household, a VPN), once each.
    """

    project = models.ForeignKey(Project, on_delete=models.PROTECT, related_name="+")
    mode = models.CharField(max_length=4, choices=Mode.choices)
    player = models.ForeignKey(Player, on_delete=models.CASCADE, related_name="identifiers")
    identifier = models.CharField(max_length=IDENTIFIER_MAX_LENGTH)
    strong = models.BooleanField()
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["identifier"]
        constraints = [
            models.UniqueConstraint(
                fields=["project", "mode", "identifier"], condition=Q(strong=True), name="identifier_strong_once"
            ),
            # Also the lookup's index: (project, mode, identifier) leads to its players.
            models.UniqueConstraint(
                fields=["project", "mode", "identifier", "player"], name="identifier_once_per_player"
            ),
        ]
        indexes = [models.Index(fields=["player", "identifier"], name="identifier_of_player")]

    def __str__(self) -> str:
        return self.identifier


class PlayerEventKind(models.TextChoices):
    MERGED = "merged", "Merged"
    UNLINKED = "unlinked", "Identifier unlinked"
    ERASED = "erased", "Erased"


class PlayerEvent(models.Model):
    """A change to who a player is, recorded on it: players merged into it, an identifier moved
    off it, its personal data erased. ``details`` holds player ids (``merged``: the ids merged in;
    ``unlinked``: the new player's id and, until the player is erased, the identifier moved)."""

    player = models.ForeignKey(Player, on_delete=models.CASCADE, related_name="events")
    kind = models.CharField(max_length=8, choices=PlayerEventKind.choices)
    details = models.JSONField(default=dict)
    actor_type = models.CharField(max_length=6)
    actor_id = models.CharField(max_length=150)
    actor_name = models.CharField(max_length=200)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return f"{self.kind} on {self.player_id}"
