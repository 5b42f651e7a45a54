"""X-Request-Id (docs/api.md#basics) on every response, and the request log line that carries it."""

from __future__ import annotations

import logging
import re

import pytest

pytestmark = pytest.mark.django_db

GENERATED = re.compile(r"req_[0-9A-HJKMNP-TV-Z]{26}")


@pytest.mark.parametrize("offered", ["abc", "A.b_c-1", "x" * 128, "0"])
def test_a_well_formed_client_id_is_echoed(call, offered) -> None:
    assert call("GET", "/v1/cases", headers={"X-Request-Id": offered})["X-Request-Id"] == offered


@pytest.mark.parametrize("offered", ["", "x" * 129, "has space", "semi;colon", "ümlaut", "a/b"])
def test_a_malformed_client_id_is_replaced(call, offered) -> None:
    assert GENERATED.fullmatch(call("GET", "/v1/cases", headers={"X-Request-Id": offered})["X-Request-Id"])


@pytest.mark.parametrize(
    ("method", "path", "auth"),
    [
        ("GET", "/v1/cases", ...),
        ("GET", "/v1/cases", None),
        ("GET", "/v1/nowhere", ...),
        ("PUT", "/v1/cases", ...),
        ("GET", "/admin/login/", None),
    ],
)
def test_every_response_carries_a_request_id(call, method, path, auth) -> None:
    assert GENERATED.fullmatch(call(method, path, auth=auth)["X-Request-Id"])


def test_each_request_gets_its_own_id(call) -> None:
    assert call("GET", "/v1/cases")["X-Request-Id"] != call("GET", "/v1/cases")["X-Request-Id"]


def test_one_log_line_per_request_with_id_token_and_no_secret(call, token, caplog) -> None:
    with caplog.at_level(logging.INFO, logger="serverops.request"):
        call("GET", "/v1/cases?limit=5", headers={"X-Request-Id": "trace-me"})
    [record] = [r for r in caplog.records if r.name == "serverops.request"]
    line = record.getMessage()
    assert record.request_id == "trace-me"
    assert "method=GET path=/v1/cases status=200" in line
    assert f"token={token.id}" in line
    assert re.search(r"queries=\d+ ", line)
    assert token.plaintext not in line
    assert token.digest not in line
