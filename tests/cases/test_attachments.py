"""Evidence on cases (docs/api.md#files-and-evidence): ``attachments`` is the whole list of file
ids, on create and on PATCH."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from cases.models import Attachment, Case, CaseEvent
from tests.factories import CaseFactory, FileFactory, ProjectFactory, TokenFactory
from tokens.models import Mode, Project

pytestmark = pytest.mark.django_db


@pytest.fixture
def token(project: Project):  # type: ignore[no-untyped-def]
    return TokenFactory(project=project, scopes=["cases:read", "cases:write", "media:read", "media:write"])


def _listed(body: dict) -> list[str]:
    return [file["id"] for file in body["attachments"]]


def _state(case: Case) -> tuple:
    case.refresh_from_db()
    return (
        case.updated_at,
        list(case.attachments.values_list("file_id", flat=True)),
        CaseEvent.objects.filter(case=case).count(),
    )


def _aged(case: Case) -> Case:
    Case.objects.filter(pk=case.pk).update(updated_at=timezone.now() - timedelta(days=1))
    case.refresh_from_db()
    return case


def test_create_with_attachments_lists_them_in_the_order_sent(call, project) -> None:
    files = [FileFactory(project=project) for _ in range(3)]
    order = [files[2].id, files[0].id, files[1].id]

    r = call("POST", "/v1/cases", json_body={"title": "Aimbot", "attachments": order})

    assert r.status_code == 201, r.content
    assert _listed(r.json()) == order
    assert r.json()["attachments"][0]["sha256"] == files[2].sha256
    event = CaseEvent.objects.get(case_id=r.json()["id"])
    assert event.changes["attachments"] == {"from": None, "to": order}
    links = Attachment.objects.filter(case_id=r.json()["id"]).order_by("position")
    assert [(link.file_id, link.attached_by_type) for link in links] == [(file_id, "token") for file_id in order]


def test_patch_replaces_the_list_and_records_it(call, project) -> None:
    a, b, c = (FileFactory(project=project) for _ in range(3))
    case = _aged(CaseFactory(project=project, attachments=[a.id, b.id]))
    etag = call("GET", f"/v1/cases/{case.id}")["ETag"]

    r = call("PATCH", f"/v1/cases/{case.id}", json_body={"attachments": [c.id, a.id]})

    assert r.status_code == 200, r.content
    assert _listed(r.json()) == [c.id, a.id]
    assert _listed(call("GET", f"/v1/cases/{case.id}").json()) == [c.id, a.id]
    assert r["ETag"] != etag
    case.refresh_from_db()
    assert case.updated_at > timezone.now() - timedelta(minutes=1)
    event = CaseEvent.objects.filter(case=case).latest("created_at")
    assert event.changes == {"attachments": {"from": [a.id, b.id], "to": [c.id, a.id]}}


def test_reordering_alone_is_a_change(call, project) -> None:
    a, b = FileFactory(project=project), FileFactory(project=project)
    case = _aged(CaseFactory(project=project, attachments=[a.id, b.id]))

    r = call("PATCH", f"/v1/cases/{case.id}", json_body={"attachments": [b.id, a.id]})

    assert _listed(r.json()) == [b.id, a.id]
    assert _state(case)[0] > timezone.now() - timedelta(minutes=1)


def test_an_empty_list_detaches_every_file_and_keeps_the_files(call, project) -> None:
    file = FileFactory(project=project)
    case = CaseFactory(project=project, attachments=[file.id])

    r = call("PATCH", f"/v1/cases/{case.id}", json_body={"attachments": []})

    assert r.status_code == 200, r.content
    assert r.json()["attachments"] == []
    assert call("GET", f"/v1/media/{file.id}").status_code == 200


def test_the_same_list_again_changes_nothing(call, project) -> None:
    file = FileFactory(project=project)
    case = _aged(CaseFactory(project=project, attachments=[file.id]))
    before = _state(case)

    r = call("PATCH", f"/v1/cases/{case.id}", json_body={"attachments": [file.id]})

    assert r.status_code == 200, r.content
    assert _state(case) == before


def test_one_file_may_be_evidence_in_several_cases(call, project) -> None:
    file = FileFactory(project=project)
    first = call("POST", "/v1/cases", json_body={"title": "Report 1", "attachments": [file.id]}).json()
    second = call("POST", "/v1/cases", json_body={"title": "Report 2", "attachments": [file.id]}).json()

    assert _listed(first) == _listed(second) == [file.id]
    assert Attachment.objects.filter(file=file).count() == 2


def test_a_change_to_a_listed_file_changes_the_cases_etag(call, project) -> None:
    from media.services import file_update

    file = FileFactory(project=project)
    case = CaseFactory(project=project, attachments=[file.id])
    etag = call("GET", f"/v1/cases/{case.id}")["ETag"]

    file_update(file_id=file.id, changes={"abuse_status": "flagged"})

    r = call("GET", f"/v1/cases/{case.id}")
    assert r["ETag"] != etag
    assert r.json()["attachments"][0]["abuse_status"] == "flagged"


def test_attachments_and_other_fields_in_one_patch_are_one_event(call, project) -> None:
    file = FileFactory(project=project)
    case = CaseFactory(project=project)

    r = call("PATCH", f"/v1/cases/{case.id}", json_body={"status": "closed", "attachments": [file.id]})

    assert r.status_code == 200, r.content
    event = CaseEvent.objects.filter(case=case).latest("created_at")
    assert set(event.changes) == {"status", "attachments"}


UNKNOWN = "f_01JD3Z8W6V4M2Q9T7K5X1B0N3R"


def _bad_lists(project: Project) -> dict[str, tuple[object, str | None]]:
    """Each bad ``attachments`` value, with the id the message must name (if any)."""
    own = [FileFactory(project=project) for _ in range(21)]
    other_project = FileFactory(project=ProjectFactory())
    other_mode = FileFactory(project=project, mode=Mode.TEST)
    return {
        "other-project": ([own[0].id, other_project.id], other_project.id),
        "other-mode": ([other_mode.id], other_mode.id),
        "unknown-id": ([UNKNOWN], UNKNOWN),
        "malformed-id": (["f_../../etc"], "f_../../etc"),
        "case-id": (["c_01JD3Z8W6V4M2Q9T7K5X1B0N3R"], "c_01JD3Z8W6V4M2Q9T7K5X1B0N3R"),
        "lowercase-id": ([own[0].id.lower()], own[0].id.lower()),
        "repeat": ([own[0].id, own[1].id, own[0].id], own[0].id),
        "21-ids": ([f.id for f in own], None),
        "not-a-list": (own[0].id, None),
        "object": ({"id": own[0].id}, None),
        "null": (None, None),
        "number-in-list": ([1], None),
        "null-in-list": ([None], None),
        "nested-list": ([[own[0].id]], None),
    }


BAD_LIST_IDS = [
    "other-project",
    "other-mode",
    "unknown-id",
    "malformed-id",
    "case-id",
    "lowercase-id",
    "repeat",
    "21-ids",
    "not-a-list",
    "object",
    "null",
    "number-in-list",
    "null-in-list",
    "nested-list",
]


@pytest.mark.parametrize("which", BAD_LIST_IDS)
def test_a_bad_list_on_patch_is_400_naming_attachments_and_changes_nothing(call, project, which) -> None:
    value, named = _bad_lists(project)[which]
    kept = FileFactory(project=project)
    case = _aged(CaseFactory(project=project, attachments=[kept.id]))
    before = _state(case)

    r = call("PATCH", f"/v1/cases/{case.id}", json_body={"attachments": value, "status": "closed"})

    assert r.status_code == 400, r.content
    assert r.json()["error"]["param"] == "attachments"
    if named is not None:
        assert named in r.json()["error"]["message"]
    assert _state(case) == before
    assert Case.objects.get(pk=case.pk).status == "open"


@pytest.mark.parametrize("which", BAD_LIST_IDS)
def test_a_bad_list_on_create_is_400_and_creates_nothing(call, project, which) -> None:
    value, named = _bad_lists(project)[which]
    before = (Case.objects.count(), Attachment.objects.count(), CaseEvent.objects.count())

    r = call("POST", "/v1/cases", json_body={"title": "Aimbot", "attachments": value})

    assert r.status_code == 400, r.content
    assert r.json()["error"]["param"] == "attachments"
    if named is not None:
        assert named in r.json()["error"]["message"]
    assert (Case.objects.count(), Attachment.objects.count(), CaseEvent.objects.count()) == before


def test_not_found_names_the_file_as_the_contract_says(call, project) -> None:
    r = call("POST", "/v1/cases", json_body={"title": "t", "attachments": [UNKNOWN]})

    assert r.json()["error"]["message"] == f"attachments: file {UNKNOWN} not found"


def test_twenty_files_is_the_limit_and_is_allowed(call, project) -> None:
    files = [FileFactory(project=project).id for _ in range(20)]

    r = call("POST", "/v1/cases", json_body={"title": "t", "attachments": files})

    assert r.status_code == 201, r.content
    assert _listed(r.json()) == files


def test_list_of_cases_with_files_stays_two_queries(call, project, token, django_assert_num_queries) -> None:
    from tokens.models import ScopedToken

    ScopedToken.objects.filter(pk=token.pk).update(last_used_at=timezone.now())
    for _ in range(5):
        CaseFactory(project=project, attachments=[FileFactory(project=project).id for _ in range(3)])
    # token; the page of cases with the files and the subjects of the whole page
    with django_assert_num_queries(2):
        r = call("GET", "/v1/cases")
    assert all(len(c["attachments"]) == 3 for c in r.json()["cases"])
