"""media.storage: the links a File's ``url`` is made of, on the file system and on S3 (settings alone)."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.files.storage import FileSystemStorage, default_storage
from django.test import RequestFactory, override_settings
from django.utils.crypto import salted_hmac
from django.utils.encoding import filepath_to_uri

from media import storage as media_storage_module
from media.storage import FileSystemMediaStorage, S3MediaStorage, absolute_url, file_url, staff_file_url

KEY = "p_01JDZ0000000000000000000AA/f_01JDZ0000000000000000000AA/screen shot é.png"
NOW = 1_800_000_000


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> SimpleNamespace:
    """Time as the signing code sees it; ``clock.now`` moves it."""
    state = SimpleNamespace(now=NOW)
    monkeypatch.setattr(media_storage_module, "_now", lambda: state.now)
    return state


@pytest.fixture
def fs() -> FileSystemMediaStorage:
    return FileSystemMediaStorage()


def stored(storage: Any, *, visibility: str = "private", abuse_status: str = "clean") -> Any:
    """What file_url reads of a File: its blob (name and storage), visibility and abuse status."""
    return SimpleNamespace(
        blob=SimpleNamespace(name=KEY, storage=storage), visibility=visibility, abuse_status=abuse_status
    )


def signature_of(url: str) -> tuple[str, dict[str, list[str]]]:
    parts = urlsplit(url)
    return parts.path, parse_qs(parts.query)


def test_public_file_url_is_stable_and_absolute_on_the_request_host(fs: FileSystemMediaStorage) -> None:
    request = RequestFactory().get("/v1/media", HTTP_HOST="127.0.0.1:8000", secure=True)

    first = file_url(stored(fs, visibility="public"), request=request)
    second = file_url(stored(fs, visibility="public"), request=request)

    assert first == second
    assert first == "https://127.0.0.1:8000/media/" + KEY.replace(" ", "%20").replace("é", "%C3%A9")


def test_private_file_url_is_signed_for_the_configured_ttl(fs: FileSystemMediaStorage, clock: Any) -> None:
    request = RequestFactory().get("/v1/media")

    with override_settings(SERVEROPS={**_serverops(), "MEDIA_SIGNED_URL_TTL": 600}):
        url = file_url(stored(fs), request=request)

    _, query = signature_of(url)
    assert url.startswith("http://testserver/media/p_01JDZ")
    assert query["expires"] == [str(NOW + 600)]
    assert fs.check_signature(KEY, expires=query["expires"][0], signature=query["signature"][0], staff=False)


def test_private_file_url_is_fresh_in_every_response(fs: FileSystemMediaStorage, clock: Any) -> None:
    first = file_url(stored(fs), request=None)
    clock.now += 5
    second = file_url(stored(fs), request=None)

    assert first != second
    assert signature_of(second)[1]["expires"] == [str(NOW + 5 + 3600)]


def test_blocked_file_gets_only_the_unsigned_link(fs: FileSystemMediaStorage) -> None:
    url = file_url(stored(fs, abuse_status="blocked"), request=None)

    assert "?" not in url


@pytest.mark.parametrize(
    ("change", "staff"),
    [
        pytest.param(lambda q: {**q, "expires": str(int(q["expires"]) + 1)}, False, id="expiry-moved"),
        pytest.param(lambda q: {**q, "signature": "0" * 64}, False, id="signature-replaced"),
        pytest.param(lambda q: {**q, "signature": q["signature"][:-1]}, False, id="signature-truncated"),
        pytest.param(lambda q: {**q, "expires": "-1"}, False, id="negative-expiry"),
        pytest.param(lambda q: {**q, "expires": "9" * 40}, False, id="huge-expiry"),
        pytest.param(lambda q: q, True, id="public-signature-claimed-as-staff"),
    ],
)
def test_tampered_signature_is_refused(fs: FileSystemMediaStorage, clock: Any, change: Any, staff: bool) -> None:
    _, query = signature_of(fs.media_url(KEY, expires_in=60))
    sent = change({"expires": query["expires"][0], "signature": query["signature"][0]})

    assert not fs.check_signature(KEY, expires=sent["expires"], signature=sent["signature"], staff=staff)


def test_signature_of_one_file_does_not_open_another(fs: FileSystemMediaStorage, clock: Any) -> None:
    _, query = signature_of(fs.media_url(KEY, expires_in=60))

    other = KEY.replace("f_01JDZ", "f_01JDY")
    assert not fs.check_signature(other, expires=query["expires"][0], signature=query["signature"][0], staff=False)


def test_signature_expires(fs: FileSystemMediaStorage, clock: Any) -> None:
    _, query = signature_of(fs.media_url(KEY, expires_in=60))
    args = {"expires": query["expires"][0], "signature": query["signature"][0], "staff": False}

    clock.now += 60
    assert fs.check_signature(KEY, **args)
    clock.now += 1
    assert not fs.check_signature(KEY, **args)


def test_staff_url_carries_a_staff_signature(fs: FileSystemMediaStorage, clock: Any) -> None:
    url = staff_file_url(stored(fs, abuse_status="blocked"), request=None)

    _, query = signature_of(url)
    assert query["staff"] == ["1"]
    assert fs.check_signature(KEY, expires=query["expires"][0], signature=query["signature"][0], staff=True)
    assert not fs.check_signature(KEY, expires=query["expires"][0], signature=query["signature"][0], staff=False)


def test_media_base_url_wins_over_the_request_host(fs: FileSystemMediaStorage) -> None:
    request = RequestFactory().get("/v1/media", HTTP_HOST="cases.example.com")

    with override_settings(SERVEROPS={**_serverops(), "MEDIA_BASE_URL": "https://files.example.com/media/"}):
        url = file_url(stored(fs, visibility="public"), request=request)

    assert url.startswith("https://files.example.com/media/p_01JDZ")


def test_without_a_request_the_url_is_on_site_url(fs: FileSystemMediaStorage) -> None:
    with override_settings(SERVEROPS={**_serverops(), "SITE_URL": "https://cases.example.com/"}):
        url = file_url(stored(fs, visibility="public"), request=None)

    assert url.startswith("https://cases.example.com/media/p_01JDZ")


def test_absolute_url_keeps_an_absolute_link() -> None:
    link = "https://bucket.s3.example.com/k?X-Amz-Signature=a://b"

    assert absolute_url(link, request=RequestFactory().get("/")) == link


def test_storage_without_the_interface_is_a_configuration_error() -> None:
    with pytest.raises(ImproperlyConfigured, match="FileSystemStorage"):
        file_url(stored(FileSystemStorage()), request=None)


def test_filefield_url_is_a_signed_link_that_does_not_open_blocked_files(
    fs: FileSystemMediaStorage, clock: Any
) -> None:
    _, query = signature_of(fs.url(KEY))

    assert fs.check_signature(KEY, expires=query["expires"][0], signature=query["signature"][0], staff=False)
    assert "staff" not in query


def s3(**options: Any) -> S3MediaStorage:
    defaults = {
        "bucket_name": "evidence",
        "endpoint_url": "http://127.0.0.1:9",
        "region_name": "us-east-1",
        "access_key": "AKIAEXAMPLE",
        "secret_key": "secret",
        "signature_version": "s3v4",
        "addressing_style": "path",
    }
    return S3MediaStorage(**{**defaults, **options})


def test_s3_private_url_is_the_stores_presigned_url(clock: Any) -> None:
    url = file_url(stored(s3()), request=RequestFactory().get("/"))

    parts = urlsplit(url)
    query = parse_qs(parts.query)
    assert parts.netloc == "127.0.0.1:9"
    assert parts.path.startswith("/evidence/p_01JDZ")
    assert query["X-Amz-Expires"] == ["3600"]
    assert "X-Amz-Signature" in query


def test_s3_public_url_is_unsigned_and_stable() -> None:
    first = file_url(stored(s3(), visibility="public"), request=None)
    second = file_url(stored(s3(), visibility="public"), request=None)

    assert first == second
    assert first.startswith("http://127.0.0.1:9/evidence/p_01JDZ")
    assert "?" not in first


def test_s3_public_url_uses_the_custom_domain_and_private_stays_signed_on_the_store() -> None:
    storage = s3(custom_domain="files.example.com")

    public = file_url(stored(storage, visibility="public"), request=None)
    private = file_url(stored(storage), request=None)

    assert public.startswith("https://files.example.com/p_01JDZ")
    assert private.startswith("http://127.0.0.1:9/evidence/p_01JDZ")
    assert "X-Amz-Signature" in private


def _serverops() -> dict[str, Any]:
    from django.conf import settings

    return dict(settings.SERVEROPS)


@pytest.mark.parametrize("staff", [pytest.param(False, id="public-link"), pytest.param(True, id="staff-link")])
def test_signature_is_djangos_salted_hmac_of_name_and_expiry_under_the_current_secret(
    fs: FileSystemMediaStorage, staff: bool
) -> None:
    salt = "media.storage.FileSystemMediaStorage" + (".staff" if staff else "")
    message = f"{KEY}\n{NOW}"

    assert fs._signature(KEY, NOW, staff=staff) == salted_hmac(salt, message, algorithm="sha256").hexdigest()
    other = "another-secret-key-used-by-this-test-only-0123456789"
    with override_settings(SECRET_KEY=other):
        expected = salted_hmac(salt, message, secret=other, algorithm="sha256").hexdigest()
        assert fs._signature(KEY, NOW, staff=staff) == expected


@pytest.mark.parametrize("staff", [pytest.param(False, id="public-link"), pytest.param(True, id="staff-link")])
def test_links_made_together_are_each_signed_for_their_own_name(
    fs: FileSystemMediaStorage, clock: Any, staff: bool
) -> None:
    names = [KEY, KEY.replace("f_01JDZ", "f_01JDY"), "p_1/f_2/100%_real (1).png", "p_1/f_3/中文.png"]
    salt = "media.storage.FileSystemMediaStorage" + (".staff" if staff else "")

    link = fs.media_links(expires_in=60, staff=staff)
    urls = [link(name) for name in names]

    assert urls == [fs.media_url(name, expires_in=60, staff=staff) for name in names]
    for name, url in zip(names, urls, strict=True):
        path, query = signature_of(url)
        assert path == "/media/" + filepath_to_uri(name)
        assert query["expires"] == [str(NOW + 60)]
        expected = salted_hmac(salt, f"{name}\n{NOW + 60}", algorithm="sha256").hexdigest()
        assert query["signature"] == [expected]
        assert fs.check_signature(name, expires=query["expires"][0], signature=expected, staff=staff)
    public = fs.media_links(expires_in=None)
    assert [public(name) for name in names] == ["/media/" + filepath_to_uri(name) for name in names]


def test_s3_links_made_together_are_the_stores_own(clock: Any) -> None:
    storage = s3()
    names = [KEY, "p_1/f_2/100%_real (1).png"]

    public = storage.media_links(expires_in=None)
    assert [public(name) for name in names] == [storage.media_url(name, expires_in=None) for name in names]
    signed = storage.media_links(expires_in=3600)
    for name in names:
        # Signed by boto3 per call, with its own clock in the query: the same URL but for those.
        ours, theirs = urlsplit(signed(name)), urlsplit(storage.media_url(name, expires_in=3600))
        assert ours.path == theirs.path
        assert parse_qs(ours.query)["X-Amz-Expires"] == parse_qs(theirs.query)["X-Amz-Expires"] == ["3600"]
        assert "X-Amz-Signature" in parse_qs(ours.query)


def test_default_storage_switched_to_one_without_the_interface_is_a_configuration_error() -> None:
    file_url(stored(default_storage, visibility="public"), request=None)  # the media storage: remembered
    plain = {"BACKEND": "django.core.files.storage.FileSystemStorage"}

    with override_settings(STORAGES={**settings.STORAGES, "default": plain}), pytest.raises(ImproperlyConfigured):
        file_url(stored(default_storage, visibility="public"), request=None)
