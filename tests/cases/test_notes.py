"""Notes (docs/api.md#notes): the team's append-only record on a case, each also a chained case event."""

from __future__ import annotations

import io
import json
import zipfile
from typing import Any

import pytest

from cases import chain
from cases.models import Case, CaseEvent, Note
from tests.factories import CaseFactory, ProjectFactory, TokenFactory

pytestmark = pytest.mark.django_db


def _database() -> tuple[Any, ...]:
    return (
        list(Case.objects.order_by("pk").values()),
        list(CaseEvent.objects.order_by("pk").values()),
        list(Note.objects.order_by("pk").values()),
    )


def test_note_is_created_with_its_event_in_the_chain(call, case, token) -> None:
    r = call("POST", f"/v1/cases/{case.pk}/notes", json_body={"body": "Checked the demo.\nStill unsure."})

    assert r.status_code == 201, r.content
    note = r.json()
    assert set(note) == {"id", "body", "author", "created_at"}
    assert note["id"].startswith("nt_")
    assert note["body"] == "Checked the demo.\nStill unsure."
    assert note["author"] == {"type": "token", "id": token.pk, "name": token.name}
    events = call("GET", f"/v1/cases/{case.pk}/events").json()["events"]
    assert events[-1]["changes"] == {"note": {"from": None, "to": note["id"]}}
    assert events[-1]["created_at"] == note["created_at"]
    stored = Case.objects.get(pk=case.pk)
    assert stored.history_head == events[-1]["hash"]
    assert chain.verify(case.pk, stored.history_head, CaseEvent.objects.filter(case=case))[1] is None


def test_notes_list_oldest_first_and_pages(call, case) -> None:
    made = [call("POST", f"/v1/cases/{case.pk}/notes", json_body={"body": f"note {n}"}).json() for n in range(5)]
    seen: list[dict[str, Any]] = []
    url = f"/v1/cases/{case.pk}/notes?limit=2"
    while True:
        r = call("GET", url)
        assert r.status_code == 200, r.content
        body = r.json()
        assert set(body) == {"notes", "next_cursor", "has_more"}
        seen += body["notes"]
        if not body["has_more"]:
            assert body["next_cursor"] is None
            break
        url = f"/v1/cases/{case.pk}/notes?limit=2&cursor={body['next_cursor']}"
    assert seen == made


@pytest.mark.parametrize(
    "body",
    [
        pytest.param({"body": ""}, id="empty"),
        pytest.param({"body": "x" * 5_001}, id="over-5000"),
        pytest.param({"body": "a\u0000b"}, id="nul"),
        pytest.param({"body": "a\u001bb"}, id="escape"),
        pytest.param({"body": "a\u0085b"}, id="c1-control"),
        pytest.param({"body": None}, id="null"),
        pytest.param({"body": 5}, id="number"),
        pytest.param({"body": ["x"]}, id="list"),
        pytest.param({}, id="missing"),
        pytest.param({"body": "ok", "author": "me"}, id="read-only-key"),
        pytest.param({"body": "ok", "pinned": True}, id="unknown-key"),
    ],
)
def test_bad_note_is_refused_and_writes_nothing(call, case, body) -> None:
    before = _database()

    r = call("POST", f"/v1/cases/{case.pk}/notes", json_body=body)

    assert r.status_code == 400, r.content
    error = r.json()["error"]
    assert error["param"] in {"body", "author", "pinned"}, error
    assert _database() == before


def test_note_body_of_5000_characters_with_tabs_and_newlines_is_kept(call, case) -> None:
    text = ("a\tb\r\n" * 1_000)[:5_000]

    r = call("POST", f"/v1/cases/{case.pk}/notes", json_body={"body": text})

    assert r.status_code == 201, r.content
    assert Note.objects.get().body == text


def test_notes_of_another_project_are_not_found(call) -> None:
    other = CaseFactory(project=ProjectFactory())
    before = _database()

    assert call("GET", f"/v1/cases/{other.pk}/notes").status_code == 404
    assert call("POST", f"/v1/cases/{other.pk}/notes", json_body={"body": "x"}).status_code == 404
    assert call("POST", "/v1/cases/c_%00/notes", json_body={"body": "x"}).status_code == 404
    assert _database() == before


def test_notes_need_their_scopes(client, case) -> None:
    reader = TokenFactory(project=case.project, scopes=["cases:read"])
    headers = {"Authorization": f"Bearer {reader.plaintext}"}

    r = client.post(f"/v1/cases/{case.pk}/notes", {"body": "x"}, content_type="application/json", headers=headers)
    assert r.status_code == 403, r.content
    assert r["X-Accepted-Scopes"] == "cases:write"
    assert client.get(f"/v1/cases/{case.pk}/notes", headers=headers).status_code == 200
    assert not Note.objects.exists()


def test_notes_have_no_edit_or_delete(call, case) -> None:
    note = call("POST", f"/v1/cases/{case.pk}/notes", json_body={"body": "x"}).json()

    for method in ("PATCH", "PUT", "DELETE"):
        assert call(method, f"/v1/cases/{case.pk}/notes", json_body={"body": "y"}).status_code == 405
    assert call("GET", f"/v1/cases/{case.pk}/notes/{note['id']}").status_code == 404
    assert Note.objects.get().body == "x"


def test_export_bundle_carries_the_notes(call, case, project) -> None:
    exporter = TokenFactory(project=project, scopes=["cases:read", "media:read"])
    notes = [call("POST", f"/v1/cases/{case.pk}/notes", json_body={"body": f"n{n}"}).json() for n in range(2)]

    r = call("GET", f"/v1/cases/{case.pk}/export", auth=f"Bearer {exporter.plaintext}")

    assert r.status_code == 200
    bundle = zipfile.ZipFile(io.BytesIO(b"".join(r.streaming_content)))
    assert json.loads(bundle.read("notes.json")) == notes
    manifest = json.loads(bundle.read("manifest.json"))
    assert "notes.json" in [entry["path"] for entry in manifest["files"]]
