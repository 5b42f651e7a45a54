"""The case workbench in the admin (docs/operations.md, "The queue"): the queue and its filters,
the claim action, notes, assignee choices, the chain's state and the signed export."""

from __future__ import annotations

import io
import json
import zipfile
from datetime import timedelta
from typing import Any

import pytest
from django.contrib.admin.utils import quote
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from cases.models import Case, CaseEvent, Note, Status
from cases.services import Actor, case_update, note_create
from tests.admin.conftest import untouched_form_data
from tests.factories import CaseFactory, MemberFactory, ProjectFactory, StaffFactory
from tokens.models import Member, Role

pytestmark = pytest.mark.django_db

CHANGELIST = reverse("admin:cases_case_changelist")


def change_url(case: Case) -> str:
    return reverse("admin:cases_case_change", args=[case.pk])


def aged(case: Case, days: int) -> Case:
    past = timezone.now() - timedelta(days=days)
    Case.objects.filter(pk=case.pk).update(created_at=past, updated_at=past)
    return Case.objects.get(pk=case.pk)


def staff_member(organisation: Any, role: Role = Role.MODERATOR, **names: Any) -> Member:
    """A staff user who is a member of ``organisation`` with ``role`` (roles alone give access)."""
    user = StaffFactory(**names)
    return MemberFactory(organisation=organisation, user=user, role=role)


def logged_in(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def listed(response: Any) -> list[str]:
    assert response.status_code == 200, response.content[:500]
    return [case.pk for case in response.context["cl"].result_list]


# The queue


def test_queue_opens_on_open_cases_most_urgent_then_oldest(admin_client: Client) -> None:
    project = ProjectFactory()
    normal_old = aged(CaseFactory(project=project), days=3)
    urgent_new = aged(CaseFactory(project=project, priority="urgent"), days=1)
    urgent_old = aged(CaseFactory(project=project, priority="urgent"), days=2)
    low = aged(CaseFactory(project=project, priority="low"), days=9)
    high = CaseFactory(project=project, priority="high")
    CaseFactory(project=project, priority="urgent", status=Status.CLOSED)

    assert listed(admin_client.get(CHANGELIST)) == [urgent_old.pk, urgent_new.pk, high.pk, normal_old.pk, low.pk]


def test_queue_filter_can_be_cleared(admin_client: Client) -> None:
    open_case = CaseFactory()
    closed = CaseFactory(status=Status.CLOSED)

    r = admin_client.get(CHANGELIST, {"status": "all"})

    assert set(listed(r)) == {open_case.pk, closed.pk}
    assert listed(admin_client.get(CHANGELIST, {"status": "closed"})) == [closed.pk]
    body = admin_client.get(CHANGELIST).content.decode()
    assert "?status=all" in body


def test_queue_filters_mine_unassigned_priority_and_label(client: Client) -> None:
    project = ProjectFactory()
    me = staff_member(project.organisation)
    colleague = staff_member(project.organisation)
    mine = CaseFactory(project=project, assignee=me.pk, labels=["cheating"])
    theirs = CaseFactory(project=project, assignee=colleague.pk, priority="high", labels=["spam", "Cheating"])
    nobodys = CaseFactory(project=project, priority="high")
    client.force_login(me.user)

    assert listed(client.get(CHANGELIST, {"assignee": "me"})) == [mine.pk]
    assert listed(client.get(CHANGELIST, {"assignee": "none"})) == [nobodys.pk]
    assert set(listed(client.get(CHANGELIST, {"priority__exact": "high"}))) == {theirs.pk, nobodys.pk}
    assert listed(client.get(CHANGELIST, {"label": "cheating"})) == [mine.pk]
    assert listed(client.get(CHANGELIST, {"label": "spam"})) == [theirs.pk]
    changelist = client.get(CHANGELIST).context["cl"]
    (labels,) = [spec for spec in changelist.filter_specs if spec.title == "label"]
    # "All", then the labels of the cases the user may see, most used first.
    assert [choice["display"] for choice in labels.choices(changelist)] == ["All", "Cheating", "cheating", "spam"]


def test_queue_shows_priority_and_assignee_columns(admin_client: Client) -> None:
    project = ProjectFactory()
    member = staff_member(project.organisation, first_name="Ada", last_name="Moss")
    CaseFactory(project=project, assignee=member.pk, priority="urgent")

    r = admin_client.get(CHANGELIST)

    body = r.content.decode()
    assert '<span class="case-priority case-priority-urgent">Urgent</span>' in body
    assert '<span class="case-assignee">→ Ada Moss</span>' in body
    headers = [h["text"] for h in r.context["result_headers"]][1:]
    assert headers == ["id", "title", "priority", "status", "project", "files", "updated"]


def test_queue_query_count_is_pinned(admin_client: Client, django_assert_num_queries: Any) -> None:
    project = ProjectFactory()
    members = [staff_member(project.organisation) for _ in range(3)]
    for n in range(30):
        CaseFactory(project=project, assignee=members[n % 3].pk, labels=[f"l{n % 4}", "x"], priority="high")
    admin_client.get(CHANGELIST)

    # session; user; the label filter's choices; the project filter's choices; the filtered and
    # the whole count; the page, its projects, organisations and assignees' users joined; the
    # date hierarchy's range and its days. Whatever the number of cases, assignees and labels.
    with django_assert_num_queries(9) as captured:
        r = admin_client.get(CHANGELIST)
    assert len(listed(r)) == 30
    sql = [q["sql"] for q in captured.captured_queries]
    assert not [q for q in sql if 'FROM "tokens_member"' in q or 'FROM "auth_user" WHERE "auth_user"."id" IN' in q]


# Claim


def test_claim_assigns_only_cases_nobody_holds(client: Client) -> None:
    project = ProjectFactory()
    me = staff_member(project.organisation, first_name="Me")
    colleague = staff_member(project.organisation, first_name="Colleague")
    free = CaseFactory(project=project)
    held = CaseFactory(project=project, assignee=colleague.pk)
    client.force_login(me.user)

    r = client.post(CHANGELIST, {"action": "claim_cases", "_selected_action": [free.pk, held.pk]}, follow=True)

    assert r.status_code == 200
    assert Case.objects.get(pk=free.pk).assignee_id == me.pk
    assert Case.objects.get(pk=held.pk).assignee_id == colleague.pk
    shown = [str(message) for message in r.context["messages"]]
    assert "Claimed 1 case(s)." in shown
    assert f"Already assigned, left as they are: {held.pk} (Colleague)." in shown
    event = CaseEvent.objects.filter(case_id=free.pk).order_by("-created_at").first()
    assert event is not None
    assert event.changes == {"assignee": {"from": None, "to": me.pk}}
    assert (event.actor_type, event.actor_id) == ("staff", str(me.user.pk))


def test_claim_by_a_non_member_takes_nothing(admin_client: Client) -> None:
    case = CaseFactory()
    before = list(CaseEvent.objects.values_list("pk", flat=True))

    r = admin_client.post(CHANGELIST, {"action": "claim_cases", "_selected_action": [case.pk]}, follow=True)

    assert Case.objects.get(pk=case.pk).assignee_id is None
    assert list(CaseEvent.objects.values_list("pk", flat=True)) == before
    assert any("not a moderator of the organisation" in str(m) for m in r.context["messages"])


def test_claim_by_a_viewer_takes_nothing(client: Client) -> None:
    project = ProjectFactory()
    viewer = staff_member(project.organisation, role=Role.VIEWER)
    case = CaseFactory(project=project)
    client.force_login(viewer.user)

    client.post(CHANGELIST, {"action": "claim_cases", "_selected_action": [case.pk]})

    assert Case.objects.get(pk=case.pk).assignee_id is None


# The case page


def test_case_page_writes_and_shows_notes_append_only(client: Client) -> None:
    project = ProjectFactory()
    me = staff_member(project.organisation, first_name="Ada")
    case = CaseFactory(project=project)
    client.force_login(me.user)
    data = untouched_form_data(client.get(change_url(case)))
    data["new_note"] = "Demo reviewed:\r\naimbot confirmed."

    r = client.post(change_url(case), data)

    assert r.status_code == 302, r.content[:2000]
    note = Note.objects.get(case=case)
    assert note.body == "Demo reviewed:\naimbot confirmed."
    assert (note.author_type, note.author_name) == ("staff", me.user.username)
    page = client.get(change_url(case)).content.decode()
    assert "Demo reviewed:<br>aimbot confirmed." in page
    # Shown, never editable: no form field carries a note.
    form = client.get(change_url(case)).context["adminform"].form
    assert "notes" not in form.fields and form["new_note"].value() in (None, "")
    # Saving again without a new note writes no other note.
    client.post(change_url(case), untouched_form_data(client.get(change_url(case))))
    assert Note.objects.filter(case=case).count() == 1


@pytest.mark.parametrize(
    "text",
    [pytest.param("x" * 5_001, id="over-5000"), pytest.param("a\u0000b", id="nul"), pytest.param("a\x1bb", id="esc")],
)
def test_case_page_refuses_a_bad_note(admin_client: Client, text: str) -> None:
    case = CaseFactory()
    data = untouched_form_data(admin_client.get(change_url(case)))
    data["new_note"] = text

    r = admin_client.post(change_url(case), data)

    assert r.status_code == 200
    assert "new_note" in r.context["adminform"].form.errors
    assert not Note.objects.exists()


def test_assignee_choices_are_the_moderators_of_the_case_organisation(admin_client: Client) -> None:
    project = ProjectFactory()
    moderator = staff_member(project.organisation, first_name="Mo")
    owner = staff_member(project.organisation, role=Role.OWNER, first_name="Ow")
    staff_member(project.organisation, role=Role.VIEWER, first_name="Vi")
    staff_member(ProjectFactory().organisation, first_name="Other")
    case = CaseFactory(project=project)

    form = admin_client.get(change_url(case)).context["adminform"].form

    choices = {str(value): label for value, label in form.fields["assignee"].choices if value}
    assert choices == {moderator.pk: "Mo (moderator)", owner.pk: "Ow (owner)"}


def test_forged_assignee_from_another_organisation_is_refused(admin_client: Client) -> None:
    case = CaseFactory()
    outsider = staff_member(ProjectFactory().organisation)
    data = untouched_form_data(admin_client.get(change_url(case)))
    data["assignee"] = outsider.pk

    r = admin_client.post(change_url(case), data)

    assert r.status_code == 200
    assert "assignee" in r.context["adminform"].form.errors
    assert Case.objects.get(pk=case.pk).assignee_id is None


def test_history_shows_who_assigned_reprioritised_and_noted_what(client: Client) -> None:
    project = ProjectFactory()
    me = staff_member(project.organisation, first_name="Ada", last_name="Moss")
    colleague = staff_member(project.organisation, first_name="Bo")
    case = CaseFactory(project=project)
    client.force_login(me.user)
    data = untouched_form_data(client.get(change_url(case)))
    data.update(assignee=colleague.pk, priority="urgent", labels="evidence review, cheating", new_note="Over to Bo")
    assert client.post(change_url(case), data).status_code == 302

    page = client.get(change_url(case)).content.decode()

    assert f"<b>assignee</b>: – → Bo ({colleague.pk})" in page
    assert "<b>priority</b>: normal → urgent" in page
    assert "<b>labels</b>: – → evidence review, cheating" in page
    assert "<b>note</b>: – → “Over to Bo”" in page
    stored = Case.objects.get(pk=case.pk)
    assert (stored.assignee_id, stored.priority, stored.labels) == (
        colleague.pk,
        "urgent",
        ["evidence review", "cheating"],
    )


def test_case_page_refuses_labels_the_api_refuses(admin_client: Client) -> None:
    case = CaseFactory()
    data = untouched_form_data(admin_client.get(change_url(case)))
    data["labels"] = "Spam, spam"

    r = admin_client.post(change_url(case), data)

    assert r.status_code == 200
    assert "labels" in r.context["adminform"].form.errors
    assert Case.objects.get(pk=case.pk).labels == []


def test_case_page_shows_the_chain_verified_or_where_it_breaks(admin_client: Client) -> None:
    case = CaseFactory()
    note_create(case_id=case.pk, body="x", actor=Actor.system("tests"))

    assert 'chain-verified">verified</span> (2 events)' in admin_client.get(change_url(case)).content.decode()

    first = CaseEvent.objects.filter(case=case).order_by("created_at", "id").first()
    assert first is not None
    CaseEvent.objects.filter(pk=first.pk).update(actor_name="someone else")
    page = admin_client.get(change_url(case)).content.decode()
    assert f'chain-broken">broken at event 1 ({first.pk})</span>' in page


def test_export_button_downloads_the_signed_bundle(admin_client: Client) -> None:
    case = CaseFactory()
    note_create(case_id=case.pk, body="for the export", actor=Actor.system("tests"))
    page = admin_client.get(change_url(case)).content.decode()
    url = reverse("admin:cases_case_export", args=[quote(case.pk)])
    assert f'href="{url}" class="export-link"' in page

    r = admin_client.get(url)

    assert r.status_code == 200
    assert r["Content-Disposition"] == f'attachment; filename="{case.pk}.zip"'
    bundle = zipfile.ZipFile(io.BytesIO(b"".join(r.streaming_content)))
    assert [note["body"] for note in json.loads(bundle.read("notes.json"))] == ["for the export"]
    assert json.loads(bundle.read("manifest.json"))["events_head"] == Case.objects.get(pk=case.pk).history_head


def test_export_button_needs_permission_to_view_the_case(client: Client) -> None:
    case = CaseFactory()
    client.force_login(StaffFactory())

    assert client.get(reverse("admin:cases_case_export", args=[case.pk])).status_code in {403, 404}


def test_case_page_query_count_is_pinned(admin_client: Client, django_assert_num_queries: Any) -> None:
    project = ProjectFactory()
    members = [staff_member(project.organisation) for _ in range(6)]
    case = CaseFactory(project=project, labels=["a", "b"])

    def work(times: int) -> None:
        for n in range(times):
            note_create(case_id=case.pk, body=f"note {n}", actor=Actor.system("tests"))
            case_update(case_id=case.pk, changes={"assignee": members[n].pk}, actor=Actor.system("tests"))

    def page_queries() -> list[str]:
        admin_client.get(change_url(case))
        # session; user; the case; its project and organisation; subjects; files; the assignee
        # choices; the notes; the chain's events; the history's events; the names of the members
        # and the notes the history names (one query each, whatever their number).
        with django_assert_num_queries(13) as captured:
            r = admin_client.get(change_url(case))
        assert r.status_code == 200
        return [q["sql"] for q in captured.captured_queries]

    work(1)
    page_queries()
    work(5)
    sql = page_queries()
    assert sum('FROM "cases_note"' in q for q in sql) == 2, sql
    assert sum('FROM "tokens_member"' in q for q in sql) == 2, sql
