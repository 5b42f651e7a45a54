"""Staff side of players: the player page (identifiers, names, the cases timeline, the alt
accounts that share a weak identifier, merges and unlinks), unlinking an identifier, the
subjects on the case page, and finding cases by any identifier.

It lives with the cases because a player's page lists its cases. Every list is a queryset
made in one place (``get_queryset`` and the helpers below), so narrowing them to what a
staff member may see is one change each.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.db.models import Count, QuerySet
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

from players.identifiers import InvalidIdentifier
from players.models import Player, PlayerEvent, PlayerIdentifier
from players.services import CannotUnlink, canonical, player_erase, player_unlink_identifier
from tokens.access import has_any_role
from tokens.admin_access import OrganisationScoped, scoped
from tokens.models import Role

from .models import Case, CaseSubject
from .services import Actor

TIMELINE_ON_PAGE = 100


def identifier_search(search_term: str) -> str | None:
    """The canonical identifier a search box's text is, or None when it is not one."""
    try:
        return str(canonical(search_term.strip()))
    except InvalidIdentifier:
        return None


def cases_with_identifier(cases: QuerySet[Case], identifier: str) -> QuerySet[Case]:
    """``cases`` with a subject holding ``identifier`` (canonical)."""
    holders = PlayerIdentifier.objects.filter(identifier=identifier).values("player_id")
    return cases.filter(pk__in=CaseSubject.objects.filter(player_id__in=holders).values("case_id"))


class SubjectInline(OrganisationScoped, admin.TabularInline):  # type: ignore[type-arg]
    """Who the case is about; written through the API (``subjects``), shown here."""

    organisation_path = "case__project__organisation"

    model = CaseSubject
    extra = 0
    can_delete = False
    fields = ("player_link", "role", "subject_name", "identifiers")
    readonly_fields = fields
    verbose_name_plural = "subjects"

    def get_queryset(self, request: HttpRequest) -> QuerySet[CaseSubject]:
        subjects: QuerySet[CaseSubject] = super().get_queryset(request)
        return subjects.select_related("player").order_by("position", "id")

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.display(description="player")
    def player_link(self, obj: CaseSubject) -> SafeString:
        url = reverse("admin:players_player_change", args=[obj.player_id])
        return format_html('<a href="{}">{}</a>', url, obj.player)

    @admin.display(description="name on this case")
    def subject_name(self, obj: CaseSubject) -> str:
        return obj.name or "–"

    @admin.display(description="identifiers")
    def identifiers(self, obj: CaseSubject) -> SafeString:
        rows = obj.player.identifiers.order_by("identifier").values_list("identifier", flat=True)
        return format_html_join(" ", "<code>{}</code>", ((i,) for i in rows))


@admin.register(Player)
class PlayerAdmin(OrganisationScoped, admin.ModelAdmin):  # type: ignore[type-arg]
    """Players are made and merged by the subjects of cases; staff read them and unlink an
    identifier linked by mistake."""

    organisation_path = "project__organisation"

    list_display = ("id", "known_as", "identifier_count", "project", "mode", "updated_at")
    list_filter = ("mode", "erased", ("merged_into", admin.EmptyFieldListFilter))
    list_select_related = ("project",)
    search_fields = ("=id",)
    ordering = ("-updated_at", "-id")
    fields = (
        "id",
        "project",
        "mode",
        "names_seen",
        "merged_into",
        "erased",
        "created_at",
        "updated_at",
        "identifier_table",
        "cases_timeline",
        "alt_accounts",
        "changes",
    )
    readonly_fields = fields
    actions = ("erase_players",)

    def get_queryset(self, request: HttpRequest) -> QuerySet[Player]:
        players: QuerySet[Player] = super().get_queryset(request)
        return players.annotate(identifier_count=Count("identifiers"))

    def has_erase_permission(self, request: HttpRequest) -> bool:
        return has_any_role(request.user, Role.OWNER)

    @admin.action(description="Erase the selected players' personal data (owners only)", permissions=["erase"])
    def erase_players(self, request: HttpRequest, queryset: QuerySet[Player]) -> TemplateResponse | None:
        """After a confirmation page, each selected player of an organisation the user owns through
        ``player_erase``, which records who erased it and when on the player."""
        players = list(scoped(queryset, self.organisation_path, request.user, Role.OWNER).order_by("pk"))
        if request.POST.get("post") != "yes":
            context = {
                **self.admin_site.each_context(request),
                "title": "Erase players",
                "opts": self.opts,
                "players": players,
                "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
            }
            request.current_app = self.admin_site.name
            return TemplateResponse(request, "admin/players/player/erase_confirmation.html", context)
        for player in players:
            erased = player_erase(player_id=player.pk, actor=Actor.for_staff(request.user))
            self.log_change(request, erased, [{"changed": {"fields": ["Erased"]}}])
        self.message_user(request, f"Erased {len(players)} player(s).", messages.SUCCESS)
        return None

    def get_search_results(self, request: HttpRequest, queryset: QuerySet[Player], search_term: str) -> Any:
        identifier = identifier_search(search_term)
        if identifier is not None:
            holders = PlayerIdentifier.objects.filter(identifier=identifier).values("player_id")
            return queryset.filter(pk__in=holders), False
        return super().get_search_results(request, queryset, search_term)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def get_object(self, request: HttpRequest, object_id: str, from_field: str | None = None) -> Player:
        # A merged player's page is its survivor's.
        player: Player = super().get_object(request, object_id, from_field)
        if player.merged_into_id is not None:
            player = super().get_object(request, player.merged_into_id, from_field)
        return player

    @admin.display(description="names seen, most recent first")
    def names_seen(self, obj: Player) -> str:
        return ", ".join(obj.names) or "–"

    @admin.display(description="known as")
    def known_as(self, obj: Player) -> str:
        return ", ".join(obj.names[:3]) or "–"

    @admin.display(description="identifiers", ordering="identifier_count")
    def identifier_count(self, obj: Player) -> int:
        return obj.identifier_count  # type: ignore[attr-defined,no-any-return]

    @admin.display(description="identifiers")
    def identifier_table(self, obj: Player) -> SafeString:
        rows = [
            (
                row.identifier,
                "strong" if row.strong else "weak",
                reverse("admin:players_player_unlink", args=[obj.pk, row.pk]),
            )
            for row in obj.identifiers.order_by("identifier")
        ]
        if not rows:
            return format_html("{}", "none")
        body = format_html_join(
            "",
            '<tr><td><code>{}</code></td><td>{}</td><td><a class="unlink-identifier" href="{}">Unlink…</a></td></tr>',
            rows,
        )
        return format_html('<table class="player-identifiers"><tbody>{}</tbody></table>', body)

    @admin.display(description="cases, newest first")
    def cases_timeline(self, obj: Player) -> SafeString:
        subjects = list(
            CaseSubject.objects.filter(player=obj)
            .select_related("case")
            .order_by("-case__created_at", "-case_id")[:TIMELINE_ON_PAGE]
        )
        if not subjects:
            return format_html("{}", "no cases")
        body = format_html_join(
            "",
            '<tr><td class="nowrap">{}</td><td><a href="{}">{}</a></td><td>{}</td><td>{}</td></tr>',
            (
                (
                    subject.case.created_at.strftime("%Y-%m-%d %H:%M"),
                    reverse("admin:cases_case_change", args=[subject.case_id]),
                    subject.case.title,
                    subject.case.get_status_display(),
                    subject.get_role_display(),
                )
                for subject in subjects
            ),
        )
        return format_html('<table class="player-cases"><tbody>{}</tbody></table>', body)

    @admin.display(description="players sharing a weak identifier (alt accounts)")
    def alt_accounts(self, obj: Player) -> SafeString:
        weak = obj.identifiers.filter(strong=False).values("identifier")
        shared: dict[str, list[str]] = {}
        for player_id, identifier in (
            PlayerIdentifier.objects.filter(project_id=obj.project_id, mode=obj.mode, identifier__in=weak)
            .exclude(player=obj)
            .order_by("player_id", "identifier")
            .values_list("player_id", "identifier")[:500]
        ):
            shared.setdefault(player_id, []).append(identifier)
        if not shared:
            return format_html("{}", "none")
        return format_html_join(
            "",
            '<div class="player-alt"><a href="{}">{}</a> shares <code>{}</code></div>',
            (
                (reverse("admin:players_player_change", args=[pid]), pid, ", ".join(identifiers))
                for pid, identifiers in shared.items()
            ),
        )

    @admin.display(description="merges and unlinks")
    def changes(self, obj: Player) -> SafeString:
        events = PlayerEvent.objects.filter(player=obj).order_by("-created_at", "-id")[:100]
        if not events:
            return format_html("{}", "none")
        return format_html_join(
            "",
            "<div>{} {} by {}: {}</div>",
            (
                (
                    event.created_at.strftime("%Y-%m-%d %H:%M"),
                    event.get_kind_display(),
                    event.actor_name,
                    "; ".join(
                        f"{key} {', '.join(value) if isinstance(value, list) else value}"
                        for key, value in sorted(event.details.items())
                    ),
                )
                for event in events
            ),
        )

    def get_urls(self) -> list[URLPattern]:
        unlink = path(
            "<path:object_id>/unlink/<int:identifier_id>/",
            self.admin_site.admin_view(self.unlink_view),
            name="players_player_unlink",
        )
        return [unlink, *super().get_urls()]

    def unlink_view(self, request: HttpRequest, object_id: str, identifier_id: int) -> HttpResponse:
        """Confirm, then move one identifier off the player to a new player (recorded on this one)."""
        player = self.get_object(request, unquote(object_id))  # a 404 for another organisation's
        if not self.has_change_permission(request, player):
            raise PermissionDenied
        row = PlayerIdentifier.objects.filter(player=player, pk=identifier_id).first()
        if row is None:
            raise Http404("no such identifier on this player")
        page = reverse("admin:players_player_change", args=[player.pk])
        if request.method == "POST":
            try:
                new = player_unlink_identifier(
                    player_id=player.pk, identifier=row.identifier, actor=Actor.for_staff(request.user)
                )
            except CannotUnlink as exc:
                self.message_user(request, str(exc), messages.ERROR)
                return HttpResponseRedirect(page)
            self.message_user(
                request,
                format_html(
                    '{} moved to a new player, <a href="{}">{}</a>',
                    row.identifier,
                    reverse("admin:players_player_change", args=[new.pk]),
                    new.pk,
                ),
                messages.SUCCESS,
            )
            return HttpResponseRedirect(page)
        context = {
            **self.admin_site.each_context(request),
            "title": "Unlink an identifier",
            "opts": self.opts,
            "player": player,
            "identifier": row,
        }
        request.current_app = self.admin_site.name
        return TemplateResponse(request, "admin/players/player/unlink_confirmation.html", context)
