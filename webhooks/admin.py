"""Staff side of webhooks: endpoints (the secret shown once, at creation), their delivery log, resends.

Endpoints are created and deleted through ``webhooks.services``; the secret of a new
endpoint is rendered once, as the response to the add form's POST, and never again.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import Count, Q, QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils.formats import date_format
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString
from django.utils.timezone import localtime

from serverops.admin_site import ShownOnceAddForm, ShownOnceAdmin, adopt_saved
from tokens.admin import ProjectChoiceFilter
from tokens.admin_access import OrganisationScoped
from tokens.models import Mode, Project, Role

from .models import EventType, MessageStatus, WebhookAttempt, WebhookEndpoint, WebhookMessage
from .services import clean_events, clean_url, endpoint_create, endpoint_delete, message_resend

LOG_ROWS = 50


def _when(value: Any) -> str:
    return date_format(localtime(value), "DATETIME_FORMAT") if value else "–"


class EndpointAddForm(ShownOnceAddForm):
    """What a new endpoint needs; the rules are the services' (``clean_url``, ``clean_events``)."""

    mode = forms.ChoiceField(
        choices=Mode.choices,
        initial=Mode.LIVE,
        widget=forms.RadioSelect,
        help_text="A test endpoint hears only test-mode changes; a live one only live changes.",
    )
    url = forms.CharField(
        max_length=2000,
        widget=forms.URLInput(attrs={"class": "vURLField", "placeholder": "https://bot.example.com/webhooks"}),
        help_text="Must resolve to a public address.",
    )
    events = forms.MultipleChoiceField(
        choices=EventType.choices,
        initial=EventType.values,
        widget=forms.CheckboxSelectMultiple,
    )
    form_key_prefix = "webhook-add-form"
    already_used = (
        "This form was already used to create an endpoint, whose secret was shown once. "
        "Open a new form to create another."
    )

    class Meta:
        model = WebhookEndpoint
        fields = ("project", "mode", "url", "events")

    def clean_url(self) -> str:
        return clean_url(self.cleaned_data["url"])

    def clean_events(self) -> list[str]:
        return clean_events(self.cleaned_data["events"])


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(OrganisationScoped, ShownOnceAdmin):
    """Endpoints are not edited: to change one, create another and delete the old one."""

    organisation_path = "project__organisation"
    view_role = change_role = Role.ADMIN

    shown_once_template = "admin/webhooks/webhookendpoint/shown_once.html"
    shown_once_title = "Copy the signing secret"

    list_display = ("id", "shown_url", "project", "mode", "event_list", "pending", "failed", "created_at")
    list_select_related = ("project__organisation",)
    list_filter = ("mode", ("project", ProjectChoiceFilter))
    search_fields = ("=id", "url")
    ordering = ("-created_at",)
    add_fieldsets = ((None, {"fields": ("project", "mode", "url", "events", "form_key")}),)
    readonly_fields = ("id", "project", "mode", "shown_url", "event_list", "created_at", "created_by", "delivery_log")

    @admin.display(description="URL", ordering="url")
    def shown_url(self, endpoint: WebhookEndpoint) -> str:
        return endpoint.shown_url

    def get_queryset(self, request: HttpRequest) -> QuerySet[WebhookEndpoint]:
        endpoints: QuerySet[WebhookEndpoint] = super().get_queryset(request)
        return endpoints.annotate(
            pending_count=Count("messages", filter=Q(messages__status=MessageStatus.PENDING)),
            failed_count=Count("messages", filter=Q(messages__status=MessageStatus.FAILED)),
        )

    def get_fieldsets(self, request: HttpRequest, obj: WebhookEndpoint | None = None) -> Any:
        if obj is None:
            return self.add_fieldsets
        return (
            (None, {"fields": ("id", "project", "mode", "shown_url", "event_list", "created_at", "created_by")}),
            ("Deliveries, newest first", {"fields": ("delivery_log",)}),
        )

    def get_readonly_fields(self, request: HttpRequest, obj: WebhookEndpoint | None = None) -> Any:
        return () if obj is None else self.readonly_fields

    def get_form(
        self, request: HttpRequest, obj: WebhookEndpoint | None = None, change: bool = False, **kwargs: Any
    ) -> Any:
        if obj is None:
            kwargs["form"] = EndpointAddForm
        return super().get_form(request, obj, change, **kwargs)

    def formfield_for_foreignkey(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        if db_field.name == "project":
            kwargs["queryset"] = Project.objects.select_related("organisation")
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def save_model(self, request: HttpRequest, obj: WebhookEndpoint, form: Any, change: bool) -> None:
        if change:
            return  # nothing about an endpoint is editable
        data = form.cleaned_data
        endpoint, secret = endpoint_create(
            project=data["project"],
            mode=data["mode"],
            url=data["url"],
            events=data["events"],
            created_by=request.user.get_username(),
        )
        adopt_saved(obj, endpoint)
        self.keep_secret(request, secret)

    def get_deleted_objects(self, objs: Any, request: HttpRequest) -> Any:
        # An endpoint's messages and attempts are its outbox and log, which no one deletes
        # on their own; deleting the endpoint takes them along, and needs no permission on them.
        deleted, counts, perms_needed, protected = super().get_deleted_objects(objs, request)
        outbox = {WebhookMessage._meta.verbose_name, WebhookAttempt._meta.verbose_name}
        return deleted, counts, {perm for perm in perms_needed if perm not in outbox}, protected

    def delete_model(self, request: HttpRequest, obj: WebhookEndpoint) -> None:
        endpoint_delete(endpoint=obj)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[WebhookEndpoint]) -> None:
        for endpoint in queryset:
            endpoint_delete(endpoint=endpoint)

    @admin.display(description="events")
    def event_list(self, obj: WebhookEndpoint) -> str:
        return format_html_join(" ", "<code>{}</code>", ((event,) for event in obj.events))

    @admin.display(description="pending", ordering="pending_count")
    def pending(self, obj: WebhookEndpoint) -> int:
        return obj.pending_count  # type: ignore[attr-defined, no-any-return]

    @admin.display(description="failed", ordering="failed_count")
    def failed(self, obj: WebhookEndpoint) -> int:
        return obj.failed_count  # type: ignore[attr-defined, no-any-return]

    @admin.display(description="delivery log")
    def delivery_log(self, obj: WebhookEndpoint) -> SafeString:
        """The latest deliveries: attempts, last status and time taken, next try; each opens its attempts."""
        latest = obj.messages.order_by("-created_at", "-id")[:LOG_ROWS]
        rows = format_html_join(
            "",
            '<tr><td><a href="{}">{}</a></td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td>'
            "<td>{}</td><td>{}</td></tr>",
            (
                (
                    reverse("admin:webhooks_webhookmessage_change", args=[m.pk]),
                    m.event_id,
                    m.event_type,
                    _when(m.created_at),
                    m.get_status_display(),
                    m.attempts,
                    m.last_status_code or m.last_error or "–",
                    f"{m.last_duration_ms} ms" if m.last_duration_ms is not None else "–",
                    _when(m.next_attempt_at),
                )
                for m in latest
            ),
        )
        everything = reverse("admin:webhooks_webhookmessage_changelist") + f"?endpoint__id__exact={obj.pk}"
        return format_html(
            '<table class="webhook-log"><thead><tr><th>event</th><th>type</th><th>created</th><th>status</th>'
            "<th>attempts</th><th>last answer</th><th>took</th><th>next try</th></tr></thead><tbody>{}</tbody>"
            '</table><p><a href="{}">All deliveries of this endpoint</a> (filter, resend)</p>',
            rows,
            everything,
        )


class AttemptInline(OrganisationScoped, admin.TabularInline):  # type: ignore[type-arg]
    organisation_path = "message__endpoint__project__organisation"
    view_role = change_role = Role.ADMIN
    model = WebhookAttempt
    fields = ("number", "started_at", "worker", "status_code", "duration_ms", "error", "response", "finished_at")
    readonly_fields = fields
    extra = 0
    can_delete = False
    verbose_name_plural = "attempts"

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(WebhookMessage)
class WebhookMessageAdmin(OrganisationScoped, admin.ModelAdmin):  # type: ignore[type-arg]
    """Each event sent to each endpoint, with its attempts. Read-only; a failed one can be resent."""

    organisation_path = "endpoint__project__organisation"
    view_role = change_role = Role.ADMIN

    list_display = (
        "event_id",
        "event_type",
        "endpoint",
        "status",
        "attempts",
        "last_status_code",
        "last_duration_ms",
        "next_attempt_at",
        "created_at",
    )
    list_select_related = ("endpoint",)
    list_filter = ("status", "event_type", "endpoint__mode")
    search_fields = ("=id", "=event__id", "=endpoint__id")
    ordering = ("-created_at", "-id")
    actions = ("resend_messages",)
    inlines = (AttemptInline,)
    fields = (
        "id",
        "endpoint",
        "event",
        "event_type",
        "status",
        "attempts",
        "next_attempt_at",
        "last_attempt_at",
        "last_status_code",
        "last_duration_ms",
        "last_error",
        "last_response",
        "delivered_at",
        "created_at",
        "payload",
    )
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: WebhookMessage | None = None) -> bool:
        return False

    @admin.action(description="Resend the selected messages", permissions=["change"])
    def resend_messages(self, request: HttpRequest, queryset: QuerySet[WebhookMessage]) -> None:
        resent = 0
        for message in queryset:
            self.log_change(request, message_resend(message=message), [{"changed": {"fields": ["Status"]}}])
            resent += 1
        self.message_user(request, f"Queued {resent} message(s) to be sent again.", messages.SUCCESS)
