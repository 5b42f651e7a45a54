"""Staff side of tokens, organisations and projects.

Tokens are created and revoked only through ``tokens.services``; the plaintext of a new
token is rendered once, as the response to the add form's POST, and kept nowhere else.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django import forms
from django.apps import apps
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

from .access import has_role, is_superuser
from .admin_access import OrganisationScoped, SuperuserOnly, scoped
from .models import Member, Mode, Organisation, Project, Role, ScopedToken
from .scopes import SCOPE_CHOICES
from .services import (
    clean_expiry,
    clean_scopes,
    is_last_owner,
    member_add,
    member_invite_email,
    member_remove,
    member_set_role,
    project_create,
    token_create,
    token_revoke,
)


class ProjectChoiceFilter(admin.RelatedFieldListFilter):
    """The project filter: the projects of the user's organisations, each with its organisation,
    in one query (a project's name shows it)."""

    def field_choices(self, field: Any, request: HttpRequest, model_admin: admin.ModelAdmin[Any]) -> list[Any]:
        projects = scoped(Project.objects.select_related("organisation"), "organisation", request.user, Role.VIEWER)
        return [(project.pk, str(project)) for project in projects]


class OrganisationChoiceFilter(admin.RelatedFieldListFilter):
    """The organisation filter: the user's organisations only."""

    def field_choices(self, field: Any, request: HttpRequest, model_admin: admin.ModelAdmin[Any]) -> list[Any]:
        return [(org.pk, str(org)) for org in scoped(Organisation.objects.all(), "pk", request.user, Role.VIEWER)]


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


class ProjectInline(OrganisationScoped, admin.TabularInline):  # type: ignore[type-arg]
    organisation_path = "organisation"
    change_role = Role.ADMIN
    model = Project
    fields = ("name", "id", "created_at")
    readonly_fields = ("id", "created_at")
    extra = 0
    show_change_link = True


@admin.register(Organisation)
class OrganisationAdmin(OrganisationScoped, admin.ModelAdmin):  # type: ignore[type-arg]
    """Members read their organisations; owners rename theirs. Organisations are made by
    superusers (or ``create_project``), never by a member."""

    organisation_path = "pk"
    change_role = Role.OWNER
    # Stated here: the project count's GROUP BY drops the model's own ordering (autocomplete pages it).
    ordering = ("name",)
    list_display = ("name", "id", "project_count", "created_at")
    search_fields = ("name", "=id")
    readonly_fields = ("id", "created_at")
    inlines = (ProjectInline,)

    def get_queryset(self, request: HttpRequest) -> QuerySet[Organisation]:
        organisations: QuerySet[Organisation] = super().get_queryset(request)
        return organisations.annotate(project_count=Count("projects"))

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return is_superuser(request.user)

    def has_delete_permission(self, request: HttpRequest, obj: Organisation | None = None) -> bool:
        return is_superuser(request.user)

    @admin.display(description="projects", ordering="project_count")
    def project_count(self, obj: Organisation) -> int:
        return obj.project_count  # type: ignore[attr-defined, no-any-return]


@admin.register(Project)
class ProjectAdmin(OrganisationScoped, admin.ModelAdmin):  # type: ignore[type-arg]
    organisation_path = "organisation"
    change_role = Role.ADMIN
    list_display = ("name", "id", "organisation", "case_count", "token_count", "created_at")
    list_select_related = ("organisation",)
    list_filter = (("organisation", OrganisationChoiceFilter),)
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
class ScopedTokenAdmin(OrganisationScoped, ShownOnceAdmin):
    """Tokens are never deleted (revoke instead) and their digest is never shown. Admins and
    owners of the organisation only."""

    organisation_path = "project__organisation"
    view_role = change_role = Role.ADMIN

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


class MemberAddForm(forms.ModelForm):  # type: ignore[type-arg]
    """A member is added by email, as the API's invite is (``member_add``): someone without an
    account gets one without a password, and an email with the link that sets it. Only an owner
    of the organisation makes an owner."""

    email = forms.EmailField(max_length=254, help_text="Someone without an account gets an email to set a password.")
    request_user: Any  # set per request by MemberAdmin.get_form

    class Meta:
        model = Member
        fields = ("organisation", "email", "role")

    def clean(self) -> dict[str, Any]:
        cleaned: dict[str, Any] = super().clean() or {}
        organisation, email = cleaned.get("organisation"), cleaned.get("email")
        if organisation is None:
            return cleaned
        if cleaned.get("role") == Role.OWNER and not has_role(self.request_user, organisation.pk, Role.OWNER):
            self.add_error("role", "Only an owner of the organisation can make an owner.")
        if email and Member.objects.filter(organisation=organisation, user__email__iexact=email).exists():
            self.add_error("email", "This email is already a member of the organisation.")
        return cleaned


class MemberChangeForm(forms.ModelForm):  # type: ignore[type-arg]
    """A member's role; the organisation keeps an owner, and only owners make owners."""

    request_user: Any

    class Meta:
        model = Member
        fields = ("role",)

    def clean_role(self) -> str:
        role: str = self.cleaned_data["role"]
        member: Member = self.instance
        if role == Role.OWNER and not has_role(self.request_user, member.organisation_id, Role.OWNER):
            raise forms.ValidationError("Only an owner of the organisation can make an owner.")
        if member.role == Role.OWNER and role != Role.OWNER and is_last_owner(member):
            raise forms.ValidationError("The organisation's last owner keeps the role: make another owner first.")
        return role


@admin.register(Member)
class MemberAdmin(OrganisationScoped, admin.ModelAdmin):  # type: ignore[type-arg]
    """Who works in each organisation, and as what. Admins manage the members other than
    owners; owners manage everyone, owners included. An organisation keeps one owner at least."""

    organisation_path = "organisation"
    view_role = change_role = Role.ADMIN
    list_display = ("user_email", "user_name", "organisation", "role", "created_at")
    list_select_related = ("user", "organisation")
    list_filter = ("role", ("organisation", OrganisationChoiceFilter))
    search_fields = ("user__email", "user__username", "=id")
    ordering = ("organisation__name", "user__email")
    readonly_fields = ("id", "organisation", "user_email", "user_name", "created_at")

    def get_fieldsets(self, request: HttpRequest, obj: Member | None = None) -> Any:
        if obj is None:
            return ((None, {"fields": ("organisation", "email", "role")}),)
        return ((None, {"fields": ("role", "id", "organisation", "user_email", "user_name", "created_at")}),)

    def get_readonly_fields(self, request: HttpRequest, obj: Member | None = None) -> Any:
        return () if obj is None else self.readonly_fields

    def get_form(self, request: HttpRequest, obj: Member | None = None, change: bool = False, **kwargs: Any) -> Any:
        kwargs["form"] = MemberAddForm if obj is None else MemberChangeForm
        form = super().get_form(request, obj, change, **kwargs)
        return type(form.__name__, (form,), {"request_user": request.user})

    def get_actions(self, request: HttpRequest) -> Any:
        # Members are removed one at a time, from their page, where the last-owner rule is checked.
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)
        return actions

    def has_change_permission(self, request: HttpRequest, obj: Member | None = None) -> bool:
        if obj is not None and obj.role == Role.OWNER:
            return has_role(request.user, obj.organisation_id, Role.OWNER)
        return super().has_change_permission(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: Member | None = None) -> bool:
        if obj is not None and obj.role == Role.OWNER:
            return has_role(request.user, obj.organisation_id, Role.OWNER) and not is_last_owner(obj)
        return super().has_delete_permission(request, obj)

    def save_model(self, request: HttpRequest, obj: Member, form: Any, change: bool) -> None:
        data = form.cleaned_data
        if change:
            adopt_saved(obj, member_set_role(member=obj, role=data["role"]))
            return
        member, new_user = member_add(organisation=data["organisation"], email=data["email"], role=data["role"])
        if new_user is not None:
            member_invite_email(user=new_user, domain=request.get_host(), use_https=request.is_secure())
        adopt_saved(obj, member)

    def delete_model(self, request: HttpRequest, obj: Member) -> None:
        member_remove(member=obj)

    @admin.display(description="email", ordering="user__email")
    def user_email(self, obj: Member) -> str:
        return str(obj.user.email)

    @admin.display(description="name")
    def user_name(self, obj: Member) -> str:
        return str(obj.user.get_full_name() or obj.user.get_username())


# Staff accounts, groups and the task queue belong to no organisation: superusers only. Their
# apps register them before this one (settings.INSTALLED_APPS), with their own admin classes.
for label in ("auth.User", "auth.Group", "django_tasks_database.DBTaskResult"):
    model = apps.get_model(label)
    registered = type(admin.site.get_model_admin(model))
    admin.site.unregister(model)
    admin.site.register(model, type(registered.__name__, (SuperuserOnly, registered), {"__module__": __name__}))
