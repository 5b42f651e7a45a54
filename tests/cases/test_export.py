"""GET /v1/cases/{id}/export: a streamed, signed ZIP of the case (docs/api.md, "Evidence with a chain of custody")."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import zipfile
from typing import Any

import pytest
from cryptography.hazmat.primitives.serialization import load_pem_public_key
from django.core.files.storage import default_storage
from django.core.management import call_command

from cases import chain
from media.models import AbuseStatus, File
from tests.factories import CaseFactory, TokenFactory, attach_file

pytestmark = pytest.mark.django_db

EXPORT_SCOPES = ["cases:read", "media:read"]


@pytest.fixture
def exporter(project) -> Any:
    return TokenFactory(project=project, scopes=EXPORT_SCOPES)


def _bundle(call: Any, case_id: str, token: Any) -> zipfile.ZipFile:
    r = call("GET", f"/v1/cases/{case_id}/export", auth=f"Bearer {token.plaintext}")
    assert r.status_code == 200, r.content
    assert r["Content-Type"] == "application/zip"
    assert r.streaming
    return zipfile.ZipFile(io.BytesIO(b"".join(r.streaming_content)))


def test_export_is_a_signed_bundle_of_the_case_its_history_and_files(call, client, project, exporter) -> None:
    case = CaseFactory(project=project, title="Aimbot")
    attach_file(case=case)
    blocked = attach_file(case=case, content=io.BytesIO(b"chat log\n"), original_name="chat.txt").file
    File.objects.filter(pk=blocked.pk).update(abuse_status=AbuseStatus.BLOCKED)
    call("PATCH", f"/v1/cases/{case.pk}", json_body={"status": "closed"})

    bundle = _bundle(call, case.pk, exporter)

    manifest_bytes = bundle.read("manifest.json")
    key = client.get("/v1/export-key").json()
    public = load_pem_public_key(key["public_key"].encode())
    public.verify(base64.b64decode(bundle.read("manifest.sig")), manifest_bytes)  # type: ignore[union-attr]
    manifest = json.loads(manifest_bytes)
    listed = {entry["path"]: entry for entry in manifest["files"]}
    assert set(listed) == set(bundle.namelist()) - {"manifest.json", "manifest.sig"}
    for path, entry in listed.items():
        data = bundle.read(path)
        assert (hashlib.sha256(data).hexdigest(), len(data)) == (entry["sha256"], entry["size"])
    assert listed[f"files/{blocked.pk}/chat.txt"]["blocked"] is True
    assert bundle.read(f"files/{blocked.pk}/chat.txt") == b"chat log\n"
    events = json.loads(bundle.read("events.json"))
    assert len(events) == 4  # created, two files attached, closed
    assert chain.hash_of({k: v for k, v in events[-1].items() if k != "hash"} | {"case": case.pk}) == events[-1]["hash"]
    assert manifest["case"] == case.pk == json.loads(bundle.read("case.json"))["id"]
    assert manifest["events_head"] == events[-1]["hash"]
    assert json.loads(bundle.read("notes.json")) == []


def test_export_key_needs_no_token_and_is_stable(client) -> None:
    first = client.get("/v1/export-key")
    assert first.status_code == 200, first.content
    assert first.json()["kid"].startswith("ed25519:")
    assert client.get("/v1/export-key").json() == first.json()


def test_a_file_missing_from_storage_breaks_the_download_off_and_is_logged(call, project, exporter, caplog) -> None:
    case = CaseFactory(project=project)
    link = attach_file(case=case)
    default_storage.delete(link.file.blob.name)
    r = call("GET", f"/v1/cases/{case.pk}/export", auth=f"Bearer {exporter.plaintext}", HTTP_X_REQUEST_ID="req-lost")
    assert r.status_code == 200, r.content
    with pytest.raises(Exception, match="missing from storage"):
        b"".join(r.streaming_content)
    (record,) = [rec for rec in caplog.records if rec.name == "cases.export"]
    assert record.request_id == "req-lost"  # type: ignore[attr-defined]


def test_bytes_changed_in_storage_break_the_download_off(call, project, exporter) -> None:
    case = CaseFactory(project=project)
    link = attach_file(case=case, content=io.BytesIO(b"original"), original_name="log.txt")
    name = link.file.blob.name
    default_storage.delete(name)
    default_storage.save(name, io.BytesIO(b"tampered"))
    r = call("GET", f"/v1/cases/{case.pk}/export", auth=f"Bearer {exporter.plaintext}")
    with pytest.raises(Exception, match="not the file uploaded"):
        b"".join(r.streaming_content)


def test_without_a_key_in_production_export_answers_503(call, client, project, exporter, settings) -> None:
    settings.EXPORT_SIGNING_KEY, settings.EXPORT_SIGNING_KEY_FILE = "", None
    case = CaseFactory(project=project)
    for r in (
        call("GET", f"/v1/cases/{case.pk}/export", auth=f"Bearer {exporter.plaintext}"),
        client.get("/v1/export-key"),
    ):
        assert r.status_code == 503, r.content
        assert r.json()["error"]["code"] == "service_unavailable"
        assert "EXPORT_SIGNING_KEY" in r.json()["error"]["message"]


def test_create_export_key_prints_the_setting_that_signs(client, settings) -> None:
    out = io.StringIO()
    call_command("create_export_key", stdout=out, stderr=io.StringIO())
    line = out.getvalue().strip()
    assert line.startswith("EXPORT_SIGNING_KEY=") and "\n" not in line
    settings.EXPORT_SIGNING_KEY = line.split("=", 1)[1]
    assert client.get("/v1/export-key").status_code == 200


@pytest.mark.parametrize(
    ("scopes", "status", "missing"),
    [
        pytest.param(["cases:read"], 403, "media:read", id="no-media-read"),
        pytest.param(["media:read"], 403, "cases:read", id="no-cases-read"),
        pytest.param(["cases:read", "cases:write", "media:write"], 403, "media:read", id="write-is-not-read"),
    ],
)
def test_export_needs_both_read_scopes(call, project, scopes, status, missing) -> None:
    case = CaseFactory(project=project)
    token = TokenFactory(project=project, scopes=scopes)
    r = call("GET", f"/v1/cases/{case.pk}/export", auth=f"Bearer {token.plaintext}")
    assert r.status_code == status, r.content
    assert r["X-Accepted-Scopes"] == missing
