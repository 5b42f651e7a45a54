"""Who calls the API: organisations, their projects, and the scoped tokens of a project."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from serverops import sql
from serverops.ids import new_member_id, new_organisation_id, new_project_id, new_token_id
from serverops.models import FastLoadingModel

if TYPE_CHECKING:
    from django.db.models.fields.related_descriptors import RelatedManager

    from cases.models import Case


class Mode(models.TextChoices):
    LIVE = "live", "Live"
    TEST = "test", "Test"


class Role(models.TextChoices):
    """A member's role in an organisation; each includes every role before it (docs/api.md#members)."""

    VIEWER = "viewer", "Viewer"
    MODERATOR = "moderator", "Moderator"
    ADMIN = "admin", "Admin"
    OWNER = "owner", "Owner"

    @property
    def rank(self) -> int:
        return ROLE_ORDER.index(self)

    def includes(self, other: Role) -> bool:
        """Whether this role may do everything ``other`` may."""
        return self.rank >= Role(other).rank


ROLE_ORDER = (Role.VIEWER, Role.MODERATOR, Role.ADMIN, Role.OWNER)


class Organisation(models.Model):
    id = models.CharField(primary_key=True, max_length=30, default=new_organisation_id, editable=False)
    name = models.CharField(max_length=200, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)

    projects: RelatedManager[Project]
    members: RelatedManager[Member]

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Member(models.Model):
    """A staff user's place in an organisation. A user may be a member of several organisations,
    once each; superusers need no membership to see everything (``tokens.access``)."""

    id = models.CharField(primary_key=True, max_length=30, default=new_member_id, editable=False)
    organisation = models.ForeignKey(Organisation, on_delete=models.CASCADE, related_name="members")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=10, choices=Role.choices)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["organisation__name", "created_at"]
        constraints = [
            models.UniqueConstraint(fields=["organisation", "user"], name="member_once_per_org"),
            models.CheckConstraint(condition=Q(role__in=Role.values), name="member_role_valid"),
        ]

    def __str__(self) -> str:
        return f"{self.user} ({self.get_role_display()}, {self.organisation_id})"


class Project(models.Model):
    id = models.CharField(primary_key=True, max_length=28, default=new_project_id, editable=False)
    organisation = models.ForeignKey(Organisation, on_delete=models.PROTECT, related_name="projects")
    name = models.CharField(max_length=200)
    created_at = models.DateTimeField(auto_now_add=True)

    tokens: RelatedManager[ScopedToken]
    cases: RelatedManager[Case]

    class Meta:
        ordering = ["organisation__name", "name"]
        constraints = [
            models.UniqueConstraint(fields=["organisation", "name"], name="project_name_unique_in_org"),
        ]

    def __str__(self) -> str:
        return f"{self.organisation.name} / {self.name}"


class ScopedTokenManager(models.Manager["ScopedToken"]):
    def get_by_digest(self, digest: str) -> ScopedToken:
        """The token whose ``digest`` this is, every field loaded; ``ScopedToken.DoesNotExist`` if none.

        Field for field what ``self.get(digest=digest)`` returns, from the same single query on
        the token's own table, for under half its CPU: authentication runs it on every request,
        and building and compiling the ORM's query costs more than its round trip
        (``serverops.sql``).
        """
        found = sql.select(self.model, f"t.{sql.column(self.model, 'digest')} = %s", [digest], using=self.db)
        if not found:
            raise self.model.DoesNotExist(f"{self.model._meta.object_name} matching query does not exist.")
        token: ScopedToken = found[0]
        return token


class ScopedToken(FastLoadingModel):
    """A project's API token. Only its SHA-256 digest is stored (see ``tokens.crypto``).

    Revocation is final: ``revoked_at`` is set once and never cleared.
    """

    id = models.CharField(primary_key=True, max_length=30, default=new_token_id, editable=False)
    project = models.ForeignKey(Project, on_delete=models.PROTECT, related_name="tokens")
    name = models.CharField(max_length=200)
    mode = models.CharField(max_length=4, choices=Mode.choices)
    scopes = models.JSONField(default=list)
    digest = models.CharField(max_length=64, unique=True, editable=False)
    hint = models.CharField(max_length=20, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.CharField(max_length=150, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True, editable=False)
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)

    objects = ScopedTokenManager()

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(condition=Q(mode__in=Mode.values), name="token_mode_valid"),
            models.CheckConstraint(condition=~Q(name=""), name="token_name_not_empty"),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.hint})"

    @property
    def is_revoked(self) -> bool:
        return self.revoked_at is not None

    def is_expired(self, now: datetime | None = None) -> bool:
        return self.expires_at is not None and self.expires_at <= (now or timezone.now())

    def state(self, now: datetime | None = None) -> str:
        if self.is_revoked:
            return "revoked"
        if self.is_expired(now):
            return "expired"
        return "active"

    def is_usable(self, now: datetime) -> bool:
        return not self.is_revoked and not self.is_expired(now)
