"""Bad uploads (issue 9): each gets a clear 4xx in the envelope and changes nothing.

After every refusal: no File row, no new object in storage, and no temporary file left of
the streamed body.
"""

from __future__ import annotations

import base64
import io
import json
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from django.test.client import FakePayload

from media.models import File
from tests.media.samples import ALLOWED, PNG, image

pytestmark = pytest.mark.django_db

BOUNDARY = "----serverops-test-boundary"
Part = tuple[str, str | None, str | None, bytes]  # name, filename (None: a plain field), content type, bytes


def multipart(parts: list[Part]) -> bytes:
    """A multipart/form-data body written out by hand, so names can hold what clients really send."""
    out = io.BytesIO()
    for name, filename, content_type, content in parts:
        out.write(f"--{BOUNDARY}\r\n".encode())
        disposition = f'form-data; name="{name}"'
        if filename is not None:
            # RFC 2231 form: any byte of the name survives the header, NUL and newlines included.
            disposition += f"; filename*=UTF-8''{quote(filename, safe='')}"
        out.write(f"Content-Disposition: {disposition}\r\n".encode())
        if content_type:
            out.write(f"Content-Type: {content_type}\r\n".encode())
        out.write(b"\r\n" + content + b"\r\n")
    out.write(f"--{BOUNDARY}--\r\n".encode())
    return out.getvalue()


def file_part(content: bytes = PNG, filename: str = "shot.png", content_type: str | None = None) -> Part:
    return ("file", filename, content_type, content)


def post_parts(*parts: Part, **extra: Any) -> Callable[[Any], Any]:
    return lambda call: call(
        "POST",
        "/v1/media",
        body=multipart(list(parts)),
        content_type=f"multipart/form-data; boundary={BOUNDARY}",
        **extra,
    )


def post_base64(body: Any) -> Callable[[Any], Any]:
    return lambda call: call("POST", "/v1/media/base64", json_body=body)


def b64(content: bytes) -> str:
    return base64.b64encode(content).decode()


def _zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("cheat.lua", "print('hi')")
    return buffer.getvalue()


ELF = b"\x7fELF\x02\x01\x01\x00" + b"\x00" * 120
PE = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00" + b"\x00" * 120
HTML = b"<!DOCTYPE html><html><body><script>fetch('/admin/')</script></body></html>"
SVG = b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"><rect width="10" height="10"/></svg>'
XML_SVG = b'<?xml version="1.0"?>\n' + SVG
LONG_TEXT_THEN_NUL = b"a plain log line\n" * 1000 + b"\x00\x01binary"
LOG_LINES = b"a plain log line\n" * 1000  # 17 KB: past the first 8 KiB the type is read from
HUGE = "9" * 5_000
UPLOAD = f"multipart/form-data; boundary={BOUNDARY}"


def with_preamble(preamble: bytes, body: bytes, epilogue: bytes = b"") -> bytes:
    """``body`` (a whole multipart body) with text before its first delimiter and after its last."""
    return preamble + b"\r\n" + body + epilogue


def hidden_part(name: str, filename: str | None, content: bytes) -> bytes:
    """A part's headers and bytes as they would look inside a body, but outside any delimiter."""
    disposition = f'Content-Disposition: form-data; name="{name}"'
    if filename is not None:
        disposition += f'; filename="{filename}"'
    return disposition.encode() + b"\r\n\r\n" + content + b"\r\n"


def post_raw(body: bytes, **extra: Any) -> Callable[[Any], Any]:
    return lambda call: call("POST", "/v1/media", body=body, content_type=UPLOAD, **extra)


TEXT_THEN_BAD_UTF8 = b"a plain log line\n" * 1000 + b"\xff\xfe\xfd"

CATALOGUE = [
    # Names
    pytest.param(post_parts(file_part(filename="../../x.png")), 400, "file", id="name-traversal"),
    pytest.param(post_parts(file_part(filename="/etc/cron.d/x.png")), 400, "file", id="name-absolute"),
    pytest.param(post_parts(file_part(filename="C:\\x\\y.png")), 400, "file", id="name-windows-path"),
    pytest.param(post_parts(file_part(filename="shot\x00.png")), 400, "file", id="name-nul"),
    pytest.param(post_parts(file_part(filename="shot\n.png")), 400, "file", id="name-newline"),
    # Django refuses part headers over 1 KiB before the name is read: still a 400, for the whole body.
    pytest.param(post_parts(file_part(filename="a" * 1000 + ".png")), 400, None, id="name-1000-chars"),
    pytest.param(post_parts(file_part(filename="a" * 300 + ".png")), 400, "file", id="name-over-255-chars"),
    pytest.param(post_parts(file_part(filename="é" * 130 + ".png")), 400, "file", id="name-over-255-bytes"),
    pytest.param(post_parts(file_part(filename="..")), 400, "file", id="name-dot-dot"),
    pytest.param(post_parts(file_part(filename="")), 400, "file", id="name-empty"),
    pytest.param(post_parts(file_part(filename="gnp.\u202eexe")), 400, "file", id="name-bidi-override"),
    # Content
    pytest.param(post_parts(file_part(b"")), 400, "file", id="empty-file"),
    pytest.param(post_parts(file_part(PNG[: len(PNG) // 2])), 415, None, id="truncated-png"),
    pytest.param(post_parts(file_part(image("JPEG", (64, 64))[:300], "x.jpg")), 415, None, id="truncated-jpeg"),
    pytest.param(post_parts(file_part(HTML, "shot.png", "image/png")), 415, None, id="html-as-png"),
    pytest.param(post_parts(file_part(b"  \r\n" + HTML, "notes.txt")), 415, None, id="html-after-whitespace"),
    pytest.param(post_parts(file_part(SVG, "shot.png")), 415, None, id="svg-as-png"),
    pytest.param(post_parts(file_part(XML_SVG, "logo.svg", "image/svg+xml")), 415, None, id="svg-with-prolog"),
    pytest.param(post_parts(file_part(ELF, "aimbot.png")), 415, None, id="elf-executable"),
    pytest.param(post_parts(file_part(PE, "setup.jpg")), 415, None, id="windows-executable"),
    pytest.param(post_parts(file_part(_zip(), "logs.zip")), 415, None, id="zip-archive"),
    pytest.param(post_parts(file_part(PNG, "shot.gif", "image/gif")), 415, None, id="declared-type-lies"),
    pytest.param(post_parts(file_part(b"just text\n", "a.png", "image/png")), 415, None, id="text-declared-png"),
    pytest.param(post_parts(file_part(bytes(range(256)) * 4, "blob.bin")), 415, None, id="opaque-binary"),
    pytest.param(post_parts(file_part(LONG_TEXT_THEN_NUL, "server.log")), 415, None, id="text-then-nul"),
    pytest.param(post_parts(file_part(TEXT_THEN_BAD_UTF8, "server.log")), 415, None, id="text-then-bad-utf8"),
    pytest.param(
        post_parts(file_part(b'{"broken": ', "e.json", "application/json")), 415, None, id="invalid-json-declared"
    ),
    # The form
    pytest.param(post_parts(("folder", None, None, b"reports")), 400, "file", id="no-file-part"),
    pytest.param(post_parts(file_part(), file_part()), 400, "file", id="two-file-parts"),
    pytest.param(post_parts(("evidence", "shot.png", None, PNG)), 400, "evidence", id="file-under-another-name"),
    pytest.param(post_parts(("file", None, None, b"not a file part")), 400, "file", id="file-as-a-plain-field"),
    pytest.param(post_parts(file_part(), ("priority", None, None, b"high")), 400, "priority", id="unknown-field"),
    pytest.param(post_parts(file_part(), ("visibility", None, None, b"secret")), 400, "visibility", id="visibility"),
    pytest.param(
        post_parts(file_part(), *[("tags", None, None, b"t%d" % n) for n in range(21)]), 400, "tags", id="21-tags"
    ),
    pytest.param(post_parts(file_part(), ("tags", None, None, b"a\x07b")), 400, "tags", id="tag-control-char"),
    pytest.param(post_parts(file_part(), ("folder", None, None, b"f" * 201)), 400, "folder", id="folder-too-long"),
    pytest.param(
        post_parts(file_part(), ("folder", None, None, b"a"), ("folder", None, None, b"b")),
        400,
        "folder",
        id="folder-twice",
    ),
    pytest.param(
        post_parts(file_part(), CONTENT_LENGTH=str(10 * 1000**3)), 413, None, id="content-length-far-above-limits"
    ),
    # issue 27, fault 8: folder, visibility and file at most once
    pytest.param(
        post_parts(file_part(), ("visibility", None, None, b"public"), ("visibility", None, None, b"public")),
        400,
        "visibility",
        id="visibility-twice",
    ),
    pytest.param(
        post_parts(("folder", None, None, b"a"), file_part(), ("folder", None, None, b"a")),
        400,
        "folder",
        id="folder-twice-same-value-around-the-file",
    ),
    pytest.param(
        post_parts(file_part(), ("folder", None, None, b""), ("folder", None, None, b"")),
        400,
        "folder",
        id="folder-twice-empty",
    ),
    pytest.param(
        post_parts(file_part(), file_part(image("GIF"), "b.gif")),
        400,
        "file",
        id="file-twice-other-types",
    ),
    # issue 27, fault 1: numbers in headers and parameters, of any length
    pytest.param(post_parts(file_part(), CONTENT_LENGTH=HUGE), 400, None, id="content-length-5000-digits"),
    pytest.param(post_parts(file_part(), CONTENT_LENGTH="²"), 400, None, id="content-length-superscript"),
    pytest.param(post_parts(file_part(), CONTENT_LENGTH="-1"), 400, None, id="content-length-negative"),
    pytest.param(
        lambda call: call(
            "POST", "/v1/media/base64", json_body={"filename": "a.png", "data": b64(PNG)}, CONTENT_LENGTH="١٠"
        ),
        400,
        None,
        id="base64-content-length-arabic-digits",
    ),
    pytest.param(lambda call: call("GET", "/v1/media?limit=" + HUGE), 400, "limit", id="list-limit-5000-digits"),
    pytest.param(lambda call: call("GET", "/v1/media?limit=²"), 400, "limit", id="list-limit-superscript"),
    pytest.param(lambda call: call("GET", "/v1/media?limit=" + "0" * 4_999 + "1"), 400, "limit", id="limit-zeros"),
    # issue 27, fault 2: NUL and control characters never reach a query
    pytest.param(lambda call: call("GET", "/v1/media/f_%00"), 404, None, id="retrieve-nul-id"),
    pytest.param(lambda call: call("DELETE", "/v1/media/%00"), 404, None, id="delete-nul-id"),
    pytest.param(lambda call: call("GET", "/v1/media?folder=%00"), 400, "folder", id="list-folder-nul"),
    pytest.param(lambda call: call("GET", "/v1/media?tag=a%00b"), 400, "tag", id="list-tag-nul"),
    pytest.param(lambda call: call("GET", "/v1/media?cursor=%00"), 400, "cursor", id="list-cursor-nul"),
    pytest.param(post_parts(file_part(), ("folder", None, None, b"a\x00b")), 400, "folder", id="upload-folder-nul"),
    pytest.param(post_base64({"filename": "a.png", "data": b64(PNG), "folder": "\x00"}), 400, "folder", id="b64-nul"),
    # issue 27, fault 4: markup is markup wherever it sits in text that is not JSON
    pytest.param(
        post_parts(file_part(LOG_LINES + b"<script>alert(1)</script>\n", "server.log")),
        415,
        None,
        id="text-with-script-after-8-kib",
    ),
    pytest.param(
        post_parts(file_part(b"x" * (64 * 1024 - 4) + b"<svg onload=alert(1)>", "server.log")),
        415,
        None,
        id="text-with-svg-across-a-chunk-boundary",
    ),
    pytest.param(
        post_parts(file_part(b'{"log": "' + LOG_LINES + b"<iframe src=x>", "chat.json")),
        415,
        None,
        id="broken-json-with-markup-after-8-kib",
    ),
    pytest.param(
        post_base64({"filename": "chat.log", "data": b64(LOG_LINES + b"<!DOCTYPE html><html>")}),
        415,
        None,
        id="base64-text-with-doctype-after-8-kib",
    ),
    # issue 27, fault 5: only the body parts count (RFC 2046): nothing outside them is read
    pytest.param(
        post_raw(with_preamble(hidden_part("file", "shot.png", PNG), multipart([("folder", None, None, b"a")]))),
        400,
        "file",
        id="file-only-in-the-preamble",
    ),
    pytest.param(
        post_raw(multipart([("folder", None, None, b"a")]) + hidden_part("file", "shot.png", PNG)),
        400,
        "file",
        id="file-only-in-the-epilogue",
    ),
    pytest.param(
        post_raw(b"\r\n\r\n" + hidden_part("file", "shot.png", PNG) + f"--{BOUNDARY}--\r\n".encode()),
        400,
        "file",
        id="file-in-the-preamble-of-an-empty-body",
    ),
    pytest.param(
        post_raw(hidden_part("file", "a.png", PNG) + multipart([file_part(HTML, "b.html")])),
        415,
        None,
        id="html-part-beside-a-png-in-the-preamble",
    ),
    pytest.param(
        lambda call: call("POST", "/v1/media", json_body={"filename": "a.png", "data": b64(PNG)}),
        415,
        None,
        id="json-to-the-multipart-endpoint",
    ),
    pytest.param(
        lambda call: call("POST", "/v1/media", body=b"--x\r\nnot multipart", content_type="multipart/form-data"),
        400,
        None,
        id="multipart-without-boundary",
    ),
    # A part's own framing
    pytest.param(
        post_raw(multipart([file_part()])[: -len(f"\r\n--{BOUNDARY}--\r\n")]),
        400,
        "file",
        id="body-ends-inside-the-file-part",
    ),
    pytest.param(
        post_raw(
            multipart([file_part()]).replace(
                b"Content-Disposition:", b"X-Pad: " + b"x" * 1100 + b"\r\nContent-Disposition:", 1
            )
        ),
        400,
        None,
        id="part-headers-over-1024-bytes",
    ),
    pytest.param(
        post_raw(
            multipart([file_part()]).replace(
                b"Content-Disposition:", b"Content-Transfer-Encoding: base64\r\nContent-Disposition:", 1
            )
        ),
        400,
        None,
        id="part-says-base64-but-is-not",
    ),
    # Base64
    pytest.param(post_base64({"filename": "a.png", "data": "not*base64!"}), 400, "data", id="base64-bad-characters"),
    pytest.param(
        post_base64({"filename": "a.png", "data": "iVBORw0KGgo=AAAA"}), 400, "data", id="base64-inner-padding"
    ),
    pytest.param(
        post_base64({"filename": "big.log", "data": b64(b"x" * (10 * 1024 * 1024 + 1))}),
        413,
        None,
        id="base64-over-10-mib",
    ),
    pytest.param(post_base64({"filename": "a.png"}), 400, "data", id="base64-no-data"),
    pytest.param(post_base64({"filename": "a.png", "data": ""}), 400, "data", id="base64-empty-data"),
    pytest.param(
        post_base64({"filename": "a.png", "data": b64(PNG), "file": b64(PNG)}), 400, "file", id="data-and-file"
    ),
    pytest.param(post_base64({"data": b64(PNG)}), 400, "filename", id="base64-no-filename"),
    pytest.param(post_base64({"filename": "../x.png", "data": b64(PNG)}), 400, "filename", id="base64-traversal"),
    pytest.param(post_base64({"filename": "a\x00.png", "data": b64(PNG)}), 400, "filename", id="base64-nul-name"),
    pytest.param(post_base64({"filename": "a.png", "data": 12}), 400, "data", id="base64-data-not-a-string"),
    pytest.param(post_base64({"filename": "a.png", "data": b64(PNG), "x": 1}), 400, "x", id="base64-unknown-key"),
    pytest.param(post_base64({"filename": "a.png", "data": b64(PNG), "tags": "a"}), 400, "tags", id="tags-not-list"),
    pytest.param(post_base64(["a.png", b64(PNG)]), 400, None, id="base64-body-not-an-object"),
    pytest.param(
        post_base64({"filename": "a.png", "data": b64(PNG), "content_type": "application/pdf"}),
        415,
        None,
        id="base64-declared-type-lies",
    ),
    pytest.param(
        post_base64({"filename": "a.png", "data": "data:image/gif;base64," + b64(PNG)}), 415, None, id="data-url-lies"
    ),
    pytest.param(post_base64({"filename": "a.png", "data": b64(HTML)}), 415, None, id="base64-html"),
    pytest.param(post_base64({"filename": "a.svg", "data": b64(SVG)}), 415, None, id="base64-svg"),
    pytest.param(
        lambda call: call(
            "POST",
            "/v1/media/base64",
            body=json.dumps({"filename": "a.log", "data": "A" * (14 * 1024 * 1024)}),
        ),
        413,
        None,
        id="base64-json-over-14-mib",
    ),
]


@pytest.fixture(params=[2_621_440, 0], ids=["held-in-memory", "temporary-file"])
def upload_temp_dir(request: pytest.FixtureRequest, settings: Any, tmp_path: Path) -> Path:
    """Where temporary upload files go, checked empty after each refusal; each test runs with the
    file held in memory (a body up to ``FILE_UPLOAD_MAX_MEMORY_SIZE``) and in a temporary file."""
    settings.FILE_UPLOAD_MAX_MEMORY_SIZE = request.param
    settings.FILE_UPLOAD_TEMP_DIR = str(tmp_path)
    return tmp_path


@pytest.mark.parametrize(("send", "status", "param"), CATALOGUE)
def test_bad_upload_gets_a_4xx_and_stores_nothing(
    call, send, status, param, storage_unchanged, upload_temp_dir
) -> None:
    r = send(call)

    assert r.status_code == status, r.content
    error = r.json()["error"]
    assert error.get("param") == param, error
    expected_code = {400: "bad_request", 404: "not_found", 413: None, 415: "unsupported_type"}[status]
    if expected_code is not None:
        assert error["code"] == expected_code, error
    assert r["X-Request-Id"]
    assert not File.objects.exists()
    assert list(upload_temp_dir.iterdir()) == []


def test_catalogue_has_at_least_thirty_inputs() -> None:
    assert len(CATALOGUE) >= 30


@pytest.mark.parametrize(
    ("kind", "name", "content"),
    [
        pytest.param("IMAGE", "shot.png", PNG, id="image"),
        pytest.param("DOCUMENT", "server.log", ALLOWED["text/plain"][1], id="text"),
        pytest.param("VIDEO", "clip.mp4", ALLOWED["video/mp4"][1], id="video"),
    ],
)
def test_a_file_over_its_types_limit_is_413_file_too_large(
    call, settings, kind, name, content, storage_unchanged, upload_temp_dir
) -> None:
    settings.SERVEROPS = {**settings.SERVEROPS, f"MEDIA_MAX_{kind}_SIZE": len(content) - 1}

    r = post_parts(file_part(content, name))(call)

    assert r.status_code == 413, r.content
    assert r.json()["error"]["code"] == "file_too_large"
    assert not File.objects.exists()
    assert list(upload_temp_dir.iterdir()) == []


def test_the_upload_stops_being_read_once_past_the_limit(client, token, settings, upload_temp_dir) -> None:
    """The handler refuses mid-stream: the rest of the body is never read."""
    settings.SERVEROPS = {**settings.SERVEROPS, "MEDIA_MAX_IMAGE_SIZE": 100_000}
    body = multipart([file_part(PNG + b"\x00" * 5_000_000)])
    payload = FakePayload(body)
    read = 0
    original_read = payload.read

    def counting_read(size: int = -1) -> bytes:
        nonlocal read
        chunk: bytes = original_read(size)
        read += len(chunk)
        return chunk

    payload.read = counting_read  # type: ignore[method-assign]
    r = client.generic(
        "POST",
        "/v1/media",
        headers={"Authorization": f"Bearer {token.plaintext}"},
        **{
            "wsgi.input": payload,
            "CONTENT_LENGTH": str(len(body)),
            "CONTENT_TYPE": f"multipart/form-data; boundary={BOUNDARY}",
        },
    )

    assert r.status_code == 413, r.content
    assert r.json()["error"]["code"] == "file_too_large"
    assert read < 1_000_000, f"read {read:,} of {len(body):,} bytes"
    assert list(upload_temp_dir.iterdir()) == []
