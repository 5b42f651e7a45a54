"""A page of files: every link exactly what ``request.build_absolute_uri`` makes of the storage's
link, with the request's host looked up (and checked against ALLOWED_HOSTS) once per request."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.conf import settings
from django.core.exceptions import DisallowedHost
from django.core.files.storage import default_storage, storages
from django.http import HttpRequest
from django.test import RequestFactory, override_settings
from rest_framework.request import Request

from media import storage as media_storage_module
from media.models import File
from media.serializers import file_representation
from media.storage import FileLinks, FileSystemMediaStorage, absolute_url, file_url, media_storage, signed_url_ttl
from tests.factories import FileFactory

pytestmark = pytest.mark.django_db

NOW = 1_800_000_000


@pytest.fixture(autouse=True)
def clock(monkeypatch: pytest.MonkeyPatch) -> None:
    """One instant for the links under test and their expected values."""
    monkeypatch.setattr(media_storage_module, "_now", lambda: NOW)


@pytest.fixture
def page(project: Any) -> list[File]:
    """Files as a page lists them, fresh from the database: public, private and blocked, names to escape."""
    names = ["screen shot é.png", "report (1).png", "ok.png", "100%_real.png", "中文.png", "a+b=c;d.png"]
    for index, name in enumerate(names * 2):
        file = FileFactory(project=project, original_name=name, visibility=("public", "private")[index % 2])
        if index % 5 == 4:
            File.objects.filter(pk=file.pk).update(abuse_status="blocked")
    return list(File.objects.order_by("pk"))


def _link_before(file: File, request: HttpRequest) -> str:
    """What ``file_url`` returned before it kept the scheme and host per request."""
    expires_in = None if file.abuse_status == "blocked" or file.visibility == "public" else signed_url_ttl()
    return request.build_absolute_uri(default_storage.media_url(file.blob.name, expires_in=expires_in))


REQUESTS: list[Any] = [
    pytest.param({}, {}, id="testserver"),
    pytest.param({"HTTP_HOST": "127.0.0.1:8000"}, {}, id="host-with-port"),
    pytest.param({"HTTP_HOST": "localhost", "secure": True}, {}, id="https"),
    pytest.param({"HTTP_HOST": "[::1]:8443", "secure": True}, {}, id="ipv6-host"),
    pytest.param(
        {"HTTP_HOST": "127.0.0.1", "HTTP_X_FORWARDED_HOST": "cases.example.com", "HTTP_X_FORWARDED_PROTO": "https"},
        {
            "USE_X_FORWARDED_HOST": True,
            "SECURE_PROXY_SSL_HEADER": ("HTTP_X_FORWARDED_PROTO", "https"),
            "ALLOWED_HOSTS": ["cases.example.com"],
        },
        id="behind-a-proxy",
    ),
    pytest.param(
        {"HTTP_HOST": "127.0.0.1", "HTTP_X_FORWARDED_HOST": "cases.example.com"},
        {},
        id="forwarded-host-ignored-unless-configured",
    ),
]


@pytest.mark.parametrize(("meta", "configured"), REQUESTS)
def test_a_page_of_files_links_exactly_as_build_absolute_uri(page, meta, configured) -> None:
    with override_settings(**configured):
        request = RequestFactory().get("/v1/media", **meta)
        # A blocked file's url is null (docs/api.md, "Files and evidence"); the others link as before.
        expected = [None if file.abuse_status == "blocked" else _link_before(file, request) for file in page]

        links = [file_representation(file, links=FileLinks(request))["url"] for file in page]

    assert links == expected
    opened = [link for link in links if link is not None]
    assert len(set(opened)) == len(opened) == len([file for file in page if file.abuse_status != "blocked"])
    assert {link.split("?")[0].rsplit(".", 1)[-1] for link in opened} == {"png"}


def test_drf_request_links_like_the_django_request_it_wraps(page) -> None:
    request = RequestFactory().get("/v1/media", HTTP_HOST="localhost:8000")

    assert [file_url(file, request=Request(request)) for file in page] == [_link_before(f, request) for f in page]


def _count_host_lookups(request: HttpRequest) -> list[str]:
    seen: list[str] = []
    get_host: Callable[[], str] = request.get_host

    def counted() -> str:
        seen.append(get_host())
        return seen[-1]

    request.get_host = counted  # type: ignore[method-assign]
    return seen


def test_one_files_links_object_serves_a_whole_page_as_file_url_would(page) -> None:
    request = RequestFactory().get("/v1/media", HTTP_HOST="localhost:8000")
    links = FileLinks(request)

    assert [links.url(file) for file in page] == [file_url(file, request=request) for file in page]
    assert [links.url(file) for file in page] == [_link_before(file, request) for file in page]


def test_the_host_is_looked_up_once_per_request_not_once_per_file(page) -> None:
    request = RequestFactory().get("/v1/media", HTTP_HOST="localhost")
    lookups = _count_host_lookups(request)

    for file in page:
        file_url(file, request=request)
    request.build_absolute_uri("/v1/media?cursor=next")  # as the pagination's next link

    assert lookups == ["localhost"]
    other = RequestFactory().get("/v1/media", HTTP_HOST="127.0.0.1")
    other_lookups = _count_host_lookups(other)
    assert file_url(page[0], request=other).startswith("http://127.0.0.1/media/")
    assert other_lookups == ["127.0.0.1"]


@pytest.mark.parametrize(
    ("meta", "configured"),
    [
        pytest.param({"HTTP_HOST": "evil.example.com"}, {}, id="host-not-allowed"),
        pytest.param(
            {"HTTP_HOST": "localhost", "HTTP_X_FORWARDED_HOST": "evil.example.com"},
            {"USE_X_FORWARDED_HOST": True},
            id="forwarded-host-not-allowed",
        ),
    ],
)
def test_a_host_outside_allowed_hosts_is_refused_for_every_file(page, meta, configured) -> None:
    with override_settings(**configured):
        request = RequestFactory().get("/v1/media", **meta)
        for file in page[:3]:
            with pytest.raises(DisallowedHost):
                file_url(file, request=request)


@pytest.mark.parametrize(
    "link",
    [
        pytest.param("/media/p/f/plain.png?expires=1&signature=ab", id="root-path"),
        pytest.param("/media/%C3%A9/x.png", id="escaped"),
        pytest.param("/media/é/x y.png", id="unescaped"),
        pytest.param("/media/x y.png?a=<b>", id="unescaped-ascii"),
        pytest.param("/media/p/./f.png", id="dot-segment"),
        pytest.param("/media/p/../f.png", id="dot-dot-segment"),
        pytest.param("/media/p/.\t/f.png", id="tab-hiding-a-dot-segment"),
        pytest.param("/media/p/f.png?next=/./x#frag", id="dot-segment-in-the-query"),
        pytest.param("//cdn.example.com/media/f.png", id="scheme-relative"),
        pytest.param("///media/f.png", id="triple-slash"),
        pytest.param("media/f.png", id="relative"),
        pytest.param("?expires=1", id="query-only"),
    ],
)
def test_relative_links_become_what_build_absolute_uri_makes_of_them(link, monkeypatch) -> None:
    request = RequestFactory().get("/v1/media/list", HTTP_HOST="localhost:8000", secure=True)
    expected = request.build_absolute_uri(link)

    assert absolute_url(link, request=request) == expected
    # FileLinks' own short way for links from the site's root, with the storage giving ``link``.
    monkeypatch.setattr(FileSystemMediaStorage, "media_links", lambda self, **kwargs: lambda name: link)
    assert FileLinks(request).url(FileFactory.build(visibility="public")) == expected


def test_the_lazy_default_storage_resolves_to_the_configured_one_and_follows_the_settings(page, tmp_path) -> None:
    before = media_storage(page[0])
    assert before is storages["default"]

    moved = {"BACKEND": "media.storage.FileSystemMediaStorage", "OPTIONS": {"location": str(tmp_path)}}
    with override_settings(STORAGES={**settings.STORAGES, "default": moved}):
        after = media_storage(page[0])
        assert after is storages["default"]
        assert after is not before
        assert after.location == str(tmp_path)
