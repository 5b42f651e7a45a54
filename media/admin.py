"""Staff side of files: a review queue where moderators judge evidence without downloading it.

The list filters by abuse status, type, project, mode and folder, searches names, SHA-256
and ids, shows each image's thumbnail and the cases a file is evidence in, and marks the
selected files clean, flagged or blocked. A file's page plays video and audio inline. Every
change goes through ``media.services.file_update`` (row lock, the store's access rules), which
records the staff member who reviewed the file and when (marks and saves): "not reviewed yet" is a
filter, since ``abuse_status`` starts "clean" for every upload.

Staff see every file's bytes, blocked ones included, through staff-only links
(``media.storage.staff_file_url`` and this admin's thumbnail view); a blocked file's public
URL opens nothing.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.contrib.auth.base_user import AbstractBaseUser
from django.contrib.staticfiles import finders
from django.core.exceptions import PermissionDenied
from django.db.models import ForeignObjectRel, Prefetch, Q, QuerySet
from django.http import HttpRequest, HttpResponse
from django.template.defaultfilters import filesizeformat
from django.urls import URLPattern, path, reverse
from django.utils.formats import date_format
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString
from django.utils.timezone import localtime

from serverops.exceptions import DomainError
from tokens.admin import ProjectChoiceFilter
from tokens.admin_access import OrganisationScoped

from .models import AbuseStatus, File
from .services import EDITABLE_FIELDS, clean_folder, clean_tags, file_update
from .storage import media_storage, signed_url_ttl
from .thumbnails import THUMBNAIL_TYPES, file_thumbnail

PLACEHOLDER = "media/thumbnail-unavailable.svg"
TYPE_FAMILIES = {
    "image": ("Images", ("image/",)),
    "video": ("Video", ("video/",)),
    "audio": ("Audio", ("audio/",)),
    "document": ("Documents and logs", ("application/pdf", "text/plain", "application/json")),
}


class TypeFilter(admin.SimpleListFilter):
    """Images, video, audio, or documents and logs (the allowed types of the API guide)."""

    title = "type"
    parameter_name = "type"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin[Any]) -> list[tuple[str, str]]:
        return [(key, label) for key, (label, _) in TYPE_FAMILIES.items()]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        family = TYPE_FAMILIES.get(self.value() or "")
        if family is None:
            return queryset
        _, prefixes = family
        matches = Q()
        for prefix in prefixes:
            matches |= Q(content_type__startswith=prefix)
        return queryset.filter(matches)


class ReviewedFilter(admin.SimpleListFilter):
    """Whether staff have judged the file (a mark or a save in the admin); ``abuse_status`` alone
    cannot say, since every upload starts "clean"."""

    title = "review"
    parameter_name = "reviewed"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin[Any]) -> list[tuple[str, str]]:
        return [("no", "Not reviewed yet"), ("yes", "Reviewed")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        if self.value() in ("no", "yes"):
            return queryset.filter(reviewed_at__isnull=self.value() == "no")
        return queryset


class FileForm(forms.ModelForm):  # type: ignore[type-arg]
    """The moderation fields; ``tags`` typed as comma-separated words."""

    tags = forms.CharField(required=False, help_text="Separated by commas.")

    class Meta:
        model = File
        fields = EDITABLE_FIELDS

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.instance.pk is not None:
            self.initial["tags"] = ", ".join(self.instance.tags)

    def clean_tags(self) -> list[str]:
        words = (word.strip() for word in self.cleaned_data["tags"].split(","))
        tags: list[str] = _api_rules(clean_tags, list(dict.fromkeys(word for word in words if word)))
        return tags

    def clean_folder(self) -> str:
        folder: str = _api_rules(clean_folder, self.cleaned_data["folder"])
        return folder


def _reviewer(request: HttpRequest) -> AbstractBaseUser:
    """The staff user behind an admin request (the admin lets nobody else in)."""
    user = request.user
    assert isinstance(user, AbstractBaseUser)
    return user


def _api_rules(rule: Any, value: Any) -> Any:
    """``value`` through one of the API's rules, its refusal as a form error (the API's message)."""
    try:
        return rule(value)
    except DomainError as exc:
        raise forms.ValidationError(exc.message) from exc


def _badge(status: str, label: str) -> SafeString:
    return format_html('<span class="abuse-status abuse-status-{}">{}</span>', status, label)


# What the server computed when the file was stored: shown on the file's page, never edited.
STORED_FIELDS = (
    "id",
    "original_name",
    "content_type",
    "size_shown",
    "sha256",
    "key",
    "project",
    "mode",
    "storage_class",
    "created_at",
    "updated_at",
)


@admin.register(File)
class FileAdmin(OrganisationScoped, admin.ModelAdmin):  # type: ignore[type-arg]
    """The file review queue. Files arrive through the API or a case page, never from here."""

    organisation_path = "project__organisation"

    form = FileForm
    # Read at 1280 px with both sidebars open: the type and size under the name, the project cut short.
    list_display = ("preview", "name_and_type", "abuse_badge", "evidence_in", "project_name", "created")
    list_display_links = ("name_and_type",)
    list_select_related = ("project__organisation",)
    list_filter = (
        "abuse_status",
        ReviewedFilter,
        TypeFilter,
        ("project", ProjectChoiceFilter),
        "mode",
        "folder",
        "visibility",
    )
    search_fields = ("original_name", "=sha256", "=id")
    ordering = ("-created_at", "-id")
    list_per_page = 50
    actions = ("mark_clean", "mark_flagged", "mark_blocked")
    fieldsets = (
        (None, {"fields": ("player", "abuse_status", "visibility", "tags", "folder")}),
        ("Evidence in", {"fields": ("evidence_in",)}),
        ("Review", {"fields": ("reviewed_by", "reviewed_at")}),
        (
            "Stored",
            {"fields": STORED_FIELDS},
        ),
    )
    readonly_fields = ("player", "evidence_in", "reviewed_by", "reviewed_at", *STORED_FIELDS)

    def get_queryset(self, request: HttpRequest) -> QuerySet[File]:
        # The cases app's links, through the reverse relation it declares: that app sits above this one.
        reverse = File._meta.get_field("attachments")
        assert isinstance(reverse, ForeignObjectRel)
        links = reverse.related_model._default_manager.only("id", "case_id", "file_id").order_by("case_id")
        files: QuerySet[File] = super().get_queryset(request)
        return files.prefetch_related(Prefetch("attachments", queryset=links))

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: File | None = None) -> bool:
        # The API deletes (DELETE /v1/media/{id}): refused while a case lists the file, bytes removed after.
        return False

    def save_model(self, request: HttpRequest, obj: File, form: Any, change: bool) -> None:
        changes = {field: form.cleaned_data[field] for field in form.changed_data if field in EDITABLE_FIELDS}
        saved = file_update(file_id=obj.pk, changes=changes, reviewer=_reviewer(request))
        for field in (*EDITABLE_FIELDS, "updated_at", "reviewed_at", "reviewed_by"):
            setattr(obj, field, getattr(saved, field))

    def get_urls(self) -> list[URLPattern]:
        thumbnail = path(
            "<path:object_id>/thumbnail/",
            self.admin_site.admin_view(self.thumbnail_view, cacheable=True),
            name="media_file_thumbnail",
        )
        return [thumbnail, *super().get_urls()]

    def thumbnail_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """The file's thumbnail (WebP), or a placeholder for what cannot be shown safely.

        Staff only, whatever the file's visibility and abuse status.
        """
        file = self.get_object(request, unquote(object_id))  # a 404 for another organisation's
        if not self.has_view_permission(request, file):
            raise PermissionDenied
        data = file_thumbnail(file)
        if data is None:
            response = HttpResponse(_placeholder(), content_type="image/svg+xml")
        else:
            response = HttpResponse(data, content_type="image/webp")
        # Never a public cache: these bytes may be a blocked file's.
        response["Cache-Control"] = "private, max-age=3600"
        response["Content-Security-Policy"] = "sandbox"
        return response

    # Columns and fields

    @admin.display(description="")
    def preview(self, obj: File) -> SafeString:
        return thumbnail_html(obj, self._staff_url(obj))

    @admin.display(description="file", ordering="original_name")
    def name_and_type(self, obj: File) -> SafeString:
        return format_html(
            '<span class="file-name">{}</span><span class="file-type">{} · {}</span>',
            obj.original_name,
            obj.content_type,
            self.size_shown(obj),
        )

    @admin.display(description="status", ordering="abuse_status")
    def abuse_badge(self, obj: File) -> SafeString:
        private = format_html('<span class="file-private">{}</span>', "private") if obj.visibility == "private" else ""
        return format_html("{}{}", _badge(obj.abuse_status, obj.get_abuse_status_display()), private)

    @admin.display(description="evidence in")
    def evidence_in(self, obj: File) -> SafeString:
        """Links to the cases that list the file (prefetched for the list)."""
        case_ids = [link.case_id for link in obj.attachments.all()]
        if not case_ids:
            return format_html('<span class="file-unused">{}</span>', "no case")
        return format_html_join(
            " ",
            '<a href="{}" title="{}">c_…{}</a>',
            ((reverse("admin:cases_case_change", args=[case_id]), case_id, case_id[-6:]) for case_id in case_ids),
        )

    @admin.display(description="project", ordering="project__name")
    def project_name(self, obj: File) -> SafeString:
        mode = format_html(' <span class="case-mode">{}</span>', "test") if obj.mode == "test" else ""
        return format_html('<span class="file-project" title="{}">{}</span>{}', obj.project, obj.project.name, mode)

    @admin.display(description="size", ordering="size")
    def size_shown(self, obj: File) -> SafeString:
        return format_html('<span title="{} bytes">{}</span>', f"{obj.size:,}", filesizeformat(obj.size))

    @admin.display(description="uploaded", ordering="created_at")
    def created(self, obj: File) -> SafeString:
        when = localtime(obj.created_at)
        return format_html(
            '<time datetime="{}" title="{}">{}</time>',
            when.isoformat(),
            date_format(when, "DATETIME_FORMAT"),
            date_format(when, "j M H:i"),
        )

    @admin.display(description="file")
    def player(self, obj: File) -> SafeString:
        """The evidence itself: the image, or a player for video and audio; a link opens the bytes."""
        return file_player_html(obj, self._staff_url(obj), large=True)

    def _staff_url(self, obj: File) -> str:
        return staff_link(obj)

    # Bulk actions

    def _set_abuse_status(self, request: HttpRequest, queryset: QuerySet[File], status: AbuseStatus) -> None:
        changed = 0
        selected = list(queryset.values_list("pk", "abuse_status"))
        for file_id, before in selected:
            file = file_update(file_id=file_id, changes={"abuse_status": status}, reviewer=_reviewer(request))
            if before != status:
                self.log_change(request, file, [{"changed": {"fields": ["Abuse status"]}}])
                changed += 1
        unchanged = len(selected) - changed
        note = f"; {unchanged} already {status.label.lower()}" if unchanged else ""
        self.message_user(request, f"Marked {changed} file(s) {status.label.lower()}{note}.", messages.SUCCESS)

    @admin.action(description="Mark the selected files clean", permissions=["change"])
    def mark_clean(self, request: HttpRequest, queryset: QuerySet[File]) -> None:
        self._set_abuse_status(request, queryset, AbuseStatus.CLEAN)

    @admin.action(description="Mark the selected files flagged", permissions=["change"])
    def mark_flagged(self, request: HttpRequest, queryset: QuerySet[File]) -> None:
        self._set_abuse_status(request, queryset, AbuseStatus.FLAGGED)

    @admin.action(description="Block the selected files (their public URLs stop opening)", permissions=["change"])
    def mark_blocked(self, request: HttpRequest, queryset: QuerySet[File]) -> None:
        self._set_abuse_status(request, queryset, AbuseStatus.BLOCKED)


def _placeholder() -> bytes:
    found = finders.find(PLACEHOLDER)
    with open(str(found), "rb") as placeholder:
        return placeholder.read()


def staff_link(file: File) -> str:
    """A signed link that opens ``file`` for staff, blocked or not (``media.storage``'s staff URL).

    Relative to the admin's own host when the service serves the bytes; the store's own
    pre-signed URL otherwise. Only ever put it in pages shown to staff.
    """
    return media_storage(file).media_url(file.blob.name or "", expires_in=signed_url_ttl(), staff=True)


def thumbnail_url(file: File) -> str:
    return reverse("admin:media_file_thumbnail", args=[file.pk])


def thumbnail_html(file: File, open_url: str) -> SafeString:
    """The image's thumbnail (a type badge for other files), opening the bytes in a new tab."""
    if file.content_type in THUMBNAIL_TYPES:
        inner = format_html(
            '<img src="{}" alt="{}" class="file-thumbnail" loading="lazy" width="80" height="54">',
            thumbnail_url(file),
            file.original_name,
        )
    else:
        family = file.content_type.split("/", 1)[0]
        inner = format_html('<span class="file-kind file-kind-{}">{}</span>', family, file.content_type.split("/")[-1])
    return format_html('<a href="{}" target="_blank" rel="noopener" class="file-open">{}</a>', open_url, inner)


def file_player_html(file: File, open_url: str, *, large: bool = False) -> SafeString:
    """What a moderator judges the file by: a thumbnail, or a video or audio player; then an open link."""
    family = file.content_type.split("/", 1)[0]
    if family == "video":
        shown = format_html('<video controls preload="metadata" class="file-player" src="{}"></video>', open_url)
    elif family == "audio":
        shown = format_html('<audio controls preload="metadata" class="file-player" src="{}"></audio>', open_url)
    elif file.content_type in THUMBNAIL_TYPES:
        size = ' class="file-thumbnail file-thumbnail-large"' if large else ' class="file-thumbnail"'
        shown = format_html(
            '<a href="{}" target="_blank" rel="noopener"><img src="{}" alt="{}"{}></a>',
            open_url,
            thumbnail_url(file),
            file.original_name,
            SafeString(size),
        )
    else:
        shown = format_html('<span class="file-kind file-kind-{}">{}</span>', family, file.content_type)
    return format_html(
        '<div class="file-evidence">{}'
        '<a href="{}" target="_blank" rel="noopener" class="file-open-link">Open {}</a></div>',
        shown,
        open_url,
        file.original_name,
    )
