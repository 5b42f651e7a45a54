"""The file review queue: filters, search, thumbnails, players, evidence links and bulk abuse marks."""

from __future__ import annotations

import io
import json
import wave
from typing import Any

import pytest
from django.contrib.admin.models import LogEntry
from django.contrib.auth.models import User
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from PIL import Image

from cases.models import Attachment
from cases.services import Actor, case_update
from media.models import AbuseStatus, File
from media.storage import file_url
from tests.factories import CaseFactory, FileFactory, ProjectFactory, attach_file
from tokens.models import Mode

pytestmark = pytest.mark.django_db

CHANGELIST = reverse("admin:media_file_changelist")
# The smallest MP4 the type check takes for one: an ftyp box.
MP4 = b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom" + b"\x00" * 64


def wav() -> bytes:
    out = io.BytesIO()
    with wave.open(out, "wb") as sound:
        sound.setnchannels(1)
        sound.setsampwidth(2)
        sound.setframerate(8000)
        sound.writeframes(b"\x00\x00" * 800)
    return out.getvalue()


def listed(client: Client, **params: str) -> list[str]:
    r = client.get(CHANGELIST, params)
    assert r.status_code == 200, r.content
    return [file.pk for file in r.context["cl"].result_list]


# The queue


def test_queue_shows_thumbnail_name_type_status_and_the_cases_it_is_evidence_in(admin_client: Client) -> None:
    case = CaseFactory()
    other = CaseFactory(project=case.project)
    file = attach_file(case=case, original_name="aimbot.png").file
    case_update(
        case_id=other.pk,
        changes={"attachments": [file.pk]},
        actor=Actor.system("tests"),
    )
    unused = FileFactory(project=case.project, original_name="notes.txt", content=b"chat log\n")

    r = admin_client.get(CHANGELIST)

    body = r.content.decode()
    assert f'src="{reverse("admin:media_file_thumbnail", args=[file.pk])}"' in body
    assert '<span class="file-name">aimbot.png</span><span class="file-type">image/png · <span title=' in body
    assert '<span class="abuse-status abuse-status-clean">Clean</span>' in body
    for linked in (case, other):
        assert f'<a href="{reverse("admin:cases_case_change", args=[linked.pk])}" title="{linked.pk}">' in body
    assert '<span class="file-unused">no case</span>' in body
    assert '<span class="file-kind file-kind-text">plain</span>' in body
    assert unused.pk in [f.pk for f in r.context["cl"].result_list]


def test_queue_query_count_does_not_grow_with_the_page(admin_client: Client) -> None:
    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert admin_client.get(CHANGELIST).status_code == 200
        return len(captured)

    attach_file(case=CaseFactory())
    with_one = queries()
    for _ in range(6):
        attach_file(case=CaseFactory(project=ProjectFactory()))

    assert queries() == with_one


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        pytest.param({"abuse_status__exact": "flagged"}, "flagged", id="abuse-status"),
        pytest.param({"type": "video"}, "video", id="type-video"),
        pytest.param({"type": "audio"}, "audio", id="type-audio"),
        pytest.param({"type": "document"}, "log", id="type-document"),
        pytest.param({"project__id__exact": "{project}"}, "other-project", id="project"),
        pytest.param({"mode__exact": "test"}, "test", id="mode"),
        pytest.param({"folder": "reports"}, "in-folder", id="folder"),
        pytest.param({"q": "wallhack-clip"}, "video", id="search-name"),
        pytest.param({"q": "{sha256}"}, "log", id="search-sha256"),
        pytest.param({"q": "{sha256_upper}"}, "log", id="search-sha256-any-case"),
        pytest.param({"q": "{id}"}, "audio", id="search-id"),
    ],
)
def test_queue_filters_and_search(admin_client: Client, params: dict[str, str], expected: str) -> None:
    project = ProjectFactory()
    files = {
        "flagged": FileFactory(project=project),
        "video": FileFactory(project=project, original_name="wallhack-clip.mp4", content=MP4),
        "audio": FileFactory(project=project, original_name="voice.wav", content=wav()),
        "log": FileFactory(project=project, original_name="server.log", content=b"kicked player\n"),
        "other-project": FileFactory(),
        "test": FileFactory(project=project, mode=Mode.TEST),
        "in-folder": FileFactory(project=project, folder="reports"),
    }
    File.objects.filter(pk=files["flagged"].pk).update(abuse_status=AbuseStatus.FLAGGED)
    values = {
        "project": files["other-project"].project_id,
        "sha256": files["log"].sha256,
        "sha256_upper": files["log"].sha256.upper(),
        "id": files["audio"].pk,
    }
    query = {key: value.format(**values) for key, value in params.items()}
    if "project__id__exact" not in query and "q" not in query:
        query["project__id__exact"] = project.pk

    assert listed(admin_client, **query) == [files[expected].pk]


# Bulk actions


@pytest.mark.parametrize(
    ("action", "status"),
    [
        pytest.param("mark_clean", AbuseStatus.CLEAN, id="clean"),
        pytest.param("mark_flagged", AbuseStatus.FLAGGED, id="flagged"),
        pytest.param("mark_blocked", AbuseStatus.BLOCKED, id="blocked"),
    ],
)
def test_bulk_action_marks_the_selected_files(admin_client: Client, action: str, status: AbuseStatus) -> None:
    selected = [FileFactory(), FileFactory()]
    File.objects.filter(pk=selected[0].pk).update(abuse_status=AbuseStatus.PENDING)
    File.objects.filter(pk=selected[1].pk).update(abuse_status=AbuseStatus.PENDING)
    kept = FileFactory()
    File.objects.filter(pk=kept.pk).update(abuse_status=AbuseStatus.PENDING)

    r = admin_client.post(CHANGELIST, {"action": action, "_selected_action": [f.pk for f in selected]}, follow=True)

    assert r.status_code == 200, r.content
    assert f"Marked 2 file(s) {status.label.lower()}." in [str(m) for m in r.context["messages"]]
    for file in selected:
        stored = File.objects.get(pk=file.pk)
        assert stored.abuse_status == status
        assert stored.updated_at > file.updated_at
        entry = LogEntry.objects.get(object_id=file.pk)
        assert json.loads(entry.change_message) == [{"changed": {"fields": ["Abuse status"]}}]
    assert File.objects.get(pk=kept.pk).abuse_status == AbuseStatus.PENDING


def test_blocking_stops_the_public_url_but_not_the_staff_views(admin_client: Client, client: Client) -> None:
    file = FileFactory(visibility="public")
    public = file_url(file, request=None).split("8000", 1)[-1]
    assert client.get(public).status_code == 200

    admin_client.post(CHANGELIST, {"action": "mark_blocked", "_selected_action": [file.pk]})

    assert client.get(public).status_code == 404
    page = admin_client.get(reverse("admin:media_file_change", args=[file.pk])).content.decode()
    staff_link = page.split('class="file-open-link"')[0].rsplit('href="', 1)[1].split('"', 1)[0].replace("&amp;", "&")
    assert "staff=1" in staff_link
    assert client.get(staff_link).status_code == 200  # a staff-signed link: only ever on admin pages
    thumbnail = admin_client.get(reverse("admin:media_file_thumbnail", args=[file.pk]))
    assert (thumbnail.status_code, thumbnail["Content-Type"]) == (200, "image/webp")


# A file's page


def test_file_page_shows_the_image_and_where_it_is_evidence(admin_client: Client) -> None:
    case = CaseFactory()
    file = attach_file(case=case).file

    body = admin_client.get(reverse("admin:media_file_change", args=[file.pk])).content.decode()

    assert 'class="file-thumbnail file-thumbnail-large"' in body
    assert f'href="{reverse("admin:cases_case_change", args=[case.pk])}"' in body
    for fact in (file.sha256, file.key, file.pk):
        assert fact in body


@pytest.mark.parametrize(
    ("name", "content", "element"),
    [
        pytest.param("clip.mp4", MP4, "<video controls", id="video"),
        pytest.param("voice.wav", wav(), "<audio controls", id="audio"),
    ],
)
def test_file_page_plays_video_and_audio_inline(admin_client: Client, name: str, content: bytes, element: str) -> None:
    file = FileFactory(original_name=name, content=content)

    body = admin_client.get(reverse("admin:media_file_change", args=[file.pk])).content.decode()

    assert f'{element} preload="metadata" class="file-player" src="/media/{file.key}?expires=' in body


def test_case_page_plays_its_video_evidence(admin_client: Client) -> None:
    case = CaseFactory()
    attach_file(case=case, original_name="clip.mp4", content=io.BytesIO(MP4))

    body = admin_client.get(reverse("admin:cases_case_change", args=[case.pk])).content.decode()

    assert '<video controls preload="metadata" class="file-player"' in body


def test_file_page_saves_through_the_service(admin_client: Client) -> None:
    file = FileFactory(tags=["screenshot"])
    url = reverse("admin:media_file_change", args=[file.pk])

    r = admin_client.post(
        url, {"abuse_status": "flagged", "visibility": "public", "tags": "aimbot, clip", "folder": "reports"}
    )

    assert r.status_code == 302, r.content
    stored = File.objects.get(pk=file.pk)
    assert (stored.abuse_status, stored.visibility, stored.tags, stored.folder) == (
        "flagged",
        "public",
        ["aimbot", "clip"],
        "reports",
    )


@pytest.mark.parametrize(
    ("field", "value"),
    [
        pytest.param("tags", "bad\ttag", id="tag-control-character"),
        pytest.param("tags", ", ".join(f"t{n}" for n in range(100)), id="too-many-tags"),
        pytest.param("folder", "a\x01b", id="folder-control-character"),
        pytest.param("abuse_status", "deleted", id="unknown-status"),
    ],
)
def test_file_page_refuses_what_the_api_refuses(admin_client: Client, field: str, value: str) -> None:
    file = FileFactory()
    data = {"abuse_status": "clean", "visibility": "private", "tags": "", "folder": "", field: value}

    r = admin_client.post(reverse("admin:media_file_change", args=[file.pk]), data)

    assert r.status_code == 200, r.content
    assert field in r.context["adminform"].form.errors
    assert File.objects.get(pk=file.pk).updated_at == file.updated_at


def test_files_are_neither_added_nor_deleted_in_the_admin(admin_client: Client) -> None:
    file = attach_file(case=CaseFactory()).file

    assert admin_client.get(reverse("admin:media_file_add")).status_code == 403
    assert admin_client.post(reverse("admin:media_file_delete", args=[file.pk]), {"post": "yes"}).status_code == 403
    assert File.objects.filter(pk=file.pk).exists()
    assert Attachment.objects.filter(file=file).exists()


# Who may


def test_moderator_reviews_files(moderator_client: Client) -> None:
    file = FileFactory()

    assert moderator_client.get(CHANGELIST).status_code == 200
    assert moderator_client.get(reverse("admin:media_file_thumbnail", args=[file.pk])).status_code == 200
    moderator_client.post(CHANGELIST, {"action": "mark_flagged", "_selected_action": [file.pk]})

    assert File.objects.get(pk=file.pk).abuse_status == AbuseStatus.FLAGGED


def test_staff_without_file_permissions_sees_no_file_or_thumbnail(client: Client, django_user_model: Any) -> None:
    file = FileFactory()
    client.force_login(django_user_model.objects.create_user("outsider", password="pw", is_staff=True))

    assert client.get(CHANGELIST).status_code == 403
    assert client.get(reverse("admin:media_file_thumbnail", args=[file.pk])).status_code == 404


def test_thumbnail_of_an_unknown_file_is_not_found(admin_client: Client) -> None:
    assert admin_client.get(reverse("admin:media_file_thumbnail", args=["f_" + "0" * 26])).status_code == 404


def test_thumbnail_view_serves_a_webp_no_larger_than_320(admin_client: Client) -> None:
    big = io.BytesIO()
    Image.new("RGB", (1920, 1080), (10, 120, 200)).save(big, format="PNG")
    file = FileFactory(content=big.getvalue())

    r = admin_client.get(reverse("admin:media_file_thumbnail", args=[file.pk]))

    assert r["Content-Type"] == "image/webp"
    with Image.open(io.BytesIO(r.content)) as image:
        assert image.size == (320, 180)


# The review record: who judged each file and when, apart from abuse_status


def _listed(client: Client, **params: str) -> list[str]:
    r = client.get(CHANGELIST, params)
    assert r.status_code == 200, r.content
    return sorted(file.pk for file in r.context["cl"].result_list)


def test_a_mark_records_the_reviewer_even_when_the_status_stays(moderator_client: Client) -> None:
    moderator = User.objects.get(username="moderator")
    looked_at, waiting = FileFactory(), FileFactory()
    assert (looked_at.abuse_status, looked_at.reviewed_at, looked_at.reviewed_by) == ("clean", None, None)
    assert _listed(moderator_client, reviewed="no") == sorted([looked_at.pk, waiting.pk])

    r = moderator_client.post(CHANGELIST, {"action": "mark_clean", "_selected_action": [looked_at.pk]}, follow=True)

    assert r.status_code == 200, r.content
    stored = File.objects.get(pk=looked_at.pk)
    assert stored.reviewed_by == moderator
    assert stored.reviewed_at is not None and stored.reviewed_at > looked_at.created_at
    # abuse_status keeps its meaning, and the API's File (updated_at, the case ETag) is untouched.
    assert (stored.abuse_status, stored.updated_at) == ("clean", looked_at.updated_at)
    assert File.objects.get(pk=waiting.pk).reviewed_at is None
    assert _listed(moderator_client, reviewed="no") == [waiting.pk]
    assert _listed(moderator_client, reviewed="yes") == [looked_at.pk]
    assert _listed(moderator_client) == sorted([looked_at.pk, waiting.pk])


def test_saving_a_files_page_records_the_reviewer(admin_client: Client, admin_user: User) -> None:
    file = FileFactory()
    url = reverse("admin:media_file_change", args=[file.pk])

    r = admin_client.post(url, {"abuse_status": "flagged", "visibility": "private", "tags": "", "folder": ""})

    assert r.status_code == 302, r.content
    stored = File.objects.get(pk=file.pk)
    assert (stored.abuse_status, stored.reviewed_by) == ("flagged", admin_user)
    page = admin_client.get(url).content.decode()
    assert "Review" in page and admin_user.username in page


def test_the_latest_review_wins(moderator_client: Client, admin_client: Client, admin_user: User) -> None:
    file = FileFactory()
    moderator_client.post(CHANGELIST, {"action": "mark_flagged", "_selected_action": [file.pk]})
    first = File.objects.get(pk=file.pk).reviewed_at

    admin_client.post(CHANGELIST, {"action": "mark_blocked", "_selected_action": [file.pk]})

    stored = File.objects.get(pk=file.pk)
    assert (stored.abuse_status, stored.reviewed_by) == ("blocked", admin_user)
    assert first is not None and stored.reviewed_at is not None and stored.reviewed_at >= first
