from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from django.conf import settings

from tests.factories import TokenFactory
from tokens.models import Project, ScopedToken

MEDIA_SCOPES = ["media:read", "media:write", "cases:read", "cases:write"]


@pytest.fixture
def token(project: Project) -> ScopedToken:
    """A live token of ``project`` that may read and write files and cases."""
    return TokenFactory(project=project, scopes=MEDIA_SCOPES)


def stored_objects() -> set[str]:
    """Every object in the file-system storage, as names relative to MEDIA_ROOT."""
    root = Path(settings.MEDIA_ROOT)
    return {str(path.relative_to(root)) for path in root.rglob("*") if path.is_file()}


@pytest.fixture
def storage_unchanged() -> Iterator[None]:
    """Fails the test if it leaves a new object in storage."""
    before = stored_objects()
    yield
    assert stored_objects() == before, "a refused upload left an object in storage"


@pytest.fixture
def call(client, token):  # type: ignore[no-untyped-def]
    """``call`` of tests/conftest.py, authenticated as this package's media token."""
    from tests.conftest import call as base_call

    return base_call.__wrapped__(client, token)  # type: ignore[attr-defined]
