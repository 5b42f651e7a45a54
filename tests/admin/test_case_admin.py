from __future__ import annotations

import hashlib
import json
from datetime import timedelta
from typing import Any

import pytest
from django.contrib.admin.models import CHANGE, LogEntry
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from cases.demo import screenshot_png
from cases.models import Attachment, Case, CaseEvent, Status
from media.models import AbuseStatus
from media.storage import staff_file_url
from tests.admin.conftest import admin_errors, untouched_form_data
from tests.factories import CaseFactory, ProjectFactory, attach_file
from tests.media.samples import ALLOWED
from tokens.models import Mode

pytestmark = pytest.mark.django_db

CHANGELIST = reverse("admin:cases_case_changelist")


def change_url(case: Case) -> str:
    return reverse("admin:cases_case_change", args=[case.pk])


def backdate(case: Case, days: int = 1) -> Case:
    """Move ``updated_at`` into the past, so that a write is visible as a newer ``updated_at``."""
    past = timezone.now() - timedelta(days=days)
    Case.objects.filter(pk=case.pk).update(updated_at=past, created_at=past)
    case.refresh_from_db()
    return case


def save_case_page(client: Client, case: Case, **changes: Any) -> Any:
    data = untouched_form_data(client.get(change_url(case)))
    data.update(changes)
    return client.post(change_url(case), data)


# The list


def test_case_list_shows_the_queue_columns(admin_client: Client) -> None:
    case = CaseFactory(title="Aimbot near the docks", status=Status.CLOSED, mode=Mode.TEST)
    attach_file(case=case, content=_png_file(), original_name="a.png")
    attach_file(case=case, content=_png_file(), original_name="b.png")

    r = admin_client.get(CHANGELIST, {"status": "all"})

    assert r.status_code == 200, r.content
    row = r.context["cl"].result_list[0]
    assert row.attachment_count == 2
    body = r.content.decode()
    for text in (
        f'<span title="{case.pk}">c_…{case.pk[-6:]}</span>',
        '<span class="case-title" title="Aimbot near the docks">Aimbot near the docks</span>',
        'Closed</span><span class="case-mode">Test</span>',
        f'<span class="case-project" title="{case.project}">{case.project.name}</span>',
    ):
        assert text in body
    headers = [h["text"] for h in r.context["result_headers"]][1:]
    assert headers == ["id", "title", "priority", "status", "project", "files", "updated"]


def test_case_list_marks_only_test_mode_cases(admin_client: Client) -> None:
    CaseFactory(mode=Mode.LIVE)

    assert 'class="case-mode"' not in admin_client.get(CHANGELIST).content.decode()


def test_case_list_is_the_queue_oldest_first_within_a_priority(admin_client: Client) -> None:
    older = backdate(CaseFactory(), days=2)
    newer = CaseFactory()

    r = admin_client.get(CHANGELIST)

    assert [case.pk for case in r.context["cl"].result_list] == [older.pk, newer.pk]


def test_case_list_query_count_does_not_grow_with_page_size(admin_client: Client) -> None:
    def queries_for_list() -> int:
        with CaptureQueriesContext(connection) as captured:
            r = admin_client.get(CHANGELIST)
        assert r.status_code == 200, r.content
        return len(captured)

    project = ProjectFactory()
    for n in range(5):
        attach_file(case=CaseFactory(project=project), content=_png_file(), original_name=f"{n}.png")
    with_5 = queries_for_list()
    for n in range(45):
        attach_file(case=CaseFactory(project=ProjectFactory()), content=_png_file(), original_name=f"{n}.png")
    with_50 = queries_for_list()

    assert len(admin_client.get(CHANGELIST).context["cl"].result_list) == 50
    assert with_50 == with_5


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        pytest.param("{id}", "target", id="by-id"),
        pytest.param("wallhack", "target", id="by-title"),
        pytest.param("pre-fired", "target", id="by-description"),
        pytest.param("nothing-matches-this", None, id="no-match"),
    ],
)
def test_case_list_search(admin_client: Client, query: str, expected: str | None) -> None:
    target = CaseFactory(title="ESP / wallhack suspected", description="Pre-fired every corner.")
    CaseFactory(title="Chat spam", description="Advertising another server.")

    r = admin_client.get(CHANGELIST, {"q": query.format(id=target.pk)})

    found = [case.pk for case in r.context["cl"].result_list]
    assert found == ([target.pk] if expected else [])


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        pytest.param({"status": "closed"}, "closed", id="status"),
        pytest.param({"mode__exact": "test"}, "test", id="mode"),
        pytest.param({"project__id__exact": "{project}"}, "other-project", id="project"),
        pytest.param({"created_at__gte": "{yesterday}"}, "recent", id="created-date"),
        pytest.param({"updated_at__gte": "{yesterday}"}, "recent", id="updated-date"),
    ],
)
def test_case_list_filters(admin_client: Client, params: dict[str, str], expected: str) -> None:
    project = ProjectFactory()
    cases = {
        "closed": backdate(CaseFactory(status=Status.CLOSED), days=5),
        "test": backdate(CaseFactory(mode=Mode.TEST), days=5),
        "other-project": backdate(CaseFactory(project=project), days=5),
        "recent": CaseFactory(),
    }
    yesterday = str(timezone.now() - timedelta(days=1))
    query = {key: value.format(project=project.pk, yesterday=yesterday) for key, value in params.items()}

    r = admin_client.get(CHANGELIST, query)

    assert r.status_code == 200, r.content
    assert [case.pk for case in r.context["cl"].result_list] == [cases[expected].pk]


def test_case_list_has_no_delete(admin_client: Client) -> None:
    case = CaseFactory()

    r = admin_client.get(CHANGELIST)

    assert "delete_selected" not in r.context["action_form"].fields["action"].choices.__repr__()
    assert admin_client.post(reverse("admin:cases_case_delete", args=[case.pk]), {"post": "yes"}).status_code == 403
    assert Case.objects.filter(pk=case.pk).exists()


# Bulk actions


@pytest.mark.parametrize(
    ("action", "before", "after"),
    [
        pytest.param("close_cases", Status.OPEN, Status.CLOSED, id="close"),
        pytest.param("archive_cases", Status.CLOSED, Status.ARCHIVED, id="archive"),
        pytest.param("reopen_cases", Status.ARCHIVED, Status.OPEN, id="reopen"),
    ],
)
def test_bulk_action_changes_status_updated_at_and_etag(
    admin_client: Client, action: str, before: Status, after: Status
) -> None:
    cases = [backdate(CaseFactory(status=before)) for _ in range(3)]
    untouched = backdate(CaseFactory(status=before))
    etags = {case.pk: case.etag for case in cases}

    # Posted from the list of every status, as a moderator sees closed and archived cases.
    r = admin_client.post(
        f"{CHANGELIST}?status=all", {"action": action, "_selected_action": [case.pk for case in cases]}
    )

    assert r.status_code == 302, r.content
    for case in cases:
        stored = Case.objects.get(pk=case.pk)
        assert stored.status == after
        assert stored.updated_at > case.updated_at
        assert stored.etag != etags[case.pk]
        entry = LogEntry.objects.get(object_id=case.pk)
        assert entry.action_flag == CHANGE
        assert json.loads(entry.change_message) == [{"changed": {"fields": ["Status"]}}]
    assert Case.objects.get(pk=untouched.pk).updated_at == untouched.updated_at


def test_bulk_action_leaves_a_case_already_in_that_status_unchanged(admin_client: Client) -> None:
    closed = backdate(CaseFactory(status=Status.CLOSED))
    open_case = backdate(CaseFactory(status=Status.OPEN))

    r = admin_client.post(
        f"{CHANGELIST}?status=all",
        {"action": "close_cases", "_selected_action": [closed.pk, open_case.pk]},
        follow=True,
    )

    assert "Closed 1 case(s); 1 already closed." in [str(m) for m in r.context["messages"]]
    assert Case.objects.get(pk=closed.pk).updated_at == closed.updated_at
    assert not LogEntry.objects.filter(object_id=closed.pk).exists()
    assert Case.objects.get(pk=open_case.pk).status == Status.CLOSED


# The case page


def test_case_page_save_goes_through_the_service(admin_client: Client) -> None:
    case = backdate(CaseFactory(title="Old title"))
    etag = case.etag

    r = save_case_page(admin_client, case, title="  New title  ", status=Status.CLOSED)

    assert r.status_code == 302, admin_errors(r) if r.status_code == 200 else r.content
    stored = Case.objects.get(pk=case.pk)
    assert (stored.title, stored.status) == ("New title", Status.CLOSED)
    assert stored.updated_at > case.updated_at
    assert stored.etag != etag


def test_case_page_records_the_changed_fields_in_history(admin_client: Client) -> None:
    case = CaseFactory(description="Line one\nLine two")

    # Browsers send a textarea's line breaks as CRLF; an untouched description is no change.
    save_case_page(admin_client, case, title="Renamed", status=Status.ARCHIVED, description="Line one\r\nLine two")

    entry = LogEntry.objects.get(object_id=case.pk)
    assert entry.user.get_username() == "admin"
    assert json.loads(entry.change_message) == [{"changed": {"fields": ["Title", "Status"]}}]
    assert Case.objects.get(pk=case.pk).description == "Line one\nLine two"
    history = admin_client.get(reverse("admin:cases_case_history", args=[case.pk])).content.decode()
    assert "<b>title</b>: " + case.title + " → Renamed" in history
    assert "<b>status</b>: open → archived" in history


def test_case_page_saved_unchanged_writes_nothing(admin_client: Client) -> None:
    case = backdate(CaseFactory(description="a\nb"))

    save_case_page(admin_client, case, description="a\r\nb")

    assert Case.objects.get(pk=case.pk).updated_at == case.updated_at


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        pytest.param("title", "x" * 201, "at most 200 characters", id="title-201-chars"),
        pytest.param("title", "NUL\x00byte", "Null characters are not allowed", id="title-nul"),
        pytest.param("title", "tab\there", "control characters", id="title-tab"),
        pytest.param("title", "bell\x07", "control characters", id="title-bell"),
        pytest.param("title", "del\x7f", "control characters", id="title-del"),
        pytest.param("title", "   ", "This field is required", id="title-only-spaces"),
        pytest.param("description", "NUL\x00byte", "Null characters are not allowed", id="description-nul"),
        pytest.param("description", "escape\x1b[31m", "control characters", id="description-escape"),
        pytest.param("description", "x" * 10_001, "at most 10000 characters", id="description-10001-chars"),
        pytest.param("status", "deleted", "Select a valid choice", id="status-unknown"),
    ],
)
def test_case_page_refuses_values_the_api_refuses(admin_client: Client, field: str, value: str, message: str) -> None:
    case = backdate(CaseFactory(title="Kept", description="Kept too"))

    r = save_case_page(admin_client, case, **{field: value})

    assert r.status_code == 200, r.content
    errors = admin_errors(r)
    assert list(errors) == [field]
    assert message in errors[field][0]
    stored = Case.objects.get(pk=case.pk)
    assert (stored.title, stored.description, stored.updated_at) == ("Kept", "Kept too", case.updated_at)


@pytest.mark.parametrize(
    ("field", "value", "stored"),
    [
        pytest.param("title", "x" * 200, "x" * 200, id="title-200-chars"),
        pytest.param("title", "  " + "x" * 200 + "  ", "x" * 200, id="title-trimmed-to-200"),
        pytest.param("title", "Ünïcödé ✓ 🎮", "Ünïcödé ✓ 🎮", id="title-unicode"),
        pytest.param("description", "a\tb\nc\r", "a\tb\nc\r", id="description-tab-newline-cr"),
        pytest.param("description", "", "", id="description-empty"),
        pytest.param("description", "  padded  ", "  padded  ", id="description-kept-as-typed"),
    ],
)
def test_case_page_accepts_values_the_api_accepts(admin_client: Client, field: str, value: str, stored: str) -> None:
    case = CaseFactory(description="something")

    r = save_case_page(admin_client, case, **{field: value})

    assert r.status_code == 302, admin_errors(r) if r.status_code == 200 else r.content
    assert getattr(Case.objects.get(pk=case.pk), field) == stored


def test_case_page_keeps_project_and_mode(admin_client: Client) -> None:
    case = CaseFactory(mode=Mode.LIVE)

    save_case_page(admin_client, case, project=ProjectFactory().pk, mode=Mode.TEST)

    stored = Case.objects.get(pk=case.pk)
    assert (stored.project_id, stored.mode) == (case.project_id, Mode.LIVE)


def test_add_case_goes_through_the_service(admin_client: Client) -> None:
    project = ProjectFactory()

    r = admin_client.post(
        reverse("admin:cases_case_add"),
        {
            "project": project.pk,
            "mode": Mode.TEST,
            "title": "  Report from Discord  ",
            "description": "Sent by a player",
            "status": Status.OPEN,
            "attachments-TOTAL_FORMS": "0",
            "attachments-INITIAL_FORMS": "0",
            "attachments-2-TOTAL_FORMS": "1",
            "attachments-2-INITIAL_FORMS": "0",
            "attachments-2-0-file": SimpleUploadedFile("proof.png", screenshot_png(3)),
            "attachments-2-0-visibility": "private",
        },
    )

    assert r.status_code == 302, admin_errors(r) if r.status_code == 200 else r.content
    case = Case.objects.get()
    assert (case.project_id, case.mode, case.title) == (project.pk, Mode.TEST, "Report from Discord")
    assert case.pk.startswith("c_")
    assert [a.file.original_name for a in case.attachments.all()] == ["proof.png"]


# Attachments


def _png_file(name: str = "evidence.png", seed: int = 7) -> SimpleUploadedFile:
    return SimpleUploadedFile(name, screenshot_png(seed), content_type="text/plain")


def upload(client: Client, case: Case, file: SimpleUploadedFile, **fields: str) -> Any:
    data = untouched_form_data(client.get(change_url(case)))
    data["attachments-2-0-file"] = file
    data.update({f"attachments-2-0-{name}": value for name, value in fields.items()})
    return client.post(change_url(case), data)


def test_upload_stores_what_the_bytes_say(admin_client: Client) -> None:
    case = CaseFactory()
    content = screenshot_png(11)

    # A PNG named .txt and announced as text/plain by the browser is still a PNG.
    r = upload(
        admin_client,
        case,
        SimpleUploadedFile("notes.txt", content, content_type="text/plain"),
        tags="cheating, evidence, cheating",
        folder="reports",
    )

    assert r.status_code == 302, admin_errors(r) if r.status_code == 200 else r.content
    link = Attachment.objects.select_related("file").get(case=case)
    stored = link.file
    assert stored.sha256 == hashlib.sha256(content).hexdigest()
    assert stored.size == len(content)
    assert stored.content_type == "image/png"
    assert stored.original_name == "notes.txt"
    assert (stored.project_id, stored.mode) == (case.project_id, case.mode)
    assert stored.key == f"{case.project_id}/{stored.pk}/notes.txt"
    assert (stored.tags, stored.folder) == (["cheating", "evidence"], "reports")
    with stored.blob.open("rb") as bytes_in_storage:
        assert bytes_in_storage.read() == content
    event = CaseEvent.objects.filter(case=case).latest("created_at")
    assert event.changes == {"attachments": {"from": [], "to": [stored.pk]}}
    assert (event.actor_type, link.attached_by_type) == ("staff", "staff")
    entry = LogEntry.objects.get(object_id=case.pk)
    assert json.loads(entry.change_message) == [{"added": {"name": "attachment", "object": str(link)}}]


def test_upload_of_a_type_the_api_refuses_is_a_form_error(admin_client: Client) -> None:
    case = CaseFactory()
    before = case.updated_at

    r = upload(admin_client, case, SimpleUploadedFile("page.png", b"<html><script>alert(1)</script></html>"))

    assert r.status_code == 200
    upload_errors = [inline.formset.errors for inline in r.context["inline_admin_formsets"]]
    assert "file type text/html is not allowed" in str(upload_errors)
    assert not Attachment.objects.filter(case=case).exists()
    assert Case.objects.get(pk=case.pk).updated_at == before


def test_attachment_fields_are_editable_and_logged(admin_client: Client) -> None:
    case = CaseFactory()
    attachment = attach_file(case=case, content=_png_file(), original_name="a.png", tags=["old"])
    data = untouched_form_data(admin_client.get(change_url(case)))
    data.update(
        {
            "attachments-0-tags": "aimbot, clip",
            "attachments-0-folder": "appeals",
            "attachments-0-visibility": "public",
            "attachments-0-abuse_status": AbuseStatus.FLAGGED,
        }
    )

    r = admin_client.post(change_url(case), data)

    assert r.status_code == 302, r.content
    stored = Attachment.objects.get(pk=attachment.pk).file
    assert (stored.tags, stored.folder, stored.visibility, stored.abuse_status) == (
        ["aimbot", "clip"],
        "appeals",
        "public",
        "flagged",
    )
    # The content facts are the server's: the form has no field for them.
    assert (stored.sha256, stored.size, stored.key) == (
        attachment.file.sha256,
        attachment.file.size,
        attachment.file.key,
    )
    message = json.loads(LogEntry.objects.get(object_id=case.pk).change_message)
    assert message == [
        {
            "changed": {
                "name": "attachment",
                "object": str(attachment),
                "fields": ["Tags", "Folder", "Visibility", "Abuse status"],
            }
        }
    ]


def test_case_page_shows_computed_file_facts_and_a_link(admin_client: Client) -> None:
    case = CaseFactory()
    attachment = attach_file(case=case, content=_png_file(), original_name="clip.png")

    body = admin_client.get(change_url(case)).content.decode()

    file = attachment.file
    for text in (file.sha256, file.key, "image/png", f"{file.size:,} bytes"):
        assert text in body
    # The thumbnail, a staff-only link that opens the bytes, and the file's review page.
    assert f'src="{reverse("admin:media_file_thumbnail", args=[file.pk])}"' in body
    assert f'href="/media/{file.key}?expires=' in body and "&amp;staff=1" in body
    assert reverse("admin:media_file_change", args=[file.pk]) in body
    assert 'name="attachments-0-sha256"' not in body


def test_file_link_streams_the_stored_bytes(admin_client: Client) -> None:
    case = CaseFactory()
    content = screenshot_png(5)
    attachment = attach_file(case=case, content=SimpleUploadedFile("s.png", content), original_name="s.png")

    r = admin_client.get(reverse("admin:cases_case_attachment", args=[case.pk, attachment.file_id]))

    assert r.status_code == 200
    assert b"".join(r.streaming_content) == content
    assert r["Content-Type"] == "image/png"
    assert r["Content-Disposition"].startswith("inline")
    assert r["Content-Security-Policy"] == "sandbox"


def test_file_link_downloads_what_a_browser_could_run(admin_client: Client) -> None:
    case = CaseFactory()
    attachment = attach_file(
        case=case, content=SimpleUploadedFile("x.pdf", b"%PDF-1.4\n<script>"), original_name="report.pdf"
    )

    r = admin_client.get(reverse("admin:cases_case_attachment", args=[case.pk, attachment.file_id]))

    assert r.status_code == 200
    assert r["Content-Type"] == "application/octet-stream"
    assert r["Content-Disposition"].startswith("attachment")


@pytest.mark.parametrize("content_type", sorted(ALLOWED))
def test_file_link_opens_inline_exactly_what_media_opens_inline(admin_client: Client, content_type: str) -> None:
    """The admin's file link and ``/media/`` decide alike which types the browser opens."""
    name, content = ALLOWED[content_type]
    case = CaseFactory()
    file = attach_file(case=case, content=SimpleUploadedFile(name, content), original_name=name).file
    assert file.content_type == content_type

    from_admin = admin_client.get(reverse("admin:cases_case_attachment", args=[case.pk, file.pk]))
    from_media = admin_client.get(staff_file_url(file, request=None))

    assert (from_admin.status_code, from_media.status_code) == (200, 200), from_media.content
    kinds = [r["Content-Disposition"].split(";", 1)[0] for r in (from_admin, from_media)]
    assert kinds[0] == kinds[1], kinds
    assert kinds[0] == ("inline" if content_type.startswith(("image/", "video/", "audio/")) else "attachment")


def test_file_link_of_another_case_is_not_found(admin_client: Client) -> None:
    attachment = attach_file(case=CaseFactory(), content=_png_file(), original_name="a.png")

    r = admin_client.get(reverse("admin:cases_case_attachment", args=[CaseFactory().pk, attachment.file_id]))

    assert r.status_code == 404


def test_admin_writes_record_the_staff_member_in_the_case_events(admin_client: Client, admin_user: Any) -> None:
    case = CaseFactory(status=Status.OPEN)

    save_case_page(admin_client, case, title="Renamed by staff")
    admin_client.post(CHANGELIST, {"action": "close_cases", "_selected_action": [case.pk]})

    events = list(CaseEvent.objects.filter(case=case).order_by("created_at", "id"))[1:]
    assert [(e.actor_type, e.actor_id, e.actor_name) for e in events] == [
        ("staff", str(admin_user.pk), "admin"),
        ("staff", str(admin_user.pk), "admin"),
    ]
    assert [e.changes for e in events] == [
        {"title": {"from": case.title, "to": "Renamed by staff"}},
        {"status": {"from": "open", "to": "closed"}},
    ]


def test_case_page_shows_the_history_from_api_admin_and_system(admin_client, call, case) -> None:
    call("PATCH", f"/v1/cases/{case.id}", json_body={"status": "closed"}, headers={"X-Request-Id": "api-change-1"})
    page = admin_client.get(f"/admin/cases/case/{case.id}/change/")
    assert page.status_code == 200
    html = page.content.decode()
    history = html[html.index('class="case-history"') :]
    assert "API token" in history and "api-change-1" in history
    assert "<b>status</b>: open → closed" in history
    assert "<b>title</b>: – → " in history  # the create event, from nothing


# One history: the case's own, on its page and behind the History button


def _api_changes(call: Any, case: Case, n: int) -> None:
    for i in range(n):
        r = call(
            "PATCH", f"/v1/cases/{case.id}", json_body={"title": f"API title {i}"}, headers={"X-Request-Id": f"api-{i}"}
        )
        assert r.status_code == 200, r.content


def test_history_button_shows_the_api_changes(admin_client: Client, call: Any, case: Case) -> None:
    _api_changes(call, case, 5)

    r = admin_client.get(reverse("admin:cases_case_history", args=[case.pk]))

    assert r.status_code == 200, r.content
    body = r.content.decode()
    assert "doesn’t have a change history" not in body
    for i in range(5):
        assert f"<code>api-{i}</code>" in body
    assert "<b>title</b>: API title 3 → API title 4" in body
    # Newest first, the create event last.
    assert body.index("api-4") < body.index("api-0") < body.index("<b>title</b>: – → ")


def test_history_button_pages_a_long_history(
    admin_client: Client, call: Any, case: Case, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("cases.admin.HISTORY_PER_PAGE", 2)
    _api_changes(call, case, 4)
    url = reverse("admin:cases_case_history", args=[case.pk])

    first, last = admin_client.get(url).content.decode(), admin_client.get(url, {"p": 3}).content.decode()

    assert "api-3" in first and "api-2" in first and "api-1" not in first
    assert "5 changes" in first
    assert "<b>title</b>: – → " in last and "api-3" not in last


def test_case_page_history_is_open_and_links_to_the_rest(
    admin_client: Client, call: Any, case: Case, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("cases.admin.HISTORY_ON_PAGE", 3)
    _api_changes(call, case, 4)

    body = admin_client.get(change_url(case)).content.decode()

    section = body[body.index('class="case-history"') :]
    assert "api-3" in section and "api-1" in section and "api-0" not in section
    assert f'href="{reverse("admin:cases_case_history", args=[case.pk])}">All 5 changes' in body
    # Not folded away: Django folds a fieldset into <details> only for the "collapse" class.
    fieldset = body[: body.index('class="case-history"')]
    assert "<details" not in fieldset[fieldset.rindex("<fieldset") :]


def test_history_button_of_a_missing_case_is_not_found(admin_client: Client) -> None:
    r = admin_client.get(reverse("admin:cases_case_history", args=["c_" + "0" * 26]))

    assert r.status_code == 404


def test_history_button_of_a_case_the_user_may_not_see_is_not_found(client: Client, django_user_model: Any) -> None:
    case = CaseFactory()
    client.force_login(django_user_model.objects.create_user("outsider", password="pw", is_staff=True))

    assert client.get(reverse("admin:cases_case_history", args=[case.pk])).status_code == 404


def test_file_facts_read_once_and_long_values_are_shortened(admin_client: Client) -> None:
    case = CaseFactory()
    attachment = attach_file(
        case=case, content=SimpleUploadedFile("n.txt", b"x" * 454), original_name="notes-from-the-server-console.txt"
    )
    file = attachment.file

    body = admin_client.get(change_url(case)).content.decode()

    assert "454\xa0bytes (" not in body and "454 bytes (" not in body
    assert '<span title="454 bytes">454\xa0bytes</span>' in body
    for value, keep in ((file.sha256, 12), (file.key, 24)):
        assert f'title="{value}" data-full="{value}">{value[:keep]}…</span>' in body
        assert f">{value}<" not in body
