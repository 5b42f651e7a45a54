from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.core.cache import cache
from django.test import Client
from django.utils import timezone

from tests.factories import CaseFactory, ProjectFactory, TokenFactory
from tokens.models import Project, ScopedToken

Call = Callable[..., Any]

# What opens the test database: a test that asks for none of these (and has no django_db marker)
# runs the same whatever DATABASE_URL names.
DATABASE_FIXTURES = {"db", "transactional_db", "django_db_reset_sequences", "django_db_serialized_rollback"}


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--database-tests-only",
        action="store_true",
        help=(
            "run only the tests that use the test database (CI's second database: the tests that do not, "
            "and those marked any_database, already ran on the first and would only repeat themselves)"
        ),
    )


def uses_the_database(item: pytest.Item) -> bool:
    if item.get_closest_marker("any_database") is not None:
        return False
    fixtures = set(getattr(item, "fixturenames", ()))
    return item.get_closest_marker("django_db") is not None or bool(fixtures & DATABASE_FIXTURES)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # The longest tests first, so that under pytest-xdist no core is left running one of them alone
    # at the end (sorted is stable: the rest keep their order).
    items.sort(key=lambda item: item.get_closest_marker("schemathesis") is None)
    if config.getoption("--database-tests-only"):
        kept = [item for item in items if uses_the_database(item)]
        config.hook.pytest_deselected(items=[item for item in items if not uses_the_database(item)])
        items[:] = kept


@pytest.fixture(autouse=True)
def _fresh_cache() -> Iterator[None]:
    """Rate-limit counters live in the cache; no test inherits another's budget."""
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def project(db: None) -> Project:
    return ProjectFactory()


@pytest.fixture
def token(project: Project) -> ScopedToken:
    """A live token of ``project`` with cases:read and cases:write."""
    return TokenFactory(project=project)


@pytest.fixture
def used_token(token: ScopedToken) -> ScopedToken:
    """``token`` in steady use: its last use was just recorded, so a request does not write it again."""
    ScopedToken.objects.filter(pk=token.pk).update(last_used_at=timezone.now())
    return token


@pytest.fixture
def call(client: Client, token: ScopedToken) -> Call:
    """``call("PATCH", "/v1/cases/…", json={...})``, authenticated as ``token`` unless ``auth=`` says otherwise.

    ``auth=None`` sends no Authorization header; ``auth="…"`` sends that header value as is;
    ``body=b"…"`` sends raw bytes with ``content_type``.
    """

    def _call(
        method: str,
        path: str,
        *,
        json_body: Any = None,
        body: bytes | str | None = None,
        content_type: str = "application/json",
        auth: Any = ...,
        headers: dict[str, str] | None = None,
        **extra: Any,
    ) -> Any:
        sent_headers = dict(headers or {})
        if auth is ...:
            sent_headers["Authorization"] = f"Bearer {token.plaintext}"  # type: ignore[attr-defined]
        elif auth is not None:
            sent_headers["Authorization"] = auth
        data: Any = body
        if json_body is not None:
            data = json.dumps(json_body)
        kwargs: dict[str, Any] = {"headers": sent_headers, **extra}
        if data is not None:
            kwargs.update(data=data, content_type=content_type)
        return client.generic(method, path, **kwargs)

    return _call


@pytest.fixture
def case(project: Project) -> Any:
    return CaseFactory(project=project)


@pytest.fixture
def private_networks_allowed(settings: Any) -> None:
    """Webhook endpoints on 127.0.0.1 (the tests' receivers), which production refuses."""
    settings.SERVEROPS = {**settings.SERVEROPS, "WEBHOOK_ALLOW_PRIVATE_NETWORKS": True}
