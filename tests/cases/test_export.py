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
from django.core.management import CommandError, call_command

from cases import chain
from cases.export import CHUNK
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


# A log of several export chunks, and what storage may hold in its place: one byte changed in its
# last chunk, a byte more, a byte less.
LOG = b"".join(b"line %07d\n" % n for n in range(300_000))
assert len(LOG) > 2 * CHUNK


@pytest.mark.parametrize(
    "stored",
    [
        pytest.param(LOG[:-2] + b"X\n", id="changed-in-the-last-chunk"),
        pytest.param(LOG + b"\n", id="longer"),
        pytest.param(LOG[:-1], id="shorter"),
    ],
)
def test_bytes_changed_in_storage_break_the_download_off(call, project, exporter, stored) -> None:
    case = CaseFactory(project=project)
    link = attach_file(case=case, content=io.BytesIO(LOG), original_name="server.log")
    name = link.file.blob.name
    default_storage.delete(name)
    default_storage.save(name, io.BytesIO(stored))
    r = call("GET", f"/v1/cases/{case.pk}/export", auth=f"Bearer {exporter.plaintext}")
    received: list[bytes] = []
    with pytest.raises(Exception, match="not the file uploaded"):
        received.extend(r.streaming_content)  # keeps what came before the break
    # Broken off before the manifest, and never more bytes than the announced length.
    assert b"manifest.json" not in b"".join(received)
    assert sum(map(len, received)) < int(r["Content-Length"])


def test_the_bundle_announces_its_length_and_lists_the_uploaded_hashes(call, project, exporter) -> None:
    case = CaseFactory(project=project)
    log = attach_file(case=case, content=io.BytesIO(LOG), original_name="server.log").file
    attach_file(case=case)
    r = call("GET", f"/v1/cases/{case.pk}/export", auth=f"Bearer {exporter.plaintext}")
    body = b"".join(r.streaming_content)
    assert int(r["Content-Length"]) == len(body)
    bundle = zipfile.ZipFile(io.BytesIO(body))
    assert bundle.testzip() is None  # every member's CRC-32
    listed = {entry["path"]: entry for entry in json.loads(bundle.read("manifest.json"))["files"]}
    entry = listed[f"files/{log.pk}/server.log"]
    assert (entry["sha256"], entry["size"]) == (hashlib.sha256(LOG).hexdigest(), len(LOG)) == (log.sha256, log.size)
    assert bundle.read(f"files/{log.pk}/server.log") == LOG


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


def _export_to(tmp_path: Any, call: Any, case_id: str, token: Any) -> Any:
    r = call("GET", f"/v1/cases/{case_id}/export", auth=f"Bearer {token.plaintext}")
    assert r.status_code == 200, r.content
    path = tmp_path / "bundle.zip"
    path.write_bytes(b"".join(r.streaming_content))
    return path


def verify_export(path: Any, *args: str) -> str:
    out = io.StringIO()
    call_command("verify_export", str(path), *args, stdout=out, stderr=io.StringIO())
    return out.getvalue().strip()


def _rewritten(path: Any, change: Any) -> None:
    """The bundle at ``path`` rewritten member by member through ``change(name, data) -> [(name, data)]``."""
    with zipfile.ZipFile(path) as source:
        members = [(info.filename, source.read(info.filename)) for info in source.infolist()]
    with zipfile.ZipFile(path, "w") as target:
        for name, data in members:
            for new_name, new_data in change(name, data):
                target.writestr(new_name, new_data)


@pytest.fixture
def exported(tmp_path, call, project, exporter) -> Any:
    case = CaseFactory(project=project, title="Aimbot")
    attach_file(case=case)
    attach_file(case=case, content=io.BytesIO(b"chat log\n"), original_name="chat.txt")
    call("PATCH", f"/v1/cases/{case.pk}", json_body={"status": "closed"})
    return case, _export_to(tmp_path, call, case.pk, exporter)


def test_verify_export_accepts_a_whole_bundle(exported) -> None:
    case, path = exported
    assert verify_export(path) == f"verified case {case.pk}: 2 files, 4 events"


def test_verify_export_with_the_served_public_key(exported, client, tmp_path) -> None:
    _, path = exported
    pem = tmp_path / "key.pem"
    pem.write_text(client.get("/v1/export-key").json()["public_key"])
    assert verify_export(path, "--key", str(pem)).startswith("verified case ")


def _edit_event(name: str, data: bytes) -> list[tuple[str, bytes]]:
    if name != "events.json":
        return [(name, data)]
    return [(name, data.replace(b'"closed"', b'"CLOSED"'))]


def _edit_file(name: str, data: bytes) -> list[tuple[str, bytes]]:
    return [(name, b"chat LOG\n" if name.endswith("chat.txt") else data)]


def _truncate_file(name: str, data: bytes) -> list[tuple[str, bytes]]:
    return [(name, data[:4] if name.endswith("chat.txt") else data)]


def _edit_manifest(name: str, data: bytes) -> list[tuple[str, bytes]]:
    return [(name, data.replace(b'"size": ', b'"size": 1') if name == "manifest.json" else data)]


def _drop(member: str) -> Any:
    return lambda name, data: [] if name == member or name.endswith(member) else [(name, data)]


def _traversal(name: str, data: bytes) -> list[tuple[str, bytes]]:
    return [(name, data), ("../../evil.txt", b"x")] if name == "case.json" else [(name, data)]


def _bomb(name: str, data: bytes) -> list[tuple[str, bytes]]:
    return [(name, data)] if not name.endswith("chat.txt") else [(name, b"\0" * 50_000_000)]


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        pytest.param(_edit_event, "SHA-256 differs", id="edited-events"),
        pytest.param(_edit_file, "SHA-256 differs", id="edited-file"),
        pytest.param(_truncate_file, "4 bytes, the manifest says 9", id="truncated-file"),
        pytest.param(_edit_manifest, "not a valid signature", id="edited-manifest"),
        pytest.param(_drop("manifest.sig"), "no manifest.sig", id="no-signature"),
        pytest.param(_drop("chat.txt"), "disagree", id="missing-file"),
        pytest.param(_traversal, "unsafe member name", id="path-traversal"),
        pytest.param(_bomb, "more bytes than the manifest", id="zip-bomb"),
    ],
)
def test_verify_export_names_what_fails(exported, change, reason) -> None:
    _, path = exported
    _rewritten(path, change)
    with pytest.raises(CommandError) as caught:
        verify_export(path)
    assert reason in str(caught.value), caught.value
    assert caught.value.returncode == 1


def test_verify_export_refuses_what_is_not_a_zip(tmp_path) -> None:
    path = tmp_path / "bundle.zip"
    path.write_bytes(b"PK\x03\x04 not really")
    with pytest.raises(CommandError, match="not a readable ZIP file"):
        verify_export(path)
