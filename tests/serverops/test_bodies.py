"""Bodies framed the hard ways (issue 10, fault 5), through the real WSGI application
(``serverops.wsgi.application``: BodyFraming around Django), in this process.

tests/serverops/test_gunicorn.py sends the same over raw sockets to a real gunicorn.
"""

from __future__ import annotations

import io
import json

import pytest
from django.http import UnreadablePostError

from cases.models import Case
from serverops.bodies import CHUNKED_BODY_LIMIT, ExactLengthInput
from tests.serverops.wsgi import Trickle, wsgi

pytestmark = pytest.mark.django_db


CHUNKED = {"HTTP_TRANSFER_ENCODING": "chunked", "CONTENT_TYPE": "application/json"}


def test_chunked_body_under_gunicorn_is_read(token) -> None:
    # gunicorn decodes the chunks and says the stream ends where the body does.
    status, _headers, content = wsgi(
        "POST",
        "/v1/cases",
        b'{"title": "sent in chunks"}',
        token=token,
        headers={**CHUNKED, "wsgi.input_terminated": True},
        stream=Trickle(b'{"title": "sent in chunks"}'),
    )
    assert status == 201, content
    assert json.loads(content)["title"] == "sent in chunks"
    assert Case.objects.get().title == "sent in chunks"


def test_chunked_body_where_the_server_cannot_delimit_it_is_411(token) -> None:
    status, headers, content = wsgi("POST", "/v1/cases", b'{"title": "x"}', token=token, headers=CHUNKED)
    assert status == 411, content
    assert json.loads(content)["error"]["code"] == "length_required"
    assert headers["X-Request-Id"]
    assert not Case.objects.exists()


def test_chunked_body_over_the_limit_is_411(token) -> None:
    body = b'{"title": "x", "description": "' + b"a" * CHUNKED_BODY_LIMIT + b'"}'
    status, _headers, content = wsgi(
        "POST", "/v1/cases", body, token=token, headers={**CHUNKED, "wsgi.input_terminated": True}
    )
    assert status == 411, content
    assert "Content-Length" in json.loads(content)["error"]["message"]
    assert not Case.objects.exists()


def test_chunked_body_over_one_mebibyte_is_413_like_any_other(token) -> None:
    body = b'{"title": "x", "description": "' + b"a" * (1024 * 1024) + b'"}'
    status, _, content = wsgi(
        "POST", "/v1/cases", body, token=token, headers={**CHUNKED, "wsgi.input_terminated": True}
    )
    assert status == 413, content
    assert not Case.objects.exists()


@pytest.mark.parametrize(
    ("method", "sent", "declared"),
    [
        pytest.param("POST", b'{"title": "cut short"}', 100, id="create-json-complete-but-short"),
        pytest.param("POST", b'{"title": "cut', 100, id="create-json-cut"),
        pytest.param("PATCH", b'{"status": "closed"}', 21, id="patch-one-byte-short"),
    ],
)
def test_body_shorter_than_its_content_length_is_400_and_acts_on_nothing(token, case, method, sent, declared) -> None:
    before = list(Case.objects.values())
    path = "/v1/cases" if method == "POST" else f"/v1/cases/{case.id}"
    status, headers, content = wsgi(
        method,
        path,
        sent,
        token=token,
        headers={"CONTENT_TYPE": "application/json", "CONTENT_LENGTH": str(declared)},
    )
    assert status == 400, content
    assert json.loads(content)["error"]["message"] == "request body ended before its Content-Length"
    assert headers["X-Request-Id"]
    assert list(Case.objects.values()) == before


def test_body_of_exactly_its_content_length_is_served_even_in_small_reads(token) -> None:
    body = b'{"title": "trickled"}'
    status, _, content = wsgi(
        "POST",
        "/v1/cases",
        body,
        token=token,
        headers={"CONTENT_TYPE": "application/json", "CONTENT_LENGTH": str(len(body))},
        stream=Trickle(body),
    )
    assert status == 201, content
    assert Case.objects.get().title == "trickled"


def test_exact_length_input_reads_to_the_length_and_no_further() -> None:
    stream = ExactLengthInput(Trickle(b"hello world and more"), 11)
    assert stream.read(5) == b"hello"
    assert stream.readline() == b" world"
    assert stream.read() == b""
    with pytest.raises(UnreadablePostError):
        ExactLengthInput(io.BytesIO(b"short"), 10).read()
    with pytest.raises(UnreadablePostError):
        ExactLengthInput(io.BytesIO(b""), 3).readline()
