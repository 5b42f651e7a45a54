"""Staff side of tokens, organisations and projects.

Tokens are created and revoked only through ``tokens.services``; the plaintext of a new
token is rendered once, as the response to the add form's POST, and kept nowhere else.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.db.models import Count, ForeignObjectRel, IntegerField, OuterRef, QuerySet, Subquery
from django.db.models.functions import Coalesce
from django.http import HttpRequest
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

from serverops.admin_site import ShownOnceAddForm, ShownOnceAdmin, adopt_saved

from .models import Mode, Organisation, Project, ScopedToken
from .scopes import SCOPE_CHOICES
from .services import clean_expiry, clean_scopes, project_create, token_create, token_revoke


class ProjectChoiceFilter(admin.RelatedFieldListFilter):
    """The project filter with each project's organisation in one query (a project's name shows it)."""

    def field_choices(self, field: Any, request: HttpRequest, model_admin: admin.ModelAdmin[Any]) -> list[Any]:
        return [(project.pk, str(project)) for project in Project.objects.select_related("organisation")]


def _count_of(relation: str) -> Coalesce:
    """How many rows point at a project through its reverse relation ``relation`` ("cases",
    "tokens"), as one correlated subquery.

    Named by the relation, so the cases app, which sits above this one, is not imported.
    Two ``Count`` joins in one query would multiply each other's rows.
    """
    reverse = Project._meta.get_field(relation)
    assert isinstance(reverse, ForeignObjectRel), f"{relation} is not a reverse relation of Project"
    model, fk = reverse.related_model, reverse.field.name
    counted = model._default_manager.filter(**{fk: OuterRef("pk")}).order_by().values(fk).annotate(n=Count("pk"))
    return Coalesce(Subquery(counted.values("n"), output_field=IntegerField()), 0)


class ProjectInline(admin.TabularInline):  # type: ignore[type-arg]
    model = Project
    fields = ("name", "id", "created_at")
    readonly_fields = ("id", "created_at")
    extra = 0
    show_change_link = True


@admin.register(Organisation)
class OrganisationAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ("name", "id", "project_count", "created_at")
    search_fields = ("name", "=id")
    readonly_fields = ("id", "created_at")
    inlines = (ProjectInline,)

    def get_queryset(self, request: HttpRequest) -> QuerySet[Organisation]:
        organisations: QuerySet[Organisation] = super().get_queryset(request)
        return organisations.annotate(project_count=Count("projects"))

    @admin.display(description="projects", ordering="project_count")
    def project_count(self, obj: Organisation) -> int:
        return obj.project_count  # type: ignore[attr-defined, no-any-return]


@admin.register(Project)
class ProjectAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ("name", "id", "organisation", "case_count", "token_count", "created_at")
    list_select_related = ("organisation",)
    list_filter = ("organisation",)
    search_fields = ("name", "=id", "organisation__name")
    readonly_fields = ("id", "case_count", "token_count", "created_at")

    def get_queryset(self, request: HttpRequest) -> QuerySet[Project]:
        projects: QuerySet[Project] = super().get_queryset(request)
        return projects.annotate(case_count=_count_of("cases"), token_count=_count_of("tokens"))

    def save_model(self, request: HttpRequest, obj: Project, form: Any, change: bool) -> None:
        if change:
            super().save_model(request, obj, form, change)
            return
        adopt_saved(obj, project_create(name=obj.name, organisation_name=obj.organisation.name))

    @admin.display(description="cases", ordering="case_count")
    def case_count(self, obj: Project) -> int:
        return obj.case_count  # type: ignore[attr-defined, no-any-return]

    @admin.display(description="tokens", ordering="token_count")
    def token_count(self, obj: Project) -> int:
        return obj.token_count  # type: ignore[attr-defined, no-any-return]


# The token list shows this many scopes, then "+N more".
LISTED_SCOPES = 3


def _compact(when: datetime) -> str:
    """A date as a list cell shows it: "27 Nov 14:05" this year, "27 Nov 2027" otherwise."""
    local = timezone.localtime(when)
    return date_format(local, "j M H:i" if local.year == timezone.localtime().year else "j M Y")


class TokenAddForm(ShownOnceAddForm):
    """What a new token needs; the rules are the services' (``clean_scopes``, ``clean_expiry``)."""

    mode = forms.ChoiceField(
        choices=Mode.choices,
        initial=Mode.LIVE,
        widget=forms.RadioSelect,
        help_text="A test token (so_test_…) sees only test-mode cases; a live one only live cases.",
    )
    scopes = forms.MultipleChoiceField(
        choices=SCOPE_CHOICES,
        widget=forms.CheckboxSelectMultiple,
        help_text="Scopes do not imply each other: cases:write does not grant reading cases.",
    )

    form_key_prefix = "token-add-form"
    already_used = (
        "This form was already used to create a token, which was shown once. Open a new form to create another."
    )

    class Meta:
        model = ScopedToken
        fields = ("project", "name", "mode", "scopes", "expires_at")
        help_texts = {"expires_at": "Leave empty for a token that does not expire."}

    def clean_scopes(self) -> list[str]:
        return clean_scopes(self.cleaned_data["scopes"])

    def clean_expires_at(self) -> Any:
        return clean_expiry(self.cleaned_data["expires_at"])


class TokenChangeForm(forms.ModelForm):  # type: ignore[type-arg]
    """An active token may be renamed or revoked; nothing else about it changes."""

    revoke = forms.BooleanField(
        required=False,
        label="Revoked",
        help_text="Tick and save to revoke: requests with this token are refused from then on. This cannot be undone.",
    )

    class Meta:
        model = ScopedToken
        fields = ("name",)


class TokenStateFilter(admin.SimpleListFilter):
    title = "state"
    parameter_name = "state"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin[Any]) -> list[tuple[str, str]]:
        return [("active", "Active"), ("expired", "Expired"), ("revoked", "Revoked")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        now = timezone.now()
        if self.value() == "revoked":
            return queryset.filter(revoked_at__isnull=False)
        if self.value() == "expired":
            return queryset.filter(revoked_at__isnull=True, expires_at__lte=now)
        if self.value() == "active":
            return queryset.filter(revoked_at__isnull=True).exclude(expires_at__lte=now)
        return queryset


@admin.register(ScopedToken)
class ScopedTokenAdmin(ShownOnceAdmin):
    """Tokens are never deleted (revoke instead) and their digest is never shown."""

    shown_once_template = "admin/tokens/scopedtoken/shown_once.html"
    shown_once_title = "Copy your new token"

    # Read at 1280 px with both sidebars open, state second so it is always in view. The hint
    # says the mode (so_live_/so_test_); the organisation is in the project's tooltip.
    list_display = ("name_and_hint", "state_badge", "project_name", "scope_summary", "usage")
    list_display_links = ("name_and_hint",)
    list_select_related = ("project__organisation",)
    list_filter = (TokenStateFilter, "mode", ("project", ProjectChoiceFilter))
    search_fields = ("=id", "name", "hint")
    ordering = ("-created_at",)
    actions = ("revoke_tokens",)

    add_fieldsets = ((None, {"fields": ("project", "name", "mode", "scopes", "expires_at", "form_key")}),)
    readonly_fields = (
        "id",
        "project",
        "mode",
        "scope_list",
        "hint",
        "state",
        "created_at",
        "created_by",
        "expires_at",
        "last_used_at",
        "revoked_at",
    )

    def get_fieldsets(self, request: HttpRequest, obj: ScopedToken | None = None) -> Any:
        if obj is None:
            return self.add_fieldsets
        editable = ("name", "revoke") if self.has_change_permission(request, obj) else ("name",)
        return (
            (None, {"fields": (*editable, "id", "project", "mode", "scope_list", "hint", "state")}),
            ("Dates", {"fields": ("created_at", "created_by", "expires_at", "last_used_at", "revoked_at")}),
        )

    def get_readonly_fields(self, request: HttpRequest, obj: ScopedToken | None = None) -> Any:
        return () if obj is None else self.readonly_fields

    def get_form(
        self, request: HttpRequest, obj: ScopedToken | None = None, change: bool = False, **kwargs: Any
    ) -> Any:
        kwargs["form"] = TokenAddForm if obj is None else TokenChangeForm
        return super().get_form(request, obj, change, **kwargs)

    def formfield_for_foreignkey(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        if db_field.name == "project":
            kwargs["queryset"] = Project.objects.select_related("organisation")
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def has_change_permission(self, request: HttpRequest, obj: ScopedToken | None = None) -> bool:
        # A revoked token's page is view-only: revocation cannot be undone.
        if obj is not None and obj.is_revoked:
            return False
        return super().has_change_permission(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: ScopedToken | None = None) -> bool:
        return False

    def save_model(self, request: HttpRequest, obj: ScopedToken, form: Any, change: bool) -> None:
        if not change:
            data = form.cleaned_data
            token, plaintext = token_create(
                project=data["project"],
                name=data["name"],
                scopes=data["scopes"],
                mode=data["mode"],
                expires_at=data["expires_at"],
                created_by=request.user.get_username(),
            )
            adopt_saved(obj, token)
            self.keep_secret(request, plaintext)
            return
        if "name" in form.changed_data:
            obj.save(update_fields=["name"])
        if form.cleaned_data.get("revoke"):
            try:
                adopt_saved(obj, token_revoke(token=obj))
            except ValidationError:
                # Someone revoked it a moment ago: the state this save asked for.
                obj.refresh_from_db()

    @admin.action(description="Revoke the selected tokens", permissions=["change"])
    def revoke_tokens(self, request: HttpRequest, queryset: QuerySet[ScopedToken]) -> None:
        revoked = 0
        for token in queryset.filter(revoked_at__isnull=True):
            try:
                token = token_revoke(token=token)
            except ValidationError:
                continue  # revoked by someone else meanwhile
            self.log_change(request, token, [{"changed": {"fields": ["Revoked"]}}])
            revoked += 1
        skipped = queryset.count() - revoked
        note = f"; {skipped} already revoked" if skipped else ""
        self.message_user(request, f"Revoked {revoked} token(s){note}.", messages.SUCCESS)

    @admin.display(description="scopes")
    def scope_list(self, obj: ScopedToken) -> str:
        return format_html_join(" ", "<code>{}</code>", ((scope,) for scope in obj.scopes))

    @admin.display(description="state")
    def state(self, obj: ScopedToken) -> str:
        return obj.state()

    @admin.display(description="name", ordering="name")
    def name_and_hint(self, obj: ScopedToken) -> SafeString:
        return format_html('<span class="token-name">{}</span><code class="token-hint">{}</code>', obj.name, obj.hint)

    @admin.display(description="project", ordering="project__name")
    def project_name(self, obj: ScopedToken) -> SafeString:
        return format_html('<span class="token-project" title="{}">{}</span>', obj.project, obj.project.name)

    @admin.display(description="scopes")
    def scope_summary(self, obj: ScopedToken) -> SafeString:
        """The first scopes, then how many more (all of them in the tooltip and on the token's page)."""
        shown = format_html_join(" ", "<code>{}</code>", ((scope,) for scope in obj.scopes[:LISTED_SCOPES]))
        hidden = len(obj.scopes) - LISTED_SCOPES
        if hidden <= 1:
            # "+1 more" would take the room of the scope itself.
            return format_html_join(" ", "<code>{}</code>", ((scope,) for scope in obj.scopes))
        return format_html(
            '{} <span class="token-more-scopes" title="{}">+{} more</span>', shown, " ".join(obj.scopes), hidden
        )

    @admin.display(description="last used / expires", ordering="last_used_at")
    def usage(self, obj: ScopedToken) -> SafeString:
        used = f"used {_compact(obj.last_used_at)}" if obj.last_used_at else "never used"
        if obj.expires_at is None:
            expiry = "no expiry"
        else:
            verb = "expired" if obj.state() == "expired" else "expires"
            expiry = f"{verb} {_compact(obj.expires_at)}"
        return format_html('<span class="token-used">{}</span><span class="token-expiry">{}</span>', used, expiry)

    @admin.display(description="state")
    def state_badge(self, obj: ScopedToken) -> SafeString:
        """Active, revoked or expired, each its own colour (static/serverops/admin.css)."""
        state = obj.state()
        return format_html('<span class="token-state token-state-{}">{}</span>', state, state)
