"""Bearer authentication: every 401 cause of docs/api.md#tokens-and-scopes, and which of them cost a query."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from tests.factories import TokenFactory
from tokens import crypto
from tokens.services import token_revoke

pytestmark = pytest.mark.django_db

UNAUTHORIZED = {"error": {"code": "unauthorized", "message": "missing or invalid authorization token"}}


def _with_bad_checksum(token: str) -> str:
    last = token[-1]
    return token[:-1] + ("A" if last != "A" else "B")


def _unknown_token() -> str:
    return crypto.generate("live")


@pytest.mark.parametrize(
    "header",
    [
        pytest.param(None, id="missing-header"),
        pytest.param("Basic dXNlcjpwYXNz", id="another-scheme"),
        pytest.param("Bearer", id="scheme-without-token"),
        pytest.param("Bearer not-a-token", id="malformed"),
        pytest.param("Bearer so_prod_AAAAAAAAAAAAAAAAAAAAAAAAAAAA", id="unknown-prefix"),
        pytest.param("Bearer so_live_short", id="too-short"),
        pytest.param("Bearer so_live_" + "A" * 40, id="too-long"),
        pytest.param("Bearer so_live_ÄAAAAAAAAAAAAAAAAAAAAAAAAAAA", id="non-ascii"),
    ],
)
def test_missing_or_malformed_token_gets_401(call, header) -> None:
    r = call("GET", "/v1/cases", auth=header)
    assert r.status_code == 401, r.content
    assert r.json() == UNAUTHORIZED
    assert r["WWW-Authenticate"] == "Bearer"


def test_bad_checksum_gets_401(call, token) -> None:
    r = call("GET", "/v1/cases", auth=f"Bearer {_with_bad_checksum(token.plaintext)}")
    assert r.status_code == 401, r.content
    assert r.json() == UNAUTHORIZED
    assert r["WWW-Authenticate"] == "Bearer"


def test_unknown_token_with_valid_checksum_gets_401(call) -> None:
    r = call("GET", "/v1/cases", auth=f"Bearer {_unknown_token()}")
    assert r.status_code == 401, r.content
    assert r.json() == UNAUTHORIZED


def test_revoked_token_gets_401(call, token) -> None:
    token_revoke(token=token)
    r = call("GET", "/v1/cases")
    assert r.status_code == 401, r.content
    assert r.json() == UNAUTHORIZED
    assert r["WWW-Authenticate"] == "Bearer"


def test_expired_token_gets_401(call, project) -> None:
    expiring = TokenFactory(project=project, expires_at=timezone.now() + timedelta(seconds=30))
    assert call("GET", "/v1/cases", auth=f"Bearer {expiring.plaintext}").status_code == 200
    expiring.expires_at = timezone.now() - timedelta(seconds=1)
    expiring.save(update_fields=["expires_at"])
    r = call("GET", "/v1/cases", auth=f"Bearer {expiring.plaintext}")
    assert r.status_code == 401, r.content
    assert r.json() == UNAUTHORIZED


@pytest.mark.parametrize("scheme", ["Bearer", "bearer", "BEARER", "bEaReR"])
def test_scheme_is_case_insensitive(call, token, scheme) -> None:
    r = call("GET", "/v1/cases", auth=f"{scheme} {token.plaintext}")
    assert r.status_code == 200, r.content


@pytest.mark.parametrize(
    "make_header",
    [
        pytest.param(lambda t: "Bearer garbage", id="malformed"),
        pytest.param(lambda t: f"Bearer {_with_bad_checksum(t.plaintext)}", id="bad-checksum"),
        pytest.param(lambda t: f"Bearer {t.plaintext[:-1]}", id="truncated"),
    ],
)
def test_malformed_or_bad_checksum_token_costs_no_query(call, token, make_header, django_assert_num_queries) -> None:
    header = make_header(token)
    with django_assert_num_queries(0):
        r = call("GET", "/v1/cases", auth=header)
    assert r.status_code == 401, r.content


def test_last_used_at_is_written_at_most_once_a_minute(call, token, django_assert_num_queries) -> None:
    assert token.last_used_at is None
    assert call("GET", "/v1/cases").status_code == 200
    token.refresh_from_db()
    first_use = token.last_used_at
    assert first_use is not None

    with django_assert_num_queries(2):  # token lookup, case page; no UPDATE of last_used_at
        assert call("GET", "/v1/cases").status_code == 200
    token.refresh_from_db()
    assert token.last_used_at == first_use

    type(token).objects.filter(pk=token.pk).update(last_used_at=first_use - timedelta(seconds=61))
    assert call("GET", "/v1/cases").status_code == 200
    token.refresh_from_db()
    assert token.last_used_at > first_use


def test_token_format_has_a_verifiable_checksum() -> None:
    token = crypto.generate("test")
    assert token.startswith("so_test_")
    assert len(token) == len("so_test_") + 28
    assert crypto.parse(token) == "test"
    assert crypto.parse(_with_bad_checksum(token)) is None


def test_checksum_matches_the_contract_algorithm() -> None:
    """CRC32 of everything before the checksum, base62 (0-9A-Za-z), left-padded to 6."""
    import zlib

    body = "so_live_" + "a" * 22
    number = zlib.crc32(body.encode())
    alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
    digits = ""
    while number:
        number, rem = divmod(number, 62)
        digits = alphabet[rem] + digits
    assert crypto.checksum(body) == digits.rjust(6, "0")


def test_only_the_digest_is_stored(token) -> None:
    stored = type(token).objects.get(pk=token.pk)
    values = [str(getattr(stored, f.attname)) for f in stored._meta.fields]
    assert all(token.plaintext not in v for v in values)
    assert stored.digest == crypto.digest(token.plaintext)
    assert stored.hint.startswith(token.plaintext[:11])
    assert stored.hint.endswith(token.plaintext[-4:])
