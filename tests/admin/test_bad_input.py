"""The admin's bad-input catalogue (issue 10, fault 9): crafted change-list and object URLs.

Each answer is a 400, the admin's own "incorrect lookup" handling (a redirect to ``?e=1``)
or its "not found" handling (a redirect to the index with a message), never a 500; and
nothing in the database changes.
"""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib import admin
from django.contrib.auth.models import Group, User
from django.db import models
from django.test import Client
from django.urls import reverse

from cases.models import Case, CaseEvent, Note, Status
from serverops.admin_site import SafeLookupsMixin, ServerOpsAdminSite
from tests.factories import CaseFactory, TokenFactory
from tokens.models import Organisation, Project, ScopedToken

pytestmark = pytest.mark.django_db

BAD = "400"
LOOKUP = "incorrect lookup"
MISSING = "not found"
SHOWN = "shown"
# A download (a case's file or its export) of nothing: a plain 404, as the file view answers.
GONE = "404"

CASES = "/admin/cases/case/"
TOKENS = "/admin/tokens/scopedtoken/"
PROJECTS = "/admin/tokens/project/"
ORGANISATIONS = "/admin/tokens/organisation/"
USERS = "/admin/auth/user/"
GROUPS = "/admin/auth/group/"

CATALOGUE: list[Any] = [
    # Lookups the admin never builds; regular expressions are compiled by the database, when the query runs.
    pytest.param(CASES + "?title__regex=[", BAD, id="regex-unbalanced-bracket"),
    pytest.param(CASES + "?title__iregex=(", BAD, id="iregex-unbalanced-paren"),
    pytest.param(CASES + "?description__regex=(?P<x>a)", BAD, id="regex-python-only-syntax"),
    pytest.param(CASES + "?id__regex=+", BAD, id="regex-bad-quantifier"),
    pytest.param(TOKENS + "?name__regex=[", BAD, id="regex-tokens"),
    pytest.param(PROJECTS + "?name__iregex=*", BAD, id="regex-projects"),
    pytest.param(ORGANISATIONS + "?name__regex=(", BAD, id="regex-organisations"),
    pytest.param(USERS + "?username__regex=[", BAD, id="regex-users"),
    pytest.param(GROUPS + "?name__regex=[", BAD, id="regex-groups"),
    pytest.param(CASES + "?created_at__year__gt=99999999", BAD, id="lookup-transform-chain"),
    pytest.param(CASES + "?description__search=x", BAD, id="lookup-search"),
    pytest.param(CASES + "?created_at__range=a", BAD, id="lookup-range"),
    pytest.param(CASES + "?title__contains=a", BAD, id="lookup-contains"),
    # NUL: PostgreSQL cannot hold it in text, whichever filter, search or id carries it.
    pytest.param(CASES + "?id__gt=%00", BAD, id="nul-id-gt"),
    pytest.param(CASES + "?status__exact=%00", BAD, id="nul-status-filter"),
    pytest.param(CASES + "?mode__exact=%00", BAD, id="nul-mode-filter"),
    pytest.param(CASES + "?project__id__exact=%00", BAD, id="nul-project-filter"),
    pytest.param(CASES + "?id__in=c_1,%00", BAD, id="nul-in-list"),
    pytest.param(CASES + "?q=%00", BAD, id="nul-search"),
    pytest.param(CASES + "?q=%3Dc_%00", BAD, id="nul-exact-id-search"),
    pytest.param(CASES + "?%00=1", BAD, id="nul-parameter-name"),
    pytest.param(CASES + "?status__exact=open&_facets=%00", BAD, id="nul-facets"),
    pytest.param(TOKENS + "?state=%00", BAD, id="nul-token-state-filter"),
    pytest.param(TOKENS + "?expires_at__gte=%00", BAD, id="nul-token-date-filter"),
    pytest.param(PROJECTS + "?organisation__id__exact=%00", BAD, id="nul-organisation-filter"),
    pytest.param(ORGANISATIONS + "?q=%00", BAD, id="nul-organisation-search"),
    pytest.param(USERS + "?q=a%00", BAD, id="nul-user-search"),
    pytest.param(CASES + "%00/change/", BAD, id="nul-case-page"),
    pytest.param(CASES + "c_%00/history/", BAD, id="nul-case-history"),
    pytest.param(CASES + "%00/delete/", BAD, id="nul-case-delete"),
    pytest.param(CASES + "%00/attachments/f_1/", BAD, id="nul-case-file"),
    pytest.param(CASES + "{case}/attachments/%00/", BAD, id="nul-file-id"),
    pytest.param(TOKENS + "tok_%00/change/", BAD, id="nul-token-page"),
    pytest.param(PROJECTS + "%00/change/", BAD, id="nul-project-page"),
    pytest.param(ORGANISATIONS + "%00/change/", BAD, id="nul-organisation-page"),
    pytest.param(USERS + "%00/password/", BAD, id="nul-user-password-page"),
    pytest.param("/admin/r/1/%00/", BAD, id="nul-view-on-site"),
    # Values that do not convert to the field's type.
    pytest.param(CASES + "?created_at__gte=99999-01-01", LOOKUP, id="convert-date-five-digit-year"),
    pytest.param(CASES + "?updated_at__lt=yesterday", LOOKUP, id="convert-date-word"),
    pytest.param(CASES + "?created_at__year=2026&created_at__month=2&created_at__day=31", LOOKUP, id="convert-feb-31"),
    pytest.param(TOKENS + "?expires_at__lt=31/02/2026", LOOKUP, id="convert-token-expiry"),
    pytest.param(USERS + "?is_staff__exact=maybe", LOOKUP, id="convert-boolean"),
    pytest.param(USERS + "?groups__id__exact=abc", LOOKUP, id="convert-related-integer-id"),
    pytest.param(CASES + "?title__isnull=maybe", SHOWN, id="convert-isnull-word"),
    pytest.param(USERS + "abc/change/", MISSING, id="convert-integer-object-id"),
    pytest.param(USERS + "1.5/change/", MISSING, id="convert-decimal-object-id"),
    pytest.param(CASES + "' OR 1=1 --/change/", MISSING, id="convert-sql-object-id"),
    # Numbers past what a date, a database integer or a page can hold.
    pytest.param(CASES + "?created_at__year=99999999999999999999", BAD, id="huge-year"),
    pytest.param(CASES + "?created_at__year=9999", BAD, id="huge-last-year"),
    pytest.param(CASES + "?created_at__year=9999&created_at__month=12&created_at__day=31", BAD, id="huge-last-day"),
    pytest.param(CASES + "?updated_at__year=0", BAD, id="huge-year-zero"),
    pytest.param(CASES + "?created_at__year=2026&created_at__month=13", BAD, id="huge-month"),
    pytest.param(CASES + "?created_at__year=2026&created_at__month=1&created_at__day=-1", BAD, id="huge-negative-day"),
    pytest.param(CASES + "?created_at__year=%D9%A3", BAD, id="huge-arabic-digit-year"),
    pytest.param(USERS + "?groups__id__exact=99999999999999999999999", SHOWN, id="huge-related-id"),
    pytest.param(USERS + "?id__gt=99999999999999999999999", SHOWN, id="huge-id-gt"),
    pytest.param(USERS + "99999999999999999999999/change/", MISSING, id="huge-object-id"),
    pytest.param(CASES + "?p=99999999999999999999999", SHOWN, id="huge-page"),
    pytest.param(CASES + "?o=99999999999999999999999", SHOWN, id="huge-ordering"),
    pytest.param(CASES + "?o=1.-99999999999999999999999", SHOWN, id="huge-negative-ordering"),
    # issue 23: the queue's filters and the case's export
    pytest.param(CASES + "?status=%00", BAD, id="nul-queue-status"),
    pytest.param(CASES + "?status=deleted", SHOWN, id="queue-unknown-status"),
    pytest.param(CASES + "?assignee=%00", BAD, id="nul-assignee-filter"),
    pytest.param(CASES + "?assignee=someone", SHOWN, id="queue-unknown-assignee-filter"),
    pytest.param(CASES + "?label=%00", BAD, id="nul-label-filter"),
    pytest.param(CASES + "?label=" + "x" * 5_000, SHOWN, id="queue-long-label"),
    pytest.param(CASES + "?priority__exact=critical", SHOWN, id="queue-unknown-priority"),
    pytest.param(CASES + "?o=3", SHOWN, id="queue-ordered-by-priority"),
    pytest.param(CASES + "%00/export/", BAD, id="nul-case-export"),
    pytest.param(CASES + "c_0/export/", GONE, id="export-of-no-case"),
]


def database_state() -> dict[str, Any]:
    return {
        model.__name__: sorted(model.objects.values_list("pk", flat=True))
        for model in (Case, CaseEvent, Note, ScopedToken, Project, Organisation, User, Group)
    } | {"statuses": sorted(Case.objects.values_list("status", flat=True))}


def assert_answer(r: Any, expected: str, url: str) -> None:
    if expected == BAD:
        assert r.status_code == 400, r.content
    elif expected == LOOKUP:
        assert r.status_code == 302, r.content
        assert r["Location"] == url.split("?")[0] + "?e=1"
    elif expected == GONE:
        assert r.status_code == 404, r.content
    elif expected == MISSING:
        # Not there, or another organisation's: the same 404 (docs/operations.md#members-and-roles).
        assert r.status_code == 404, r.content
    else:
        assert r.status_code == 200, r.content


@pytest.mark.parametrize(("url", "expected"), CATALOGUE)
def test_crafted_admin_url_is_answered_without_a_crash(admin_client: Client, url: str, expected: str) -> None:
    case = CaseFactory()
    TokenFactory(project=case.project)
    # The user list's group filter is shown, and reads its value, only when a group exists.
    Group.objects.create(name="Reviewers")
    url = url.format(case=case.pk)
    before = database_state()

    r = admin_client.get(url)

    assert_answer(r, expected, url)
    assert database_state() == before


def test_the_admin_shows_the_list_after_an_incorrect_lookup(admin_client: Client) -> None:
    CaseFactory(title="Still listed")

    r = admin_client.get(CASES + "?created_at__gte=99999-01-01", follow=True)

    assert r.status_code == 200, r.content
    assert "Still listed" in r.content.decode()


@pytest.mark.parametrize(
    "data",
    [
        pytest.param({"action": "close_cases", "_selected_action": ["\x00"]}, id="nul-selected-id"),
        pytest.param({"action": "close_cases", "_selected_action": ["{case}", "c_\x00"]}, id="nul-among-ids"),
        pytest.param({"action": "close_cases", "_selected_action": ["\x00" * 3], "select_across": "0"}, id="nul-only"),
    ],
)
def test_bulk_action_with_a_nul_id_is_refused_and_changes_nothing(admin_client: Client, data: dict[str, Any]) -> None:
    case = CaseFactory(status=Status.OPEN)
    data = {
        key: [v.format(case=case.pk) for v in value] if isinstance(value, list) else value
        for key, value in data.items()
    }
    before = database_state()

    r = admin_client.post(CASES, data)

    assert r.status_code == 400, r.content
    assert database_state() == before


@pytest.mark.parametrize(
    "data",
    [
        pytest.param({"action": "close_cases", "_selected_action": ["x" * 100_000]}, id="long-id"),
        pytest.param({"action": "close_cases", "_selected_action": ["c_" + "9" * 40]}, id="unknown-id"),
        pytest.param({"action": "\x00", "_selected_action": ["{case}"]}, id="nul-action-name"),
    ],
)
def test_bulk_action_with_a_mangled_form_changes_nothing(admin_client: Client, data: dict[str, Any]) -> None:
    case = CaseFactory(status=Status.OPEN)
    data = {
        key: [v.format(case=case.pk) for v in value] if isinstance(value, list) else value
        for key, value in data.items()
    }
    before = database_state()

    r = admin_client.post(CASES, data)

    assert r.status_code in (200, 302), r.content
    assert database_state() == before


@pytest.mark.parametrize(
    ("method", "url"),
    [
        pytest.param("get", CASES, id="case-list"),
        pytest.param("get", CASES + "{case}/change/", id="case-page"),
        pytest.param("post", CASES + "{case}/change/", id="case-page-save"),
        pytest.param("post", CASES, id="case-list-action"),
        pytest.param("get", TOKENS, id="token-list"),
        pytest.param("post", "/admin/login/", id="login"),
    ],
)
def test_too_many_fields_is_a_400(admin_client: Client, method: str, url: str) -> None:
    """Past DATA_UPLOAD_MAX_NUMBER_FIELDS, in the query string or the form: 400, and nothing is saved."""
    case = CaseFactory(status=Status.OPEN)
    url = url.format(case=case.pk)
    fields = {f"field{n}": "1" for n in range(1_001)} | {"action": "close_cases", "_selected_action": case.pk}
    before = database_state()

    r = admin_client.get(url, fields) if method == "get" else admin_client.post(url, fields)

    assert r.status_code == 400, r.content
    assert database_state() == before


def test_every_registered_admin_has_the_lookup_guard() -> None:
    """Admins registered by any app (auth's too, and apps added later) get ``SafeLookupsMixin``."""
    assert isinstance(admin.site, ServerOpsAdminSite)
    unguarded = [type(m).__name__ for m in admin.site._registry.values() if not isinstance(m, SafeLookupsMixin)]

    assert unguarded == []


def _text_field(model: type[models.Model]) -> str:
    return next(f.name for f in model._meta.get_fields() if isinstance(f, models.CharField))


@pytest.mark.parametrize("model", [pytest.param(model, id=model._meta.label) for model in admin.site._registry])
def test_every_admin_list_and_page_refuses_crafted_input(admin_client: Client, model: type[models.Model]) -> None:
    """The same three inputs on every registered admin, whoever registered it."""
    opts = model._meta
    changelist = reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist")
    change = reverse(f"admin:{opts.app_label}_{opts.model_name}_change", args=["PLACEHOLDER"])

    for url in (
        f"{changelist}?{_text_field(model)}__regex=[",
        f"{changelist}?q=%00",
        change.replace("PLACEHOLDER", "%00"),
    ):
        r = admin_client.get(url)
        assert r.status_code == 400, (url, r.content)
