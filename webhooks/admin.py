"""Staff side of webhooks: endpoints (the secret shown once, at creation), their delivery log, resends.

Endpoints are created and deleted through ``webhooks.services``; the secret of a new
endpoint is rendered once, as the response to the add form's POST, and never again.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import Count, Q, QuerySet
from django.http import HttpRequest, HttpResponseRedirect
from django.urls import URLPattern, path, reverse
from django.utils.formats import date_format
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString
from django.utils.timezone import localtime

from serverops.admin_site import ShownOnceAddForm, ShownOnceAdmin, adopt_saved
from tokens.admin import ProjectChoiceFilter
from tokens.admin_access import OrganisationScoped
from tokens.models import Mode, Project, Role

from .models import (
    DEFAULT_EVENT_TYPES,
    EventType,
    Format,
    MessageStatus,
    WebhookAttempt,
    WebhookEndpoint,
    WebhookMessage,
)
from .services import (
    clean_events,
    clean_url,
    endpoint_create,
    endpoint_delete,
    endpoint_send_test,
    message_resend,
)

LOG_ROWS = 50
ANSWER_SHOWN = 200
AUTO_FORMAT = ""


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
        initial=list(DEFAULT_EVENT_TYPES),
        widget=forms.CheckboxSelectMultiple,
    )
    format = forms.ChoiceField(
        choices=[(AUTO_FORMAT, "Chosen by the URL (Discord for Discord webhook URLs)"), *Format.choices],
        initial=AUTO_FORMAT,
        required=False,
        help_text="Standard Webhooks: signed JSON bodies. Discord: one embed per event.",
    )
    form_key_prefix = "webhook-add-form"
    already_used = (
        "This form was already used to create an endpoint, whose secret was shown once. "
        "Open a new form to create another."
    )

    class Meta:
        model = WebhookEndpoint
        fields = ("project", "mode", "url", "events", "format")

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

    # Five narrow columns, so the list fits 1280 px with both sidebars open (mode and format are
    # in the endpoint's summary; the creation time is on its page).
    list_display = ("endpoint_summary", "project_name", "event_list", "deliveries")
    list_select_related = ("project__organisation",)
    list_filter = ("mode", ("project", ProjectChoiceFilter))
    search_fields = ("=id", "url")
    ordering = ("-created_at",)
    add_fieldsets = ((None, {"fields": ("project", "mode", "url", "events", "format", "form_key")}),)
    readonly_fields = (
        "id",
        "project",
        "mode",
        "shown_url",
        "format",
        "event_list",
        "created_at",
        "created_by",
        "test_send",
        "delivery_log",
    )

    @admin.display(description="URL", ordering="url")
    def shown_url(self, endpoint: WebhookEndpoint) -> str:
        return endpoint.shown_url

    @admin.display(description="endpoint", ordering="created_at")
    def endpoint_summary(self, endpoint: WebhookEndpoint) -> SafeString:
        """The id (the change link) above the URL, which wraps anywhere: a 2,000-character URL
        would otherwise make the table as wide as it is."""
        return format_html(
            '<a href="{}">{}</a><span class="webhook-url">{}</span><span class="webhook-facts">{} · {}</span>',
            reverse("admin:webhooks_webhookendpoint_change", args=[endpoint.pk]),
            endpoint.pk,
            endpoint.shown_url,
            endpoint.get_mode_display(),
            endpoint.get_format_display(),
        )

    def get_list_display_links(self, request: HttpRequest, list_display: Any) -> Any:
        return None  # the summary holds the link

    def get_urls(self) -> list[URLPattern]:
        send_test = self.admin_site.admin_view(self.send_test_view)
        own = [path("<path:object_id>/send-test/", send_test, name="webhooks_webhookendpoint_send_test")]
        return own + super().get_urls()

    def send_test_view(self, request: HttpRequest, object_id: str) -> HttpResponseRedirect:
        """POST: a ``webhook.test`` event to the endpoint now; its status and answer shown as a message."""
        endpoint: WebhookEndpoint = self.get_object(request, object_id)
        change = reverse("admin:webhooks_webhookendpoint_change", args=[endpoint.pk])
        if request.method != "POST" or not self.has_change_permission(request, endpoint):
            self.message_user(request, "Send a test with the button on the endpoint's page.", messages.ERROR)
            return HttpResponseRedirect(change)
        outcome = endpoint_send_test(endpoint=endpoint)
        answer = outcome.response.encode()[:ANSWER_SHOWN].decode("utf-8", "replace")
        shown = f"status {outcome.status_code if outcome.status_code is not None else '–'}"
        level = messages.SUCCESS if outcome.ok else messages.ERROR
        detail = f"; answer: {answer!r}" if answer else ""
        error = f"; {outcome.error}" if outcome.error else ""
        self.message_user(request, f"Test event sent to {endpoint.shown_url}: {shown}{detail}{error}", level)
        return HttpResponseRedirect(change)

    @admin.display(description="test")
    def test_send(self, obj: WebhookEndpoint) -> SafeString:
        return format_html(
            '<button type="submit" class="button" formaction="{}" formmethod="post">Send a test event now</button>'
            '<div class="help">Delivers a <code>webhook.test</code> event at once, ahead of any backlog, and shows '
            "the status and the first 200 bytes of the answer.</div>",
            reverse("admin:webhooks_webhookendpoint_send_test", args=[obj.pk]),
        )

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
            (
                None,
                {
                    "fields": (
                        "id",
                        "project",
                        "mode",
                        "shown_url",
                        "format",
                        "event_list",
                        "created_at",
                        "created_by",
                        "test_send",
                    )
                },
            ),
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
            format=data["format"] or None,
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

    @admin.display(description="project", ordering="project__name")
    def project_name(self, obj: WebhookEndpoint) -> SafeString:
        # The project's name, cut to its column (the organisation and the whole name in the tooltip).
        return format_html('<span class="webhook-project" title="{}">{}</span>', obj.project, obj.project.name)

    @admin.display(description="deliveries", ordering="failed_count")
    def deliveries(self, obj: WebhookEndpoint) -> SafeString:
        """Pending and failed deliveries, one column: the failed ones are what staff act on."""
        pending: int = obj.pending_count  # type: ignore[attr-defined]
        failed: int = obj.failed_count  # type: ignore[attr-defined]
        return format_html(
            '<span class="webhook-count">{} pending</span><span class="webhook-count{}">{} failed</span>',
            pending,
            " webhook-failed" if failed else "",
            failed,
        )

    @admin.display(description="delivery log")
    def delivery_log(self, obj: WebhookEndpoint) -> SafeString:
        """The latest deliveries: attempts, last status and time taken, next try; each opens its attempts."""
        latest = obj.messages.select_related("event").order_by("-created_at", "-id")[:LOG_ROWS]
        rows = format_html_join(
            "",
            '<tr><td><a href="{}">{}</a></td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td>'
            "<td>{}</td><td>{}</td></tr>",
            (
                (
                    reverse("admin:webhooks_webhookmessage_change", args=[m.pk]),
                    m.event.public_id,
                    m.event.type,
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

    # Narrow columns, the status among the first, so it stays in view at 1280 px with both sidebars open.
    list_display = ("event_summary", "status", "attempts", "last_answer", "next_try")
    list_select_related = ("endpoint", "event")
    list_filter = ("status", "event__type", "endpoint__mode")
    search_fields = ("=id", "=event__public_id", "=endpoint__id")
    ordering = ("-created_at", "-id")
    actions = ("resend_messages",)
    inlines = (AttemptInline,)
    fields = (
        "id",
        "endpoint",
        "event_id_shown",
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

    @admin.display(description="event", ordering="created_at")
    def event_summary(self, message: WebhookMessage) -> SafeString:
        """Event id (the change link), its type and the endpoint, stacked: three columns in one."""
        return format_html(
            '<a href="{}">{}</a><span class="webhook-event-type"><code>{}</code> → {}</span>',
            reverse("admin:webhooks_webhookmessage_change", args=[message.pk]),
            message.event.public_id,
            message.event.type,
            message.endpoint_id,
        )

    def get_list_display_links(self, request: HttpRequest, list_display: Any) -> Any:
        return None  # the summary holds the link

    @admin.display(description="last answer")
    def last_answer(self, message: WebhookMessage) -> str:
        if message.last_status_code is None and not message.last_error:
            return "–"
        took = f" in {message.last_duration_ms} ms" if message.last_duration_ms is not None else ""
        return f"{message.last_status_code or message.last_error[:60]}{took}"

    @admin.display(description="next try", ordering="next_attempt_at")
    def next_try(self, message: WebhookMessage) -> str:
        if message.next_attempt_at is None:
            return "–"
        return date_format(localtime(message.next_attempt_at), "SHORT_DATETIME_FORMAT")

    @admin.display(description="event")
    def event_id_shown(self, message: WebhookMessage) -> str:
        return message.event.public_id

    @admin.display(description="event type")
    def event_type(self, message: WebhookMessage) -> str:
        return message.event.type

    @admin.display(description="payload")
    def payload(self, message: WebhookMessage) -> str:
        return message.event.payload

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
