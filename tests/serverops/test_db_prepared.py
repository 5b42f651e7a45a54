"""A statement a connection repeats is prepared once and then run by name (PostgreSQL)."""

from __future__ import annotations

import pytest
from django.db import connection

from tokens.models import ScopedToken

pytestmark = [pytest.mark.django_db, pytest.mark.postgres]


@pytest.fixture(autouse=True)
def _postgres_only() -> None:
    if connection.vendor != "postgresql":
        pytest.skip("a PostgreSQL backend; .ci/run runs this file with DATABASE_URL set")


def _prepared() -> set[str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT statement FROM pg_prepared_statements")
        return {row[0] for row in cursor.fetchall()}


def test_the_token_lookup_is_prepared_after_its_second_run() -> None:
    digests = ["0" * 64, "1" * 64, "2" * 64]
    assert not any("tokens_scopedtoken" in sql for sql in _prepared())
    for digest in digests:
        with pytest.raises(ScopedToken.DoesNotExist):
            ScopedToken.objects.get_by_digest(digest)
    assert any('FROM "tokens_scopedtoken"' in sql and "$1" in sql for sql in _prepared())
