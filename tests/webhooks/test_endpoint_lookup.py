"""The one statement a write spends on webhooks: the endpoints of the changed cases' projects and modes."""

from __future__ import annotations

import pytest

from tests.factories import ProjectFactory
from tokens.models import Mode
from webhooks.models import WebhookEndpoint
from webhooks.services import _endpoints_of, endpoint_create

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _private_networks(settings) -> None:
    settings.SERVEROPS = {**settings.SERVEROPS, "WEBHOOK_ALLOW_PRIVATE_NETWORKS": True}


def _fields(endpoint: WebhookEndpoint) -> dict[str, object]:
    return {field.attname: getattr(endpoint, field.attname) for field in endpoint._meta.concrete_fields}


def test_the_endpoints_of_each_project_and_mode_asked_for_and_no_others(django_assert_num_queries) -> None:
    one, two, other = ProjectFactory(), ProjectFactory(), ProjectFactory()
    wanted = [
        endpoint_create(project=one, mode=Mode.LIVE, url="http://127.0.0.1:9/a", events=["case.updated"])[0],
        endpoint_create(project=one, mode=Mode.LIVE, url="http://127.0.0.1:9/b")[0],
        endpoint_create(project=two, mode=Mode.TEST, url="http://127.0.0.1:9/c")[0],
    ]
    endpoint_create(project=one, mode=Mode.TEST, url="http://127.0.0.1:9/other-mode")
    endpoint_create(project=other, mode=Mode.LIVE, url="http://127.0.0.1:9/other-project")
    with django_assert_num_queries(1):
        found = _endpoints_of({(one.pk, Mode.LIVE), (two.pk, Mode.TEST)})
    by_id = {endpoint.pk: endpoint for endpoint in found}
    assert set(by_id) == {endpoint.pk for endpoint in wanted}
    # Every column as the ORM reads it: the JSON list of events, the datetimes, the secret.
    for endpoint in WebhookEndpoint.objects.filter(pk__in=by_id):
        assert _fields(by_id[endpoint.pk]) == _fields(endpoint)


def test_no_endpoints_is_an_empty_list(django_assert_num_queries) -> None:
    project = ProjectFactory()
    with django_assert_num_queries(1):
        assert _endpoints_of({(project.pk, Mode.LIVE)}) == []
