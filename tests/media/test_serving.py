"""The /media/ route: who gets a file's bytes from the service's own disk, and with which headers."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

import pytest
from django.conf import settings
from django.test import Client, override_settings

from media import storage as media_storage_module
from media.models import File
from media.storage import file_url, staff_file_url
from tests.factories import FileFactory

pytestmark = pytest.mark.django_db

PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
LOG = b"12:00:01 [anticheat] player 42 flagged: speed 31.4 m/s\n" * 4


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> SimpleNamespace:
    state = SimpleNamespace(now=1_800_000_000)
    monkeypatch.setattr(media_storage_module, "_now", lambda: state.now)
    return state


def path_of(url: str) -> str:
    """The part of an absolute link the test client requests."""
    parts = urlsplit(url)
    return parts.path + ("?" + parts.query if parts.query else "")


def get(client: Client, url: str, **headers: str) -> Any:
    return client.get(path_of(url), headers=headers)


def stored_bytes(file: File) -> bytes:
    with file.blob.storage.open(file.blob.name, "rb") as handle:
        return bytes(handle.read())


def assert_hostile_bytes_headers(response: Any) -> None:
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Content-Security-Policy"] == "sandbox"


def test_public_image_opens_inline_with_its_stored_type(client: Client) -> None:
    file = FileFactory(visibility="public", original_name="aimbot.png")

    r = get(client, file_url(file, request=None))

    assert r.status_code == 200, r.content
    assert b"".join(r.streaming_content) == stored_bytes(file)
    assert r["Content-Type"] == "image/png"
    assert r["Content-Disposition"] == 'inline; filename="aimbot.png"'
    assert r["Content-Length"] == str(file.size)
    assert r["ETag"] == f'"{file.sha256}"'
    assert_hostile_bytes_headers(r)


def test_private_file_opens_with_its_signed_link(client: Client, clock: Any) -> None:
    file = FileFactory(original_name="evidence.png")

    r = get(client, file_url(file, request=None))

    assert r.status_code == 200, r.content
    assert b"".join(r.streaming_content) == stored_bytes(file)
    assert r["Cache-Control"] == "private, no-store"


def test_private_file_without_a_signature_is_404(client: Client) -> None:
    file = FileFactory()

    r = client.get("/media/" + file.key)

    assert r.status_code == 404, r.content
    assert r["Content-Type"] == "text/plain; charset=utf-8"
    assert_hostile_bytes_headers(r)


def test_signed_link_stops_opening_once_expired(client: Client, clock: Any) -> None:
    file = FileFactory()
    url = file_url(file, request=None)

    clock.now += 3600
    assert get(client, url).status_code == 200
    clock.now += 1
    r = get(client, url)

    assert r.status_code == 403, r.content
    assert r.content == b"link expired or invalid\n"


@pytest.mark.parametrize(
    "tamper",
    [
        pytest.param(lambda u: u.replace("expires=", "expires=1"), id="expiry-changed"),
        pytest.param(lambda u: u[:-1] + ("0" if u[-1] != "0" else "1"), id="signature-changed"),
        pytest.param(lambda u: u.split("&signature=")[0], id="signature-dropped"),
        pytest.param(lambda u: u + "&staff=1", id="staff-claimed"),
    ],
)
def test_tampered_link_is_403_and_never_the_bytes(client: Client, clock: Any, tamper: Any) -> None:
    file = FileFactory()

    r = get(client, tamper(file_url(file, request=None)))

    assert r.status_code == 403, r.content
    assert r.content == b"link expired or invalid\n"


def test_signature_of_one_file_does_not_open_another(client: Client, clock: Any) -> None:
    first = FileFactory()
    second = FileFactory(project=first.project)
    query = urlsplit(file_url(first, request=None)).query

    r = client.get(f"/media/{second.key}?{query}")

    assert r.status_code == 403, r.content


@pytest.mark.parametrize(
    ("content", "name", "disposition"),
    [
        pytest.param(PDF, "ban appeal.pdf", 'attachment; filename="ban appeal.pdf"', id="pdf"),
        pytest.param(LOG, "server.log", 'attachment; filename="server.log"', id="text"),
        pytest.param(b'{"speed": 31.4}', "telemetry.json", 'attachment; filename="telemetry.json"', id="json"),
        pytest.param(
            LOG, "журнал.txt", "attachment; filename*=utf-8''%D0%B6%D1%83%D1%80%D0%BD%D0%B0%D0%BB.txt", id="utf8"
        ),
        pytest.param(LOG, 'a "quoted" name.txt', 'attachment; filename="a \\"quoted\\" name.txt"', id="quotes"),
        pytest.param(LOG, "x.html", 'attachment; filename="x.html"', id="html-name-text-bytes"),
    ],
)
def test_anything_not_image_video_audio_downloads(client: Client, content: bytes, name: str, disposition: str) -> None:
    file = FileFactory(content=content, original_name=name, visibility="public")

    r = get(client, file_url(file, request=None))

    assert r.status_code == 200, r.content
    assert r["Content-Disposition"] == disposition
    assert r["Content-Type"] == file.content_type
    assert not r["Content-Type"].startswith("text/html")
    assert_hostile_bytes_headers(r)


@pytest.mark.parametrize("visibility", ["public", "private"])
def test_blocked_file_is_served_to_nobody_but_the_staff_link(client: Client, clock: Any, visibility: str) -> None:
    file = FileFactory(visibility=visibility)
    public_link = client.get("/media/" + file.key)
    signed_link = file_url(file, request=None) if visibility == "private" else None
    File.objects.filter(pk=file.pk).update(abuse_status="blocked")
    file.refresh_from_db()

    assert get(client, file_url(file, request=None)).status_code == 404
    assert client.get("/media/" + file.key).status_code == 404
    if signed_link is not None:
        assert get(client, signed_link).status_code == 404
    else:
        assert public_link.status_code == 200
    r = get(client, staff_file_url(file, request=None))
    assert r.status_code == 200, r.content
    assert b"".join(r.streaming_content) == stored_bytes(file)


@pytest.mark.parametrize(
    "path",
    [
        pytest.param("/media/", id="root"),
        pytest.param("/media/nothing", id="one-part"),
        pytest.param("/media/p_x/f_01JDZ0000000000000000000AA/x.png", id="unknown-file"),
        pytest.param("/media/../../etc/passwd", id="traversal"),
        pytest.param("/media/%2e%2e/%2e%2e/settings.py", id="encoded-traversal"),
    ],
)
def test_unknown_path_is_a_plain_404(client: Client, path: str) -> None:
    r = client.get(path)

    assert r.status_code == 404, r.content
    assert r["Content-Type"] == "text/plain; charset=utf-8"
    assert b"<" not in r.content
    assert_hostile_bytes_headers(r)


def test_key_of_another_project_with_a_real_file_id_is_404(client: Client) -> None:
    file = FileFactory(visibility="public")
    other = FileFactory(visibility="public")

    r = client.get(f"/media/{other.project_id}/{file.pk}/{file.original_name}")

    assert r.status_code == 404, r.content


def test_file_whose_bytes_are_gone_is_404(client: Client) -> None:
    file = FileFactory(visibility="public")
    file.blob.storage.delete(file.blob.name)

    r = get(client, file_url(file, request=None))

    assert r.status_code == 404, r.content


@pytest.mark.parametrize("method", ["post", "put", "delete", "patch"])
def test_writes_are_405(client: Client, method: str) -> None:
    file = FileFactory(visibility="public")

    r = getattr(client, method)("/media/" + file.key)

    assert r.status_code == 405, r.content
    assert r["Allow"] == "GET, HEAD"
    assert File.objects.filter(pk=file.pk).exists()
    assert file.blob.storage.exists(file.blob.name)


def test_head_has_the_headers(client: Client) -> None:
    file = FileFactory(visibility="public")

    r = client.head("/media/" + file.key)

    assert r.status_code == 200
    assert r["Content-Length"] == str(file.size)
    assert r["Content-Type"] == "image/png"


@pytest.mark.parametrize(
    ("header", "span"),
    [
        pytest.param("bytes=0-9", (0, 9), id="first-ten"),
        pytest.param("bytes=10-", (10, None), id="open-ended"),
        pytest.param("bytes=-5", (-5, None), id="suffix"),
        pytest.param("bytes=4-999999", (4, None), id="past-the-end"),
    ],
)
def test_single_range_is_206(client: Client, header: str, span: tuple[int, int | None]) -> None:
    file = FileFactory(visibility="public")
    data = stored_bytes(file)
    start, end = span
    expected = data[start:] if end is None else data[start : end + 1]

    r = client.get("/media/" + file.key, headers={"Range": header})

    assert r.status_code == 206, r.content
    assert b"".join(r.streaming_content) == expected
    first = start % len(data)
    assert r["Content-Range"] == f"bytes {first}-{first + len(expected) - 1}/{len(data)}"
    assert r["Content-Length"] == str(len(expected))


@pytest.mark.parametrize(
    "header",
    [
        pytest.param("bytes=0-1,4-5", id="several"),
        pytest.param("bytes=9-3", id="reversed"),
        pytest.param("items=0-1", id="other-unit"),
        pytest.param("bytes=-", id="empty"),
    ],
)
def test_ranges_not_served_as_one_span_get_the_whole_file(client: Client, header: str) -> None:
    file = FileFactory(visibility="public")

    r = client.get("/media/" + file.key, headers={"Range": header})

    assert r.status_code == 200, r.content
    assert b"".join(r.streaming_content) == stored_bytes(file)


def test_range_past_the_end_is_416(client: Client) -> None:
    file = FileFactory(visibility="public")

    r = client.get("/media/" + file.key, headers={"Range": f"bytes={file.size}-"})

    assert r.status_code == 416, r.content
    assert r["Content-Range"] == f"bytes */{file.size}"


def test_stale_if_range_gets_the_whole_file(client: Client) -> None:
    file = FileFactory(visibility="public")

    r = client.get("/media/" + file.key, headers={"Range": "bytes=0-3", "If-Range": '"stale"'})

    assert r.status_code == 200


def test_matching_if_none_match_is_304_but_not_for_a_blocked_file(client: Client) -> None:
    file = FileFactory(visibility="public")

    r = client.get("/media/" + file.key, headers={"If-None-Match": f'"{file.sha256}"'})
    assert r.status_code == 304
    assert r.content == b""

    File.objects.filter(pk=file.pk).update(abuse_status="blocked")
    r = client.get("/media/" + file.key, headers={"If-None-Match": f'"{file.sha256}"'})
    assert r.status_code == 404


def test_files_on_an_object_store_are_not_served_here(client: Client) -> None:
    file = FileFactory(visibility="public")
    s3 = {
        "BACKEND": "media.storage.S3MediaStorage",
        "OPTIONS": {"bucket_name": "evidence", "endpoint_url": "http://127.0.0.1:9", "region_name": "us-east-1"},
    }

    with override_settings(STORAGES={**settings.STORAGES, "default": s3}):
        r = client.get("/media/" + File.objects.get(pk=file.pk).key)

    assert r.status_code == 404, r.content


# The hostile-input catalogue of /media/ (issue 27): every answer a short plain-text 4xx or a
# file, never HTML, never a 5xx; nothing written. "{key}" is a public file's key, "{signed}" the
# query of a private file's signed link ("{expires}=X": that link with its expiry X), "{pid}" and
# "{fid}" the public file's project and file ids.
HUGE = "9" * 5_000
HOSTILE_MEDIA: list[Any] = [
    # fault 1: numbers of any length in headers and parameters
    pytest.param("GET", "/media/{key}", {"Range": "bytes=0-" + HUGE}, 206, id="range-end-5000-digits"),
    pytest.param("GET", "/media/{key}", {"Range": "bytes=" + HUGE + "-"}, 416, id="range-start-5000-digits"),
    pytest.param("GET", "/media/{key}", {"Range": "bytes=-" + HUGE}, 206, id="range-suffix-5000-digits"),
    pytest.param("GET", "/media/{key}", {"Range": "bytes=" + "0" * 5_000 + "1-2"}, 206, id="range-5000-zeros"),
    pytest.param("GET", "/media/{key}", {"Range": "bytes=٣-٤"}, 200, id="range-arabic-digits"),
    pytest.param("GET", "/media/{key}", {"Range": "bytes=²-"}, 200, id="range-superscript-digit"),
    pytest.param("GET", "{expires}=" + HUGE, {}, 403, id="expires-5000-digits"),
    pytest.param("GET", "{expires}=²", {}, 403, id="expires-superscript"),
    pytest.param("GET", "{expires}=١٨٠٠٠٠٠٠٠١", {}, 403, id="expires-arabic-digits"),
    pytest.param("GET", "/media/{key}", {"CONTENT_LENGTH": HUGE}, 400, id="content-length-5000-digits"),
    pytest.param("GET", "/media/{key}", {"CONTENT_LENGTH": "²"}, 400, id="content-length-superscript"),
    # fault 2: NUL and control characters never reach a query
    pytest.param("GET", "/media/%00/x/y", {}, 404, id="nul-project-part"),
    pytest.param("GET", "/media/{pid}/%00/y", {}, 404, id="nul-file-part"),
    pytest.param("GET", "/media/{pid}/{fid}/a%00b.png", {}, 404, id="nul-name-part"),
    pytest.param("GET", "/media/{pid}%00/{fid}/a.png", {}, 404, id="nul-after-project-id"),
    pytest.param("GET", "/media/{pid}/{fid}/a%1b.png", {}, 404, id="escape-in-name"),
    pytest.param("HEAD", "/media/%00", {}, 404, id="nul-head-one-part"),
    pytest.param("GET", "/media/{key}?staff=%00&expires=%00&signature=%00", {}, 403, id="nul-in-the-query"),
    # fault 6: only GET and HEAD, anywhere under /media/, as a plain 405
    pytest.param("POST", "/media/{key}", {}, 405, id="post-file"),
    pytest.param("PUT", "/media/{key}", {}, 405, id="put-file"),
    pytest.param("PATCH", "/media/{key}", {}, 405, id="patch-file"),
    pytest.param("DELETE", "/media/{key}", {}, 405, id="delete-file"),
    pytest.param("PROPFIND", "/media/{key}", {}, 405, id="propfind-file"),
    pytest.param("OPTIONS", "/media/{key}", {}, 405, id="options-file"),
    pytest.param("TRACE", "/media/{key}", {}, 405, id="trace-file"),
    pytest.param("POST", "/media/", {}, 405, id="post-root"),
    pytest.param("DELETE", "/media/nothing", {}, 405, id="delete-unknown"),
    pytest.param("MKCOL", "/media/{pid}/new", {}, 405, id="mkcol-unknown"),
    pytest.param("POST", "/media/{private}?{signed}", {}, 405, id="post-signed-link"),
    pytest.param("GET", "/media/{key}", {"HTTP_HOST": "evil.example"}, 400, id="host-spoofed"),
]


@pytest.mark.parametrize(("method", "path", "headers", "status"), HOSTILE_MEDIA)
def test_hostile_media_request_gets_plain_text_and_writes_nothing(
    clock: Any, method: str, path: str, headers: dict[str, str], status: int
) -> None:
    public = FileFactory(visibility="public")
    private = FileFactory()
    signed = urlsplit(file_url(private, request=None)).query
    if path.startswith("{expires}="):
        # The private file's signed link with its expiry replaced, its signature kept.
        query = dict(parse_qsl(signed))
        query["expires"] = path.removeprefix("{expires}=")
        path = f"/media/{private.key}?{urlencode(query)}"
    path = (
        path.replace("{key}", public.key)
        .replace("{private}", private.key)
        .replace("{signed}", signed)
        .replace("{pid}", public.project_id)
        .replace("{fid}", public.pk)
    )
    before = list(File.objects.order_by("pk").values())
    client = Client(enforce_csrf_checks=True)
    extra = {k: v for k, v in headers.items() if k.isupper()}
    r = client.generic(method, path, headers={k: v for k, v in headers.items() if not k.isupper()}, **extra)

    assert r.status_code == status, r.content[:300]
    if status >= 400:
        assert r["Content-Type"] == "text/plain; charset=utf-8", r["Content-Type"]
        assert b"<" not in r.content, r.content[:300]
    if status == 405:
        assert r["Allow"] == "GET, HEAD"
    assert list(File.objects.order_by("pk").values()) == before
    assert public.blob.storage.exists(public.blob.name)


def test_the_media_catalogue_has_its_fault_classes() -> None:
    assert len(HOSTILE_MEDIA) >= 30
