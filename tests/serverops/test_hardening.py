"""Issue 10 through the test client: what hostile or unusual input gets, beyond the catalogue's
"4xx and nothing changed" (the answers that must succeed, the exact messages, the logs)."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator

import pytest
from django.contrib.auth.models import User
from django.core.exceptions import (
    DisallowedHost,
    RequestDataTooBig,
    SuspiciousFileOperation,
    TooManyFieldsSent,
    TooManyFilesSent,
)
from django.http import UnreadablePostError
from django.http.multipartparser import MultiPartParserError
from django.test import Client, override_settings

from cases.admin import TitleField
from cases.models import Case, CaseEvent
from serverops.logging import DemoteToWarning
from serverops.pagination import encode_cursor
from tests.factories import CaseFactory

pytestmark = pytest.mark.django_db

MANY_FIELDS = "&".join(f"f{n}=1" for n in range(1_100))


@pytest.mark.parametrize(
    "content_type",
    [
        "application/json",
        "application/json; charset=utf-8",
        "Application/JSON; Charset=UTF-8",
        'application/json;charset="utf-8"',
    ],
)
def test_json_content_type_with_a_utf8_charset_is_accepted(call, content_type) -> None:
    r = call("POST", "/v1/cases", json_body={"title": "Aimbot report"}, content_type=content_type)
    assert r.status_code == 201, r.content
    assert Case.objects.get().title == "Aimbot report"


@pytest.mark.parametrize("content_type", ["*/*", "application/*", "*/json", "application/json+x"])
def test_wildcard_content_type_is_415_and_creates_nothing(call, content_type) -> None:
    r = call("POST", "/v1/cases", json_body={"title": "x"}, content_type=content_type)
    assert r.status_code == 415, r.content
    assert r.json()["error"]["code"] == "unsupported_type"
    assert not Case.objects.exists()


@pytest.mark.parametrize("value", ["xml", "json", "api", "yaml", ""])
def test_format_query_parameter_is_ignored(call, case, value) -> None:
    r = call("GET", f"/v1/cases?format={value}")
    assert r.status_code == 200, r.content
    assert [c["id"] for c in r.json()["cases"]] == [case.id]
    r = call("GET", f"/v1/cases/{case.id}?format={value}")
    assert r.status_code == 200, r.content
    r = call("PATCH", f"/v1/cases/{case.id}?format={value}", json_body={"status": "closed"})
    assert r.status_code == 200, r.content


def test_a_5000_digit_number_is_too_large_naming_the_field(call) -> None:
    r = call("POST", "/v1/cases", body=b'{"title": ' + b"7" * 5_000 + b"}")
    assert r.status_code == 400, r.content
    assert r.json()["error"] == {"code": "bad_request", "message": "title: number too large", "param": "title"}
    assert not Case.objects.exists()


def test_a_utf8_bom_is_a_clear_400(call) -> None:
    r = call("POST", "/v1/cases", body=b'\xef\xbb\xbf{"title": "x"}')
    assert r.status_code == 400, r.content
    assert "byte order mark" in r.json()["error"]["message"]
    assert not Case.objects.exists()


def test_malformed_json_says_where_without_python_wording(call) -> None:
    r = call("POST", "/v1/cases", body=b'{\n  "title": "x",\n}')
    assert r.status_code == 400, r.content
    assert r.json()["error"]["message"] == "request body is not valid JSON (line 3, column 1)"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        pytest.param({}, "title: this field is required", id="required"),
        pytest.param({"title": None}, "title: must be a string, not null", id="null"),
        pytest.param({"title": 5}, "title: must be a string", id="wrong-type"),
        pytest.param({"title": "x", "status": "gone"}, "status: must be one of open, closed, archived", id="choice"),
    ],
)
def test_messages_speak_with_one_voice(call, body, message) -> None:
    r = call("POST", "/v1/cases", json_body=body)
    assert r.status_code == 400, r.content
    assert r.json()["error"]["message"] == message


@pytest.mark.parametrize(
    ("sent", "stored"),
    [
        pytest.param("\u00a0Cheater\u00a0", "Cheater", id="nbsp"),
        pytest.param("\u3000\u2003Griefing\u2009\u200a", "Griefing", id="cjk-and-em-spaces"),
        pytest.param("\ufeff\u200bSpam\u2060", "Spam", id="zero-width"),
        pytest.param("\u2003" * 5 + "x" * 200 + "\u3000" * 5, "x" * 200, id="length-counted-after-trimming"),
        pytest.param("Team\u00a0Killing", "Team\u00a0Killing", id="inner-space-kept"),
    ],
)
def test_titles_are_trimmed_of_every_unicode_space(call, case, sent, stored) -> None:
    r = call("POST", "/v1/cases", json_body={"title": sent})
    assert r.status_code == 201, r.content
    assert r.json()["title"] == stored
    r = call("PATCH", f"/v1/cases/{case.id}", json_body={"title": sent})
    assert r.status_code == 200, r.content
    case.refresh_from_db()
    assert case.title == stored


@pytest.mark.parametrize("title", ["abc\n", "\tabc", "abc\x85"])
def test_control_characters_at_the_edges_are_refused_not_trimmed(call, title) -> None:
    r = call("POST", "/v1/cases", json_body={"title": title})
    assert r.status_code == 400, r.content
    assert r.json()["error"]["param"] == "title"
    assert not Case.objects.exists()


def test_admin_title_field_trims_the_same_spaces() -> None:
    from django.core.exceptions import ValidationError

    assert TitleField().clean("\u3000Ban appeal\u00a0") == "Ban appeal"
    with pytest.raises(ValidationError):
        TitleField().clean("\u00a0\u2003\u3000")


def test_cursor_signed_under_another_secret_key_is_400(call, project) -> None:
    cases = [CaseFactory(project=project) for _ in range(3)]
    r = call("GET", "/v1/cases?limit=1")
    cursor = r.json()["next_cursor"]
    assert call("GET", f"/v1/cases?limit=1&cursor={cursor}").status_code == 200
    with override_settings(SECRET_KEY="another-key-" + "x" * 50):
        r = call("GET", f"/v1/cases?limit=1&cursor={cursor}")
    assert r.status_code == 400, r.content
    assert r.json()["error"]["param"] == "cursor"
    assert len(cases) == 3


def test_cursor_of_another_list_names_cursor(call, case) -> None:
    event = CaseEvent.objects.get(case=case)
    r = call("GET", f"/v1/cases?cursor={encode_cursor(event.created_at, event.id, salt='events')}")
    assert r.status_code == 400, r.content
    assert r.json()["error"]["param"] == "cursor"


@pytest.fixture
def security_log() -> Iterator[io.StringIO]:
    """What the django.security handler writes, captured."""
    [handler] = [
        h
        for h in logging.getLogger("django.security").handlers
        if isinstance(h, logging.StreamHandler) and any(isinstance(f, DemoteToWarning) for f in h.filters)
    ]
    stream = io.StringIO()
    previous = handler.setStream(stream)
    yield stream
    handler.setStream(previous)


def test_spoofed_host_is_a_400_logged_as_one_warning_line(call, security_log) -> None:
    r = call("GET", "/v1/cases", headers={"Host": "scanner.example"})
    assert r.status_code == 400, r.content
    assert r.json()["error"]["code"] == "bad_request"
    assert r["X-Request-Id"]
    lines = security_log.getvalue().splitlines()
    assert len(lines) == 1, lines
    assert " WARNING django.security.DisallowedHost " in lines[0]
    assert "Traceback" not in security_log.getvalue()


@pytest.fixture
def staff_client(django_user_model: type[User]) -> Client:
    client = Client()
    client.force_login(django_user_model.objects.create_superuser("staff", password="pw"))
    return client


@pytest.mark.parametrize(
    ("path", "logged_in"),
    [
        ("/admin/login/?" + MANY_FIELDS, False),
        ("/admin/cases/case/?" + MANY_FIELDS, True),
        ("/admin/tokens/scopedtoken/?" + MANY_FIELDS, True),
    ],
)
def test_admin_too_many_query_fields_is_a_plain_400(staff_client, security_log, path, logged_in) -> None:
    r = (staff_client if logged_in else Client()).get(path)
    assert r.status_code == 400, r.content[:300]
    assert r["Content-Type"].startswith("text/html")
    assert "Traceback" not in security_log.getvalue()
    assert "WARNING django.security.TooManyFieldsSent" in security_log.getvalue()


def test_admin_too_many_form_fields_is_a_plain_400_before_login(security_log) -> None:
    r = Client().post("/admin/login/", MANY_FIELDS, content_type="application/x-www-form-urlencoded")
    assert r.status_code == 400, r.content[:300]
    assert "Traceback" not in security_log.getvalue()


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        pytest.param(b"anything", "multipart/form-data", id="no-boundary"),
        pytest.param(b"anything", "multipart/form-data; boundary=" + "b" * 300, id="boundary-too-long"),
        pytest.param(
            b"".join(
                b'--x\r\nContent-Disposition: form-data; name="f%d"; filename="f%d.txt"\r\n\r\nx\r\n' % (n, n)
                for n in range(120)
            )
            + b"--x--\r\n",
            "multipart/form-data; boundary=x",
            id="too-many-files",
        ),
        pytest.param(
            b"".join(b'--x\r\nContent-Disposition: form-data; name="f%d"\r\n\r\nx\r\n' % n for n in range(1_100))
            + b"--x--\r\n",
            "multipart/form-data; boundary=x",
            id="too-many-fields",
        ),
    ],
)
def test_admin_bad_multipart_is_a_plain_400_logged_without_traceback(security_log, body, content_type) -> None:
    r = Client().post("/admin/login/", body, content_type=content_type)
    assert r.status_code == 400, r.content[:300]
    assert "Traceback" not in security_log.getvalue()


@pytest.mark.parametrize(
    ("exception", "status", "message"),
    [
        pytest.param(TooManyFieldsSent("x"), 400, "too many fields in the query string or form", id="fields"),
        pytest.param(TooManyFilesSent("x"), 400, "too many files in the form", id="files"),
        pytest.param(RequestDataTooBig("x"), 413, "request body is larger than 1 MiB", id="too-big"),
        pytest.param(MultiPartParserError("Invalid boundary in multipart: None"), 400, "multipart", id="multipart"),
        pytest.param(UnreadablePostError("x"), 400, "request body ended before its Content-Length", id="unreadable"),
        pytest.param(DisallowedHost("x"), 400, "Host header", id="host"),
        pytest.param(SuspiciousFileOperation("x"), 400, "bad request", id="suspicious"),
    ],
)
def test_every_request_parsing_refusal_is_a_4xx_envelope_in_the_api(exception, status, message) -> None:
    from rest_framework.test import APIRequestFactory

    from serverops.exception_handler import exception_handler

    request = APIRequestFactory().get("/v1/cases")
    response = exception_handler(exception, {"request": request})
    assert response.status_code == status
    assert response.data["error"]["code"] in {"bad_request", "payload_too_large"}
    assert message in response.data["error"]["message"]
    assert response.data["error"]["message"] != "x"
