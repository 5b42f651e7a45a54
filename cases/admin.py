"""Staff side of cases: the moderation queue, the case page with its files, and bulk status changes.

Every write goes through ``cases.services`` (the API's rules, row lock, ``updated_at``
and ETag), and every save and bulk action leaves an entry in the admin history.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.contrib.admin.views.main import PAGE_VAR
from django.core.exceptions import PermissionDenied
from django.db import connection
from django.db.models import BooleanField, Count, IntegerField, QuerySet, Value, When
from django.db.models import Case as SQLCase
from django.db.models.expressions import RawSQL
from django.forms.models import BaseInlineFormSet
from django.http import (
    FileResponse,
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseRedirect,
)
from django.http.response import HttpResponseBase
from django.shortcuts import get_object_or_404
from django.template.defaultfilters import filesizeformat
from django.template.loader import render_to_string
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils.formats import date_format
from django.utils.html import format_html
from django.utils.safestring import SafeString
from django.utils.timezone import localtime

from media.admin import file_player_html, staff_link
from media.models import AbuseStatus, Visibility
from media.services import clean_folder, clean_original_name, clean_tags, file_update, inspect_content
from media.storage import FileLinks, is_inline_type
from serverops.admin_site import adopt_saved
from serverops.exceptions import DomainError
from tokens.admin import ProjectChoiceFilter
from tokens.admin_access import OrganisationScoped
from tokens.models import Member, Mode, Project

from . import chain, export, queries
from .assignees import WORKING_ROLES, display_name, names_of
from .labels import clean_labels
from .models import NOTE_MAX_LENGTH, PRIORITY_RANK, Attachment, Case, CaseEvent, Note, Priority, Status
from .player_admin import SubjectInline, cases_with_identifier, identifier_search
from .services import (
    ATTACHMENTS_MAX,
    SCALAR_FIELDS,
    Actor,
    AlreadyClaimed,
    attachment_create,
    case_claim,
    case_create,
    case_update,
    note_create,
)
from .validators import normalise_title, validate_description_characters


def _shown(value: object, limit: int = 120) -> str:
    """A history value as staff read it: "–" for none, long text cut short."""
    if value is None:
        return "–"
    text = str(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _lf(text: str) -> str:
    return text.replace("\r\n", "\n")


# The case page shows this many of the newest changes; its History button shows them all.
HISTORY_ON_PAGE = 20
HISTORY_PER_PAGE = 100


@dataclass(frozen=True)
class HistoryRow:
    """One ``CaseEvent`` as staff read it (templates/admin/cases/case/history_table.html)."""

    created_at: Any
    actor: str
    actor_name: str
    request_id: str
    changes: list[tuple[str, str, str]]


def history_rows(events: Any) -> list[HistoryRow]:
    """``events`` as staff read them: an assignee by their member's name, a note by its text
    (one query for all the members and one for all the notes named, none when there are none)."""
    events = list(events)
    member_ids: set[str] = set()
    note_ids: set[str] = set()
    for event in events:
        assignee = event.changes.get("assignee") or {}
        member_ids.update(value for value in (assignee.get("from"), assignee.get("to")) if value)
        note = event.changes.get("note") or {}
        if note.get("to"):
            note_ids.add(note["to"])
    names = names_of(member_ids)
    bodies = dict(Note.objects.filter(pk__in=note_ids).values_list("pk", "body")) if note_ids else {}

    def shown(field: str, value: Any) -> str:
        if field == "assignee" and value:
            return f"{names.get(value, value)} ({value})"
        if field == "note" and value:
            return f"“{_shown(bodies.get(value, ''), 80)}” ({value})"
        if isinstance(value, list) and all(isinstance(item, str) for item in value):
            return _shown(", ".join(value)) if value else "–"
        return _shown(value)

    return [
        HistoryRow(
            created_at=event.created_at,
            actor=event.get_actor_type_display(),
            actor_name=event.actor_name,
            request_id=event.request_id,
            changes=[(field, shown(field, c["from"]), shown(field, c["to"])) for field, c in event.changes.items()],
        )
        for event in events
    ]


def short(value: str, keep: int = 12) -> SafeString:
    """A long identifier (key, SHA-256) cut to its first characters; the whole value is the tooltip,
    and a click copies it (cases/static/cases/admin.js)."""
    if len(value) <= keep + 1:
        return format_html('<span class="short-value">{}</span>', value)
    return format_html(
        '<span class="short-value" title="{}" data-full="{}">{}…</span>',
        value,
        value,
        value[:keep],
    )


class TitleField(forms.CharField):
    """The title as the API takes it: surrounding spaces trimmed (only spaces), then the length rules."""

    def __init__(self, **kwargs: Any) -> None:
        # Django's default strip would also drop tabs and newlines, which the title rule refuses.
        super().__init__(**{**kwargs, "strip": False})

    def to_python(self, value: Any) -> str:
        return normalise_title(super().to_python(value) or "")


class DescriptionField(forms.CharField):
    """The description exactly as typed, except that browsers send a textarea's line breaks as CRLF.

    An untouched description compares equal whatever its line breaks, so saving the page
    for another field neither rewrites it nor records it as changed.
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**{**kwargs, "strip": False})

    def has_changed(self, initial: Any, data: Any) -> bool:
        return _lf(initial or "") != _lf(self.to_python(data) or "")


class TagsField(forms.Field):
    """The contract's ``tags`` (a list of strings), typed as comma-separated words."""

    widget = forms.TextInput(attrs={"class": "vTextField", "placeholder": "screenshot, evidence"})

    def prepare_value(self, value: Any) -> Any:
        return ", ".join(value) if isinstance(value, list) else value

    def to_python(self, value: Any) -> list[str]:
        if isinstance(value, list):
            return [str(tag) for tag in value]
        words = (word.strip() for word in str(value or "").split(","))
        return list(dict.fromkeys(word for word in words if word))

    def has_changed(self, initial: Any, data: Any) -> bool:
        return self.to_python(initial) != self.to_python(data)


class LabelsField(forms.Field):
    """A case's ``labels``, typed as comma-separated words, held to the API's rules (``cases.labels``)."""

    widget = forms.TextInput(attrs={"class": "vTextField", "placeholder": "cheating, evidence review"})

    def __init__(self, *, encoder: Any = None, decoder: Any = None, **kwargs: Any) -> None:
        # What the model's JSONField passes its form field; the labels are typed as words.
        super().__init__(**kwargs)

    def prepare_value(self, value: Any) -> Any:
        return ", ".join(value) if isinstance(value, list) else value

    def to_python(self, value: Any) -> list[str]:
        if isinstance(value, list):
            return [str(label) for label in value]
        words = (word.strip() for word in str(value or "").split(","))
        return [word for word in words if word]

    def validate(self, value: Any) -> None:
        try:
            clean_labels(value)
        except DomainError as exc:
            raise forms.ValidationError(exc.message) from exc

    def has_changed(self, initial: Any, data: Any) -> bool:
        return self.to_python(initial) != self.to_python(data)


class AssigneeChoiceField(forms.ModelChoiceField):  # type: ignore[type-arg]
    """A member who may work the case, by name and role."""

    def label_from_instance(self, obj: Member) -> str:
        user = obj.user
        return f"{display_name(user.first_name, user.last_name, user.get_username(), user.email)} ({obj.role})"


class CaseForm(forms.ModelForm):  # type: ignore[type-arg]
    """Field rules are the model's validators (``cases.validators``), run by the form's model validation.

    ``new_note`` is not a field of the case: a note written on the case page is appended with
    the save (``cases.services.note_create``); notes are never edited.
    """

    new_note = forms.CharField(
        required=False,
        strip=False,
        max_length=NOTE_MAX_LENGTH,
        validators=[validate_description_characters],
        widget=forms.Textarea(attrs={"rows": 3, "placeholder": "Add a note for the team (it cannot be edited later)"}),
        label="Add a note",
    )

    class Meta:
        model = Case
        fields = ("project", "mode", "title", "description", "status", "assignee", "priority", "labels")
        field_classes = {
            "title": TitleField,
            "description": DescriptionField,
            "assignee": AssigneeChoiceField,
            "labels": LabelsField,
        }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        priority = self.fields.get("priority")
        if priority is not None:
            # Left out (a form of an older page, a script), it is the API's default.
            priority.required = False
        assignee = self.fields.get("assignee")
        if isinstance(assignee, forms.ModelChoiceField):
            # Only the moderators and above of the case's own organisation may work it.
            organisation = self.instance.project.organisation_id if self.instance.pk else None
            assignee.queryset = (
                Member.objects.filter(organisation_id=organisation, role__in=WORKING_ROLES)
                .select_related("user")
                .order_by("user__first_name", "user__last_name", "user__username")
            )

    def clean_priority(self) -> str:
        return str(self.cleaned_data.get("priority") or Priority.NORMAL)

    def clean_new_note(self) -> str:
        return _lf(self.cleaned_data.get("new_note") or "")

    def clean_description(self) -> str:
        value: str = self.cleaned_data["description"]
        if self.instance.pk is not None and "description" not in self.changed_data:
            original: str = self.instance.description
            return original
        return _lf(value)


class AttachmentForm(forms.ModelForm):  # type: ignore[type-arg]
    """A listed file's moderation fields, which live on the File and are saved by ``media.services.file_update``."""

    tags = TagsField(required=False, label="Tags", help_text="Separated by commas.")
    folder = forms.CharField(required=False, max_length=200, label="Folder")
    visibility = forms.ChoiceField(choices=Visibility.choices, label="Visibility")
    abuse_status = forms.ChoiceField(choices=AbuseStatus.choices, label="Abuse status")

    class Meta:
        model = Attachment
        fields = ()

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        instance = kwargs.get("instance")
        if instance is not None and instance.pk is not None:
            file = instance.file
            kwargs["initial"] = {
                "tags": file.tags,
                "folder": file.folder,
                "visibility": file.visibility,
                "abuse_status": file.abuse_status,
                **kwargs.get("initial", {}),
            }
        super().__init__(*args, **kwargs)

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        try:
            if "tags" in cleaned:
                cleaned["tags"] = clean_tags(cleaned["tags"])
            if "folder" in cleaned:
                cleaned["folder"] = clean_folder(cleaned["folder"])
        except DomainError as exc:
            raise forms.ValidationError(exc.message) from exc
        return cleaned

    def save(self, commit: bool = True) -> Attachment:
        link: Attachment = self.instance
        if self.changed_data:
            link.file = file_update(
                file_id=link.file_id, changes={name: self.cleaned_data[name] for name in self.changed_data}
            )
        return link


class AttachmentUploadForm(forms.ModelForm):  # type: ignore[type-arg]
    """A new file: the bytes are checked here (type and size from the bytes, the name) so a refusal
    is a form error; ``AttachmentUploadFormSet`` stores it."""

    file = forms.FileField()
    tags = TagsField(required=False, label="Tags", help_text="Separated by commas.")
    folder = forms.CharField(required=False, max_length=200, label="Folder")
    visibility = forms.ChoiceField(choices=Visibility.choices, initial=Visibility.PRIVATE, label="Visibility")

    class Meta:
        model = Attachment
        fields = ()

    def _post_clean(self) -> None:
        # ModelForm's hook that builds and validates the instance from the form. The link is made
        # by attachment_create (the file stored first), never from these fields: nothing to validate.
        pass

    def clean_file(self) -> Any:
        upload = self.cleaned_data["file"]
        try:
            clean_original_name(upload.name)
            inspect_content(upload, declared=None)
        except DomainError as exc:
            raise forms.ValidationError(exc.message) from exc
        return upload


class AttachmentUploadFormSet(BaseInlineFormSet):  # type: ignore[type-arg]
    """New files are stored and attached by ``attachment_create``, the service the API's rules live in."""

    request_user: Any  # set per request by UploadInline.get_formset

    def clean(self) -> None:
        super().clean()
        adding = sum(1 for form in self.forms if form.has_changed() and form.cleaned_data.get("file"))
        existing = self.instance.attachments.count() if self.instance.pk else 0
        if existing + adding > ATTACHMENTS_MAX:
            raise forms.ValidationError(f"A case lists at most {ATTACHMENTS_MAX} files.")

    def save_new(self, form: forms.ModelForm[Any], commit: bool = True) -> Attachment:
        data = form.cleaned_data
        upload = data["file"]
        return attachment_create(
            case=self.instance,
            content=upload,
            original_name=upload.name,
            tags=data["tags"],
            folder=data["folder"],
            visibility=data["visibility"],
            actor=Actor.for_staff(self.request_user),
        )


class AttachmentInline(OrganisationScoped, admin.TabularInline):  # type: ignore[type-arg]
    """The case's files: what the server computed, read-only; the moderation fields, editable."""

    organisation_path = "case__project__organisation"

    model = Attachment
    form = AttachmentForm
    fields = ("open_file", "stored", "tags", "folder", "visibility", "abuse_status")
    readonly_fields = ("open_file", "stored")
    extra = 0
    can_delete = False
    verbose_name = "file"
    verbose_name_plural = "files"

    def get_queryset(self, request: HttpRequest) -> QuerySet[Attachment]:
        return super().get_queryset(request).select_related("file")

    def get_formset(self, request: HttpRequest, obj: Any = None, **kwargs: Any) -> Any:
        # The editable fields are the File's, declared on the form; none is the link's own.
        return super().get_formset(request, obj, **{**kwargs, "fields": ()})

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # uploads go through UploadInline

    @admin.display(description="file")
    def open_file(self, obj: Attachment) -> SafeString:
        """The evidence as a moderator judges it: an image's thumbnail, a player for video and audio,
        a link that opens the bytes (staff-only, blocked files too), and the file's review page."""
        file = obj.file
        review = format_html(
            '<a href="{}" class="file-review-link">Review file</a>', reverse("admin:media_file_change", args=[file.pk])
        )
        return format_html("{}{}", file_player_html(file, staff_link(file)), review)

    @admin.display(description="stored as")
    def stored(self, obj: Attachment) -> SafeString:
        """What the server read from the bytes (type, size, key and SHA-256, the long values shortened
        with the whole on hover) and when and by whom the file was attached to this case."""
        file = obj.file
        return format_html(
            '<div class="file-facts"><span title="{} bytes">{}</span> · {}'
            "<dl><dt>key</dt><dd>{}</dd><dt>sha256</dt><dd>{}</dd>"
            '<dt>attached</dt><dd class="wraps">{}</dd></dl></div>',
            f"{file.size:,}",
            filesizeformat(file.size),
            file.content_type,
            short(file.key, 24),
            short(file.sha256),
            self.attached(obj),
        )

    @admin.display(description="attached")
    def attached(self, obj: Attachment) -> str:
        when = date_format(localtime(obj.attached_at), "j M Y H:i")
        return f"{when} by {obj.attached_by_name}"


class UploadInline(OrganisationScoped, admin.TabularInline):  # type: ignore[type-arg]
    """Blank rows for new files only; the server fills everything the bytes determine."""

    organisation_path = "case__project__organisation"

    model = Attachment
    form = AttachmentUploadForm
    formset = AttachmentUploadFormSet
    fields = ("file", "tags", "folder", "visibility")
    extra = 1
    can_delete = False
    verbose_name = "file to upload"
    verbose_name_plural = "upload files"

    def get_queryset(self, request: HttpRequest) -> QuerySet[Attachment]:
        return super().get_queryset(request).none()

    def get_formset(self, request: HttpRequest, obj: Any = None, **kwargs: Any) -> Any:
        formset = super().get_formset(request, obj, **{**kwargs, "fields": ()})
        # The service records who attached each file.
        return type(formset.__name__, (formset,), {"request_user": request.user})

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # existing files are edited in AttachmentInline


class QueueStatusFilter(admin.SimpleListFilter):
    """The status filter, open by default: the list opens on the queue; "All" clears it."""

    title = "status"
    parameter_name = "status"
    ALL = "all"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [*Status.choices, (self.ALL, "All")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Case]) -> QuerySet[Case]:
        value = self.value() or Status.OPEN
        return queryset if value == self.ALL else queryset.filter(status=value)

    def choices(self, changelist: Any) -> Any:
        selected = self.value() or Status.OPEN
        for value, label in self.lookup_choices:
            yield {
                "selected": selected == value,
                "query_string": changelist.get_query_string({self.parameter_name: value}),
                "display": label,
            }


class AssigneeFilter(admin.SimpleListFilter):
    """Whose cases: the current user's (any of their memberships), or nobody's."""

    title = "assignee"
    parameter_name = "assignee"
    MINE, NOBODY = "me", "none"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [(self.MINE, "Assigned to me"), (self.NOBODY, "Unassigned")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Case]) -> QuerySet[Case]:
        if self.value() == self.MINE:
            user_id = request.user.pk
            # Nobody logged in (the admin never lets that far): nothing is theirs.
            return queryset.none() if user_id is None else queryset.filter(assignee__user_id=user_id)
        if self.value() == self.NOBODY:
            return queryset.filter(assignee__isnull=True)
        return queryset


class LabelFilter(admin.SimpleListFilter):
    """Cases with a label; the choices are the labels of the cases the user may see, most used first."""

    title = "label"
    parameter_name = "label"
    CHOICES_MAX = 30

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        cases = model_admin.get_queryset(request).exclude(labels=[]).order_by()
        counts: dict[str, int] = {}
        for labels in cases.values_list("labels", flat=True):
            for label in labels:
                counts[label] = counts.get(label, 0) + 1
        ranked = sorted(counts, key=lambda label: (-counts[label], label.casefold(), label))[: self.CHOICES_MAX]
        return [(label, label) for label in ranked]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Case]) -> QuerySet[Case]:
        label = self.value()
        if label is None:
            return queryset
        if connection.vendor == "postgresql":
            return queryset.filter(labels__contains=[label])
        # SQLite's JSON has no containment lookup: the label among the array's values.
        table = Case._meta.db_table
        has_label = RawSQL(  # noqa: S611 (the label is a parameter; the table name is the model's)
            f'EXISTS (SELECT 1 FROM json_each("{table}"."labels") WHERE json_each.value = %s)',  # noqa: S608
            [label],
            output_field=BooleanField(),
        )
        return queryset.filter(has_label)


def priority_rank() -> SQLCase:
    """The queue's order of priorities, urgent first (``PRIORITY_RANK``), as an SQL expression."""
    return SQLCase(
        *(When(priority=priority, then=Value(rank)) for priority, rank in PRIORITY_RANK.items()),
        output_field=IntegerField(),
    )


@admin.register(Case)
class CaseAdmin(OrganisationScoped, admin.ModelAdmin):  # type: ignore[type-arg]
    """The moderation queue. Cases are archived, not deleted: the API has no delete either."""

    organisation_path = "project__organisation"

    form = CaseForm
    # Read at 1280 px with both sidebars open: short id, titles in at most two lines (whole in
    # the tooltip), the mode as a tag on the project, a compact date (static/serverops/admin.css).
    list_display = (
        "short_id",
        "case_title",
        "priority_badge",
        "status_badge",
        "project_name",
        "attachment_count",
        "updated",
    )
    list_display_links = ("short_id", "case_title")
    list_select_related = ("project__organisation", "assignee__user")
    list_filter = (
        QueueStatusFilter,
        AssigneeFilter,
        "priority",
        LabelFilter,
        ("project", ProjectChoiceFilter),
        "mode",
        "created_at",
        "updated_at",
    )
    date_hierarchy = "created_at"
    search_fields = ("=id", "title", "description")
    list_per_page = 50
    actions = ("claim_cases", "close_cases", "archive_cases", "reopen_cases")
    inlines = (SubjectInline, AttachmentInline, UploadInline)

    class Media:
        js = ("cases/admin.js",)

    def get_queryset(self, request: HttpRequest) -> QuerySet[Case]:
        cases: QuerySet[Case] = super().get_queryset(request)
        return cases.annotate(attachment_count=Count("attachments"), priority_rank=priority_rank())

    def get_ordering(self, request: HttpRequest) -> Any:
        # The queue: the most urgent first, then the oldest (docs/operations.md, "The queue"). An
        # expression: the class attribute can name neither it nor get_queryset's annotation of it.
        return (priority_rank().asc(), "created_at", "id")

    def get_inlines(self, request: HttpRequest, obj: Case | None) -> Any:
        # A new case has no subjects to show.
        return self.inlines if obj is not None else [i for i in self.inlines if i is not SubjectInline]

    def get_search_results(self, request: HttpRequest, queryset: QuerySet[Case], search_term: str) -> Any:
        # Any identifier, in any spelling, finds the cases of the players holding it.
        identifier = identifier_search(search_term)
        if identifier is not None:
            return cases_with_identifier(queryset, identifier), False
        return super().get_search_results(request, queryset, search_term)

    def get_fieldsets(self, request: HttpRequest, obj: Case | None = None) -> Any:
        if obj is None:
            return ((None, {"fields": ("project", "mode", "title", "description", "status", "priority", "labels")}),)
        return (
            (None, {"fields": ("title", "description", "status", "assignee", "priority", "labels")}),
            ("Notes", {"fields": ("notes", "new_note"), "classes": ("case-notes-section",)}),
            ("Case", {"fields": ("id", "project", "mode", "created_at", "updated_at", "chain_state")}),
            ("History", {"fields": ("history",), "classes": ("case-history-section",)}),
        )

    def get_readonly_fields(self, request: HttpRequest, obj: Case | None = None) -> Any:
        # A case belongs to one project and one mode and never moves.
        if obj is None:
            return ()
        return ("id", "project", "mode", "created_at", "updated_at", "chain_state", "notes", "history")

    def formfield_for_foreignkey(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        if db_field.name == "project":
            kwargs["queryset"] = Project.objects.select_related("organisation")
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def has_delete_permission(self, request: HttpRequest, obj: Case | None = None) -> bool:
        return False

    def save_model(self, request: HttpRequest, obj: Case, form: Any, change: bool) -> None:
        data = form.cleaned_data
        actor = Actor.for_staff(request.user)
        if change:
            changes = {field: data[field] for field in form.changed_data if field in SCALAR_FIELDS}
            if "assignee" in changes:
                changes["assignee"] = None if changes["assignee"] is None else changes["assignee"].pk
            saved = case_update(case_id=obj.pk, changes=changes, actor=actor)
            if data.get("new_note"):
                note_create(case_id=obj.pk, body=data["new_note"], actor=actor)
        else:
            saved = case_create(
                project=data["project"],
                mode=data["mode"],
                title=data["title"],
                description=data["description"],
                status=data["status"],
                priority=data["priority"],
                labels=data["labels"],
                actor=actor,
            )
        adopt_saved(obj, saved)

    def construct_change_message(
        self, request: HttpRequest, form: Any, formsets: Any, add: bool = False
    ) -> list[dict[str, Any]]:
        # A note is not a field of the case: the admin's log says a note was added, not what it says.
        message: list[dict[str, Any]] = super().construct_change_message(request, form, formsets, add)
        for entry in message:
            fields = entry.get("changed", {}).get("fields")
            if fields and "Add a note" in fields:
                fields[fields.index("Add a note")] = "Note"
        return message

    def get_urls(self) -> list[URLPattern]:
        # Before the defaults: their "<path:object_id>/" would swallow this path.
        file_view = path(
            "<path:object_id>/attachments/<str:file_id>/",
            self.admin_site.admin_view(self.attachment_view),
            name="cases_case_attachment",
        )
        export_view = path(
            "<path:object_id>/export/",
            self.admin_site.admin_view(self.export_view),
            name="cases_case_export",
        )
        return [file_view, export_view, *super().get_urls()]

    def export_view(self, request: HttpRequest, object_id: str) -> HttpResponseBase:
        """The case's signed bundle, as ``GET /v1/cases/{id}/export`` makes it (``cases.export``),
        for staff who may view the case and its files."""
        case = self.get_object(request, unquote(object_id))
        if case is None:
            raise Http404("case not found")
        user = request.user
        may_view_files = user.has_perm("cases.view_attachment") or user.has_perm("cases.change_attachment")
        if not (self.has_view_permission(request, case) and may_view_files):
            raise PermissionDenied
        try:
            key = export.signing_key()
        except export.ExportKeyMissing as exc:
            self.message_user(request, str(exc), messages.ERROR)
            return HttpResponseRedirect(reverse("admin:cases_case_change", args=[case.pk]))
        return export.bundle_response(queries.case_with_evidence(case.pk), key=key, links=FileLinks(None))

    def attachment_view(self, request: HttpRequest, object_id: str, file_id: str) -> FileResponse:
        """Stream a file the case lists from storage to staff who may view the case and its files.

        Works with any storage backend (nothing is served from MEDIA_URL). What opens in the
        browser is what ``/media/`` opens (``media.storage.is_inline_type``); anything else is
        sent as a download, and every response is sandboxed.
        """
        case = self.get_object(request, unquote(object_id))  # a 404 for another organisation's
        if not self.has_view_permission(request, case):
            raise PermissionDenied
        file = get_object_or_404(Attachment.objects.select_related("file"), file_id=file_id, case=case).file
        try:
            content = file.blob.open("rb")
        except FileNotFoundError:
            raise Http404("the file is missing from storage") from None
        inline = is_inline_type(file.content_type)
        response = FileResponse(
            content,
            as_attachment=not inline,
            filename=file.original_name,
            content_type=file.content_type if inline else "application/octet-stream",
        )
        response["Content-Security-Policy"] = "sandbox"
        return response

    @admin.display(description="notes, oldest first")
    def notes(self, obj: Case) -> SafeString:
        """The team's notes on the case (append-only: shown, never edited here)."""
        notes = list(Note.objects.filter(case_id=obj.pk).order_by("created_at", "id"))
        return SafeString(render_to_string("admin/cases/case/notes.html", {"notes": notes}))

    @admin.display(description="history chain")
    def chain_state(self, obj: Case) -> SafeString:
        """Whether the case's history still verifies (``cases.chain.verify``): "verified", or
        where it breaks."""
        events = CaseEvent.objects.filter(case_id=obj.pk).order_by("created_at", "id")
        count, broken = chain.verify(obj.pk, obj.history_head, events.only(*chain.HASHED_COLUMNS).iterator())
        if broken is None:
            return format_html('<span class="chain-state chain-verified">verified</span> ({} events)', count)
        where = f"event {broken.position}" + (f" ({broken.event_id})" if broken.event_id else "")
        return format_html('<span class="chain-state chain-broken">broken at {}</span>: {}', where, broken.reason)

    @admin.display(description="changes, newest first")
    def history(self, obj: Case) -> SafeString:
        """Every change to the case, from the API, this admin or the system (``CaseEvent``), newest first."""
        events = list(obj.events.order_by("-created_at", "-id")[: HISTORY_ON_PAGE + 1])
        more = ""
        if len(events) > HISTORY_ON_PAGE:
            more = format_html(
                '<p class="case-history-more"><a href="{}">All {} changes</a></p>',
                reverse("admin:cases_case_history", args=[obj.pk]),
                obj.events.count(),
            )
        table = render_to_string(
            "admin/cases/case/history_table.html", {"rows": history_rows(events[:HISTORY_ON_PAGE])}
        )
        return format_html("{}{}", SafeString(table), more)

    def history_view(
        self, request: HttpRequest, object_id: str, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        """The History button: the case's own history (``CaseEvent``), paged, newest first.

        The admin's log (``LogEntry``) knows only saves made in the admin, so it would call a
        case changed five times through the API unchanged; the case page shows these same rows.
        """
        case = self.get_object(request, unquote(object_id))  # a 404 for another organisation's
        if not self.has_view_or_change_permission(request, case):
            raise PermissionDenied
        events = CaseEvent.objects.filter(case=case).order_by("-created_at", "-id")
        paginator = self.get_paginator(request, events, HISTORY_PER_PAGE)
        page = paginator.get_page(request.GET.get(PAGE_VAR, 1))
        context = {
            **self.admin_site.each_context(request),
            "title": f"Change history: {case}",
            "subtitle": None,
            "opts": self.opts,
            "object": case,
            "page_obj": page,
            "page_range": paginator.get_elided_page_range(page.number),
            "pagination_required": paginator.num_pages > 1,
            "rows": history_rows(page.object_list),
            **(extra_context or {}),
        }
        request.current_app = self.admin_site.name
        return TemplateResponse(request, "admin/cases/case/object_history.html", context)

    @admin.display(description="status", ordering="status")
    def status_badge(self, obj: Case) -> SafeString:
        # Live is the norm; a test-mode case says so under its status.
        mode = format_html('<span class="case-mode">{}</span>', obj.get_mode_display()) if obj.mode == Mode.TEST else ""
        return format_html(
            '<span class="case-status case-status-{}">{}</span>{}', obj.status, obj.get_status_display(), mode
        )

    @admin.display(description="priority", ordering="priority_rank")
    def priority_badge(self, obj: Case) -> SafeString:
        return format_html(
            '<span class="case-priority case-priority-{}">{}</span>', obj.priority, obj.get_priority_display()
        )

    @admin.display(description="project", ordering="project__name")
    def project_name(self, obj: Case) -> SafeString:
        # The organisation is in the tooltip and the filter: the column stays narrow.
        return format_html('<span class="case-project" title="{}">{}</span>', obj.project, obj.project.name)

    @admin.display(description="title", ordering="title")
    def case_title(self, obj: Case) -> SafeString:
        # Cut to two lines by the style sheet when it is very long: the whole title in the tooltip.
        # Who works the case under it, where a column of its own would not fit at 1280 px.
        title = format_html('<span class="case-title" title="{}">{}</span>', obj.title, obj.title)
        member = obj.assignee
        if member is None:
            return title
        user = member.user
        name = display_name(user.first_name, user.last_name, user.get_username(), user.email)
        return format_html('{}<span class="case-assignee">→ {}</span>', title, name)

    @admin.display(description="id", ordering="id")
    def short_id(self, obj: Case) -> SafeString:
        """The id's last characters (its random part, which tells cases apart); the whole id in the tooltip."""
        return format_html('<span title="{}">c_…{}</span>', obj.pk, obj.pk[-6:])

    @admin.display(description="updated", ordering="updated_at")
    def updated(self, obj: Case) -> SafeString:
        when = localtime(obj.updated_at)
        compact = date_format(when, "j M H:i" if when.year == localtime().year else "j M Y")
        return format_html(
            '<time datetime="{}" title="{}">{}</time>', when.isoformat(), date_format(when, "DATETIME_FORMAT"), compact
        )

    @admin.display(description="files", ordering="attachment_count")
    def attachment_count(self, obj: Case) -> int:
        return obj.attachment_count  # type: ignore[attr-defined, no-any-return]

    def _set_status(self, request: HttpRequest, queryset: QuerySet[Case], status: Status, verb: str) -> None:
        """Each selected case through ``case_update``, as the API would; history only for real changes."""
        changed = 0
        selected = list(queryset.values_list("pk", "status"))
        for case_id, before in selected:
            case = case_update(
                case_id=case_id,
                changes={"status": status},
                actor=Actor.for_staff(request.user),
            )
            if before != status:
                self.log_change(request, case, [{"changed": {"fields": ["Status"]}}])
                changed += 1
        unchanged = len(selected) - changed
        note = f"; {unchanged} already {status.label.lower()}" if unchanged else ""
        self.message_user(request, f"{verb} {changed} case(s){note}.", messages.SUCCESS)

    @admin.action(description="Claim the selected cases (assign them to me)", permissions=["change"])
    def claim_cases(self, request: HttpRequest, queryset: QuerySet[Case]) -> None:
        """Assign to the current user's membership each selected case nobody holds; a case someone
        holds (or took meanwhile) is reported, never taken over (``services.case_claim``)."""
        selected = list(queryset.order_by().values_list("pk", "project__organisation_id"))
        user_id = request.user.pk
        memberships = (
            {}
            if user_id is None
            else dict(
                Member.objects.filter(user_id=user_id, role__in=WORKING_ROLES).values_list("organisation_id", "pk")
            )
        )
        claimed, held, outside = [], [], []
        for case_id, organisation_id in selected:
            member_id = memberships.get(organisation_id)
            if member_id is None:
                outside.append(case_id)
                continue
            try:
                case_claim(case_id=case_id, member_id=member_id, actor=Actor.for_staff(request.user))
            except AlreadyClaimed as exc:
                held.append((case_id, exc.holder))
            else:
                claimed.append(case_id)
        if claimed:
            self.message_user(request, f"Claimed {len(claimed)} case(s).", messages.SUCCESS)
        if held:
            names = names_of(holder for _, holder in held)
            taken = ", ".join(f"{case_id} ({names.get(holder, holder)})" for case_id, holder in held)
            self.message_user(request, f"Already assigned, left as they are: {taken}.", messages.WARNING)
        if outside:
            self.message_user(
                request,
                f"Not claimed: you are not a moderator of the organisation of {', '.join(outside)}.",
                messages.ERROR,
            )

    @admin.action(description="Close the selected cases", permissions=["change"])
    def close_cases(self, request: HttpRequest, queryset: QuerySet[Case]) -> None:
        self._set_status(request, queryset, Status.CLOSED, "Closed")

    @admin.action(description="Archive the selected cases", permissions=["change"])
    def archive_cases(self, request: HttpRequest, queryset: QuerySet[Case]) -> None:
        self._set_status(request, queryset, Status.ARCHIVED, "Archived")

    @admin.action(description="Reopen the selected cases", permissions=["change"])
    def reopen_cases(self, request: HttpRequest, queryset: QuerySet[Case]) -> None:
        self._set_status(request, queryset, Status.OPEN, "Reopened")
