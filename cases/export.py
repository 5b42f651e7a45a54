"""Signed case exports (docs/api.md, "Evidence with a chain of custody").

A bundle is a ZIP streamed as it is read: ``case.json``, ``events.json`` (the chained history),
``notes.json``, every attachment under ``files/<file id>/<original name>``, then
``manifest.json`` (each other member's path, SHA-256 and size, the case and its history's
head) and ``manifest.sig``, the base64 Ed25519 signature of ``manifest.json``'s bytes.

How the bytes move (bench/README.md, "Exports", has the figures): the manifest lists each file's
SHA-256 and size as recorded at upload, so it is made and signed before the first byte goes out,
every member's size is known and the response carries a ``Content-Length`` (gunicorn then writes
each chunk as it comes, without chunked framing, which copied every chunk once more). Each file is
still read whole and hashed again as it is sent, because docs/api.md promises that a file whose
bytes are no longer the uploaded ones breaks the download off before the manifest that lists it:
that SHA-256 is the larger part of an export's CPU, the ZIP's CRC-32 the next.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import logging
import os
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from django.conf import settings
from django.http import StreamingHttpResponse
from django.utils import timezone
from zipstream import ZIP_STORED, ZipStream

from media.models import AbuseStatus, File
from media.storage import FileLinks, media_storage
from serverops.fields import rfc3339
from serverops.logging import request_id_var

from .chain import GENESIS
from .models import Case, CaseEvent, Note
from .serializers import CaseEventSerializer, case_representation, note_representation

logger = logging.getLogger(__name__)

# Read from storage and written to the client this much at a time: per chunk, the Python around
# each read, hash, CRC and socket write costs the same whatever its size.
CHUNK = 1024 * 1024
MANIFEST = "manifest.json"
SIGNATURE = "manifest.sig"


class ExportKeyMissing(Exception):
    """No usable signing key: production without ``EXPORT_SIGNING_KEY``, or a value that is not one."""


class ExportFailed(Exception):
    """A file could not be exported as it was uploaded (missing from storage, or other bytes)."""


def new_signing_key() -> str:
    """A new Ed25519 private key as ``EXPORT_SIGNING_KEY`` holds it: its 32 raw bytes, base64."""
    raw = Ed25519PrivateKey.generate().private_bytes_raw()
    return base64.b64encode(raw).decode()


def decoded_key(value: str, source: str) -> Ed25519PrivateKey:
    try:
        raw = base64.b64decode(value.strip(), validate=True)
        return Ed25519PrivateKey.from_private_bytes(raw)
    except (binascii.Error, ValueError):
        raise ExportKeyMissing(f"{source} is not an export key made by manage.py create_export_key") from None


def _development_key(path: Path) -> str:
    """The key kept in ``path``, made once: workers starting together all end up with the same one."""
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    value = new_signing_key()
    fd, made = tempfile.mkstemp(dir=path.parent, prefix=".export-key-")
    try:
        with os.fdopen(fd, "w") as handle:
            handle.write(value + "\n")
        # A hard link appears whole or not at all, and never replaces another worker's key.
        os.link(made, path)
    except FileExistsError:
        return path.read_text().strip()
    finally:
        os.unlink(made)
    return value


def signing_key() -> Ed25519PrivateKey:
    """The installation's export key: ``EXPORT_SIGNING_KEY``, or else the development key kept in
    ``EXPORT_SIGNING_KEY_FILE`` (none in production). Raises ``ExportKeyMissing``."""
    if settings.EXPORT_SIGNING_KEY:
        return decoded_key(settings.EXPORT_SIGNING_KEY, "EXPORT_SIGNING_KEY")
    path = settings.EXPORT_SIGNING_KEY_FILE
    if path is None:
        raise ExportKeyMissing("case exports are not configured: set EXPORT_SIGNING_KEY (manage.py create_export_key)")
    return decoded_key(_development_key(Path(path)), str(path))


def key_id(public_key: Ed25519PublicKey) -> str:
    """``ed25519:`` and the first 16 hex digits of the SHA-256 of the raw public key."""
    return "ed25519:" + hashlib.sha256(public_key.public_bytes_raw()).hexdigest()[:16]


def public_key_document(key: Ed25519PrivateKey) -> dict[str, str]:
    """``GET /v1/export-key``: the key's id and its public half as PEM (SubjectPublicKeyInfo),
    which ``openssl`` and every Ed25519 library read."""
    public = key.public_key()
    pem = public.public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo).decode()
    return {"kid": key_id(public), "public_key": pem}


def case_notes(case: Case) -> list[dict[str, Any]]:
    """The case's notes as the API shows them, oldest first, for ``notes.json``: those written
    before the case was read (each note has its event, which the bundle's history ends before)."""
    notes = Note.objects.filter(case_id=case.pk, created_at__lte=case.updated_at).order_by("created_at", "id")
    return [note_representation(note) for note in notes]


def events_up_to(events: list[dict[str, Any]], head: str) -> list[dict[str, Any]]:
    """``events`` (read after the case) up to the one whose hash is the case's ``head`` as read:
    what the case was when it was read, whatever was appended since. All of them when no event
    has that hash (a history altered behind the service's back: the bundle will not verify)."""
    if head == GENESIS:
        return []
    for index, event in enumerate(events):
        if event["hash"] == head:
            return events[: index + 1]
    return events


def _json_bytes(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False, indent=2).encode()


def _file_bytes(file: File) -> Iterator[bytes]:
    """The file's bytes from its storage, ``CHUNK`` at a time, checked against the size and SHA-256
    recorded at upload, which the manifest lists. Raises ``ExportFailed`` (the download breaks off
    before the manifest) when the file is missing, longer or shorter than uploaded, or other bytes:
    a bundle never lists other bytes than the uploaded ones (docs/api.md)."""
    digest = hashlib.sha256()
    size = 0
    different = f"file {file.pk} in storage is not the file uploaded (size or SHA-256 differs)"
    try:
        for chunk in media_storage(file).chunks(str(file.blob.name), CHUNK):
            digest.update(chunk)
            size += len(chunk)
            if size > file.size:
                raise ExportFailed(different)
            yield chunk
    except FileNotFoundError:
        raise ExportFailed(f"file {file.pk} is missing from storage") from None
    if size != file.size or digest.hexdigest() != file.sha256:
        raise ExportFailed(different)


def bundle(
    *,
    case: Case,
    case_json: dict[str, Any],
    events: list[dict[str, Any]],
    notes: list[dict[str, Any]],
    head: str,
    key: Ed25519PrivateKey,
) -> ZipStream:
    """The bundle, a ZIP whose length (``len()``) is known before its first byte and whose bytes
    are made as they are read: memory holds one chunk of a file at a time, whatever the files'
    sizes. The manifest lists each file's SHA-256 and size recorded at upload, which
    ``_file_bytes`` checks the bytes sent against."""
    stream = ZipStream(compress_type=ZIP_STORED, sized=True)
    listed: list[dict[str, Any]] = []
    for path, value in (("case.json", case_json), ("events.json", events), ("notes.json", notes)):
        data = _json_bytes(value)
        listed.append({"path": path, "sha256": hashlib.sha256(data).hexdigest(), "size": len(data)})
        stream.add(data, path)
    for file in case.files:
        path = f"files/{file.pk}/{file.original_name}"
        entry: dict[str, Any] = {"path": path, "sha256": file.sha256, "size": file.size}
        if file.abuse_status == AbuseStatus.BLOCKED:
            entry["blocked"] = True
        listed.append(entry)
        stream.add(_file_bytes(file), path, size=file.size)
    document = {"case": case.pk, "exported_at": rfc3339(timezone.now()), "events_head": head, "files": listed}
    manifest = _json_bytes(document)
    stream.add(manifest, MANIFEST)
    stream.add(base64.b64encode(key.sign(manifest)), SIGNATURE)
    return stream


def logged(chunks: Iterable[bytes], *, case_id: str, request_id: str) -> Iterator[bytes]:
    """The bundle as a response body: a failure once the response has started breaks the
    download off and is logged with the request's id (its middleware is done by then)."""
    try:
        yield from chunks
    except Exception:
        token = request_id_var.set(request_id)
        try:
            logger.exception("export of case %s failed; the download was broken off", case_id)
        finally:
            request_id_var.reset(token)
        raise


def bundle_response(case: Case, *, key: Ed25519PrivateKey, links: FileLinks) -> StreamingHttpResponse:
    """The case's signed bundle as a streamed download, for the API and the admin alike:
    ``case`` read with its evidence, ``links`` how its files' URLs are shown in ``case.json``."""
    events = list(CaseEvent.objects.filter(case_id=case.pk).order_by("created_at", "id"))
    stream = bundle(
        case=case,
        case_json=case_representation(case, links=links),
        events=events_up_to(list(CaseEventSerializer(events, many=True).data), case.history_head),
        notes=case_notes(case),
        head=case.history_head,
        key=key,
    )
    return StreamingHttpResponse(
        logged(stream, case_id=case.pk, request_id=request_id_var.get()),
        content_type="application/zip",
        headers={
            "Content-Disposition": f'attachment; filename="{case.pk}.zip"',
            "Content-Length": str(len(stream)),
        },
    )
