"""``ScopedToken.objects.get_by_digest``: the lookup every request makes, pinned against the ORM's ``get``."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from tests.factories import TokenFactory
from tokens import crypto
from tokens.models import ScopedToken

pytestmark = pytest.mark.django_db


def _fields(token: ScopedToken) -> dict[str, object]:
    return {field.attname: getattr(token, field.attname) for field in ScopedToken._meta.concrete_fields}


def _types(token: ScopedToken) -> dict[str, type]:
    return {name: type(value) for name, value in _fields(token).items()}


@pytest.mark.parametrize(
    "changes",
    [
        pytest.param({}, id="fresh"),
        pytest.param(
            {
                "scopes": ["cases:read", "media:write", "webhooks:read"],
                "created_by": "ops@example.com",
                # Microseconds, so a lossy conversion would show.
                "expires_at": timezone.now() + timedelta(days=3, microseconds=123_457),
                "revoked_at": timezone.now() - timedelta(microseconds=654_321),
                "last_used_at": timezone.now() - timedelta(minutes=5, microseconds=1),
            },
            id="every-field-set",
        ),
        pytest.param({"scopes": []}, id="no-scopes"),
    ],
)
def test_found_token_equals_what_the_orm_returns(project, changes) -> None:
    token = TokenFactory(project=project)
    ScopedToken.objects.filter(pk=token.pk).update(**changes)
    expected = ScopedToken.objects.get(digest=token.digest)

    found = ScopedToken.objects.get_by_digest(token.digest)

    assert type(found) is ScopedToken
    assert _fields(found) == _fields(expected)
    assert _types(found) == _types(expected)
    assert found.expires_at is None or found.expires_at.tzinfo is not None
    assert (found._state.adding, found._state.db) == (expected._state.adding, expected._state.db)


def test_found_token_behaves_like_the_orm_instance(project) -> None:
    token = TokenFactory(project=project, expires_at=timezone.now() + timedelta(hours=1))
    found = ScopedToken.objects.get_by_digest(crypto.digest(token.plaintext))
    now = timezone.now()

    assert found.is_usable(now)
    assert found.state(now) == "active"
    assert found.project_id == project.pk
    found.name = "renamed"
    found.save(update_fields=["name"])  # an UPDATE of the loaded row, not an INSERT
    assert ScopedToken.objects.get(pk=token.pk).name == "renamed"
    assert ScopedToken.objects.count() == 1


def test_lookup_is_one_query_on_the_tokens_own_table(project) -> None:
    token = TokenFactory(project=project)
    TokenFactory(project=project)  # another row the lookup must not return

    with CaptureQueriesContext(connection) as queries:
        found = ScopedToken.objects.get_by_digest(token.digest)

    assert found.pk == token.pk
    assert len(queries) == 1, queries.captured_queries
    sql = queries[0]["sql"].upper()
    assert ScopedToken._meta.db_table.upper() in sql, sql
    assert "JOIN" not in sql, sql


@pytest.mark.parametrize(
    "digest",
    [
        pytest.param(crypto.digest(crypto.generate("live")), id="unknown-digest"),
        pytest.param("", id="empty"),
        pytest.param("' OR '1'='1", id="sql-in-the-value"),
    ],
)
def test_unknown_digest_raises_does_not_exist_after_one_query(project, digest, django_assert_num_queries) -> None:
    TokenFactory(project=project)
    with django_assert_num_queries(1), pytest.raises(ScopedToken.DoesNotExist):
        ScopedToken.objects.get_by_digest(digest)
